package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// Executor performs one operation type. It reports progress and events through rc and returns the
// run's result; an error ends the run failed or blocked according to its reason code.
type Executor func(ctx context.Context, rc *RunContext) (Result, error)

// Result is how an executor ends a run. A zero Outcome means succeeded.
type Result struct {
	Outcome string
	Reason  reason.Code
	Detail  string
	// Data is merged into the run's result document.
	Data map[string]any
}

// runFailure is an error that names its reason code and a detail for the operator.
type runFailure struct {
	code   reason.Code
	detail string
}

func (f *runFailure) Error() string { return fmt.Sprintf("%s: %s", f.code, f.detail) }

// Failure builds an error with an explicit reason code, for executors.
func Failure(code reason.Code, format string, args ...any) error {
	return &runFailure{code: code, detail: fmt.Sprintf(format, args...)}
}

// progressInterval caps progress writes at about four a second.
const progressInterval = 250 * time.Millisecond

// RunContext is what an executor gets: the run, its tenant and connection, and ways to report.
type RunContext struct {
	Run        store.Run
	Op         Operation
	Tenant     *store.Tenant
	Connection *store.ProviderConnection
	Logger     *slog.Logger

	engine *Engine

	mu        sync.Mutex
	progress  store.Progress
	lastWrite time.Time
	dirty     bool
}

// Service gives executors the domain service (for DB-only helpers).
func (rc *RunContext) Service() *Service { return rc.engine.svc }

// DB gives executors the pool for their store calls.
func (rc *RunContext) DB() *store.DB { return rc.engine.svc.db }

// GraphClient builds a Graph client for the run's tenant from its default connection.
func (rc *RunContext) GraphClient() (*graph.Client, error) {
	if rc.Tenant == nil || rc.Connection == nil {
		return nil, Failure(reason.ProviderConnectionMissing, "the tenant has no default provider connection")
	}
	creds, err := rc.engine.svc.credentials(*rc.Tenant, *rc.Connection)
	if err != nil {
		return nil, err
	}
	return rc.engine.graphClient(creds)
}

// Event appends a timeline or log line to the run. Failures to record are logged, not fatal.
func (rc *RunContext) Event(ctx context.Context, e store.RunEvent) {
	e.RunID = rc.Run.ID
	if _, err := store.InsertRunEvent(context.WithoutCancel(ctx), rc.engine.svc.db.Pool, e); err != nil {
		rc.Logger.Warn("cannot record run event", "error", err)
	}
}

// Logf appends a log line at level ("info", "warn", "error", "debug").
func (rc *RunContext) Logf(ctx context.Context, level, format string, args ...any) {
	rc.Event(ctx, store.RunEvent{Kind: "log", Level: level, Message: fmt.Sprintf(format, args...)})
}

// SetTotal sets the expected number of items, when known.
func (rc *RunContext) SetTotal(ctx context.Context, total int64) {
	rc.Update(ctx, func(p *store.Progress) { p.Total = &total })
}

// Update changes progress and counts; the change is written at most ~4 times a second.
func (rc *RunContext) Update(ctx context.Context, change func(p *store.Progress)) {
	rc.mu.Lock()
	change(&rc.progress)
	rc.dirty = true
	due := time.Since(rc.lastWrite) >= progressInterval
	rc.mu.Unlock()
	if due {
		rc.flush(ctx)
	}
}

// Progress returns a copy of the progress so far.
func (rc *RunContext) Progress() store.Progress {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.progress
}

func (rc *RunContext) flush(ctx context.Context) {
	rc.mu.Lock()
	if !rc.dirty {
		rc.mu.Unlock()
		return
	}
	p := rc.progress
	rc.dirty = false
	rc.lastWrite = time.Now()
	rc.mu.Unlock()
	if err := store.UpdateRunProgress(context.WithoutCancel(ctx), rc.engine.svc.db.Pool, rc.Run.ID, p); err != nil {
		rc.Logger.Warn("cannot record progress", "error", err)
	}
}

// classify maps an executor error to an outcome and reason code.
func classify(err error) (outcome string, code reason.Code, detail string) {
	var f *runFailure
	if errors.As(err, &f) {
		code, detail = f.code, f.detail
	} else {
		code, detail = graph.ReasonOf(err), err.Error()
	}
	if info, _ := reason.Lookup(code); info.Blocking {
		return store.OutcomeBlocked, code, detail
	}
	return store.OutcomeFailed, code, detail
}
