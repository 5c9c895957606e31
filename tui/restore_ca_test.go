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

// TestRestoreCAStateSecondConfirmation: a set with Conditional Access policies previews them
// report-only; E asks again before the original state, any key but y keeps report-only; the
// restore started after a y records the original state.
func TestRestoreCAStateSecondConfirmation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	set := storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: b.tenants["contoso"], Families: []string{"conditionalAccessPolicies"},
		Items: []store.BackupItemRow{{Family: "conditionalAccessPolicies", GraphID: "ca-1", PolicyType: "conditionalAccessPolicy",
			DisplayName: "Require MFA", ODataType: "#microsoft.graph.conditionalAccessPolicy", PayloadHash: "ca-1", Payload: []byte(`{"object":{
			"displayName":"Require MFA","state":"enabled","conditions":{"users":{"includeUsers":["All"],"excludeUsers":["u-breakglass"]},
			"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}}`)}}}).ID
	m := New(b.context(160, 40), nil)
	drive(t, m, m.Init())
	press(t, m, append([]string{":"}, append(keysOf("restore "+idString(set)), "enter")...)...)
	view := ansi.Strip(m.Render())
	require.Contains(t, view, "CA state report-only")
	require.Contains(t, view, "restored report-only (enabledForReportingButNotEnforced) instead of enabled")

	press(t, m, "E")
	require.Contains(t, ansi.Strip(m.Render()), "Restore Conditional Access policies in their original state?")
	press(t, m, "n")
	require.Contains(t, ansi.Strip(m.Render()), "CA state report-only", "declined: still report-only")

	press(t, m, "E", "y")
	require.Contains(t, ansi.Strip(m.Render()), "CA state original: enabled policies are enforced at once")
	press(t, m, "s")
	press(t, m, keysOf("contoso")...)
	require.Contains(t, ansi.Strip(m.Render()), "Conditional Access in its original state", "the confirmation restates it")
	press(t, m, "enter")
	restores, err := b.svc.ListRestores(ctx, b.admin, set, 10)
	require.NoError(t, err)
	require.Len(t, restores, 1)
	require.Equal(t, engine.CAStateOriginal, restores[0].CAState)
}
