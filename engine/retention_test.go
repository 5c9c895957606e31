package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

const day = 24 * time.Hour

func TestSetRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name    string
		r       store.Retention
		wantErr string
	}{
		{"Valid", store.Retention{Runs: 30 * day, RunEvents: 7 * day, Audit: 2 * 365 * day}, ""},
		{"RunsTooShort", store.Retention{Runs: 3 * day, RunEvents: day}, "runs are kept at least 7d (a schedule's catch-up and a week of triage need them), not 3d"},
		{"EventsTooShort", store.Retention{Runs: 30 * day, RunEvents: time.Hour}, "run events are kept at least 1d, not 1h0m0s"},
		{"EventsOutliveRuns", store.Retention{Runs: 30 * day, RunEvents: 31 * day}, "run events (31d) cannot be kept longer than their runs (30d)"},
		{"AuditTooShort", store.Retention{Runs: 30 * day, RunEvents: day, Audit: 7 * day}, "audit events are kept at least 30d when a retention is set (or forever), not 7d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			w := b.defaultWorkspace(t)
			_, err := b.svc.SetRetention(ctx, b.admin, w.ID, c.r)
			got, gerr := b.svc.Retention(ctx, b.admin, w.ID)
			require.NoError(t, gerr)
			if c.wantErr != "" {
				require.ErrorIs(t, err, engine.ErrInvalid)
				require.ErrorContains(t, err, c.wantErr)
				require.Equal(t, store.Retention{Runs: store.DefaultRunRetention, RunEvents: store.DefaultRunEventRetention}, got, "nothing changed")
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.r, got)
			events, err := b.svc.ListAudit(ctx, b.admin, store.AuditFilter{Action: "workspace.retention"})
			require.NoError(t, err)
			require.Len(t, events, 1)
			require.Equal(t, map[string]any{"runs": "400d", "run_events": "90d", "audit": "forever"}, events[0].Details["before"])
			require.Equal(t, map[string]any{"runs": "30d", "run_events": "7d", "audit": "730d"}, events[0].Details["after"])
		})
	}
}

func TestParseRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"400d", 400 * day, false}, {"12w", 84 * day, false}, {"2y", 730 * day, false}, {"36h", 36 * time.Hour, false},
		{"forever", 0, false}, {"0d", 0, true}, {"-3d", 0, true}, {"3 d", 0, true}, {"d", 0, true}, {"lots", 0, true}, {"1.5d", 0, true},
	} {
		got, err := engine.ParseRetention(c.in)
		if c.err {
			require.ErrorIs(t, err, engine.ErrInvalid, c.in)
			require.ErrorContains(t, err, "want a count of days, weeks or years", c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}

// TestEnginePrunesOnItsOwn: an engine applies the retention every RetentionInterval, audits what
// went, and leaves what the rule keeps; a manual Prune while it holds the lock is told to wait.
func TestEnginePrunesOnItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	w := b.defaultWorkspace(t)
	old := func(outcome store.Outcome) store.Run {
		return storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{WorkspaceID: w.ID, Outcome: outcome, FinishedAt: new(time.Now().Add(-500 * day))})
	}
	gone, kept := old(store.OutcomeFailed), old(store.OutcomeSucceeded) // kept: the newest of its kind

	b.startEngine(t, engine.Config{RetentionInterval: 20 * time.Millisecond})
	require.Eventually(t, func() bool {
		events, err := b.svc.ListAudit(ctx, b.admin, store.AuditFilter{Action: "retention.prune"})
		require.NoError(t, err)
		return len(events) == 1
	}, 20*time.Second, 20*time.Millisecond)
	_, err := store.GetRun(ctx, b.db.Pool, gone.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = store.GetRun(ctx, b.db.Pool, kept.ID)
	require.NoError(t, err)
	events, err := b.svc.ListAudit(ctx, b.admin, store.AuditFilter{Action: "retention.prune"})
	require.NoError(t, err)
	require.Equal(t, "system", events[0].ActorKind)
	require.EqualValues(t, 1, events[0].Details["runs"])

	res, err := b.svc.Prune(ctx, b.admin, w.ID)
	if err != nil {
		require.ErrorIs(t, err, engine.ErrRetentionBusy, "the engine's pass may hold the lock right now")
	} else {
		require.Zero(t, res.Total(), "nothing left to prune")
	}
}
