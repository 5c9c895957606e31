package tui

import (
	"context"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// screen is the rendered view without colour.
func screen(m *Model) string { return ansi.Strip(m.Render()) }

func typeText(t *testing.T, m *Model, s string) {
	t.Helper()
	for _, r := range s {
		press(t, m, string(r))
	}
}

// TestWizardAddsTenant walks the onboarding wizard: a bad value is reported in place, the secret is
// never drawn, the tenant is saved sealed and a verification run starts.
func TestWizardAddsTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	m := New(b.context(100, 30), nil)
	drive(t, m, m.Init())
	press(t, m, "t", "a")
	require.Contains(t, screen(m), "1 details")
	typeText(t, m, "woodgrove")
	press(t, m, "enter")
	typeText(t, m, "not-a-guid")
	require.Contains(t, screen(m), `tenant id "not-a-guid" is neither a GUID nor a domain`, "a bad value is reported as it is typed")
	press(t, m, "enter", "enter")
	require.NotContains(t, screen(m), "Client ID", "and holds the step")
	press(t, m, "ctrl+u")
	typeText(t, m, "woodgrove.example.com")
	press(t, m, "enter", "enter")
	require.Contains(t, screen(m), "Client ID")
	typeText(t, m, "3f2a0000-0000-4000-8000-000000000002")
	press(t, m, "enter")
	secret := "Zx8Q~wizard-secret-value"
	typeText(t, m, secret)
	view := screen(m)
	require.NotContains(t, view, secret, "the secret is masked")
	require.Contains(t, view, "••••")
	press(t, m, "enter")
	view = screen(m)
	require.Contains(t, view, "verification run")
	require.NotContains(t, view, secret)

	tenants, err := b.svc.ListTenants(ctx, b.admin)
	require.NoError(t, err)
	require.Len(t, tenants, 1)
	require.Equal(t, "woodgrove", tenants[0].Name)
	runs, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Types: []string{engine.TypeProviderVerification}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, store.StatusQueued, runs[0].Status)

	press(t, m, "enter", "a")
	view = screen(m)
	require.Contains(t, view, "first syncs")
	require.Contains(t, view, "◌ queued")
	press(t, m, "enter")
	require.Contains(t, screen(m), "woodgrove")
}

func TestWizardNotOfferedWithoutTenantManage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.svc.CreateUser(ctx, b.admin, "olga")
	require.NoError(t, err)
	_, err = b.svc.AddMember(ctx, b.admin, "default", "olga", "operator")
	require.NoError(t, err)
	olga, err := b.svc.ActorByName(ctx, "olga")
	require.NoError(t, err)
	c := b.context(100, 30)
	c.Actor = olga
	m := New(c, nil)
	drive(t, m, m.Init())
	require.Contains(t, screen(m), "No tenants yet: ask a workspace owner or manager to add one", "not a CLI command SSH refuses")
	press(t, m, "t")
	require.NotContains(t, screen(m), "add tenant")
	require.Contains(t, screen(m), "ask a workspace owner or manager")
	press(t, m, "a")
	require.NotContains(t, screen(m), "1 details")
	// The palette refuses in place too, rather than opening a form the engine would refuse to save.
	press(t, m, ":")
	typeText(t, m, "onboard")
	press(t, m, "enter")
	require.Contains(t, screen(m), "your role cannot add tenants")
	require.NotContains(t, screen(m), "1 details")
}

// TestWizardGuides: the name is checked as it is typed; shift-tab goes back a step keeping what was
// typed; esc asks before dropping it; a failed verification is never ✔ and its advice matches the
// error; the first syncs are followed live to their outcome.
func TestWizardGuides(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	require.Contains(t, screen(m), "No tenants yet: press a (or :onboard) to add one", "a first run says how to start")
	press(t, m, "a")
	require.Contains(t, screen(m), "1 details")
	typeText(t, m, "Contoso Prod")
	require.Contains(t, screen(m), `tenant name "Contoso Prod" may hold only letters`, "checked as typed, before the secret")
	press(t, m, "enter")
	require.Contains(t, screen(m), "▸ Name", "enter on a bad field stays on it")
	press(t, m, "backspace", "backspace", "backspace", "backspace", "backspace")
	require.NotContains(t, screen(m), "may hold only letters")
	press(t, m, "enter")
	typeText(t, m, "contoso.example.com")
	press(t, m, "enter", "enter")
	typeText(t, m, "3f2a0000-0000-4000-8000-000000000002")
	press(t, m, "shift+tab")
	view := screen(m)
	require.Contains(t, view, "1 details", "shift-tab on the first field goes back a step")
	require.Contains(t, view, "contoso.example.com", "keeping what was typed")
	press(t, m, "enter")
	require.Contains(t, screen(m), "3f2a0000-0000-4000-8000-000000000002", "both ways")

	press(t, m, "esc")
	require.Contains(t, screen(m), "Leave the wizard and drop what you typed?")
	press(t, m, "n")
	require.Contains(t, screen(m), "2 connection", "any other key stays")

	press(t, m, "enter")
	typeText(t, m, "secret-value")
	press(t, m, "enter")
	require.Contains(t, screen(m), "verification run")

	// The verification fails: Graph could not be reached.
	wz := m.top().(*wizard)
	code, detail := "network_error", "dial tcp: lookup login.microsoftonline.com: no such host"
	storetest.UpdateRun(ctx, t, b.db.Pool, wz.verifyID, &storetest.RunOpts{Status: store.StatusCompleted, Outcome: store.OutcomeFailed,
		ReasonCode: &code, ReasonDetail: &detail, FinishedAt: new(fixedNow)})
	drive(t, m, m.top().Reload())
	view = screen(m)
	require.Contains(t, view, "network_error")
	require.NotContains(t, view, "app registration", "the advice matches the error")
	require.Contains(t, view, "once the cause above is fixed")
	press(t, m, "enter")
	view = screen(m)
	require.Contains(t, view, "✖ verification", "a failed verification is never ✔")
	require.NotContains(t, view, "✔ verification")

	press(t, m, "a")
	require.Contains(t, screen(m), "◌ queued")
	failed := "provider_auth_failed"
	storetest.UpdateRun(ctx, t, b.db.Pool, wz.started[engine.TypeDirectoryGroupsSync], &storetest.RunOpts{Status: store.StatusCompleted,
		Outcome: store.OutcomeFailed, ReasonCode: &failed, FinishedAt: new(fixedNow)})
	drive(t, m, m.top().Reload())
	require.Contains(t, screen(m), "provider_auth_failed", "the first syncs are followed to their outcome")
}
