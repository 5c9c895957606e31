package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
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

// Work is the lifecycle every run follows (issue: load → running → heartbeat → execute → finish),
// in named phases: loadRun, refuse, markStarted, runOperation, finish. An error returned is database
// trouble: River retries the job, and the run resumes (idempotent) or ends interrupted.
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	e := w.engine
	logger := e.logger.With("run_id", job.Args.RunID, "job_id", job.ID)
	r, ok, err := e.loadRun(ctx, job, logger)
	if err != nil || !ok {
		return err
	}
	op, refused := refuse(r)
	if refused != nil {
		return e.finish(ctx, r, *refused, nil)
	}
	if err := e.markStarted(ctx, &r); err != nil {
		return err
	}
	rc, err := e.newRunContext(ctx, r, logger)
	if err != nil {
		return e.finish(ctx, r, run.Result{Outcome: store.OutcomeFailed, Reason: reason.InternalError, Detail: err.Error()}, nil)
	}
	result, requeue := e.runOperation(ctx, op, rc)
	if requeue {
		return e.requeueOnShutdown(ctx, r, op, rc)
	}
	p := rc.Progress()
	return e.finish(ctx, r, result, &p)
}

// loadRun loads the job's run; ok is false when there is nothing to do: the run does not exist,
// has completed, or was resumed under another job.
func (e *Engine) loadRun(ctx context.Context, job *river.Job[RunArgs], logger *slog.Logger) (r store.Run, ok bool, err error) {
	r, err = store.GetRun(ctx, e.svc.db.Pool, job.Args.RunID)
	if errors.Is(err, store.ErrNotFound) {
		// Jobs never fallback-create (docs/architecture.md#worker).
		logger.Warn("job's run does not exist; ending the job without creating anything")
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("error loading run %d: %w", job.Args.RunID, err) // database trouble: River retries
	}
	if !r.Active() {
		logger.Info("run already completed; nothing to do", "outcome", r.EndedAs())
		return r, false, nil
	}
	if r.RiverJobID != nil && *r.RiverJobID != job.ID {
		logger.Info("run was resumed under another job; this one stands down", "current_job_id", *r.RiverJobID)
		return r, false, nil
	}
	return r, true, nil
}

// refuse looks up the run's operation and returns the result that ends the run without executing
// it, if any: an unknown type, a cancel request, a start that must not be repeated, no attempts left.
func refuse(r store.Run) (Operation, *run.Result) {
	op, err := LookupOperation(r.Type)
	if err != nil {
		return op, &run.Result{Outcome: store.OutcomeFailed, Reason: reason.InternalError, Detail: err.Error()}
	}
	if r.CancelRequestedAt != nil {
		res := cancelledResult()
		return op, &res
	}
	if r.StartedAt != nil && !op.resumes() {
		// Started before and not safe to repeat: never re-apply (docs/architecture.md#crash-recovery).
		return op, &run.Result{Outcome: store.OutcomeFailed, Reason: reason.RunInterrupted,
			Detail: "the engine running it stopped mid-flight; start it again to continue"}
	}
	if r.Attempt >= op.MaxAttempts {
		return op, &run.Result{Outcome: store.OutcomeFailed, Reason: reason.RunInterrupted,
			Detail: fmt.Sprintf("gave up after %d attempts", r.Attempt)}
	}
	return op, nil
}

// markStarted marks the run running (one more attempt) and records it on the timeline.
func (e *Engine) markStarted(ctx context.Context, r *store.Run) error {
	if err := store.MarkRunRunningOn(ctx, e.svc.db.Pool, r.ID, e.registryID.Load()); err != nil {
		return err
	}
	r.Attempt++
	msg := fmt.Sprintf("started on %s", e.name)
	if r.Attempt > 1 {
		msg = fmt.Sprintf("resumed on %s (attempt %d)", e.name, r.Attempt)
	}
	_, err := store.InsertRunEvent(ctx, e.svc.db.Pool, store.RunEvent{RunID: r.ID, Kind: store.EventTimeline, Message: msg})
	return err
}

// runOperation executes the operation under its timeout, retry budget, heartbeat and cancellation,
// and returns the run's result; requeue is true when this engine is shutting down mid-run.
func (e *Engine) runOperation(ctx context.Context, op Operation, rc *run.RunContext) (result run.Result, requeue bool) {
	runID := rc.Run.ID
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeout(runCtx, op.Timeout)
	defer cancelTimeout()
	// One retry-time budget for the whole run: a throttling storm cannot stretch it forever.
	runCtx = graph.WithRetryBudget(runCtx, graph.NewRetryBudget(e.opts.RetryBudget))
	e.track(runID, cancel)
	defer e.untrack(runID)
	heartbeatDone := make(chan struct{})
	go e.heartbeat(runCtx, runID, cancel, heartbeatDone)

	result, execErr := e.execute(runCtx, op, rc)
	cancelTimeout()
	cancel(nil)
	<-heartbeatDone

	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errUserCancelled) || (execErr != nil && e.cancelRequested(ctx, runID)):
		// A run that completed despite a late cancel request keeps its result; a failed one that
		// was asked to stop is reported as cancelled.
		result = cancelledResult()
	case errors.Is(cause, errEngineStopping) && execErr != nil:
		return result, true
	case errors.Is(cause, river.ErrJobCancelledRemotely):
		result = cancelledResult()
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && execErr != nil && ctx.Err() == nil:
		result = run.Result{Outcome: store.OutcomeFailed, Reason: reason.RunTimedOut, Detail: fmt.Sprintf("exceeded the %s limit", op.Timeout)}
	case execErr != nil:
		outcome, code, detail := run.Classify(execErr)
		result = run.Result{Outcome: outcome, Reason: code, Detail: detail, Data: result.Data}
	}
	return result, false
}

func cancelledResult() run.Result {
	return run.Result{Outcome: store.OutcomeCancelled, Reason: reason.RunCancelled, Detail: "cancelled by a user"}
}

func (e *Engine) execute(ctx context.Context, op Operation, rc *run.RunContext) (res run.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			rc.Logger.Error("executor panicked", "panic", p)
			err = run.Failure(reason.InternalError, "the %s executor crashed: %v", op.Type, p)
		}
	}()
	exec, ok := e.executors[op.Type]
	if !ok {
		return run.Result{}, run.Failure(reason.InternalError, "this engine has no executor for %s", op.Type)
	}
	if op.NeedsTenant && rc.Connection == nil {
		return run.Result{}, run.Failure(reason.ProviderConnectionMissing, "tenant %s has no default provider connection", rc.Tenant.Name)
	}
	// Sensitive backup payloads are sealed and opened with the credentials' key (store.AddBackupItems,
	// store.BackupPayloads), so no executor handles plaintext at rest.
	return exec(e.svc.payloadCtx(ctx), rc)
}

func (e *Engine) newRunContext(ctx context.Context, r store.Run, logger *slog.Logger) (*run.RunContext, error) {
	rc := run.New(r, e.svc.db, logger.With("type", r.Type))
	rc.NewClient = e.graphClientFor
	if e.opts.Graph.GraphURL != "" {
		rc.GraphURL = e.opts.Graph.GraphURL
	}
	if r.TenantID != nil {
		t, err := store.GetTenant(ctx, e.svc.db.Pool, *r.TenantID)
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
	r, err := store.GetRun(context.WithoutCancel(ctx), e.svc.db.Pool, runID)
	return err == nil && r.CancelRequestedAt != nil
}

// finish completes the run, records the final timeline event and counts it.
func (e *Engine) finish(ctx context.Context, r store.Run, res run.Result, p *store.Progress) error {
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
	level, msg := store.LevelInfo, "finished: "+string(res.Outcome)
	if res.Reason != "" {
		level = store.LevelWarn
		if res.Outcome == store.OutcomeFailed {
			level = store.LevelError
		}
		msg += " (" + string(res.Reason) + ")"
		if res.Detail != "" {
			msg += ": " + res.Detail
		}
	}
	var done bool
	err := e.svc.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		done, err = store.FinishRunWithEvent(ctx, tx, r.ID, f, store.RunEvent{Kind: store.EventTimeline, Level: level, Message: msg, ReasonCode: f.ReasonCode})
		if err == nil && done {
			e.svc.alertsOnRunFinished(ctx, tx, r.ID) // docs/design.md#alerts: deliveries commit with the finish
		}
		return err
	})
	if err != nil || !done {
		return err
	}
	e.logger.Info("run finished", "run_id", r.ID, "type", r.Type, "outcome", res.Outcome, "reason", res.Reason)
	if e.svc.metrics != nil {
		if finished, err := store.GetRun(ctx, e.svc.db.Pool, r.ID); err == nil {
			e.svc.metrics.runFinished(finished)
		}
	}
	return nil
}

// requeueOnShutdown hands an interrupted run back: idempotent runs go back to queued and their job is
// snoozed so any engine resumes them; others end failed with run_interrupted. Either way no run is
// left "running" by a graceful shutdown.
func (e *Engine) requeueOnShutdown(ctx context.Context, r store.Run, op Operation, rc *run.RunContext) error {
	ctx = context.WithoutCancel(ctx)
	rc.Flush(ctx)
	if !op.resumes() {
		p := rc.Progress()
		_ = e.finish(ctx, r, run.Result{Outcome: store.OutcomeFailed, Reason: reason.RunInterrupted,
			Detail: "the engine shut down mid-run; start it again to continue"}, &p)
		return nil
	}
	if err := store.RequeueRun(ctx, e.svc.db.Pool, r.ID); err != nil {
		return err
	}
	_, _ = store.InsertRunEvent(ctx, e.svc.db.Pool, store.RunEvent{RunID: r.ID, Kind: store.EventTimeline, Level: store.LevelWarn,
		Message: fmt.Sprintf("%s shut down; run re-queued to resume", e.name)})
	return river.JobSnooze(0)
}
