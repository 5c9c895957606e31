package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jonboulle/clockwork"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/notify"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/internal/startstop"
	"github.com/tenantatlas/tenantatlas/store"
)

// Config tunes an Engine. Zero values take the defaults documented on each field.
type Config struct {
	Logger *slog.Logger
	// Name identifies this engine in run timelines. Default: hostname:pid.
	Name string
	// MaxWorkers per queue in this process. Default: 8 (restore: 2).
	MaxWorkers int
	// HeartbeatInterval is how often a running run records liveness. Default 2 s.
	HeartbeatInterval time.Duration
	// StaleAfter is how long a running run may go without a heartbeat before another engine treats
	// its engine as dead and resumes it (idempotent) or ends it run_interrupted. Default 15 s.
	StaleAfter time.Duration
	// ShutdownTimeout is how long Stop lets running jobs finish before cancelling them. Default 20 s.
	ShutdownTimeout time.Duration
	// Graph configures the Microsoft Graph client of Graph operations.
	Graph graph.Config
	// RetryBudget is the total time a run may spend waiting on Graph retries (Retry-After and
	// backoff). Default 5 min; past it the run ends provider_throttled.
	RetryBudget time.Duration
	// Executors adds or replaces executors by operation type (tests use this).
	Executors map[string]run.Executor
	// GraphLimits are the per-tenant Graph request rates of the whole cluster: every engine leases
	// its tokens from one budget per tenant in PostgreSQL (store.GraphBudget), so three engines
	// send no more than one would. Zero fields take graph.DefaultLimits (benchmarks against
	// graphsim raise them).
	GraphLimits graph.Limits
	// LocalGraphBudget makes GraphLimits this process's alone, as before the shared budget (the
	// baseline of the fleet benchmark); a Retry-After then holds back only this engine.
	LocalGraphBudget bool
	// SchedulePollInterval is how often the backup scheduler checks the schedules table for
	// changes. Default 2 s.
	SchedulePollInterval time.Duration
	// RetentionInterval is how often the engine applies every workspace's retention
	// (docs/operations.md#retention; one engine of the cluster at a time). Default 1 h; negative
	// turns the pass off in this engine.
	RetentionInterval time.Duration
	// Clock is the backup scheduler's time source. Default: the real clock; tests pass a
	// clockwork fake clock and advance it instead of sleeping until fire times.
	Clock clockwork.Clock
	// AlertTLS is the TLS configuration of alert deliveries (webhooks, SMTP STARTTLS). Default:
	// the system's roots; tests pass their receivers' authority.
	AlertTLS *tls.Config
	// AlertDeliveryTimeout bounds one delivery attempt. A delivery whose job has run for twice
	// that (its engine died mid-send) is handed to a new job. Default 20 s.
	AlertDeliveryTimeout time.Duration
	// AlertRetryBackoff is the wait after a delivery's first failed attempt, doubled per attempt
	// up to 10 minutes. Default 5 s.
	AlertRetryBackoff time.Duration
	// AlertWatchInterval is how often the time-based alert conditions (no success for N hours, run
	// stuck) and the resolve_after of clearing incidents are evaluated. Default 30 s.
	AlertWatchInterval time.Duration
	// SSHAddress is the host:port users reach the SSH server at; alert messages then also name
	// `ssh -p PORT HOST runs show ID`. Default: none.
	SSHAddress string
}

// Engine runs the workers of every operation type in background goroutines, plus crash recovery.
// Any number of engines, in any number of processes, share one database and divide work through River.
type Engine struct {
	svc       *Service
	opts      Config
	logger    *slog.Logger
	name      string
	river     *river.Client[pgx.Tx]
	executors map[string]run.Executor
	limiters  *graph.Limiters
	scheduler *Scheduler
	watch     *AlertWatch
	sender    *notify.Sender

	lifecycle startstop.Base
	mu        sync.Mutex
	inflight  map[int64]context.CancelCauseFunc
	stopping  atomic.Bool
	// registryID is this engine's row in the engines registry (registry.go).
	registryID atomic.Int64
}

// NewEngine builds an engine on svc's database.
func NewEngine(svc *Service, opts Config) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = svc.logger
	}
	if opts.Name == "" {
		host, _ := os.Hostname()
		opts.Name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if opts.MaxWorkers <= 0 {
		opts.MaxWorkers = 8
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 2 * time.Second
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 15 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 20 * time.Second
	}
	if opts.RetryBudget <= 0 {
		opts.RetryBudget = 5 * time.Minute
	}
	if opts.RetentionInterval == 0 {
		opts.RetentionInterval = time.Hour
	}
	if opts.Graph.Observer == nil && svc.metrics != nil {
		opts.Graph.Observer = svc.metrics
	}
	if opts.AlertDeliveryTimeout <= 0 {
		opts.AlertDeliveryTimeout = 20 * time.Second
	}
	if opts.AlertRetryBackoff <= 0 {
		opts.AlertRetryBackoff = 5 * time.Second
	}
	e := &Engine{svc: svc, opts: opts, logger: opts.Logger.With("engine", opts.Name), name: opts.Name,
		executors: map[string]run.Executor{}, inflight: map[int64]context.CancelCauseFunc{}}
	if opts.LocalGraphBudget {
		e.limiters = graph.NewLimiters(opts.GraphLimits)
	} else {
		e.limiters = graph.NewSharedLimiters(opts.GraphLimits, store.NewGraphBudget(svc.db))
	}
	e.scheduler = NewScheduler(svc, e.logger, opts.SchedulePollInterval, opts.Clock)
	e.watch = NewAlertWatch(svc, e.logger, opts.AlertWatchInterval)
	e.watch.staleDeliveryAfter = 2 * opts.AlertDeliveryTimeout
	e.sender = notify.NewSender(opts.AlertTLS, opts.AlertDeliveryTimeout)
	for t, op := range operations {
		e.executors[t] = op.Run
	}
	e.executors[TypeDriftCheck] = e.driftCheck
	maps.Copy(e.executors, opts.Executors)
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{engine: e})
	river.AddWorker(workers, &deliveryWorker{engine: e})
	// River's reindexer (REINDEX of river_job's indexes, nightly) needs to own the table. The runtime
	// role of the two-role setup does not, and every other maintainer (job cleaner, rescuer,
	// scheduler, queue cleaner, leader election) needs only the runtime grants
	// (docs/architecture.md#database-roles); so without ownership the reindexer is off.
	var reindex []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	owns, err := store.OwnsTable(ctx, svc.db.Pool, "river_job")
	cancel()
	if err != nil {
		return nil, err
	}
	if !owns {
		reindex = []string{}
		e.logger.Info("River's reindexer is off: the database role does not own river_job (reindex as the owner, see docs/operations.md#database-maintenance)")
	}
	client, err := river.NewClient(riverpgxv5.New(svc.db.Pool), &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueDefault:   {MaxWorkers: opts.MaxWorkers},
			QueueDirectory: {MaxWorkers: opts.MaxWorkers},
			QueueIntune:    {MaxWorkers: opts.MaxWorkers},
			QueueRestore:   {MaxWorkers: max(1, opts.MaxWorkers/4)},
			QueueAlerts:    {MaxWorkers: opts.MaxWorkers},
		},
		Workers:             workers,
		FetchCooldown:       time.Millisecond,       // docs/architecture.md#job-runtime: with defaults a job can wait a second
		FetchPollInterval:   100 * time.Millisecond, // safety net when an insert notification is skipped
		JobTimeout:          -1,                     // each operation's own timeout applies (worker.go)
		Logger:              e.logger.With("component", "river"),
		ID:                  sanitizeClientID(opts.Name),
		ReindexerIndexNames: reindex,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating engine: %w", err)
	}
	e.river = client
	return e, nil
}

// Start starts the workers, the scheduler and the crash-recovery loop in the background. They run
// until ctx ends or Stop is called (internal/startstop), and then shut down as Stop describes.
func (e *Engine) Start(ctx context.Context) error {
	ctx, stopped, err := e.lifecycle.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("engine %w", err)
	}
	e.stopping.Store(false)
	if e.svc.sealer != nil { // sensitive payloads stored before migration 00007
		if n, err := store.SealPlaintextPayloads(ctx, e.svc.db, e.svc.sealer); err != nil {
			stopped()
			return fmt.Errorf("error sealing sensitive backup payloads: %w", err)
		} else if n > 0 {
			e.logger.Info("sealed sensitive backup payloads stored in plaintext", "payloads", n)
		}
	}
	if n, err := e.svc.bindCredentials(ctx); err != nil { // credentials sealed before migration 00013
		stopped()
		return fmt.Errorf("error binding credentials to their rows: %w", err)
	} else if n > 0 {
		e.logger.Info("re-sealed credentials bound to their rows", "credentials", n)
	}
	if err := e.register(ctx); err != nil {
		stopped()
		return err
	}
	// River's own context is not ctx: cancelling it would stop the workers at once, and the
	// shutdown below decides how they stop.
	if err := e.river.Start(context.WithoutCancel(ctx)); err != nil {
		e.deregister()
		stopped()
		return fmt.Errorf("error starting workers: %w", err)
	}
	if err := e.scheduler.Start(ctx); err != nil {
		e.stopWorkers()
		e.deregister()
		stopped()
		return err
	}
	if err := e.watch.Start(ctx); err != nil {
		e.scheduler.Stop()
		e.stopWorkers()
		e.deregister()
		stopped()
		return err
	}
	heartbeats := make(chan struct{})
	go func() {
		defer close(heartbeats)
		e.heartbeatLoop(ctx)
	}()
	recovered := make(chan struct{})
	go func() {
		defer close(recovered)
		e.recoverLoop(ctx)
	}()
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		e.retentionLoop(ctx)
	}()
	go func() {
		defer stopped()
		<-ctx.Done()
		<-recovered
		<-pruned
		e.watch.Stop()
		e.scheduler.Stop()
		e.stopWorkers()
		<-heartbeats
		e.deregister()
	}()
	e.logger.Info("engine started")
	return nil
}

// Stop shuts down gracefully: running jobs get ShutdownTimeout to finish, then their contexts are
// cancelled; idempotent runs go back to the queue for another engine, others end run_interrupted.
// No run is left "running". Stop tolerates never-started and double-stop, and returns once the
// engine has stopped; cancelling Start's context does the same shutdown.
func (e *Engine) Stop() { e.lifecycle.Stop() }

// InFlight is how many runs this engine is executing now: what a Stop waits for.
func (e *Engine) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.inflight)
}

// stopWorkers stops River: gracefully within ShutdownTimeout, then by cancelling the runs in flight.
func (e *Engine) stopWorkers() {
	softCtx, softCancel := context.WithTimeout(context.Background(), e.opts.ShutdownTimeout)
	defer softCancel()
	if err := e.river.Stop(softCtx); err == nil {
		e.logger.Info("engine stopped")
		return
	}
	e.stopping.Store(true)
	e.mu.Lock()
	for _, c := range e.inflight {
		c(errEngineStopping)
	}
	e.mu.Unlock()
	hardCtx, hardCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hardCancel()
	if err := e.river.StopAndCancel(hardCtx); err != nil {
		e.logger.Warn("engine did not stop cleanly", "error", err)
	}
	e.logger.Info("engine stopped after cancelling runs in flight")
}

func (e *Engine) track(runID int64, cancel context.CancelCauseFunc) {
	e.mu.Lock()
	e.inflight[runID] = cancel
	stopping := e.stopping.Load()
	e.mu.Unlock()
	if stopping {
		cancel(errEngineStopping)
	}
}

func (e *Engine) untrack(runID int64) {
	e.mu.Lock()
	delete(e.inflight, runID)
	e.mu.Unlock()
}

// graphClientFor builds a Graph client for a tenant through one of its connections, sharing this
// engine's per-tenant rate limiters (run.RunContext.GraphClient calls it).
func (e *Engine) graphClientFor(t store.Tenant, c store.ProviderConnection) (*graph.Client, error) {
	creds, err := e.svc.credentials(t, c)
	if err != nil {
		return nil, err
	}
	return graph.NewClient(e.opts.Graph, creds, e.limiters)
}

func sanitizeClientID(name string) string {
	out := make([]rune, 0, len(name))
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			out = append(out, r)
		} else {
			out = append(out, '_')
		}
	}
	return string(out)
}
