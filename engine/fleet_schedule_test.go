package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// tagTenant gives a tenant tags through the service.
func (b *testBundle) tagTenant(t *testing.T, name string, tags ...string) {
	t.Helper()
	_, err := b.svc.TagTenant(context.Background(), b.admin, name, tags, nil)
	require.NoError(t, err)
}

// runsPerTenantAndFireTime counts the schedule's runs per (tenant name, fire time).
func (b *testBundle) runsPerTenantAndFireTime(t *testing.T, scheduleID int64) map[string]map[time.Time]int {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT t.name, r.intended_fire_time, count(*) FROM operation_runs r
		JOIN tenants t ON t.id = r.tenant_id WHERE r.schedule_id = $1 GROUP BY 1, 2`, scheduleID)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]map[time.Time]int{}
	for rows.Next() {
		var name string
		var at time.Time
		var n int
		require.NoError(t, rows.Scan(&name, &at, &n))
		if out[name] == nil {
			out[name] = map[time.Time]int{}
		}
		out[name][at.UTC()] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// waitFleetRuns waits until the schedule has runs of fire time at for n tenants.
func (b *testBundle) waitFleetRuns(t *testing.T, scheduleID int64, at time.Time, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		var got int
		err := b.db.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT tenant_id) FROM operation_runs
			WHERE schedule_id = $1 AND intended_fire_time = $2`, scheduleID, at).Scan(&got)
		return err == nil && got >= n
	}, 10*time.Second, 5*time.Millisecond, "runs of fire time %s for %d tenants", at, n)
}

// TestFleetScheduleTwoEnginesOneRunPerTenantPerFireTime fires a per-second tag schedule from two
// engines (each with its own service) on one database and a shared fake clock: every fire time
// gets exactly one run per tagged tenant, none for the untagged one; the tagged tenant without a
// provider connection gets its run, which ends blocked, and does not stop the others.
func TestFleetScheduleTwoEnginesOneRunPerTenantPerFireTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	eu1, eu2, untagged := b.addTenant(t), b.addTenant(t), b.addTenant(t)
	noConn := storetest.Tenant(ctx, t, b.db.Pool, &storetest.TenantOpts{WorkspaceID: eu1.WorkspaceID})
	for _, name := range []string{eu1.Name, eu2.Name, noConn.Name} {
		b.tagTenant(t, name, "eu")
	}
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{Tag: "eu", Name: "eu-every-second",
		Cron: "* * * * * *", Timezone: "Europe/Berlin"})
	require.NoError(t, err)
	require.Equal(t, "tag:eu", sch.Target())
	require.Zero(t, sch.TenantID)

	clock := clockwork.NewFakeClockAt(sch.FireFrom)
	opts := engine.Config{SchedulePollInterval: 300 * time.Millisecond, Clock: clock,
		Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
	b.startEngine(t, opts)
	otherSvc, err := engine.NewService(b.db, engine.ServiceOptions{Sealer: b.sealer})
	require.NoError(t, err)
	second := opts
	second.Name = "second-engine"
	e2, err := engine.NewEngine(otherSvc, second)
	require.NoError(t, err)
	t.Cleanup(e2.Stop)
	require.NoError(t, e2.Start(ctx))

	const fires = 8
	var times []time.Time
	for range fires {
		advance(t, clock, time.Second, 2)
		at := clock.Now().Truncate(time.Second).UTC()
		times = append(times, at)
		b.waitFleetRuns(t, sch.ID, at, 3)
	}
	_, err = b.svc.PauseSchedule(ctx, b.admin, sch.Name)
	require.NoError(t, err)

	got := b.runsPerTenantAndFireTime(t, sch.ID)
	require.NotContains(t, got, untagged.Name, "an untagged tenant is not backed up")
	for _, name := range []string{eu1.Name, eu2.Name, noConn.Name} {
		require.Len(t, got[name], fires, "tenant %s: one run per fire time", name)
		for _, at := range times {
			require.Equal(t, 1, got[name][at], "tenant %s, fire time %s: exactly one run", name, at)
		}
	}
	var blockedRun store.Run
	require.Eventually(t, func() bool {
		list, err := store.ListRuns(ctx, b.db.Pool, store.RunFilter{WorkspaceIDs: []int64{eu1.WorkspaceID}, TenantID: noConn.ID, Limit: 1})
		if err != nil || len(list) == 0 || list[0].Outcome == nil {
			return false
		}
		blockedRun = list[0]
		return true
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, store.OutcomeBlocked, *blockedRun.Outcome, "the tenant without a connection: its run ends blocked, visible")
	v, err := b.svc.GetSchedule(ctx, b.admin, sch.Name)
	require.NoError(t, err)
	require.Empty(t, v.LastFireNote, "every tenant got its run")
}

// TestFleetScheduleTagWithoutTenant: a tag schedule whose tag matches no tenant fires without a
// run and records why; once a tenant carries the tag, the next firing backs it up and the note goes.
func TestFleetScheduleTagWithoutTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{Tag: "pilot", Name: "pilot-every-second",
		Cron: "* * * * * *", Timezone: "UTC"})
	require.NoError(t, err)
	clock := clockwork.NewFakeClockAt(sch.FireFrom)
	opts := engine.Config{SchedulePollInterval: 300 * time.Millisecond, Clock: clock,
		Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
	b.startEngine(t, opts)

	advance(t, clock, time.Second, 1)
	first := clock.Now().Truncate(time.Second).UTC()
	var note string
	require.Eventually(t, func() bool {
		s, err := store.GetSchedule(ctx, b.db.Pool, sch.ID)
		note = s.LastFireNote
		return err == nil && note != ""
	}, 10*time.Second, 5*time.Millisecond, "the firing records that the tag matched no tenant")
	require.Equal(t, first.Format(time.RFC3339)+": tag:pilot matches no tenant: nothing started", note)
	require.Empty(t, b.runsPerTenantAndFireTime(t, sch.ID))

	b.tagTenant(t, tenant.Name, "pilot")
	advance(t, clock, time.Second, 1)
	at := clock.Now().Truncate(time.Second).UTC()
	b.waitFleetRuns(t, sch.ID, at, 1)
	require.Eventually(t, func() bool {
		s, err := store.GetSchedule(ctx, b.db.Pool, sch.ID)
		return err == nil && s.LastFireNote == ""
	}, 10*time.Second, 5*time.Millisecond, "a firing that started every tenant clears the note")
	list, err := b.svc.ListSchedules(ctx, b.admin, tenant.ID)
	require.NoError(t, err)
	require.Len(t, list, 1, "the tenant's schedules include the tag schedule that targets it")
}

// TestFleetScheduleCatchUpPerTenant: after downtime an all-tenant schedule gets one late run per
// tenant for its most recent missed fire time; and a firing an engine left half done (one tenant
// started, then the engine stopped) is completed for the other tenant when an engine arms it.
func TestFleetScheduleCatchUpPerTenant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		halfFired  bool // the fire time already has the first tenant's run
		wantLateOf int  // tenants whose run of the fire time is late
	}{
		{"MissedFireTime", false, 2},
		{"HalfFiredFireTime", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			a, c := b.addTenant(t), b.addTenant(t)
			sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{All: true, Name: "hourly", Cron: "0 * * * *"})
			require.NoError(t, err)
			dayAgo := time.Now().Add(-24 * time.Hour)
			storetest.UpdateSchedule(ctx, t, b.db.Pool, sch.ID, &storetest.ScheduleOpts{FireFrom: &dayAgo})
			clock := clockwork.NewFakeClockAt(time.Now().Truncate(time.Hour).Add(30 * time.Minute))
			spec, err := engine.ParseCronSpec("0 * * * *", "UTC")
			require.NoError(t, err)
			want, _ := spec.Prev(clock.Now())
			if tc.halfFired {
				_, err := b.svc.Start(ctx, engine.ScheduleActor, engine.StartRequest{Type: engine.TypeBackupScheduled,
					TenantID: a.ID, ScheduleID: sch.ID, IntendedFireTime: want})
				require.NoError(t, err)
			}
			opts := engine.Config{SchedulePollInterval: 200 * time.Millisecond, Clock: clock,
				Executors: map[string]run.Executor{engine.TypeBackupScheduled: noopBackup}}
			e := b.newEngine(t, opts)
			polls := engine.SchedulerPolls(e)
			require.NoError(t, e.Start(ctx))
			b.waitFleetRuns(t, sch.ID, want.UTC(), 2)
			waitPoll(t, polls)
			for range 3 {
				clock.Advance(opts.SchedulePollInterval)
				waitPoll(t, polls)
			}
			got := b.runsPerTenantAndFireTime(t, sch.ID)
			require.Equal(t, map[string]map[time.Time]int{a.Name: {want.UTC(): 1}, c.Name: {want.UTC(): 1}}, got,
				"one run per tenant, of the most recent missed fire time only")
			var late int
			require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE schedule_id = $1 AND is_late`, sch.ID).Scan(&late))
			require.Equal(t, tc.wantLateOf, late)
		})
	}
}

// TestFleetScheduleManagement: one target exactly, tags checked, names unique per workspace among
// fleet schedules, and a keep count that applies per tenant is stored like any other.
func TestFleetScheduleManagement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	for _, tc := range []struct {
		name string
		req  engine.ScheduleRequest
		want string
	}{
		{"NoTarget", engine.ScheduleRequest{Name: "x", Cron: "0 3 * * *"}, "a schedule targets one of"},
		{"TenantAndTag", engine.ScheduleRequest{TenantID: tenant.ID, Tag: "eu", Name: "x", Cron: "0 3 * * *"}, "a schedule targets one of"},
		{"TagAndAll", engine.ScheduleRequest{Tag: "eu", All: true, Name: "x", Cron: "0 3 * * *"}, "a schedule targets one of"},
		{"BadTag", engine.ScheduleRequest{Tag: "EU!", Name: "x", Cron: "0 3 * * *"}, `tag "EU!"`},
		{"UnknownWorkspace", engine.ScheduleRequest{All: true, Workspace: "nowhere", Name: "x", Cron: "0 3 * * *"}, "nowhere"},
	} {
		_, err := b.svc.CreateSchedule(ctx, b.admin, tc.req)
		require.Error(t, err, tc.name)
		require.Contains(t, err.Error(), tc.want, tc.name)
	}
	keep := 3
	v, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{All: true, Name: "nightly", Cron: "0 3 * * *", KeepCount: &keep})
	require.NoError(t, err)
	require.Equal(t, "all tenants", v.Target())
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{Tag: "eu", Name: "nightly", Cron: "0 4 * * *"})
	require.ErrorIs(t, err, engine.ErrConflict)
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "nightly", Cron: "0 4 * * *"})
	require.NoError(t, err, "a tenant's schedule may share a fleet schedule's name")
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_schedules`).Scan(&n))
	require.Equal(t, 2, n, "the refused requests wrote nothing")
}
