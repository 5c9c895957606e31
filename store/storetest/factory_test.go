package storetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// at is a fixed time the options force, truncated to PostgreSQL's microseconds.
var at = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)

func TestWorkspaceUserKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)

	a, b := storetest.Workspace(ctx, t, db.Pool, nil), storetest.Workspace(ctx, t, db.Pool, nil)
	require.NotEqual(t, a.Name, b.Name, "default names are unique")
	require.Equal(t, "ops", storetest.Workspace(ctx, t, db.Pool, &storetest.WorkspaceOpts{Name: "ops"}).Name)

	u := storetest.User(ctx, t, db.Pool, &storetest.UserOpts{Role: "operator", WorkspaceID: a.ID})
	role, err := store.GetRole(ctx, db.Pool, a.ID, u.ID)
	require.NoError(t, err)
	require.Equal(t, "operator", role)
	_, err = store.GetRole(ctx, db.Pool, b.ID, u.ID)
	require.Error(t, err, "a member of the workspace it was given only")

	k := storetest.SSHKey(ctx, t, db.Pool, &storetest.SSHKeyOpts{UserID: u.ID})
	got, err := store.GetSSHKeyByFingerprint(ctx, db.Pool, k.Fingerprint)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.UserID)
}

func TestTenantAndConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	denied := "provider_permission_denied"
	tests := []struct {
		name  string
		opts  *storetest.ConnectionOpts
		check func(t *testing.T, c store.ProviderConnection)
	}{
		{name: "defaults to a new, unverified tenant", check: func(t *testing.T, c store.ProviderConnection) {
			require.NotZero(t, c.TenantID)
			require.Equal(t, "unverified", c.Status)
			require.True(t, c.IsDefault)
			require.Nil(t, c.LastVerifiedAt)
		}},
		{name: "a forced verification", opts: &storetest.ConnectionOpts{Status: "blocked", ReasonCode: &denied,
			MissingPermissions: []string{"DeviceManagementConfiguration.Read.All"}, LastVerifiedAt: &at},
			check: func(t *testing.T, c store.ProviderConnection) {
				require.Equal(t, "blocked", c.Status)
				require.Equal(t, &denied, c.StatusReasonCode)
				require.Equal(t, []string{"DeviceManagementConfiguration.Read.All"}, c.MissingPermissions)
				require.True(t, at.Equal(*c.LastVerifiedAt))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, storetest.Connection(ctx, t, pgtest.NewDB(t).Pool, tc.opts))
		})
	}

	t.Run("tenants", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		a, b := storetest.Tenant(ctx, t, db.Pool, nil), storetest.Tenant(ctx, t, db.Pool, nil)
		require.NotEqual(t, a.Name, b.Name)
		require.NotEqual(t, a.TenantGUID, b.TenantGUID)
		require.Equal(t, storetest.DefaultWorkspace(ctx, t, db.Pool).ID, a.WorkspaceID)
		old := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{Name: "contoso", CreatedAt: &at})
		require.Equal(t, "contoso", old.Name)
		require.True(t, at.Equal(old.CreatedAt))
	})
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reason := "provider_throttled"
	total := int64(200)
	tests := []struct {
		name  string
		opts  func(tenantID int64) *storetest.RunOpts
		check func(t *testing.T, r store.Run)
	}{
		{name: "defaults to a queued workspace run", opts: func(int64) *storetest.RunOpts { return nil },
			check: func(t *testing.T, r store.Run) {
				require.Equal(t, store.StatusQueued, r.Status)
				require.Nil(t, r.Outcome)
				require.Nil(t, r.TenantID)
				require.Nil(t, r.StartedAt)
			}},
		{name: "an outcome completes it", opts: func(id int64) *storetest.RunOpts {
			return &storetest.RunOpts{TenantID: &id, Outcome: store.OutcomeFailed, ReasonCode: &reason}
		}, check: func(t *testing.T, r store.Run) {
			require.Equal(t, store.StatusCompleted, r.Status)
			require.Equal(t, store.OutcomeFailed, *r.Outcome)
			require.Equal(t, reason, *r.ReasonCode)
			require.NotNil(t, r.StartedAt)
			require.NotNil(t, r.FinishedAt)
			require.Equal(t, 1, r.Attempt)
		}},
		{name: "completed without an outcome succeeded", opts: func(int64) *storetest.RunOpts {
			return &storetest.RunOpts{Status: store.StatusCompleted}
		}, check: func(t *testing.T, r store.Run) {
			require.Equal(t, store.OutcomeSucceeded, *r.Outcome)
		}},
		{name: "running, backdated, with progress", opts: func(id int64) *storetest.RunOpts {
			return &storetest.RunOpts{TenantID: &id, Type: "inventory.sync", Status: store.StatusRunning, CreatedAt: &at,
				StartedAt: new(at.Add(2 * time.Second)), HeartbeatAt: new(at.Add(time.Minute)),
				Progress: &store.Progress{Processed: 120, Total: &total, Counts: store.Counts{Succeeded: 118, Failed: 2}}}
		}, check: func(t *testing.T, r store.Run) {
			require.Equal(t, store.StatusRunning, r.Status)
			require.Equal(t, "inventory.sync", r.Type)
			require.True(t, at.Equal(r.CreatedAt))
			require.True(t, at.Add(2*time.Second).Equal(*r.StartedAt))
			require.True(t, at.Add(time.Minute).Equal(*r.HeartbeatAt))
			require.Nil(t, r.FinishedAt)
			require.Equal(t, int64(120), r.ProgressProcessed)
			require.Equal(t, store.Counts{Succeeded: 118, Failed: 2}, r.Counts)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			tenant := storetest.Tenant(ctx, t, db.Pool, nil)
			tc.check(t, storetest.Run(ctx, t, db.Pool, tc.opts(tenant.ID)))
		})
	}

	t.Run("UpdateRun forces state on an existing run", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{Status: store.StatusRunning})
		r = storetest.UpdateRun(ctx, t, db.Pool, r.ID, &storetest.RunOpts{Outcome: store.OutcomeCancelled, FinishedAt: &at})
		require.Equal(t, store.StatusCompleted, r.Status)
		require.Equal(t, store.OutcomeCancelled, *r.Outcome)
		require.True(t, at.Equal(*r.FinishedAt))
		require.NotNil(t, r.StartedAt, "kept")
	})
}

func TestRunEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	r := storetest.Run(ctx, t, db.Pool, nil)
	e := storetest.RunEvent(ctx, t, db.Pool, &storetest.RunEventOpts{RunID: r.ID, Level: "error", At: &at})
	storetest.RunEvent(ctx, t, db.Pool, &storetest.RunEventOpts{RunID: r.ID})
	events, err := store.ListRunEvents(ctx, db.Pool, store.EventFilter{RunID: r.ID})
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, e.ID, events[0].ID)
	require.Equal(t, store.LevelError, events[0].Level)
	require.True(t, at.Equal(events[0].At))
	require.NotEqual(t, events[0].Message, events[1].Message)

	storetest.RetimeRunEvents(ctx, t, db.Pool, r.ID, at)
	events, err = store.ListRunEvents(ctx, db.Pool, store.EventFilter{RunID: r.ID})
	require.NoError(t, err)
	for _, e := range events {
		require.True(t, at.Add(time.Duration(e.ID%100)*time.Second).Equal(e.At))
	}
}

func TestBackupSetAndSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	item := func(id string, sensitive bool) store.BackupItemRow {
		return store.BackupItemRow{Family: "deviceConfigurations", GraphID: id, PolicyType: "deviceConfiguration", DisplayName: id,
			PayloadHash: "hash-" + id, Payload: []byte(`{"id":"` + id + `"}`), Sensitive: sensitive}
	}
	tests := []struct {
		name  string
		opts  storetest.BackupSetOpts
		check func(t *testing.T, s store.BackupSet)
	}{
		{name: "an empty complete set", check: func(t *testing.T, s store.BackupSet) {
			require.Equal(t, store.BackupComplete, s.Status)
			require.Zero(t, s.ItemCount)
			require.NotNil(t, s.CompletedAt)
		}},
		{name: "items, sensitivity and times", opts: storetest.BackupSetOpts{Items: []store.BackupItemRow{item("a", false), item("b", true)},
			CreatedAt: &at, CompletedAt: &at}, check: func(t *testing.T, s store.BackupSet) {
			require.Equal(t, 2, s.ItemCount)
			require.True(t, s.Sensitive)
			require.Equal(t, 2, s.NewPayloads)
			require.True(t, at.Equal(s.CreatedAt))
			require.True(t, at.Equal(*s.CompletedAt))
		}},
		{name: "a running set stays open", opts: storetest.BackupSetOpts{Status: store.BackupRunning}, check: func(t *testing.T, s store.BackupSet) {
			require.Equal(t, store.BackupRunning, s.Status)
			require.Nil(t, s.CompletedAt)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			tc.opts.TenantID = storetest.Tenant(ctx, t, db.Pool, nil).ID
			tc.check(t, storetest.BackupSet(ctx, t, db.Pool, &tc.opts))
		})
	}

	t.Run("schedule", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		tenant := storetest.Tenant(ctx, t, db.Pool, nil)
		a := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{TenantID: tenant.ID, FireFrom: &at})
		b := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{TenantID: tenant.ID, Paused: true})
		require.NotEqual(t, a.Name, b.Name)
		require.Equal(t, "UTC", a.Timezone)
		require.True(t, at.Equal(a.FireFrom))
		require.True(t, b.Paused)
		b = storetest.UpdateSchedule(ctx, t, db.Pool, b.ID, &storetest.ScheduleOpts{FireFrom: &at})
		require.True(t, at.Equal(b.FireFrom))
		set := storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: tenant.ID, ScheduleID: &a.ID})
		require.Equal(t, a.Name, set.ScheduleName)
	})
}

func TestAuditInventoryDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	e := storetest.AuditEvent(ctx, t, db.Pool, &storetest.AuditEventOpts{Action: "tenant.add", At: &at,
		Details: map[string]any{"auth_kind": "secret"}})
	events, err := store.ListAudit(ctx, db.Pool, store.AuditFilter{WorkspaceIDs: []int64{*e.WorkspaceID}})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, e.ID, events[0].ID)
	require.True(t, at.Equal(events[0].At), "backdated on insert: the table is append-only")

	tenant := storetest.Tenant(ctx, t, db.Pool, nil)
	counts := storetest.Inventory(ctx, t, db.Pool, &storetest.InventoryOpts{TenantID: tenant.ID, Rows: []store.InventoryRow{
		{Family: "deviceConfigurations", GraphID: "dc-1", PolicyType: "deviceConfiguration", DisplayName: "Baseline"}}})
	require.Equal(t, int64(1), counts.Created)
	items, err := store.ListInventory(ctx, db.Pool, store.InventoryFilter{TenantID: tenant.ID})
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, "hash-dc-1", items[0].PayloadHash)

	storetest.Groups(ctx, t, db, &storetest.DirectoryOpts{TenantID: tenant.ID, SyncedAt: &at},
		[]store.Group{{GraphID: "g-1", DisplayName: "All Staff", ContentHash: []byte{1}}})
	storetest.RoleDefinitions(ctx, t, db, &storetest.DirectoryOpts{TenantID: tenant.ID},
		[]store.RoleDefinition{{GraphID: "r-1", DisplayName: "Helpdesk Administrator", ContentHash: []byte{1}}})
	state, err := store.GetSyncState(ctx, db.Pool, tenant.ID, store.CollectionGroups)
	require.NoError(t, err)
	require.Equal(t, int64(1), state.ItemCount)
	require.True(t, at.Equal(*state.SyncedAt))
	state, err = store.GetSyncState(ctx, db.Pool, tenant.ID, store.CollectionRoleDefinitions)
	require.NoError(t, err)
	require.Equal(t, int64(1), state.ItemCount)
}

func TestManyRunsAndGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	a, b := storetest.Tenant(ctx, t, db.Pool, nil), storetest.Tenant(ctx, t, db.Pool, nil)
	storetest.ManyRuns(ctx, t, db.Pool, &storetest.ManyRunsOpts{TenantIDs: []int64{a.ID, b.ID}, Count: 34})
	runs, err := store.ListRuns(ctx, db.Pool, store.RunFilter{WorkspaceIDs: []int64{a.WorkspaceID}, Limit: 100})
	require.NoError(t, err)
	outcomes := map[store.Outcome]int{}
	tenants := map[int64]int{}
	require.Len(t, runs, 34)
	for _, r := range runs {
		require.Equal(t, store.StatusCompleted, r.Status)
		outcomes[*r.Outcome]++
		tenants[*r.TenantID]++
	}
	require.Equal(t, map[store.Outcome]int{store.OutcomeFailed: 3, store.OutcomeBlocked: 2, store.OutcomeSucceeded: 29}, outcomes)
	require.Equal(t, map[int64]int{a.ID: 17, b.ID: 17}, tenants)

	var enabled string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT tgenabled FROM pg_trigger WHERE tgname = 'operation_runs_notify'`).Scan(&enabled))
	require.Equal(t, "O", enabled, "the change trigger is on again")

	storetest.ManyGroups(ctx, t, db.Pool, a.ID, 25)
	groups, err := store.SearchGroups(ctx, db.Pool, store.GroupQuery{TenantID: a.ID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, groups, 25)
}

// TestHistory: the bulk history is spread over the days asked, has the mix of outcomes and about
// ten events a run, counts in the runs-per-hour rollup, and leaves the run tables' indexes and
// constraints as the migrations made them (History checks that itself; here the planner still
// finds the list index).
func TestHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	a, b := storetest.Tenant(ctx, t, db.Pool, nil), storetest.Tenant(ctx, t, db.Pool, nil)
	u := storetest.User(ctx, t, db.Pool, nil)
	storetest.History(ctx, t, db, &storetest.HistoryOpts{TenantIDs: []int64{a.ID, b.ID}, UserID: u.ID, Runs: 4000, Days: 100})

	var runs, completed, failed, events, timelines, hourRuns int64
	var oldest, newest time.Time
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'completed'),
		count(*) FILTER (WHERE outcome = 'failed'), min(created_at), max(created_at) FROM operation_runs`).
		Scan(&runs, &completed, &failed, &oldest, &newest))
	require.Equal(t, int64(4015), runs, "the history and 15 runs in flight")
	require.Equal(t, int64(4000), completed)
	require.InDelta(t, 200, failed, 80, "about 5% failed")
	require.WithinDuration(t, time.Now().Add(-100*24*time.Hour), oldest, 2*time.Hour)
	require.WithinDuration(t, time.Now(), newest, time.Hour)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE kind = 'timeline') FROM run_events`).Scan(&events, &timelines))
	require.InDelta(t, 40000, events, 2000, "about ten events a run")
	require.Equal(t, int64(3*4000), timelines, "queued, started and finished for every run")
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT sum(runs) FROM operation_run_hours`).Scan(&hourRuns))
	require.Equal(t, completed, hourRuns, "every completed run is in the rollup")
	var totalRuns, latest int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT sum(runs) FROM operation_run_totals`).Scan(&totalRuns))
	require.Equal(t, completed, totalRuns, "every completed run is in the all-time totals")
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM tenant_run_latest`).Scan(&latest))
	require.Positive(t, latest, "the latest run per tenant and type rebuilt")
	var mismatched int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE status = 'completed'
		AND ((outcome = 'succeeded') <> (reason_code IS NULL))`).Scan(&mismatched))
	require.Zero(t, mismatched, "a reason code exactly on the runs that did not succeed")

	page, err := store.ListRuns(ctx, db.Pool, store.RunFilter{WorkspaceIDs: []int64{a.WorkspaceID}, Limit: 50})
	require.NoError(t, err)
	require.Len(t, page, 50)
	r := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{TenantID: &a.ID})
	require.Greater(t, r.ID, page[0].ID, "new runs get ids after the history")
}
