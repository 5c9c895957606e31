package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// errUserCancelled is the cancel cause when a user cancelled the run.
var errUserCancelled = errors.New("cancelled by a user")

// errEngineStopping is the cancel cause when this engine shuts down with the run in flight.
var errEngineStopping = errors.New("engine shutting down")

// runWorker is the one River worker: it runs every operation type through the shared lifecycle.
type runWorker struct {
	river.WorkerDefaults[RunArgs]
	engine *Engine
}

// Timeout disables River's own job timeout: each operation's timeout is applied in Work.
func (w *runWorker) Timeout(*river.Job[RunArgs]) time.Duration { return -1 }

// Work is the lifecycle every run follows (issue: load → running → heartbeat → execute → finish).
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	e := w.engine
	db := e.svc.db
	logger := e.logger.With("run_id", job.Args.RunID, "job_id", job.ID)

	run, err := store.GetRun(ctx, db.Pool, job.Args.RunID)
	if errors.Is(err, store.ErrNotFound) {
		// Jobs never fallback-create (DESIGN §3 rule 2).
		logger.Warn("job's run does not exist; ending the job without creating anything")
		return nil
	}
	if err != nil {
		return fmt.Errorf("error loading run %d: %w", job.Args.RunID, err) // database trouble: River retries
	}
	if !run.Active() {
		logger.Info("run already completed; nothing to do", "outcome", deref(run.Outcome))
		return nil
	}
	if run.RiverJobID != nil && *run.RiverJobID != job.ID {
		logger.Info("run was resumed under another job; this one stands down", "current_job_id", *run.RiverJobID)
		return nil
	}
	op, err := LookupOperation(run.Type)
	if err != nil {
		e.finish(ctx, run, Result{Outcome: store.OutcomeFailed, Reason: reason.InternalError, Detail: err.Error()}, nil)
		return nil
	}
	if run.CancelRequestedAt != nil {
		e.finish(ctx, run, cancelledResult(), nil)
		return nil
	}
	if run.StartedAt != nil && !op.resumes() {
		// Started before and not safe to repeat: never re-apply (DESIGN §3 rule 8).
		e.finish(ctx, run, Result{Outcome: store.OutcomeFailed, Reason: reason.RunInterrupted,
			Detail: "the engine running it stopped mid-flight; start it again to continue"}, nil)
		return nil
	}
	if run.Attempt >= op.MaxAttempts {
		e.finish(ctx, run, Result{Outcome: store.OutcomeFailed, Reason: reason.RunInterrupted,
			Detail: fmt.Sprintf("gave up after %d attempts", run.Attempt)}, nil)
		return nil
	}
	if err := store.MarkRunRunning(ctx, db.Pool, run.ID); err != nil {
		return err
	}
	run.Attempt++
	msg := fmt.Sprintf("started on %s", e.name)
	if run.Attempt > 1 {
		msg = fmt.Sprintf("resumed on %s (attempt %d)", e.name, run.Attempt)
	}
	if _, err := store.InsertRunEvent(ctx, db.Pool, store.RunEvent{RunID: run.ID, Kind: "timeline", Message: msg}); err != nil {
		return err
	}

	rc, err := e.newRunContext(ctx, run, op, logger)
	if err != nil {
		e.finish(ctx, run, Result{Outcome: store.OutcomeFailed, Reason: reason.InternalError, Detail: err.Error()}, nil)
		return nil
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeout(runCtx, op.Timeout)
	defer cancelTimeout()
	// One retry-time budget for the whole run: a throttling storm cannot stretch it forever.
	runCtx = graph.WithRetryBudget(runCtx, graph.NewRetryBudget(e.opts.RetryBudget))
	e.track(run.ID, cancel)
	defer e.untrack(run.ID)
	heartbeatDone := make(chan struct{})
	go e.heartbeat(runCtx, run.ID, cancel, heartbeatDone)

	result, execErr := e.execute(runCtx, rc)
	cancelTimeout()
	cancel(nil)
	<-heartbeatDone

	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errUserCancelled) || (execErr != nil && e.cancelRequested(ctx, run.ID)):
		// A run that completed despite a late cancel request keeps its result; a failed one that
		// was asked to stop is reported as cancelled.
		result = cancelledResult()
	case errors.Is(cause, errEngineStopping) && execErr != nil:
		return e.requeueOnShutdown(ctx, run, op, rc)
	case errors.Is(cause, river.ErrJobCancelledRemotely):
		result = cancelledResult()
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && execErr != nil && ctx.Err() == nil:
		result = Result{Outcome: store.OutcomeFailed, Reason: reason.RunTimedOut, Detail: fmt.Sprintf("exceeded the %s limit", op.Timeout)}
	case execErr != nil:
		outcome, code, detail := classify(execErr)
		result = Result{Outcome: outcome, Reason: code, Detail: detail, Data: result.Data}
	}
	p := rc.Progress()
	if err := e.finish(ctx, run, result, &p); err != nil {
		return err // database trouble: River retries; the run resumes (idempotent) or ends interrupted
	}
	return nil
}

func cancelledResult() Result {
	return Result{Outcome: store.OutcomeCancelled, Reason: reason.RunCancelled, Detail: "cancelled by a user"}
}

func (e *Engine) execute(ctx context.Context, rc *RunContext) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			rc.Logger.Error("executor panicked", "panic", p)
			err = Failure(reason.InternalError, "the %s executor crashed: %v", rc.Op.Type, p)
		}
	}()
	exec, ok := e.executors[rc.Op.Type]
	if !ok {
		return Result{}, Failure(reason.InternalError, "this engine has no executor for %s", rc.Op.Type)
	}
	if rc.Op.NeedsTenant && rc.Connection == nil {
		return Result{}, Failure(reason.ProviderConnectionMissing, "tenant %s has no default provider connection", rc.Tenant.Name)
	}
	return exec(ctx, rc)
}

func (e *Engine) newRunContext(ctx context.Context, run store.Run, op Operation, logger *slog.Logger) (*RunContext, error) {
	rc := &RunContext{Run: run, Op: op, Logger: logger.With("type", run.Type), engine: e}
	rc.progress = store.Progress{Processed: run.ProgressProcessed, Total: run.ProgressTotal, Counts: run.Counts}
	if run.TenantID != nil {
		t, err := store.GetTenant(ctx, e.svc.db.Pool, *run.TenantID)
		if err != nil {
			return nil, err
		}
		rc.Tenant = &t
		c, err := store.GetDefaultConnection(ctx, e.svc.db.Pool, t.ID)
		if err == nil {
			rc.Connection = &c
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return rc, nil
}

// heartbeat records liveness and turns a cancel request seen in the database into a cancelled
// context (a fallback for River's remote cancel, which reaches only this process's producer).
func (e *Engine) heartbeat(ctx context.Context, runID int64, cancel context.CancelCauseFunc, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(e.opts.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		cancelAt, err := store.HeartbeatRun(ctx, e.svc.db.Pool, runID)
		if err != nil {
			if ctx.Err() == nil {
				e.logger.Warn("heartbeat failed", "run_id", runID, "error", err)
			}
			continue
		}
		if cancelAt != nil {
			cancel(errUserCancelled)
			return
		}
	}
}

func (e *Engine) cancelRequested(ctx context.Context, runID int64) bool {
	run, err := store.GetRun(context.WithoutCancel(ctx), e.svc.db.Pool, runID)
	return err == nil && run.CancelRequestedAt != nil
}

// finish completes the run, records the final timeline event and counts it.
func (e *Engine) finish(ctx context.Context, run store.Run, res Result, p *store.Progress) error {
	ctx = context.WithoutCancel(ctx)
	if res.Outcome == "" {
		res.Outcome = store.OutcomeSucceeded
	}
	f := store.Finish{Outcome: res.Outcome, Progress: p, Result: res.Data}
	if res.Reason != "" {
		code := string(res.Reason)
		f.ReasonCode = &code
	}
	if res.Detail != "" {
		f.ReasonDetail = &res.Detail
	}
	level, msg := "info", "finished: "+res.Outcome
	if res.Reason != "" {
		level = "warn"
		if res.Outcome == store.OutcomeFailed {
			level = "error"
		}
		msg += " (" + string(res.Reason) + ")"
		if res.Detail != "" {
			msg += ": " + res.Detail
		}
	}
	var done bool
	err := e.svc.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		done, err = store.FinishRunWithEvent(ctx, tx, run.ID, f, store.RunEvent{Kind: "timeline", Level: level, Message: msg, ReasonCode: f.ReasonCode})
		return err
	})
	if err != nil || !done {
		return err
	}
	e.logger.Info("run finished", "run_id", run.ID, "type", run.Type, "outcome", res.Outcome, "reason", res.Reason)
	if e.svc.metrics != nil {
		if finished, err := store.GetRun(ctx, e.svc.db.Pool, run.ID); err == nil {
			e.svc.metrics.runFinished(finished)
		}
	}
	return nil
}

// requeueOnShutdown hands an interrupted run back: idempotent runs go back to queued and their job is
// snoozed so any engine resumes them; others end failed with run_interrupted. Either way no run is
// left "running" by a graceful shutdown.
func (e *Engine) requeueOnShutdown(ctx context.Context, run store.Run, op Operation, rc *RunContext) error {
	ctx = context.WithoutCancel(ctx)
	rc.flush(ctx)
	if !op.resumes() {
		p := rc.Progress()
		_ = e.finish(ctx, run, Result{Outcome: store.OutcomeFailed, Reason: reason.RunInterrupted,
			Detail: "the engine shut down mid-run; start it again to continue"}, &p)
		return nil
	}
	if err := store.RequeueRun(ctx, e.svc.db.Pool, run.ID); err != nil {
		return err
	}
	_, _ = store.InsertRunEvent(ctx, e.svc.db.Pool, store.RunEvent{RunID: run.ID, Kind: "timeline", Level: "warn",
		Message: fmt.Sprintf("%s shut down; run re-queued to resume", e.name)})
	return river.JobSnooze(0)
}
