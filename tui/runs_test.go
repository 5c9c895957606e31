package tui

import (
	"context"
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// runIDs is the ids of runs, in their order.
func runIDs(runs []store.Run) []int64 {
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// TestRunsTabLoadsAPageAtATime: a tab loads what the screen shows and as many again, the next page
// as the cursor nears the last row loaded (the rows the database has, in its order, none twice), the
// rest of its window on G; live reloads keep what is loaded, a tab change starts again from a first
// page, and the counts never depend on how much is loaded.
func TestRunsTabLoadsAPageAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := storetest.Connection(ctx, t, b.db.Pool, &storetest.ConnectionOpts{Status: "ok"}).TenantID
	const total = 700 // more than a tab's window (rowsLimit)
	storetest.ManyRuns(ctx, t, b.db.Pool, &storetest.ManyRunsOpts{TenantIDs: []int64{tenant}, Count: total})
	newest := func(n int) []int64 {
		t.Helper()
		runs, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Limit: n})
		require.NoError(t, err)
		return runIDs(runs)
	}

	c := b.context(120, 24)
	m := New(c, newRuns(c, runsOptions{tab: allTab}))
	drive(t, m, m.Init())
	s := m.top().(*runs)
	first := s.firstPage()
	require.Equal(t, max(2*s.tableHeight(), minPage), first, "a first page: the screen and as many again")
	require.Less(t, first, rowsLimit)
	require.Equal(t, newest(first), runIDs(s.rows))
	require.Contains(t, ansi.Strip(m.Render()), fmt.Sprintf("5 All %d", total), "the count is the tab's, not what is loaded")

	// Down to a screen before the last row loaded: the next page comes, after the oldest loaded.
	for s.table.cursor < first-s.tableHeight()-1 {
		press(t, m, "j")
	}
	require.Len(t, s.rows, first, "a screen and more still loaded below the cursor")
	press(t, m, "j")
	require.Equal(t, newest(2*first), runIDs(s.rows))

	// A notification reloads what is loaded, not a first page.
	drive(t, m, s.Reload())
	require.Equal(t, newest(2*first), runIDs(s.rows))

	// G: the rest of the window, and its last row.
	press(t, m, "G")
	require.Equal(t, newest(rowsLimit), runIDs(s.rows))
	require.Equal(t, rowsLimit-1, s.table.cursor)
	require.Contains(t, ansi.Strip(m.Render()), fmt.Sprintf("5 All %d", total))

	// Another tab, and back: each starts from its top with a first page.
	press(t, m, "3")
	failed, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Outcomes: runTabs[2].outcomes, Limit: first})
	require.NoError(t, err)
	require.Equal(t, runIDs(failed), runIDs(s.rows))
	press(t, m, "5")
	require.Equal(t, newest(first), runIDs(s.rows))
	require.Zero(t, s.table.cursor)

	// An order other than the newest sorts the whole window: it loads it.
	press(t, m, ">")
	require.Len(t, s.rows, rowsLimit)
	require.ElementsMatch(t, newest(rowsLimit), runIDs(s.rows))
}

// TestRunsTabOfFewRowsCountsThem: a tab whose every run is loaded counts its rows (its count and its
// rows agree even before the next count), and a terminal grown taller loads what it can show.
func TestRunsTabOfFewRowsCountsThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := storetest.Connection(ctx, t, b.db.Pool, &storetest.ConnectionOpts{Status: "ok"}).TenantID
	storetest.ManyRuns(ctx, t, b.db.Pool, &storetest.ManyRunsOpts{TenantIDs: []int64{tenant}, Count: 120})

	c := b.context(120, 24)
	m := New(c, newRuns(c, runsOptions{tab: allTab}))
	drive(t, m, m.Init())
	s := m.top().(*runs)
	require.Len(t, s.rows, minPage)
	require.False(t, s.exhausted)

	// Taller: the screen and as many again no longer fit in what is loaded.
	_, cmd := m.Update(tea.WindowSizeMsg{Width: 120, Height: 80})
	drive(t, m, cmd)
	require.Len(t, s.rows, 120, "every run, fewer than the page asked for")
	require.True(t, s.exhausted)
	require.Contains(t, ansi.Strip(m.Render()), "5 All 120")
}
