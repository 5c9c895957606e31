package reliability_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestReliabilityOrphanedJobOfQueuedRun is the crash suite's finding made deterministic: an engine
// fetched a run's job (River marks it running) and died before marking the run running. Another
// engine must pick the run up after StaleAfter, not leave it queued until River's one-hour rescue.
func TestReliabilityOrphanedJobOfQueuedRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: b.workspaceID(t), Params: map[string]any{"steps": "2"}})
	require.NoError(t, err)
	// What the dead engine left: the job fetched a minute ago, the run still queued. Raw SQL on
	// purpose: it fakes the crash in River's own table, which no fixture should write.
	_, err = b.db.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 minute',
		attempted_by = ARRAY['dead-engine'] WHERE id = $1`, *res.Run.RiverJobID)
	require.NoError(t, err)
	b.startEngine(t, engine.Config{StaleAfter: time.Second})
	run := b.waitRun(t, res.Run.ID, completed, 20*time.Second)
	require.Equal(t, store.OutcomeSucceeded, deref(run.Outcome))
	require.Equal(t, 1, run.Attempt, "it never ran before")
	require.NotEqual(t, *res.Run.RiverJobID, *run.RiverJobID, "re-enqueued under a new job")
}
