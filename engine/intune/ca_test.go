package intune_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/intune"
)

func caPolicy(users map[string]any, grant map[string]any) map[string]any {
	return map[string]any{"conditions": map[string]any{"users": users,
		"applications": map[string]any{"includeApplications": []any{"All"}},
		"locations":    map[string]any{"includeLocations": []any{"All"}, "excludeLocations": []any{"loc-1"}}},
		"grantControls": grant}
}

func TestCALockoutRisk(t *testing.T) {
	t.Parallel()
	block := map[string]any{"builtInControls": []any{"block"}}
	mfa := map[string]any{"builtInControls": []any{"mfa"}}
	for _, tc := range []struct {
		name  string
		users map[string]any
		grant map[string]any
		want  string
	}{
		{"block all, nobody excluded", map[string]any{"includeUsers": []any{"All"}}, block, "blocks access"},
		{"mfa all, only guests excluded", map[string]any{"includeUsers": []any{"All"}, "excludeUsers": []any{"GuestsOrExternalUsers"}}, mfa, "requires mfa"},
		{"strength all", map[string]any{"includeUsers": []any{"All"}}, map[string]any{"authenticationStrength": map[string]any{"id": "x"}}, "requires authenticationStrength"},
		{"break-glass user", map[string]any{"includeUsers": []any{"All"}, "excludeUsers": []any{"u1"}}, block, ""},
		{"break-glass group", map[string]any{"includeUsers": []any{"All"}, "excludeGroups": []any{"g1"}}, block, ""},
		{"break-glass role", map[string]any{"includeUsers": []any{"All"}, "excludeRoles": []any{"r1"}}, block, ""},
		{"a group only", map[string]any{"includeGroups": []any{"g1"}}, block, ""},
		{"session control only", map[string]any{"includeUsers": []any{"All"}}, map[string]any{"builtInControls": []any{}}, ""},
	} {
		what, risky := intune.CALockoutRisk(caPolicy(tc.users, tc.grant))
		require.Equal(t, tc.want != "", risky, tc.name)
		require.Equal(t, tc.want, what, tc.name)
	}
}

func TestCARestoreState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src      string
		original bool
		want     string
	}{
		{"enabled", false, "enabledForReportingButNotEnforced"},
		{"enabled", true, "enabled"},
		{"disabled", false, "disabled"},
		{"enabledForReportingButNotEnforced", false, "enabledForReportingButNotEnforced"},
	} {
		require.Equal(t, tc.want, intune.CARestoreState(tc.src, tc.original), "%s original=%v", tc.src, tc.original)
	}
}

// TestWalkCAReferences: keywords are not ids; an include section emptied by the walk is reported;
// an exclusion dropped is not (the caller blocks on it); a strength not kept leaves the grant.
func TestWalkCAReferences(t *testing.T) {
	t.Parallel()
	p := caPolicy(map[string]any{"includeUsers": []any{"u1"}, "includeGroups": []any{"g1"}, "excludeGroups": []any{"g2"}},
		map[string]any{"authenticationStrength": map[string]any{"id": "s1"}})
	var seen []string
	emptied := intune.WalkCAReferences(p, func(r intune.CARef) (string, bool) {
		seen = append(seen, string(r.Role)+" "+string(r.Kind)+" "+r.ID)
		return "new-" + r.ID, r.Kind != intune.RefCAUser && r.Kind != intune.RefAuthStrength
	})
	require.Equal(t, []string{"include user u1", "include group g1", "exclude group g2", "exclude named_location loc-1", "grant authentication_strength s1"}, seen)
	require.Empty(t, emptied, "the users condition keeps a group")
	users := p["conditions"].(map[string]any)["users"].(map[string]any)
	require.Equal(t, []any{}, users["includeUsers"])
	require.Equal(t, []any{"new-g1"}, users["includeGroups"])
	require.Equal(t, []any{"All"}, p["conditions"].(map[string]any)["locations"].(map[string]any)["includeLocations"])
	require.NotContains(t, p["grantControls"], "authenticationStrength")

	p = caPolicy(map[string]any{"includeGroups": []any{"g1"}}, nil)
	emptied = intune.WalkCAReferences(p, func(r intune.CARef) (string, bool) { return "", r.Kind != intune.RefCAGroup })
	require.Equal(t, []string{"conditions.users"}, emptied)
	require.True(t, intune.IsAuthContextID("c99"))
	require.False(t, intune.IsAuthContextID("c100"))
	require.False(t, intune.IsAuthContextID("c0"))
}

// TestReadableCADiff: id lists diff as one field of named labels, whichever side named them; the
// references block is inline and left out.
func TestReadableCADiff(t *testing.T) {
	t.Parallel()
	from := `{"object":{"conditions":{"users":{"includeUsers":["All"],"excludeGroups":["g2","g1"]}},"state":"enabled"},
		"references":{"groups":{"g1":"Break glass","g2":"Pilot"}}}`
	to := `{"object":{"conditions":{"users":{"includeUsers":["All"],"excludeGroups":["g1"]}},"state":"enabled"}}`
	a, b := intune.ReadableCADiff([]byte(from), []byte(to))
	changes, _ := intune.FieldDiff(a, b, false)
	require.Equal(t, []intune.FieldChange{{Path: "object.conditions.users.excludeGroups", From: `"Break glass (g1), Pilot (g2)"`, To: `"Break glass (g1)"`}}, changes)
	// Objects alone (drift against the inventory) read the same way.
	a, b = intune.ReadableCADiff([]byte(`{"conditions":{"users":{"excludeGroups":["g1"]}}}`), []byte(`{"conditions":{"users":{"excludeGroups":[]}}}`))
	changes, _ = intune.FieldDiff(a, b, false)
	require.Equal(t, []intune.FieldChange{{Path: "conditions.users.excludeGroups", From: `"g1"`, To: `""`}}, changes)
}
