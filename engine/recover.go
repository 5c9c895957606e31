package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// recoverLoop finishes what dead engines left behind (docs/architecture.md#crash-recovery): a running run without a
// heartbeat for StaleAfter is resumed under a new job when idempotent, else ended run_interrupted.
func (e *Engine) recoverLoop(ctx context.Context) {
	interval := max(e.opts.StaleAfter/3, 100*time.Millisecond)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := e.recoverStale(ctx); err != nil && ctx.Err() == nil {
			e.logger.Warn("crash recovery pass failed", "error", err)
		}
	}
}

func (e *Engine) recoverStale(ctx context.Context) error {
	return e.svc.db.InTx(ctx, func(tx pgx.Tx) error {
		stale, err := store.LockStaleRuns(ctx, tx, e.opts.StaleAfter, 20)
		if err != nil {
			return err
		}
		for _, run := range stale {
			op, err := LookupOperation(run.Type)
			if err != nil {
				continue
			}
			if run.RiverJobID != nil {
				if _, err := e.river.JobCancelTx(ctx, tx, *run.RiverJobID); err != nil && !errors.Is(err, river.ErrNotFound) {
					return err
				}
			}
			// A queued run never started: whatever the operation, re-enqueuing it repeats nothing.
			if run.Status == store.StatusQueued || (op.resumes() && run.Attempt < op.MaxAttempts) {
				job, err := e.river.InsertTx(ctx, tx, RunArgs{RunID: run.ID}, &river.InsertOpts{Queue: op.Queue, MaxAttempts: op.MaxAttempts})
				if err != nil {
					return err
				}
				if err := store.RequeueRunWithJob(ctx, tx, run.ID, job.Job.ID); err != nil {
					return err
				}
				if _, err := store.InsertRunEvent(ctx, tx, store.RunEvent{RunID: run.ID, Kind: store.EventTimeline, Level: store.LevelWarn,
					Message: fmt.Sprintf("its engine stopped heartbeating; %s re-queued it to resume", e.name)}); err != nil {
					return err
				}
				e.logger.Warn("resuming a run whose engine died", "run_id", run.ID, "type", run.Type)
				continue
			}
			code, detail := string(reason.RunInterrupted), "its engine died mid-run"
			if _, err := store.FinishRunWithEvent(ctx, tx, run.ID, store.Finish{Outcome: store.OutcomeFailed, ReasonCode: &code, ReasonDetail: &detail},
				store.RunEvent{Kind: store.EventTimeline, Level: store.LevelError, Message: "finished: failed (run_interrupted): its engine died mid-run", ReasonCode: &code}); err != nil {
				return err
			}
			e.svc.alertsOnRunFinished(ctx, tx, run.ID)
			e.logger.Warn("ended a run whose engine died", "run_id", run.ID, "type", run.Type)
		}
		return nil
	})
}
