package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func daysAgo(d int) *time.Time { return new(time.Now().Add(-time.Duration(d) * 24 * time.Hour)) }

func runExists(ctx context.Context, t *testing.T, db *store.DB, id int64) bool {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE id = $1`, id).Scan(&n))
	return n == 1
}

func eventCount(ctx context.Context, t *testing.T, db *store.DB, runID int64) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM run_events WHERE run_id = $1`, runID).Scan(&n))
	return n
}

// TestPruneRuns: completed runs older than the retention go with their events, except the runs
// that are the record of something still kept (KeptRunsRule); young and active runs stay.
func TestPruneRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	ten := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	other := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	sch := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{TenantID: ten.ID})
	run := func(typ string, tenantID int64, outcome store.Outcome, finishedDaysAgo int, extra *storetest.RunOpts) store.Run {
		opts := storetest.RunOpts{}
		if extra != nil {
			opts = *extra
		}
		opts.WorkspaceID, opts.TenantID, opts.Type, opts.Outcome = w.ID, &tenantID, typ, outcome
		opts.CreatedAt, opts.StartedAt, opts.FinishedAt = daysAgo(finishedDaysAgo+1), daysAgo(finishedDaysAgo+1), daysAgo(finishedDaysAgo)
		r := storetest.Run(ctx, t, db.Pool, &opts)
		for range 3 {
			storetest.RunEvent(ctx, t, db.Pool, &storetest.RunEventOpts{RunID: r.ID})
		}
		return r
	}

	oldFailed := run("inventory.sync", ten.ID, store.OutcomeFailed, 500, nil)
	oldSucceeded := run("inventory.sync", ten.ID, store.OutcomeSucceeded, 450, nil)
	newestSucceeded := run("inventory.sync", ten.ID, store.OutcomeSucceeded, 420, nil) // newest successful inventory of ten
	newestCompleted := run("inventory.sync", ten.ID, store.OutcomeFailed, 410, nil)    // newest completed inventory of ten
	otherTenants := run("inventory.sync", other.ID, store.OutcomeSucceeded, 430, nil)  // the only one of its tenant
	retry := run("inventory.sync", other.ID, store.OutcomeFailed, 1, &storetest.RunOpts{RetryOfRunID: &oldFailed.ID})
	withSet := run("backup.run", ten.ID, store.OutcomeSucceeded, 600, nil)
	storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: ten.ID, RunID: &withSet.ID})
	oldBackup := run("backup.run", ten.ID, store.OutcomeSucceeded, 590, nil) // its set was pruned long ago
	scheduledOlder := run("backup.run", ten.ID, store.OutcomeFailed, 580, &storetest.RunOpts{ScheduleID: &sch.ID, IntendedFireTime: daysAgo(581)})
	scheduledNewest := run("backup.run", ten.ID, store.OutcomeFailed, 570, &storetest.RunOpts{ScheduleID: &sch.ID, IntendedFireTime: daysAgo(571)})
	recentBackup := run("backup.run", ten.ID, store.OutcomeSucceeded, 2, nil)
	// A fleet schedule keeps its newest run per tenant: each tenant's catch-up looks for its own.
	fleet := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{WorkspaceID: w.ID, TargetAll: true})
	fleetOlderOfTen := run("backup.run", ten.ID, store.OutcomeFailed, 560, &storetest.RunOpts{ScheduleID: &fleet.ID, IntendedFireTime: daysAgo(561)})
	fleetNewestOfOther := run("backup.run", other.ID, store.OutcomeFailed, 555, &storetest.RunOpts{ScheduleID: &fleet.ID, IntendedFireTime: daysAgo(556)})
	fleetNewestOfTen := run("backup.run", ten.ID, store.OutcomeFailed, 550, &storetest.RunOpts{ScheduleID: &fleet.ID, IntendedFireTime: daysAgo(551)})
	run("backup.run", other.ID, store.OutcomeSucceeded, 3, nil) // other's newest backup: fleetNewestOfOther is kept only as its schedule's
	young := run("directory.sync", ten.ID, store.OutcomeFailed, 399, nil)
	// Runs of the workspace itself (no tenant) keep the same rule among themselves.
	workspaceRun := func(outcome store.Outcome, finishedDaysAgo int) store.Run {
		r := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID, Type: "system.noop", Outcome: outcome,
			CreatedAt: daysAgo(finishedDaysAgo + 1), StartedAt: daysAgo(finishedDaysAgo + 1), FinishedAt: daysAgo(finishedDaysAgo)})
		for range 3 {
			storetest.RunEvent(ctx, t, db.Pool, &storetest.RunEventOpts{RunID: r.ID})
		}
		return r
	}
	wsOlderSucceeded := workspaceRun(store.OutcomeSucceeded, 540)
	wsNewestSucceeded := workspaceRun(store.OutcomeSucceeded, 530)
	wsOlderFailed := workspaceRun(store.OutcomeFailed, 520)
	wsNewestCompleted := workspaceRun(store.OutcomeFailed, 510)
	stillQueued := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID, TenantID: &ten.ID, CreatedAt: daysAgo(700)})
	// Another workspace's old runs are its own retention's business.
	elsewhere := storetest.Workspace(ctx, t, db.Pool, nil)
	foreign := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: elsewhere.ID, Outcome: store.OutcomeFailed, FinishedAt: daysAgo(999)})
	storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: elsewhere.ID, Outcome: store.OutcomeFailed})

	pruned, err := store.PruneRuns(ctx, db, w.ID)
	require.NoError(t, err)
	require.Equal(t, store.Pruned{Runs: 7, RunEvents: 21}, pruned)

	for _, c := range []struct {
		name string
		run  store.Run
		kept bool
	}{
		{"OldFailed", oldFailed, false},
		{"OldSucceeded", oldSucceeded, false},
		{"NewestSucceededOfItsType", newestSucceeded, true},
		{"NewestCompletedOfItsType", newestCompleted, true},
		{"OnlyRunOfAnotherTenant", otherTenants, true},
		{"RecentRetry", retry, true},
		{"MadeABackupSetStillKept", withSet, true},
		{"OldBackupWithoutSet", oldBackup, false},
		{"OlderRunOfASchedule", scheduledOlder, false},
		{"NewestRunOfASchedule", scheduledNewest, true},
		{"OlderRunOfAFleetScheduleForATenant", fleetOlderOfTen, false},
		{"NewestRunOfAFleetScheduleForAnotherTenant", fleetNewestOfOther, true},
		{"NewestRunOfAFleetScheduleForATenant", fleetNewestOfTen, true},
		{"RecentBackup", recentBackup, true},
		{"YoungerThanRetention", young, true},
		{"OlderSucceededOfTheWorkspace", wsOlderSucceeded, false},
		{"NewestSucceededOfTheWorkspace", wsNewestSucceeded, true},
		{"OlderFailedOfTheWorkspace", wsOlderFailed, false},
		{"NewestCompletedOfTheWorkspace", wsNewestCompleted, true},
		{"StillQueued", stillQueued, true},
		{"AnotherWorkspace", foreign, true},
	} {
		require.Equal(t, c.kept, runExists(ctx, t, db, c.run.ID), c.name)
		if !c.kept {
			require.Zero(t, eventCount(ctx, t, db, c.run.ID), "%s: its events went with it", c.name)
		}
	}
	r, err := store.GetRun(ctx, db.Pool, retry.ID)
	require.NoError(t, err)
	require.Nil(t, r.RetryOfRunID, "a retry outlives the run it retried")

	again, err := store.PruneRuns(ctx, db, w.ID)
	require.NoError(t, err)
	require.Zero(t, again.Total(), "a second pass finds nothing more")
}

// TestTrimRunEvents: old completed runs keep their timeline, warnings and errors; their routine
// lines go. Young runs keep everything.
func TestTrimRunEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	events := []struct {
		kind  store.EventKind
		level store.Level
		kept  bool
	}{
		{store.EventTimeline, store.LevelInfo, true},
		{store.EventLog, store.LevelInfo, false},
		{store.EventLog, store.LevelDebug, false},
		{store.EventItem, store.LevelInfo, false},
		{store.EventLog, store.LevelWarn, true},
		{store.EventItem, store.LevelError, true},
	}
	old := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID, Outcome: store.OutcomeSucceeded, FinishedAt: daysAgo(91)})
	young := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID, Outcome: store.OutcomeSucceeded, FinishedAt: daysAgo(89)})
	for _, r := range []store.Run{old, young} {
		for _, e := range events {
			storetest.RunEvent(ctx, t, db.Pool, &storetest.RunEventOpts{RunID: r.ID, Kind: e.kind, Level: e.level})
		}
	}

	trimmed, err := store.TrimRunEvents(ctx, db, w.ID)
	require.NoError(t, err)
	require.EqualValues(t, 3, trimmed)
	require.Equal(t, 3, eventCount(ctx, t, db, old.ID))
	require.Equal(t, len(events), eventCount(ctx, t, db, young.ID))
	var left []string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT array_agg(kind || '/' || level ORDER BY id) FROM run_events WHERE run_id = $1`, old.ID).Scan(&left))
	require.Equal(t, []string{"timeline/info", "log/warn", "item/error"}, left)

	again, err := store.TrimRunEvents(ctx, db, w.ID)
	require.NoError(t, err)
	require.Zero(t, again)
}

// TestPruneAudit: the audit trail is kept forever unless the workspace sets a retention; then only
// rows older than it go, and nothing can update a row.
func TestPruneAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	old := storetest.AuditEvent(ctx, t, db.Pool, &storetest.AuditEventOpts{WorkspaceID: &w.ID, At: daysAgo(400)})
	recent := storetest.AuditEvent(ctx, t, db.Pool, &storetest.AuditEventOpts{WorkspaceID: &w.ID, At: daysAgo(20)})

	n, err := store.PruneAudit(ctx, db, w.ID)
	require.NoError(t, err)
	require.Zero(t, n, "forever by default")

	r, err := store.GetRetention(ctx, db.Pool, w.ID)
	require.NoError(t, err)
	require.Equal(t, store.Retention{Runs: store.DefaultRunRetention, RunEvents: store.DefaultRunEventRetention}, r)
	r.Audit = 365 * 24 * time.Hour
	require.NoError(t, store.SetRetention(ctx, db.Pool, w.ID, r))
	n, err = store.PruneAudit(ctx, db, w.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var ids []int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT array_agg(id) FROM audit_events WHERE workspace_id = $1`, w.ID).Scan(&ids))
	require.Equal(t, []int64{recent.ID}, ids)
	require.NotEqual(t, old.ID, recent.ID)

	_, err = db.Pool.Exec(ctx, `UPDATE audit_events SET action = 'forged' WHERE id = $1`, recent.ID)
	require.ErrorContains(t, err, "append-only")
	_, err = db.Pool.Exec(ctx, `DELETE FROM audit_events WHERE id = $1`, recent.ID)
	require.ErrorContains(t, err, "append-only", "outside prune_audit_events even an old enough row stays")
}

// TestRetentionBounds: the database refuses a retention outside the bounds, whoever writes it.
func TestRetentionBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	day := 24 * time.Hour
	for _, c := range []struct {
		name string
		r    store.Retention
	}{
		{"RunsUnderAWeek", store.Retention{Runs: 6 * day, RunEvents: day}},
		{"EventsOutliveRuns", store.Retention{Runs: 10 * day, RunEvents: 11 * day}},
		{"AuditUnderAMonth", store.Retention{Runs: 10 * day, RunEvents: day, Audit: 29 * day}},
	} {
		require.ErrorContains(t, store.SetRetention(ctx, db.Pool, w.ID, c.r), "workspaces_retention_bounds", c.name)
	}
	got, err := store.GetRetention(ctx, db.Pool, w.ID)
	require.NoError(t, err)
	require.Equal(t, store.DefaultRunRetention, got.Runs, "nothing changed")
}

// TestRetentionLockIsExclusive: of two processes, one prunes; the other is told it did not run.
func TestRetentionLockIsExclusive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	// A second pool on the same database stands in for another engine.
	other, err := store.Open(ctx, db.Pool.Config().ConnString(), store.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(other.Close)
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ran, err := store.WithRetentionLock(ctx, db, func() error { close(inside); <-release; return nil })
		if err == nil && !ran {
			err = context.Canceled
		}
		done <- err
	}()
	<-inside
	ran, err := store.WithRetentionLock(ctx, other, func() error { t.Error("ran while the other held the lock"); return nil })
	require.NoError(t, err)
	require.False(t, ran)
	close(release)
	require.NoError(t, <-done)
	ran, err = store.WithRetentionLock(ctx, other, func() error { return nil })
	require.NoError(t, err)
	require.True(t, ran, "free again once released")
}

// TestPruneIncidents: resolved alert incidents older than the run retention go with their
// deliveries; open ones, young ones and ones with a delivery still pending stay.
func TestPruneIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	route, err := store.InsertAlertRoute(ctx, db.Pool, store.AlertRoute{WorkspaceID: w.ID, Name: "hook", Kind: "webhook",
		Config: map[string]any{"url": "https://hooks.example.com/x"}})
	require.NoError(t, err)
	rule, err := store.SaveAlertRule(ctx, db.Pool, store.AlertRule{WorkspaceID: w.ID, Name: "failures", Condition: "run_failed",
		Enabled: true, RouteIDs: []int64{route.ID}})
	require.NoError(t, err)
	incident := func(subject string, resolvedDaysAgo int, pending bool) int64 {
		inc, _, err := store.FireIncident(ctx, db.Pool, store.IncidentFiring{WorkspaceID: w.ID, RuleID: rule.ID, Subject: subject, Summary: subject})
		require.NoError(t, err)
		_, _, err = store.InsertDelivery(ctx, db.Pool, inc.ID, inc.Version, route.ID, "trigger")
		require.NoError(t, err)
		if !pending {
			_, err = db.Pool.Exec(ctx, `UPDATE alert_deliveries SET status = 'delivered' WHERE incident_id = $1`, inc.ID)
			require.NoError(t, err)
		}
		if resolvedDaysAgo >= 0 {
			_, _, err = store.ResolveIncident(ctx, db.Pool, inc.ID)
			require.NoError(t, err)
			_, err = db.Pool.Exec(ctx, `UPDATE alert_incidents SET resolved_at = now() - make_interval(days => $2) WHERE id = $1`, inc.ID, resolvedDaysAgo)
			require.NoError(t, err)
		}
		return inc.ID
	}
	old := incident("old", 500, false)
	young := incident("young", 10, false)
	stuck := incident("pending", 500, true)
	open := incident("open", -1, false)

	n, err := store.PruneIncidents(ctx, db, w.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var left []int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT array_agg(id ORDER BY id) FROM alert_incidents`).Scan(&left))
	require.Equal(t, []int64{young, stuck, open}, left)
	var deliveries int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM alert_deliveries WHERE incident_id = $1`, old).Scan(&deliveries))
	require.Zero(t, deliveries, "its deliveries went with it")
}
