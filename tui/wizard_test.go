package tui

import (
	"context"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
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
	require.Contains(t, screen(m), `tenant id "not-a-guid" is neither a GUID nor a domain`)

	// Back to the details: fix the tenant id.
	press(t, m, "esc")
	press(t, m, "t", "a")
	typeText(t, m, "woodgrove")
	press(t, m, "enter")
	typeText(t, m, "woodgrove.example.com")
	press(t, m, "enter", "enter")
	typeText(t, m, "3f2a0000-0000-4000-8000-000000000002")
	press(t, m, "enter")
	typeText(t, m, secret)
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
	require.Contains(t, view, "started")
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
	press(t, m, "t")
	require.NotContains(t, screen(m), "add tenant")
	press(t, m, "a")
	require.NotContains(t, screen(m), "1 details")
}
