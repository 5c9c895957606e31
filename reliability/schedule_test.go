package reliability_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
)

func noopBackup(context.Context, *run.RunContext) (run.Result, error) {
	return run.Result{}, nil
}

// TestReliabilitySchedulesAcrossRestarts fires a per-second schedule in a DST zone from two engines
// that are stopped and restarted in turn, with one outage of both: every fire time gets exactly one
// run, none is missing while an engine ran, and the outage yields exactly one late catch-up run.
// The engines share a fake clock, advanced a second at a time. (engine/schedule_test.go covers two
// steady engines and the DST fire-time table.)
func TestReliabilitySchedulesAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: "sched", TenantGUID: "6e0c1a2b-0000-4000-8000-000000000001",
		ClientID: "3f2a0000-0000-4000-8000-000000000002", ClientSecret: []byte("s")})
	require.NoError(t, err)
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "every-second",
		Cron: "* * * * * *", Timezone: "America/New_York"})
	require.NoError(t, err)
	clock := clockwork.NewFakeClockAt(sch.FireFrom)
	opts := func(name string) engine.Config {
		return engine.Config{Name: name, SchedulePollInterval: 300 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
			StaleAfter: time.Second, Clock: clock, Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
	}
	start := func(name string) *engine.Engine {
		e, err := engine.NewEngine(b.svc, opts(name))
		require.NoError(t, err)
		require.NoError(t, e.Start(ctx))
		return e
	}
	// tick advances the clock by a second and waits for that second's run. It advances only once
	// both schedulers are idle (poll ticker and next fire-time timer registered: two clock waiters
	// each).
	tick := func() {
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, clock.BlockUntilContext(waitCtx, 4), "the schedulers did not re-arm")
		clock.Advance(time.Second)
		at := clock.Now().Truncate(time.Second)
		require.Eventually(t, func() bool {
			var n int
			err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE schedule_id = $1 AND intended_fire_time = $2`,
				sch.ID, at).Scan(&n)
			return err == nil && n > 0
		}, 10*time.Second, 5*time.Millisecond, "no run for fire time %s", at)
	}
	a, c := start("a"), start("b")
	restarts := 0
	for i := range pick(4, 12) {
		tick()
		if i%2 == 0 {
			a.Stop()
			a = start("a")
		} else {
			c.Stop()
			c = start("b")
		}
		restarts++
	}
	// An outage of every engine longer than the grace period, then both come back.
	a.Stop()
	c.Stop()
	outage := clock.Now()
	clock.Advance(4 * time.Second)
	a, c = start("a"), start("b")
	for range 3 {
		tick()
	}
	_, err = b.svc.PauseSchedule(ctx, b.admin, sch.Name)
	require.NoError(t, err)
	a.Stop()
	c.Stop()

	rows, err := b.db.Pool.Query(ctx, `SELECT intended_fire_time, count(*), bool_or(is_late) FROM operation_runs
		WHERE schedule_id = $1 GROUP BY 1 ORDER BY 1`, sch.ID)
	require.NoError(t, err)
	defer rows.Close() // a failed assertion mid-loop must not leave the connection checked out
	var times []time.Time
	late := 0
	for rows.Next() {
		var at time.Time
		var n int
		var isLate bool
		require.NoError(t, rows.Scan(&at, &n, &isLate))
		require.Equal(t, 1, n, "exactly one run for %s", at)
		times = append(times, at)
		if isLate {
			late++
		}
	}
	require.NoError(t, rows.Err())
	gaps := 0
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d != time.Second {
			gaps++
			require.True(t, times[i-1].Before(outage) && times[i].After(outage.Add(time.Second)),
				"a fire time is missing between %s and %s although an engine ran", times[i-1], times[i])
		}
	}
	require.Equal(t, 1, gaps, "the outage is the only gap")
	require.Equal(t, 1, late, "one late catch-up run for the outage")
	metric(t, "schedule.fire_times", len(times), "runs")
	metric(t, "schedule.engine_restarts", restarts, "restarts")
	metric(t, "schedule.duplicates", 0, "runs")
	metric(t, "schedule.late_catch_up_runs", late, "runs")
}

// TestReliabilityScheduleStrictIdentityAtDSTEdges has two services race Start for the fire times
// around New York's and Berlin's DST changes, ten times each at once: one run per fire time.
func TestReliabilityScheduleStrictIdentityAtDSTEdges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	other := newBundle(t, b.db, b.dsn, nil)
	tenant, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: "dst", TenantGUID: "6e0c1a2b-0000-4000-8000-000000000002",
		ClientID: "3f2a0000-0000-4000-8000-000000000002", ClientSecret: []byte("s")})
	require.NoError(t, err)
	total := 0
	for n, tc := range []struct{ cron, zone, after string }{
		{"30 2 * * *", "Europe/Berlin", "2025-03-29T00:00:00Z"},
		{"30 2 * * *", "Europe/Berlin", "2025-10-25T00:00:00Z"},
		{"0 * * * *", "Europe/Berlin", "2025-10-25T23:30:00Z"},
		{"15 30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z"},
		{"30 1 * * *", "America/New_York", "2025-11-01T12:00:00Z"},
	} {
		sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: fmt.Sprintf("dst-%d", n),
			Cron: tc.cron, Timezone: tc.zone})
		require.NoError(t, err)
		_, err = b.svc.PauseSchedule(ctx, b.admin, sch.Name) // only this test fires it
		require.NoError(t, err)
		spec, err := engine.ParseCronSpec(tc.cron, tc.zone)
		require.NoError(t, err)
		after, err := time.Parse(time.RFC3339, tc.after)
		require.NoError(t, err)
		fires := spec.NextN(after, 4)
		var wg sync.WaitGroup
		for i := range 20 {
			svc := b.svc
			if i%2 == 1 {
				svc = other.svc
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, at := range fires {
					// The same instant as another engine would compute it, in its own zone.
					at = at.In(time.FixedZone("elsewhere", (i%5)*3600))
					_, err := svc.Start(ctx, engine.ScheduleActor, engine.StartRequest{Type: engine.TypeBackupScheduled,
						TenantID: tenant.ID, ScheduleID: sch.ID, IntendedFireTime: at})
					require.NoError(t, err)
				}
			}()
		}
		wg.Wait()
		var runs, distinct int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT intended_fire_time) FROM operation_runs WHERE schedule_id = $1`,
			sch.ID).Scan(&runs, &distinct))
		require.Equal(t, len(fires), runs, "%s %s: one run per fire time", tc.cron, tc.zone)
		require.Equal(t, runs, distinct)
		total += runs
	}
	var audits int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'run.start'`).Scan(&audits))
	require.Equal(t, total, audits, "one run.start audit event per run")
	metric(t, "schedule.dst_fire_times_raced", total, "fire times x 20 starts")
}
