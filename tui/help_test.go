package tui

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelpKeysAreDistinct: no two keys a screen lists in its help are bound to the same key, so
// that the help says what every key does; a screen that is not typing into a field leaves the
// global keys to the root.
func TestHelpKeysAreDistinct(t *testing.T) {
	t.Parallel()
	env := &Env{Theme: ThemeNamed("dark"), Width: 80, Height: 24}
	for _, tc := range []struct {
		name   string
		screen Screen
	}{
		{"home", newHome(env)},
		{"operations", newRuns(env, runsOptions{tab: allTab})},
		{"operations legacy", newRuns(env, runsOptions{tab: len(runTabs) - 1})},
		{"run detail", newRunDetail(env, 1)},
		{"tenants", newTenants(env)},
		{"tenant detail", newTenantDetail(env, 1, "contoso")},
		{"groups", newGroups(env, 1, "contoso")},
		{"roles", newRoles(env, 1, "contoso")},
		{"audit", newAudit(env)},
		{"backups", newBackups(env, 0, 0, "")},
		{"schedules", newSchedules(env)},
		{"inventory", newInventory(env, 1, "contoso")},
		{"drift", newDrift(env, 1, 2)},
		{"restore", newRestore(env, 1, "")},
		{"wizard", newWizard(env)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]string{}
			for _, b := range tc.screen.FullHelp() {
				for _, k := range b.Keys() {
					require.NotContains(t, seen, k, "%q is %q and %q", k, seen[k], b.Help().Desc)
					seen[k] = b.Help().Desc
				}
			}
			if tc.screen.Capturing() {
				return
			}
			for _, g := range []string{":", "?", "esc", "r", "h", "q", "ctrl+c"} {
				require.NotContains(t, seen, g, "%q is a global key", g)
			}
		})
	}
}
