package tui

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// simWorld is a dashboard whose service signs in to a TLS Graph simulator: the tenant detail's
// credential, removal and diagnosis actions run for real.
type simWorld struct {
	db     *store.DB
	svc    *engine.Service
	admin  engine.Actor
	tenant engine.TenantView
	st     *graphsim.Tenant
}

func newSimWorld(t *testing.T) *simWorld {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{Seed: 21, Tenants: []graphsim.TenantSpec{{Profile: graphsim.ProfileHealthy, Groups: 3}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	db := pgtest.NewDB(t)
	sealer, err := engine.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer, Graph: sim.GraphConfig()})
	require.NoError(t, err)
	ctx := context.Background()
	admin, err := svc.ActorByName(ctx, "")
	require.NoError(t, err)
	st := sim.Tenants()[0]
	creds := st.Credentials()
	v, err := svc.AddTenant(ctx, admin, engine.AddTenantRequest{Name: "contoso", TenantGUID: creds.TenantID, ClientID: creds.ClientID,
		ClientSecret: []byte(creds.ClientSecret)})
	require.NoError(t, err)
	code := "provider_auth_failed"
	storetest.UpdateConnection(ctx, t, db.Pool, v.Connection.ID, &storetest.ConnectionOpts{Status: "blocked", ReasonCode: &code})
	return &simWorld{db: db, svc: svc, admin: admin, tenant: v, st: st}
}

func (w *simWorld) dashboard(t *testing.T, actor engine.Actor) *Model {
	t.Helper()
	c := &Env{Svc: w.svc, Actor: actor, Theme: ThemeNamed("dark"), Now: func() time.Time { return fixedNow }, Width: 160, Height: 50}
	m := New(c, nil)
	drive(t, m, m.Init())
	drive(t, m, navigate(newTenantDetail(c, w.tenant.ID, w.tenant.Name)))
	return m
}

// TestDashboardDiagnosesABlockedConnection: from a blocked connection the tenant detail runs
// doctor's checks for that tenant in place and shows each with ✔/✖ and its fix.
func TestDashboardDiagnosesABlockedConnection(t *testing.T) {
	t.Parallel()
	w := newSimWorld(t)
	m := w.dashboard(t, w.admin)
	require.Contains(t, screen(m), "D runs doctor's checks here")

	press(t, m, "D")
	view := screen(m)
	for _, want := range []string{"diagnosis", "✔ secret key", "opens contoso's credential", "✔ token", "contoso: signs in",
		"✔ permissions", "directory.sync granted", "✔ graph", "reachable directly"} {
		require.Contains(t, view, want)
	}

	w.st.SetAuthFault(graphsim.AuthSecretExpired)
	press(t, m, "D")
	view = screen(m)
	require.Contains(t, view, "✖ token")
	require.Contains(t, view, "AADSTS7000222")
	require.Contains(t, view, "→ ", "the failed check carries its fix")
	require.NotContains(t, view, "✔ token")
}

// TestDashboardCredentialLifecycle: c replaces the secret after signing in with it (a rejected one
// changes nothing and says why), the typed secret is never drawn, X removes the tenant only after
// its name is typed, and a readonly member's presses reach the service and show its refusal.
func TestDashboardCredentialLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSimWorld(t)
	_, err := w.svc.CreateUser(ctx, w.admin, "rita")
	require.NoError(t, err)
	_, err = w.svc.AddMember(ctx, w.admin, "default", "rita", "readonly")
	require.NoError(t, err)
	rita, err := w.svc.ActorByName(ctx, "rita")
	require.NoError(t, err)

	ro := w.dashboard(t, rita)
	press(t, ro, "c")
	require.Contains(t, screen(ro), "rita needs tenant.manage, which the readonly role does not have")
	press(t, ro, "X")
	require.Contains(t, screen(ro), "rita needs tenant.manage")
	_, err = w.svc.GetTenant(ctx, w.admin, "contoso")
	require.NoError(t, err, "nothing removed")

	m := w.dashboard(t, w.admin)
	before, err := store.GetDefaultConnection(ctx, w.db.Pool, w.tenant.ID)
	require.NoError(t, err)
	press(t, m, "c")
	typeText(t, m, "wrong-secret")
	require.NotContains(t, m.Render(), "wrong-secret", "the secret is never drawn")
	require.Contains(t, screen(m), "••••••••••••█")
	press(t, m, "q") // typed into the field, not quitting
	press(t, m, "enter")
	view := screen(m)
	require.Contains(t, view, "AADSTS7000215")
	require.Contains(t, view, "the old credential")
	after, err := store.GetDefaultConnection(ctx, w.db.Pool, w.tenant.ID)
	require.NoError(t, err)
	require.Equal(t, before.CredentialCiphertext, after.CredentialCiphertext, "a rejected secret changes nothing")

	press(t, m, "c")
	_, cmd := m.Update(tea.PasteMsg{Content: w.st.Credentials().ClientSecret + "\n"})
	drive(t, m, cmd)
	press(t, m, "enter")
	view = screen(m)
	require.Contains(t, view, "✔ new secret stored: it signed in")
	require.Contains(t, view, "verification run")
	require.NotContains(t, view, w.st.Credentials().ClientSecret)

	runs, err := w.svc.ListRuns(ctx, w.admin, engine.RunQuery{TenantID: w.tenant.ID})
	require.NoError(t, err)
	require.Len(t, runs, 1, "the new secret's verification")
	press(t, m, "X")
	typeText(t, m, "contoso")
	press(t, m, "enter")
	require.Contains(t, screen(m), "queued or running run(s)", "no removal under a running verification")
	_, err = w.svc.Cancel(ctx, w.admin, runs[0].ID)
	require.NoError(t, err)

	press(t, m, "X")
	typeText(t, m, "fabrikam")
	press(t, m, "enter")
	require.Contains(t, screen(m), `confirm by giving its name ("contoso")`)
	press(t, m, "X")
	press(t, m, "esc")
	require.Contains(t, m.Render(), "nothing changed")
	_, err = w.svc.GetTenant(ctx, w.admin, "contoso")
	require.NoError(t, err, "nothing removed")

	press(t, m, "X")
	typeText(t, m, "contoso")
	press(t, m, "enter")
	require.Contains(t, screen(m), "removed tenant contoso")
	_, err = w.svc.GetTenant(ctx, w.admin, "contoso")
	require.ErrorIs(t, err, engine.ErrNotFound)
}
