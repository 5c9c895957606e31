package engine_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// fleetEngines and fleetWorkers are the night's cluster: two engines on one database, each with
// its default 8 workers on the Intune queue, which backups run on.
const fleetEngines, fleetWorkers = 2, 8

// BenchmarkFleetNight (issue #20 item 3) is an MSP's night: 500 tenants of 200 policies each
// (BENCH_FLEET_TENANTS, BENCH_FLEET_POLICIES scale it; the policies in mixedTenant's proportions)
// backed up by one fleet start (`backups start --all`) run by two engines on one database,
// against graphsim with its latency model (graphsim.DefaultLatency) and Microsoft's Intune limits
// enforced per tenant. Reported: the wall time from the start to the last run's end next to the
// fleet's floor, 429s per 10,000 Intune requests, the process's peak RSS (simulator and both
// engines; PostgreSQL is another process) and peak Go heap next to the heap before the night
// (setup_heap_mb: the simulator's tenants and the idle engines), and one backup's duration (p50,
// p99) next to the mean tenant floor.
//
// The floor: a tenant's backup takes at least its own floor, the larger of its requests ÷ the
// per-tenant rate (40/s, graph.DefaultLimits, below Microsoft's 50/s) and its latency-bound
// critical path (criticalPath); the engines run at most fleetEngines × fleetWorkers backups at a
// time, so the night takes at least the sum of the tenants' floors ÷ that concurrency, and at
// least the longest tenant's floor.
func BenchmarkFleetNight(b *testing.B) {
	ctx := context.Background()
	tenants, policies := envInt("BENCH_FLEET_TENANTS", 500), envInt("BENCH_FLEET_POLICIES", 200)
	counts := map[graph.Family]int{}
	for f, n := range mixedTenant {
		counts[f] = max(1, n*policies/5000)
	}
	for b.Loop() {
		specs := make([]graphsim.TenantSpec, tenants)
		for i := range specs {
			specs[i] = graphsim.TenantSpec{FamilyCounts: counts, Groups: 50}
		}
		latency, throttle := graphsim.DefaultLatency(), graphsim.IntuneThrottleLimits()
		sim, err := graphsim.New(graphsim.Options{Seed: 20, Tenants: specs, Latency: &latency, Throttle: &throttle})
		require.NoError(b, err)
		require.NoError(b, sim.Start())
		dsn := pgtest.NewDSN(b)
		sealer := newSealer(b)
		var engines []*engine.Engine
		var svc *engine.Service
		var db *store.DB
		for i := range fleetEngines {
			// Two processes' worth on one database: a service and an engine each, and each its own
			// connection pool as `tenantatlas engine` opens it (store.Open's defaults, 20
			// connections), not one pool shared by both.
			edb, err := store.Open(ctx, dsn, store.Options{MinConns: store.LongRunningMinConns})
			require.NoError(b, err)
			b.Cleanup(edb.Close)
			db = edb
			s, err := engine.NewService(edb, engine.ServiceOptions{Sealer: sealer})
			require.NoError(b, err)
			e, err := engine.NewEngine(s, engine.Config{Name: fmt.Sprintf("night-%d", i+1), Graph: sim.GraphConfig(), MaxWorkers: fleetWorkers})
			require.NoError(b, err)
			engines = append(engines, e)
			svc = s
		}
		admin, err := svc.ActorByName(ctx, "")
		require.NoError(b, err)
		for i, st := range sim.Tenants() {
			creds := st.Credentials()
			_, err := svc.AddTenant(ctx, admin, engine.AddTenantRequest{Name: fmt.Sprintf("tenant-%04d", i), TenantGUID: st.ID,
				ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
			require.NoError(b, err)
		}
		for _, e := range engines {
			require.NoError(b, e.Start(ctx))
		}
		before := make([]map[string]int, tenants)
		for i, st := range sim.Tenants() {
			before[i] = contractCounts(st)
		}
		throttled0 := sim.ThrottleStats()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		setupHeap := ms.HeapInuse // the simulator's tenants and both engines, idle: the heap's baseline

		resetPeakRSS()
		heap := sampleHeap()
		cpu0, pg0 := processCPU(), postgresCPU(b)
		start := time.Now()
		starts, err := svc.StartFleet(ctx, admin, engine.FleetTarget{All: true}, engine.StartRequest{Type: engine.TypeBackupRun})
		require.NoError(b, err)
		require.Len(b, starts, tenants)
		for _, s := range starts {
			require.NoError(b, s.Err, s.Tenant)
		}
		for {
			queued, err := store.CountRunsWithStatus(ctx, db.Pool, store.StatusQueued)
			require.NoError(b, err)
			running, err := store.CountRunsWithStatus(ctx, db.Pool, store.StatusRunning)
			require.NoError(b, err)
			if queued+running == 0 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		wall := time.Since(start)
		cpu, pgCPU := processCPU()-cpu0, postgresCPU(b)-pg0
		peakHeap := heap()
		peakRSS := peakRSSMB()

		objects := 0
		var durations []time.Duration
		for _, s := range starts {
			run, err := store.GetRun(ctx, db.Pool, s.Result.Run.ID)
			require.NoError(b, err)
			require.Equal(b, store.OutcomeSucceeded, *run.Outcome, "%s: %v", s.Tenant, run.ReasonDetail)
			objects += int(run.ProgressProcessed)
			durations = append(durations, run.FinishedAt.Sub(*run.StartedAt))
		}
		slices.Sort(durations)
		rate := graph.DefaultLimits().RequestsPerSecond
		var sumFloors, longest time.Duration
		requests := 0
		for i, st := range sim.Tenants() {
			n := 0
			for _, c := range graph.Contracts() {
				n += st.RequestCount(c.Name) - before[i][c.Name]
			}
			requests += n
			floor := max(time.Duration(float64(n)/rate*float64(time.Second)), criticalPath(st, before[i], latency))
			sumFloors += floor
			longest = max(longest, floor)
		}
		floor := max(longest, sumFloors/time.Duration(fleetEngines*fleetWorkers))
		ts := sim.ThrottleStats()
		intune, throttled := ts.Requests-throttled0.Requests, ts.Throttled-throttled0.Throttled
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(floor.Seconds(), "floor_s")
		b.ReportMetric(wall.Seconds()/floor.Seconds(), "x_floor")
		b.ReportMetric(float64(throttled)/float64(max(1, intune))*10_000, "429s/10k-requests")
		b.ReportMetric(float64(requests), "requests")
		b.ReportMetric(float64(objects), "objects")
		b.ReportMetric(peakRSS, "peak_rss_mb")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak_heap_mb")
		b.ReportMetric(float64(setupHeap)/(1<<20), "setup_heap_mb")
		// CPU time spent during the night, next to its wall time: this process (simulator and
		// both engines) and the PostgreSQL cluster. On a machine shared with other work, a night
		// whose CPU time nears its share of the cores is bound by the machine, not by Graph.
		b.ReportMetric(cpu.Seconds(), "cpu_s")
		b.ReportMetric(pgCPU.Seconds(), "postgres_cpu_s")
		// One tenant's backup, next to one tenant's floor: what the night's ratio is made of.
		b.ReportMetric(durations[len(durations)/2].Seconds(), "backup_p50_s")
		b.ReportMetric(durations[len(durations)*99/100].Seconds(), "backup_p99_s")
		b.ReportMetric(sumFloors.Seconds()/float64(tenants), "tenant_floor_mean_s")
		b.Logf("%d tenants × %d policies, %d engines × %d workers: %d objects, %d Graph requests (%d Intune, %d answered 429), wall %s, floor %s (longest tenant %s, sum of tenant floors %s)",
			tenants, policies, fleetEngines, fleetWorkers, objects, requests, intune, throttled, wall.Round(time.Millisecond), floor.Round(time.Millisecond),
			longest.Round(time.Millisecond), sumFloors.Round(time.Millisecond))
		for _, e := range engines {
			e.Stop()
		}
		_ = sim.Close()
	}
}

// sampleHeap samples the Go heap in use twice a second until the returned function is called,
// which stops it and returns the largest sample.
func sampleHeap() func() uint64 {
	var mu sync.Mutex
	var peak uint64
	read := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapInuse)
		mu.Unlock()
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		read()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// postgresCPU is the CPU time so far of the test cluster's server processes (the postmaster, its
// live backends and those it has reaped), from /proc; 0 with a cluster of BENCH's own.
func postgresCPU(b *testing.B) time.Duration {
	c := pgtest.Cluster(b)
	if c == nil || c.PID() == 0 {
		return 0
	}
	const hz = 100 // USER_HZ: /proc's clock ticks on Linux
	ticks := func(pid string, withChildren bool) int64 {
		raw, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return 0
		}
		// The fields after the command (which may hold spaces), from field 3 (state) on: ppid is
		// field 4, utime, stime, cutime and cstime are fields 14–17 (proc(5)).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		n := int64(0)
		last := 12 // utime and stime
		if withChildren {
			last = 14 // and the reaped children's
		}
		for i := 11; i <= last && i < len(f); i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			n += v
		}
		return n
	}
	postmaster := strconv.Itoa(c.PID())
	total := ticks(postmaster, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || !e.IsDir() {
			continue
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		if len(f) > 1 && f[1] == postmaster {
			total += ticks(e.Name(), false)
		}
	}
	return time.Duration(total) * time.Second / hz
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
