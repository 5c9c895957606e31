package backup

import (
	"testing"

	"github.com/stretchr/testify/require"
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
