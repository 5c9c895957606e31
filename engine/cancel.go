package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// Cancel cancels a run: a queued run ends cancelled at once; a running one as soon as its worker
// sees its context cancelled (docs/architecture.md#cancel). Cancelling needs the start capability.
func (s *Service) Cancel(ctx context.Context, actor Actor, runID int64) (store.Run, error) {
	var out store.Run
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		run, err := store.GetRunForUpdate(ctx, tx, runID)
		if err != nil {
			return notFoundf("run %d", runID)
		}
		op, err := LookupOperation(run.Type)
		if err != nil {
			return err
		}
		if _, err := authorize(ctx, tx, actor, run.WorkspaceID, op.ViewCapability); err != nil {
			if errors.Is(err, ErrNotFound) {
				return notFoundf("run %d", runID)
			}
			return err
		}
		if _, err := authorize(ctx, tx, actor, run.WorkspaceID, op.Capability); err != nil {
			return err
		}
		if !run.Active() {
			return fmt.Errorf("%w: run %d already completed (%s)", ErrInvalid, runID, run.EndedAs())
		}
		if _, err := store.RequestRunCancel(ctx, tx, runID, actor.UserID); err != nil {
			return err
		}
		if run.Status == store.StatusQueued {
			code := string(reason.RunCancelled)
			detail := "cancelled by " + actor.Name + " before it started"
			if _, err := store.FinishRun(ctx, tx, runID, store.Finish{Outcome: store.OutcomeCancelled, ReasonCode: &code, ReasonDetail: &detail}); err != nil {
				return err
			}
			s.alertsOnRunFinished(ctx, tx, runID)
		}
		if run.RiverJobID != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, *run.RiverJobID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return fmt.Errorf("error cancelling job of run %d: %w", runID, err)
			}
		}
		if _, err := store.InsertRunEvent(ctx, tx, store.RunEvent{RunID: runID, Kind: store.EventTimeline, Level: store.LevelWarn,
			Message: "cancel requested by " + actor.Name}); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, &run.WorkspaceID, "run.cancel", "run", fmt.Sprint(runID), map[string]any{"type": run.Type, "status": run.Status}); err != nil {
			return err
		}
		out, err = store.GetRun(ctx, tx, runID)
		return err
	})
	if err == nil && out.Status == store.StatusCompleted && s.metrics != nil {
		s.metrics.runFinished(out)
	}
	return out, err
}

// Retry starts the operation of a completed run again with the same parameters, under the same
// identity rule (a dedupe type returns the active run if one exists). A scheduled backup is retried
// as a manual one.
func (s *Service) Retry(ctx context.Context, actor Actor, runID int64) (StartResult, error) {
	run, err := s.GetRun(ctx, actor, runID)
	if err != nil {
		return StartResult{}, err
	}
	if run.Active() {
		return StartResult{}, fmt.Errorf("%w: run %d is still %s", ErrInvalid, runID, run.Status)
	}
	typ := run.Type
	if typ == TypeBackupScheduled {
		typ = TypeBackupRun
	}
	req := StartRequest{Type: typ, WorkspaceID: run.WorkspaceID, Params: run.Params, RetryOf: runID}
	if run.TenantID != nil {
		req.TenantID = *run.TenantID
	}
	return s.Start(ctx, actor, req)
}
