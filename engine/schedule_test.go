package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func TestScheduleFireTimesAcrossDST(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		name, cron, tz, after string
		want                  []string
	}{
		{"BerlinDailyAcrossSpringForwardGap", "30 2 * * *", "Europe/Berlin", "2025-03-29T00:00:00Z",
			// 02:30 does not exist on 30 March: it fires once, when the gap ends (03:00 CEST).
			[]string{"2025-03-29T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"}},
		{"BerlinDailyAcrossFallBackOverlap", "30 2 * * *", "Europe/Berlin", "2025-10-25T00:00:00Z",
			// 02:30 happens twice on 26 October: it fires once, at the first (CEST).
			[]string{"2025-10-25T00:30:00Z", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"}},
		{"BerlinHourlyAcrossFallBack", "0 * * * *", "Europe/Berlin", "2025-10-25T23:30:00Z",
			// 02:00 wall time is fired once; the repeated hour does not fire again.
			[]string{"2025-10-26T00:00:00Z", "2025-10-26T02:00:00Z", "2025-10-26T03:00:00Z"}},
		{"NewYorkDailyAtThreeAcrossSpringForward", "0 3 * * *", "America/New_York", "2025-03-08T12:00:00Z",
			[]string{"2025-03-09T07:00:00Z", "2025-03-10T07:00:00Z"}},
		{"NewYorkSecondsFieldInGap", "15 30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z",
			[]string{"2025-03-09T07:00:00Z", "2025-03-10T06:30:15Z"}},
		{"NewYorkFallBack", "30 1 * * *", "America/New_York", "2025-11-01T12:00:00Z",
			[]string{"2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"}},
		{"UTCEverySecond", "* * * * * *", "UTC", "2025-01-01T00:00:00Z",
			[]string{"2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec, err := engine.ParseCronSpec(tc.cron, tc.tz)
			require.NoError(t, err)
			got := spec.NextN(utc(tc.after), len(tc.want))
			var gotS []string
			for _, g := range got {
				gotS = append(gotS, g.UTC().Format(time.RFC3339))
			}
			require.Equal(t, tc.want, gotS)
			// Prev is Next's inverse: the latest fire time at or before each one is itself.
			for _, g := range got {
				p, ok := spec.Prev(g)
				require.True(t, ok)
				require.Equal(t, g, p)
			}
		})
	}
	_, err := engine.ParseCronSpec("0 3 * *", "UTC")
	require.ErrorIs(t, err, engine.ErrInvalid)
	_, err = engine.ParseCronSpec("0 3 * * *", "Mars/Olympus")
	require.ErrorIs(t, err, engine.ErrInvalid)
}

// noopBackup replaces the scheduled backup executor: these tests are about firing.
func noopBackup(context.Context, *run.RunContext) (run.Result, error) {
	return run.Result{}, nil
}

// TestScheduleTwoEnginesExactlyOncePerFireTime fires a per-second schedule from two engines that
// share a fake clock: each second of it gets exactly one run.
func TestScheduleTwoEnginesExactlyOncePerFireTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "every-second",
		Cron: "* * * * * *", Timezone: "Europe/Berlin"})
	require.NoError(t, err)
	clock := clockwork.NewFakeClockAt(sch.FireFrom)
	opts := engine.Config{SchedulePollInterval: 300 * time.Millisecond, Clock: clock,
		Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
	b.startEngine(t, opts)
	second := opts
	second.Name = "second-engine"
	b.startEngine(t, second)

	const fires = 20
	for range fires {
		advance(t, clock, time.Second, 2)
		b.waitScheduledRun(t, sch.ID, clock.Now().Truncate(time.Second))
	}
	_, err = b.svc.PauseSchedule(ctx, b.admin, sch.Name)
	require.NoError(t, err)

	rows, err := b.db.Pool.Query(ctx, `SELECT intended_fire_time, count(*) FROM operation_runs WHERE schedule_id = $1
		GROUP BY 1 ORDER BY 1`, sch.ID)
	require.NoError(t, err)
	defer rows.Close() // a failed assertion mid-loop must not leave the connection checked out
	var times []time.Time
	for rows.Next() {
		var at time.Time
		var n int
		require.NoError(t, rows.Scan(&at, &n))
		require.Equal(t, 1, n, "exactly one run for %s", at)
		require.Zero(t, at.Nanosecond(), "fire times are whole seconds")
		times = append(times, at)
	}
	require.NoError(t, rows.Err())
	require.Len(t, times, fires, "one run per second the clock advanced")
	for i := 1; i < len(times); i++ {
		require.Equal(t, time.Second, times[i].Sub(times[i-1]), "no fire time missing between %s and %s", times[i-1], times[i])
	}
	require.False(t, times[0].Before(sch.FireFrom.Truncate(time.Second)))
	var late int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE schedule_id = $1 AND is_late`, sch.ID).Scan(&late))
	require.Zero(t, late)
}

// advance moves the fake clock on by d once each of the engines' schedulers is idle: its poll
// ticker and its schedule's next fire-time timer registered with the clock (two waiters each), so
// that every second the clock passes is one the schedulers were armed for.
func advance(t *testing.T, clock *clockwork.FakeClock, d time.Duration, engines int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilContext(ctx, 2*engines), "the schedulers did not re-arm")
	clock.Advance(d)
}

// waitScheduledRun waits until the schedule's run of fire time at exists.
func (b *testBundle) waitScheduledRun(t *testing.T, scheduleID int64, at time.Time) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM operation_runs WHERE schedule_id = $1 AND intended_fire_time = $2`,
			scheduleID, at).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "no run for fire time %s", at)
}

func TestScheduleCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "hourly",
		Cron: "0 * * * *", Timezone: "UTC"})
	require.NoError(t, err)
	// The schedule existed for a day while no engine ran.
	dayAgo := time.Now().Add(-24 * time.Hour)
	storetest.UpdateSchedule(ctx, t, b.db.Pool, sch.ID, &storetest.ScheduleOpts{FireFrom: &dayAgo})
	// Half past the hour: the polls below cannot reach the next fire time.
	clock := clockwork.NewFakeClockAt(time.Now().Truncate(time.Hour).Add(30 * time.Minute))
	opts := engine.Config{SchedulePollInterval: 200 * time.Millisecond, Clock: clock,
		Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
	e := b.newEngine(t, opts)
	polls := engine.SchedulerPolls(e)
	require.NoError(t, e.Start(ctx))

	spec, err := engine.ParseCronSpec("0 * * * *", "UTC")
	require.NoError(t, err)
	want, _ := spec.Prev(clock.Now())
	var run store.Run
	require.Eventually(t, func() bool {
		r, err := store.LatestRunOfSchedule(ctx, b.db.Pool, sch.ID)
		run = r
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, run.IsLate, "the catch-up run is marked late")
	require.True(t, want.Equal(*run.IntendedFireTime), "most recent missed fire time %s, got %s", want, run.IntendedFireTime)
	waitPoll(t, polls) // the poll that armed the schedule
	for range 3 {
		clock.Advance(opts.SchedulePollInterval)
		waitPoll(t, polls)
	}
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE schedule_id = $1`, sch.ID).Scan(&n))
	require.Equal(t, 1, n, "one catch-up run, not one per missed fire time")
}

// waitPoll waits for the scheduler's next completed poll.
func waitPoll(t *testing.T, polls <-chan struct{}) {
	t.Helper()
	select {
	case <-polls:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler did not poll")
	}
}

func TestScheduleManagement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	op := b.addUser(t, "op-sched", "operator")
	outsider := b.addUser(t, "outsider-sched", "")

	_, err := b.svc.CreateSchedule(ctx, op, engine.ScheduleRequest{TenantID: tenant.ID, Name: "x", Cron: "0 3 * * *"})
	require.ErrorIs(t, err, engine.ErrForbidden)
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "bad", Cron: "nope"})
	require.ErrorIs(t, err, engine.ErrInvalid)
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "bad", Cron: "0 3 * * *", Families: []string{"nope"}})
	require.ErrorIs(t, err, engine.ErrInvalid)

	v, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "nightly", Cron: "0 3 * * *",
		Timezone: "America/New_York", Families: []string{"deviceConfigurations"}})
	require.NoError(t, err)
	require.Len(t, v.NextFireTimes, 3)
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "nightly", Cron: "0 4 * * *"})
	require.ErrorIs(t, err, engine.ErrConflict)

	list, err := b.svc.ListSchedules(ctx, op, 0)
	require.NoError(t, err)
	require.Len(t, list, 1, "operators (backup.run) see schedules")
	list, err = b.svc.ListSchedules(ctx, outsider, 0)
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = b.svc.PauseSchedule(ctx, outsider, "nightly")
	require.ErrorIs(t, err, engine.ErrNotFound)
	_, err = b.svc.PauseSchedule(ctx, op, "nightly")
	require.ErrorIs(t, err, engine.ErrForbidden)

	cron := "15 4 * * 1-5"
	keep := 7
	v2, err := b.svc.UpdateSchedule(ctx, b.admin, "nightly", engine.ScheduleUpdate{Cron: &cron, KeepCount: &keep})
	require.NoError(t, err)
	require.Equal(t, cron, v2.Cron)
	require.Equal(t, 7, *v2.KeepCount)
	require.True(t, v2.FireFrom.After(v.FireFrom), "a new cron counts fire times from now")
	p, err := b.svc.PauseSchedule(ctx, b.admin, "nightly")
	require.NoError(t, err)
	require.True(t, p.Paused)
	require.Empty(t, p.NextFireTimes)
	r, err := b.svc.ResumeSchedule(ctx, b.admin, "nightly")
	require.NoError(t, err)
	require.False(t, r.Paused)
	audit, err := b.svc.ListAudit(ctx, b.admin, store.AuditFilter{TargetKind: "schedule"})
	require.NoError(t, err)
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	require.Equal(t, []string{"schedule.resume", "schedule.pause", "schedule.update", "schedule.create"}, actions)

	_, err = b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupScheduled, TenantID: tenant.ID, ScheduleID: v.ID,
		IntendedFireTime: time.Now()})
	require.ErrorIs(t, err, engine.ErrInvalid, "scheduled runs are started by the scheduler only")
}

// TestScheduleArmedAfterItsFireTime arms a schedule whose next fire time the clock has already
// passed by the time the timer is set (a fire time computed at hh:mm:59.999 and armed after the
// second under load). It fires that time exactly once, and the scheduler still stops promptly.
// gocron v2.21.2 one-time jobs (go-co-op/gocron#943) spun at 100% CPU when their time passed while
// they were being registered; the scheduler's own timer fires such a time at once.
func TestScheduleArmedAfterItsFireTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "every-second",
		Cron: "* * * * * *", Timezone: "UTC"})
	require.NoError(t, err)
	clock := clockwork.NewFakeClockAt(sch.FireFrom)
	// A poll interval far beyond the test: no poll can rescue a fire time the timer missed.
	opts := engine.Config{SchedulePollInterval: time.Hour, Clock: clock,
		Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
	e := b.newEngine(t, opts)
	armedLate := make(chan time.Time, 1)
	var once sync.Once
	engine.SchedulerBeforeArm(e, func(next time.Time) {
		once.Do(func() {
			clock.Advance(next.Sub(clock.Now()) + 100*time.Millisecond) // the fire time passes while arming
			armedLate <- next
		})
	})
	require.NoError(t, e.Start(ctx))
	var late time.Time
	select {
	case late = <-armedLate:
	case <-time.After(10 * time.Second):
		t.Fatal("the schedule was not armed")
	}
	b.waitScheduledRun(t, sch.ID, late)

	stopped := make(chan struct{})
	go func() { e.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		t.Fatal("the scheduler did not stop")
	}
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE schedule_id = $1`, sch.ID).Scan(&n))
	require.Equal(t, 1, n, "exactly one run, for the fire time armed late")
}
