package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// member adds a user with role to the default workspace and returns its actor.
func (b *testBundle) member(t *testing.T, name, role string) engine.Actor {
	t.Helper()
	ctx := context.Background()
	_, err := b.svc.CreateUser(ctx, b.admin, name)
	require.NoError(t, err)
	_, err = b.svc.AddMember(ctx, b.admin, "default", name, role)
	require.NoError(t, err)
	a, err := b.svc.ActorByName(ctx, name)
	require.NoError(t, err)
	return a
}

// TestRunDetailOffersOnlyWhatTheRoleMay: on one run's screen, c and R show (in the footer and in ?)
// and act only for a role that may start the run's operation; for a readonly member they are absent,
// pressing them asks nothing and changes nothing, and the engine still refuses the same actions.
func TestRunDetailOffersOnlyWhatTheRoleMay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	readonly, operator := b.member(t, "rita", "readonly"), b.member(t, "otto", "operator")
	// A readonly member views verification runs (tenant.view) but may not start one
	// (provider.verify): one still queued, one that failed.
	runs := map[string]int64{}
	for name, tenant := range map[string]string{"active": "contoso", "finished": "northwind"} {
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeProviderVerification, TenantID: b.tenants[tenant]})
		require.NoError(t, err)
		runs[name] = res.Run.ID
	}
	storetest.UpdateRun(ctx, t, b.db.Pool, runs["finished"], &storetest.RunOpts{Status: store.StatusCompleted, Outcome: store.OutcomeFailed,
		StartedAt: new(fixedNow.Add(-time.Minute)), FinishedAt: new(fixedNow)})
	for _, tc := range []struct {
		name, run, key, hint string
		actor                engine.Actor
		offered              bool
	}{
		{"ReadonlyActiveRun", "active", "c", "c cancel", readonly, false},
		{"ReadonlyFinishedRun", "finished", "R", "R retry", readonly, false},
		{"OperatorActiveRun", "active", "c", "c cancel", operator, true},
		{"OperatorFinishedRun", "finished", "R", "R retry", operator, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each reads the shared world; none changes it (the refused ones must not)
			c := b.context(160, 30)
			c.Actor = tc.actor
			id := runs[tc.run]
			m := New(c, newRunDetail(c, id))
			drive(t, m, m.Init())
			view := screen(m)
			require.Contains(t, view, fmt.Sprintf("#%d", id))
			footer := view[strings.LastIndex(view, "\n"):]
			require.Equal(t, tc.offered, strings.Contains(footer, tc.hint), footer)
			press(t, m, "?")
			require.Equal(t, tc.offered, strings.Contains(screen(m), tc.hint[2:]), "the help lists %s only when offered", tc.hint)
			press(t, m, "esc")
			if tc.offered {
				return
			}
			before, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Limit: 100})
			require.NoError(t, err)
			press(t, m, tc.key, "y")
			view = screen(m)
			require.NotContains(t, view, "forbidden")
			require.NotContains(t, view, "Cancel run")
			after, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Limit: 100})
			require.NoError(t, err)
			require.Equal(t, before, after, "nothing was cancelled or started")
			// The view only leaves the key out: the engine refuses the action itself.
			_, err = b.svc.Cancel(ctx, tc.actor, runs["active"])
			require.ErrorIs(t, err, engine.ErrForbidden)
			_, err = b.svc.Retry(ctx, tc.actor, runs["finished"])
			require.ErrorIs(t, err, engine.ErrForbidden)
		})
	}
}

// TestRestoreWithoutTheRoleOffersNothing: a readonly member's restore screen shows why it cannot
// restore and offers neither the mode switch nor the restore.
func TestRestoreWithoutTheRoleOffersNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.context(120, 30)
	c.Actor = b.member(t, "rita", "readonly")
	m := New(c, newRestore(c, 1, ""))
	drive(t, m, m.Init())
	view := screen(m)
	require.NotContains(t, view, "m create copy")
	require.NotContains(t, view, "s restore")
}

// TestRunDetailLoadsOnlyNewLogLines: a new log line of the run shown loads the lines after the last
// one shown, not the whole log again, and a change of the run reads its row too; `r` reads all again.
func TestRunDetailLoadsOnlyNewLogLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	c := b.context(160, 40)
	id := b.runs["running"]
	d := newRunDetail(c, id)
	m := New(c, d)
	drive(t, m, m.Init())
	loadedEvents := len(d.events)
	require.Positive(t, loadedEvents)

	e := storetest.RunEvent(ctx, t, b.db.Pool, &storetest.RunEventOpts{RunID: id, Message: "a line that just arrived"})
	cmd := d.ReloadFor(store.Notification{Kind: store.KindChange, Table: store.TableRunEvents, Op: "insert", ID: e.ID, RunID: id})
	answer, ok := cmd().(loaded[runDetailLoad])
	require.True(t, ok)
	require.False(t, answer.v.replace)
	require.Nil(t, answer.v.run, "a new line does not read the run again")
	require.Len(t, answer.v.events, 1)
	m.Update(answer)
	require.Len(t, d.events, loadedEvents+1)
	require.Contains(t, screen(m), "a line that just arrived")

	cmd = d.ReloadFor(store.Notification{Kind: store.KindChange, Table: store.TableRuns, Op: "update", ID: id})
	answer, ok = cmd().(loaded[runDetailLoad])
	require.True(t, ok)
	require.NotNil(t, answer.v.run, "a change of the run reads its row")
	require.Empty(t, answer.v.events)
	m.Update(answer)

	answer, ok = d.Reload()().(loaded[runDetailLoad])
	require.True(t, ok)
	require.True(t, answer.v.replace)
	require.Len(t, answer.v.events, loadedEvents+1)
}
