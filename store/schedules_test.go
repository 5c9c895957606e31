package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// TestFleetScheduleSchema: migration 00019 gives a schedule exactly one target, names unique per
// tenant or (fleet) per workspace, the strict identity per (schedule, tenant, fire time) under the
// index name older engines race on, and leaves fleet schedules invisible to the previous release's
// inner join.
func TestFleetScheduleSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	a := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	b := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	own := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{TenantID: a.ID, Name: "nightly"})
	fleet := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{WorkspaceID: w.ID, TargetTag: "eu", Name: "nightly"})
	require.Equal(t, "tag:eu", fleet.Target())
	require.True(t, fleet.IsFleet())
	require.Equal(t, a.Name, own.Target())

	for _, c := range []struct {
		name, sql string
		args      []any
	}{
		{"TenantAndTag", `INSERT INTO backup_schedules (workspace_id, tenant_id, target_tag, name, cron) VALUES ($1, $2, 'eu', 'x1', '0 3 * * *')`, []any{w.ID, a.ID}},
		{"TagAndAll", `INSERT INTO backup_schedules (workspace_id, target_tag, target_all, name, cron) VALUES ($1, 'eu', true, 'x2', '0 3 * * *')`, []any{w.ID}},
		{"NoTarget", `INSERT INTO backup_schedules (workspace_id, name, cron) VALUES ($1, 'x3', '0 3 * * *')`, []any{w.ID}},
		{"InvalidTag", `INSERT INTO backup_schedules (workspace_id, target_tag, name, cron) VALUES ($1, 'EU!', 'x4', '0 3 * * *')`, []any{w.ID}},
	} {
		_, err := db.Pool.Exec(ctx, c.sql, c.args...)
		require.Error(t, err, c.name)
		require.Contains(t, err.Error(), "violates check constraint", c.name)
	}

	_, err := store.InsertSchedule(ctx, db.Pool, store.BackupSchedule{WorkspaceID: w.ID, TargetAll: true, Name: "nightly", Cron: "0 4 * * *", Timezone: "UTC"})
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), `schedule "nightly" among the tag and all-tenant schedules of this workspace`)
	_, err = store.InsertSchedule(ctx, db.Pool, store.BackupSchedule{WorkspaceID: w.ID, TenantID: b.ID, Name: "nightly", Cron: "0 4 * * *", Timezone: "UTC"})
	require.NoError(t, err, "names are unique per tenant for one-tenant schedules")

	// The previous release's schedule read (store/schedules.go before 00019): fleet schedules are not there.
	var ids []int64
	rows, err := db.Pool.Query(ctx, `SELECT s.id FROM backup_schedules s JOIN tenants t ON t.id = s.tenant_id ORDER BY s.id`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.NotContains(t, ids, fleet.ID)
	require.Contains(t, ids, own.ID)

	var def string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, store.IndexScheduleFire).Scan(&def))
	require.Contains(t, def, "(schedule_id, tenant_id, intended_fire_time)")

	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for _, ten := range []int64{a.ID, b.ID} {
		_, err := store.InsertRun(ctx, db.Pool, store.NewRun{WorkspaceID: w.ID, TenantID: &ten, Type: "backup.scheduled",
			InitiatorKind: "schedule", ScheduleID: &fleet.ID, IntendedFireTime: &at})
		require.NoError(t, err, "one run per tenant of a fleet firing")
	}
	_, err = store.InsertRun(ctx, db.Pool, store.NewRun{WorkspaceID: w.ID, TenantID: &a.ID, Type: "backup.scheduled",
		InitiatorKind: "schedule", ScheduleID: &fleet.ID, IntendedFireTime: &at})
	require.True(t, store.IsUniqueViolation(err, store.IndexScheduleFire), "a second run of (schedule, tenant, fire time): %v", err)
	r, err := store.FindScheduledRun(ctx, db.Pool, fleet.ID, b.ID, at)
	require.NoError(t, err)
	require.Equal(t, b.ID, *r.TenantID)
	_, err = store.FindScheduledRun(ctx, db.Pool, own.ID, a.ID, at)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestListSchedulesOfATenantIncludesItsFleetSchedules: a tenant's schedules are its own and the
// fleet schedules of its workspace that target it now.
func TestListSchedulesOfATenantIncludesItsFleetSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	tagged := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	_, err := store.SetTenantTags(ctx, db.Pool, tagged.ID, []string{"eu"})
	require.NoError(t, err)
	plain := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	own := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{TenantID: plain.ID})
	eu := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{WorkspaceID: w.ID, TargetTag: "eu"})
	all := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{WorkspaceID: w.ID, TargetAll: true})
	other := storetest.Workspace(ctx, t, db.Pool, nil)
	storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{WorkspaceID: other.ID, TargetAll: true})

	ids := func(tenantID int64) []int64 {
		list, err := store.ListSchedules(ctx, db.Pool, store.ScheduleFilter{TenantID: tenantID})
		require.NoError(t, err)
		var out []int64
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	require.Equal(t, []int64{all.ID, eu.ID}, ids(tagged.ID))
	require.Equal(t, []int64{all.ID, own.ID}, ids(plain.ID))
}

// TestPruneBackupSetsPerTenant: a fleet schedule's keep count applies to each tenant's sets.
func TestPruneBackupSetsPerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.Workspace(ctx, t, db.Pool, nil)
	a := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	b := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	fleet := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{WorkspaceID: w.ID, TargetAll: true})
	sets := map[int64][]int64{}
	for range 4 {
		for _, ten := range []int64{a.ID, b.ID} {
			s := storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: ten, ScheduleID: &fleet.ID})
			sets[ten] = append(sets[ten], s.ID)
		}
	}
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		pr, err := store.PruneBackupSets(ctx, tx, fleet.ID, a.ID, 2, 0)
		require.Equal(t, int64(2), pr.Sets)
		return err
	})
	require.NoError(t, err)
	left := func(ten int64) []int64 {
		list, err := store.ListBackupSets(ctx, db.Pool, store.BackupSetFilter{WorkspaceIDs: []int64{w.ID}, TenantID: ten, ScheduleID: fleet.ID})
		require.NoError(t, err)
		var out []int64
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	require.Equal(t, []int64{sets[a.ID][3], sets[a.ID][2]}, left(a.ID), "tenant a keeps its newest 2")
	require.Len(t, left(b.ID), 4, "tenant b's sets are its own retention's business")
}
