package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"
)

// TestColumnsGiveRoomToWhatWouldBeCut: a column wider than its cells gives its room to one that
// would be cut, and when room is short the important columns (types, reasons, permissions) take it
// from those that yield (ids, tenants); badges keep their width.
func TestColumnsGiveRoomToWhatWouldBeCut(t *testing.T) {
	t.Parallel()
	env := &Env{Theme: ThemeNamed("dark"), Width: 80, Height: 10}
	for _, tc := range []struct {
		name  string
		width int
		cols  []column
		row   []string
		whole []string // cells that must show uncut
	}{
		{"SpareRoomMoves", 70,
			[]column{{title: "NAME", flex: true, weight: 2}, {title: "TYPE", width: 30}, {title: "FAMILY", flex: true}},
			[]string{"All users and all devices", "short", "deviceEnrollmentConfigurations"},
			[]string{"All users and all devices", "deviceEnrollmentConfigurations"}},
		{"ImportantTakesFromYielding", 66,
			[]column{{title: "ID", width: 8, yields: true}, {title: "TYPE", flex: true, weight: 2}, {title: "TENANT", width: 12, yields: true},
				{title: "STATUS", width: 11}, reasonColumn(0)},
			[]string{"4812", "Role definition sync", "northwind-production", "✔ succeeded", "provider_permission_denied"},
			[]string{"Role definition sync", "✔ succeeded", "permission_denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := table{cols: tc.cols, rows: [][]string{tc.row}}
			tb.measure()
			lines := strings.Split(ansi.Strip(tb.view(env, tc.width, 3)), "\n")
			require.Len(t, lines, 2)
			require.LessOrEqual(t, ansi.StringWidth(lines[1]), tc.width)
			for _, cell := range tc.whole {
				require.Contains(t, lines[1], cell, "%q", lines[1])
			}
		})
	}
}
