package engine

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// SchedulerPolls makes e's scheduler signal each completed poll on the returned channel (call it
// before Start): tests that advance a fake clock wait for the poll instead of sleeping.
func SchedulerPolls(e *Engine) <-chan struct{} {
	polls := make(chan struct{}, 1)
	e.scheduler.polled = polls
	return polls
}

// SchedulerBeforeArm makes e's scheduler call hook with a schedule's next fire time just before it
// arms the timer for it (call it before Start): a test can move a fake clock past that time.
func SchedulerBeforeArm(e *Engine, hook func(next time.Time)) {
	e.scheduler.beforeArm = hook
}

// EvaluateRunAlerts evaluates the alert conditions a finished run decides, in one transaction, as
// the run's finish does (tests build the finished run with the store's factory).
func EvaluateRunAlerts(ctx context.Context, s *Service, runID int64) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error { return s.evaluateRun(ctx, tx, runID) })
}
