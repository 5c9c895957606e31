// Package run is what an operation sees of the engine: the RunContext it reports through, the
// Result it returns, the Failure errors that name a reason code, and the helpers every executor
// shares (batching, per-family failure reports). Operations under engine/op import it and never the
// engine itself, which builds one RunContext per run.
package run

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
	Outcome store.Outcome
	Reason  reason.Code
	Detail  string
	// Data is merged into the run's result document.
	Data map[string]any
}

// failure is an error that names its reason code and a detail for the operator.
type failure struct {
	code   reason.Code
	detail string
}

func (f *failure) Error() string { return fmt.Sprintf("%s: %s", f.code, f.detail) }

// Failure builds an error with an explicit reason code, for executors.
func Failure(code reason.Code, format string, args ...any) error {
	return &failure{code: code, detail: fmt.Sprintf(format, args...)}
}

// CodeOf is the reason code of an executor error: the one a Failure names, else Graph's
// classification of the error.
func CodeOf(err error) reason.Code {
	var f *failure
	if errors.As(err, &f) {
		return f.code
	}
	return graph.ReasonOf(err)
}

// Classify maps an executor error to an outcome and reason code.
func Classify(err error) (outcome store.Outcome, code reason.Code, detail string) {
	var f *failure
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

// progressInterval caps progress writes at about four a second.
const progressInterval = 250 * time.Millisecond

// ClientFunc builds a Graph client for a tenant through one of its provider connections. The
// engine supplies it: it holds the credentials' sealer, the Graph configuration and this process's
// per-tenant rate limiters.
type ClientFunc func(store.Tenant, store.ProviderConnection) (*graph.Client, error)

// RunContext is what an executor gets: the run, its tenant and connection, the database, and ways
// to report. The engine builds it with New and fills the tenant, connection and Graph fields.
type RunContext struct {
	Run        store.Run
	Tenant     *store.Tenant
	Connection *store.ProviderConnection
	Logger     *slog.Logger
	// DB is the pool executors run their store calls on.
	DB *store.DB
	// GraphURL is the Graph root the client talks to (graph.DefaultGraphURL unless configured):
	// bodies that bind objects by URL (ADMX definition values) must name the same host.
	GraphURL string
	// NewClient builds the run's Graph clients (GraphClient calls it).
	NewClient ClientFunc

	mu        sync.Mutex
	progress  store.Progress
	lastWrite time.Time
	dirty     bool
}

// New starts the context of run r, its progress where the run's row left it (a resumed run
// continues its counts).
func New(r store.Run, db *store.DB, logger *slog.Logger) *RunContext {
	return &RunContext{Run: r, DB: db, Logger: logger, GraphURL: graph.DefaultGraphURL,
		progress: store.Progress{Processed: r.ProgressProcessed, Total: r.ProgressTotal, Counts: r.Counts}}
}

// GraphClient builds a Graph client for the run's tenant from its default connection.
func (rc *RunContext) GraphClient() (*graph.Client, error) {
	if rc.Tenant == nil || rc.Connection == nil {
		return nil, Failure(reason.ProviderConnectionMissing, "the tenant has no default provider connection")
	}
	if rc.NewClient == nil {
		return nil, Failure(reason.InternalError, "this run has no Graph client factory")
	}
	return rc.NewClient(*rc.Tenant, *rc.Connection)
}

// Event appends a timeline or log line to the run. Failures to record are logged, not fatal.
func (rc *RunContext) Event(ctx context.Context, e store.RunEvent) {
	e.RunID = rc.Run.ID
	if _, err := store.InsertRunEvent(context.WithoutCancel(ctx), rc.DB.Pool, e); err != nil {
		rc.Logger.Warn("cannot record run event", "error", err)
	}
}

// Logf appends a log line at level.
func (rc *RunContext) Logf(ctx context.Context, level store.Level, format string, args ...any) {
	rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: level, Message: fmt.Sprintf(format, args...)})
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
		rc.Flush(ctx)
	}
}

// Progress returns a copy of the progress so far.
func (rc *RunContext) Progress() store.Progress {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.progress
}

// Flush writes progress not yet written (Update holds back changes that come too fast).
func (rc *RunContext) Flush(ctx context.Context) {
	rc.mu.Lock()
	if !rc.dirty {
		rc.mu.Unlock()
		return
	}
	p := rc.progress
	rc.dirty = false
	rc.lastWrite = time.Now()
	rc.mu.Unlock()
	if err := store.UpdateRunProgress(context.WithoutCancel(ctx), rc.DB.Pool, rc.Run.ID, p); err != nil {
		rc.Logger.Warn("cannot record progress", "error", err)
	}
}
