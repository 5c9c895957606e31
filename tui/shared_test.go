package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// Dashboards on one run's detail share the read a new log line causes: one notification costs one
// read for all of them (two here: the first is held in the database, so that every other dashboard
// asks while it runs, and the count does not depend on timing), each shows the line, and a dashboard
// whose user may not see the run never does. Lines that follow while reads are under way all show:
// a dashboard never keeps an answer older than the last notification it got.
func TestDashboardsShareTheReadsOfAChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	w, err := b.svc.ResolveWorkspace(ctx, b.admin, "default")
	require.NoError(t, err)
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
	require.NoError(t, err)
	runID := res.Run.ID
	hub := store.NewHub(b.db, nil)
	require.NoError(t, hub.Start(ctx))
	t.Cleanup(hub.Stop)
	require.Eventually(t, hub.Connected, 10*time.Second, 10*time.Millisecond)
	sub := hub.Subscribe()
	t.Cleanup(sub.Close)

	_, err = b.svc.CreateUser(ctx, b.admin, "otto")
	require.NoError(t, err)
	outsider, err := b.svc.ActorByName(ctx, "otto") // a member of no workspace
	require.NoError(t, err)
	const watchers = 6
	var models []*Model
	for i := range watchers + 1 {
		c := b.context(120, 40)
		if i == watchers {
			c.Actor = outsider
		}
		m := New(c, newRunDetail(c, runID))
		drive(t, m, m.top().Init())
		models = append(models, m)
	}
	insider, stranger := models[:watchers], models[watchers]
	require.Contains(t, ansi.Strip(stranger.Render()), "not found")

	// notify delivers the hub's notification of event id to every dashboard and runs the loads it
	// causes side by side, as the SSH sessions' programs do; held runs while the first read is held.
	notify := func(id int64, held func()) {
		t.Helper()
		var n store.Notification
		for n.Table != store.TableRunEvents || n.ID != id {
			select {
			case n = <-sub.C:
			case <-time.After(10 * time.Second):
				t.Fatalf("no notification of event %d", id)
			}
		}
		var wg sync.WaitGroup
		for _, m := range models {
			_, cmd := m.Update(hubMsg{n: n, ok: true})
			wg.Go(func() { drive(t, m, cmd) })
		}
		if held != nil {
			held()
		}
		wg.Wait()
	}

	first, err := store.InsertRunEvent(ctx, b.db.Pool, store.RunEvent{RunID: runID, Message: "first shared line"})
	require.NoError(t, err)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE run_events IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	before := b.svc.SharedReadStats()
	notify(first.ID, func() {
		// Every insider asks for the line; the outsider, who never saw the run, asks for the run.
		require.Eventually(t, func() bool { return b.svc.SharedReadStats().Calls-before.Calls == watchers+1 },
			10*time.Second, 5*time.Millisecond)
		require.NoError(t, tx.Rollback(ctx))
	})
	require.EqualValues(t, 3, b.svc.SharedReadStats().Reads-before.Reads,
		"the held read of the line, one for the other five dashboards, and the outsider's read of the run")
	for _, m := range insider {
		require.Contains(t, ansi.Strip(m.Render()), "first shared line")
	}
	require.NotContains(t, ansi.Strip(stranger.Render()), "first shared line")
	require.Contains(t, ansi.Strip(stranger.Render()), "not found")

	// Two lines in quick succession: whatever the reads shared, every dashboard ends on the last.
	second, err := store.InsertRunEvent(ctx, b.db.Pool, store.RunEvent{RunID: runID, Message: "second line"})
	require.NoError(t, err)
	third, err := store.InsertRunEvent(ctx, b.db.Pool, store.RunEvent{RunID: runID, Message: "third line"})
	require.NoError(t, err)
	notify(second.ID, nil)
	notify(third.ID, nil)
	for _, m := range insider {
		view := ansi.Strip(m.Render())
		require.Contains(t, view, "second line")
		require.Contains(t, view, "third line")
		require.Equal(t, 1, strings.Count(view, "third line"), "each line once")
	}
	require.NotContains(t, ansi.Strip(stranger.Render()), "line")
}
