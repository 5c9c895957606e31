package engine_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
)

// benchArgs is a no-op River job for the raw baseline.
type benchArgs struct{ N int }

func (benchArgs) Kind() string { return "bench_noop" }

type benchWorker struct {
	river.WorkerDefaults[benchArgs]
	entered chan time.Time
}

func (w *benchWorker) Work(ctx context.Context, job *river.Job[benchArgs]) error {
	w.entered <- time.Now()
	return nil
}

// benchConcurrency is how many callers insert at once in the rate measurements.
const benchConcurrency = 4

// rateRounds is how many times each rate is measured; the median is reported.
const rateRounds = 3

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func percentile(ds []time.Duration, p float64) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(int(float64(len(ds))*p), len(ds)-1)]
}

// BenchmarkStart measures Service.Start end to end (authorization, identity rule, run row, River job,
// audit event — one transaction) against raw River InsertTx of a no-op job, and commit → worker-start
// latency for both, all in the same run. It also reports the floor: a transaction with River's job
// and a bare operation_runs row, nothing else.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	const inserts = 2000
	const samples = 300
	bundle := setup(b)
	w := bundle.defaultWorkspace(b)

	raw, err := river.NewClient(riverpgxv5.New(bundle.db.Pool), &river.Config{FetchCooldown: time.Millisecond})
	require.NoError(b, err)
	// All rates use the same concurrency: callers (dashboard sessions, CLI, schedulers) start runs
	// in parallel.
	rate := func(call func(i int) error) float64 {
		var wg sync.WaitGroup
		errs := make(chan error, inserts)
		start := time.Now()
		for g := range benchConcurrency {
			wg.Go(func() {
				for i := g; i < inserts; i += benchConcurrency {
					if err := call(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		require.NoError(b, <-errs)
		return inserts / time.Since(start).Seconds()
	}
	rawInsert := func(i int) error {
		return pgx.BeginFunc(ctx, bundle.db.Pool, func(tx pgx.Tx) error {
			_, err := raw.InsertTx(ctx, tx, benchArgs{N: i}, &river.InsertOpts{Queue: "bench"})
			return err
		})
	}
	// The floor: River's job and a bare run row (no authorization, identity rule, audit or timeline
	// event) in one transaction — what any Start that records a run at all must cost.
	floorInsert := func(i int) error {
		return pgx.BeginFunc(ctx, bundle.db.Pool, func(tx pgx.Tx) error {
			job, err := raw.InsertTx(ctx, tx, benchArgs{N: i}, &river.InsertOpts{Queue: "bench"})
			if err != nil {
				return err
			}
			// Raw SQL on purpose: the floor measures a bare insert, below any store or factory code.
			_, err = tx.Exec(ctx, `INSERT INTO operation_runs (workspace_id, type, initiator_kind, river_job_id)
				VALUES ($1, 'system.noop', 'system', $2)`, w.ID, job.Job.ID)
			return err
		})
	}
	start := func(int) error {
		_, err := bundle.svc.Start(ctx, bundle.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
		return err
	}
	// One warm-up round fills the pool and the statement caches; then the three alternate, round
	// after round, so that neither the machine's noise nor the tables' growth favours one of them.
	var rawRates, floorRates, startRates []float64
	for round := range rateRounds + 1 {
		r, f, st := rate(rawInsert), rate(floorInsert), rate(start)
		if round > 0 {
			rawRates, floorRates, startRates = append(rawRates, r), append(floorRates, f), append(startRates, st)
		}
	}
	rawRate, floorRate, startRate := median(rawRates), median(floorRates), median(startRates)
	// Raw SQL on purpose: a bulk reset of the benchmark's own rows, which no fixture models.
	_, err = bundle.db.Pool.Exec(ctx, `DELETE FROM river_job; UPDATE operation_runs SET status = 'completed', outcome = 'cancelled'`)
	require.NoError(b, err)

	// Latency: the engine's executor and a raw River worker stamp when they are entered.
	entered := make(chan time.Time, 1)
	e, err := engine.NewEngine(bundle.svc, engine.Config{Executors: map[string]run.Executor{
		engine.TypeNoop: func(context.Context, *run.RunContext) (run.Result, error) {
			entered <- time.Now()
			return run.Result{}, nil
		}}})
	require.NoError(b, err)
	require.NoError(b, e.Start(ctx))
	defer e.Stop()
	var startLat []time.Duration
	for range samples {
		_, err := bundle.svc.Start(ctx, bundle.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
		require.NoError(b, err)
		committed := time.Now()
		startLat = append(startLat, (<-entered).Sub(committed))
		time.Sleep(5 * time.Millisecond)
	}
	e.Stop()

	workers := river.NewWorkers()
	bw := &benchWorker{entered: make(chan time.Time, 1)}
	river.AddWorker(workers, bw)
	rawClient, err := river.NewClient(riverpgxv5.New(bundle.db.Pool), &river.Config{Workers: workers,
		Queues: map[string]river.QueueConfig{"bench": {MaxWorkers: 4}}, FetchCooldown: time.Millisecond, FetchPollInterval: 100 * time.Millisecond})
	require.NoError(b, err)
	require.NoError(b, rawClient.Start(ctx))
	defer rawClient.Stop(ctx) //nolint:errcheck
	var rawLat []time.Duration
	for i := range samples {
		require.NoError(b, pgx.BeginFunc(ctx, bundle.db.Pool, func(tx pgx.Tx) error {
			_, err := rawClient.InsertTx(ctx, tx, benchArgs{N: i}, &river.InsertOpts{Queue: "bench"})
			return err
		}))
		committed := time.Now()
		rawLat = append(rawLat, (<-bw.entered).Sub(committed))
		time.Sleep(5 * time.Millisecond)
	}

	b.ReportMetric(startRate, "start_per_s")
	b.ReportMetric(rawRate, "raw_insert_per_s")
	b.ReportMetric(100*startRate/rawRate, "ratio_pct")
	b.ReportMetric(floorRate, "floor_per_s")
	b.ReportMetric(100*floorRate/rawRate, "floor_ratio_pct")
	b.ReportMetric(ms(percentile(startLat, 0.50)), "start_p50_ms")
	b.ReportMetric(ms(percentile(startLat, 0.99)), "start_p99_ms")
	b.ReportMetric(ms(percentile(rawLat, 0.50)), "raw_p50_ms")
	b.ReportMetric(ms(percentile(rawLat, 0.99)), "raw_p99_ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
