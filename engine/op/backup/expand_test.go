package backup

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/intune"
)

// TestTakeAssignments: an expanded assignments navigation is complete only when present and
// without a nextLink; either way it and its annotations leave the object (the payload keeps
// assignments apart).
func TestTakeAssignments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		obj      map[string]any
		n        int
		complete bool
	}{
		{"complete", map[string]any{"id": "a", "assignments": []any{map[string]any{"id": "x"}}, "assignments@odata.context": "…"}, 1, true},
		{"empty is complete", map[string]any{"id": "a", "assignments": []any{}}, 0, true},
		{"paged is incomplete", map[string]any{"id": "a", "assignments": []any{map[string]any{}}, "assignments@odata.nextLink": "https://…"}, 1, false},
		{"missing is incomplete", map[string]any{"id": "a"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			as, complete := takeAssignments(tc.obj)
			require.Equal(t, tc.complete, complete)
			require.Len(t, as, tc.n)
			require.Equal(t, map[string]any{"id": "a"}, tc.obj)
		})
	}
}

// TestTakeChild: a child collection expanded on the list (intune.Child.ListExpand) is complete
// only when present, without a nextLink and, where the object counts it (CountKey), of that
// length; either way it and its annotations leave the object, so an incomplete one is read per
// object into the payload instead.
func TestTakeChild(t *testing.T) {
	t.Parallel()
	rules := intune.Child{Key: "scheduledActionsForRule"}
	settings := intune.Child{Key: "settings", CountKey: "settingCount"}
	two := []any{map[string]any{"id": "s1"}, map[string]any{"id": "s2"}}
	for _, tc := range []struct {
		name     string
		child    intune.Child
		obj      map[string]any
		n        int
		complete bool
		left     map[string]any
	}{
		{"complete", rules, map[string]any{"id": "a", "scheduledActionsForRule": two, "scheduledActionsForRule@odata.context": "…"}, 2, true,
			map[string]any{"id": "a"}},
		{"empty is complete", rules, map[string]any{"id": "a", "scheduledActionsForRule": []any{}}, 0, true, map[string]any{"id": "a"}},
		{"paged is incomplete", rules, map[string]any{"id": "a", "scheduledActionsForRule": two, "scheduledActionsForRule@odata.nextLink": "https://…"}, 0, false,
			map[string]any{"id": "a"}},
		{"missing is incomplete", rules, map[string]any{"id": "a"}, 0, false, map[string]any{"id": "a"}},
		{"counted and equal", settings, map[string]any{"id": "a", "settingCount": json.Number("2"), "settings": two}, 2, true,
			map[string]any{"id": "a", "settingCount": json.Number("2")}},
		{"fewer than counted is incomplete", settings, map[string]any{"id": "a", "settingCount": json.Number("60"), "settings": two}, 0, false,
			map[string]any{"id": "a", "settingCount": json.Number("60")}},
		{"no count is incomplete", settings, map[string]any{"id": "a", "settings": two}, 0, false, map[string]any{"id": "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items, complete := takeChild(tc.obj, tc.child)
			require.Equal(t, tc.complete, complete)
			require.Len(t, items, tc.n)
			require.Equal(t, tc.left, tc.obj)
		})
	}
}
