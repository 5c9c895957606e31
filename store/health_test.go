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

// TestFleetHealths: per tenant, the newest complete backup set, the types whose latest run in the
// window failed or was blocked (a later success clears one, a cancel does not, a failure before the
// window is not counted), and the newest successful drift check's count; other workspaces' tenants
// are left out.
func TestFleetHealths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	q := db.Pool
	now := time.Now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	ago := func(d time.Duration) *time.Time { return new(now.Add(-d)) }

	healthy := storetest.Tenant(ctx, t, q, &storetest.TenantOpts{Name: "healthy"})
	failing := storetest.Tenant(ctx, t, q, &storetest.TenantOpts{Name: "failing"})
	bare := storetest.Tenant(ctx, t, q, &storetest.TenantOpts{Name: "bare"})
	other := storetest.Workspace(ctx, t, q, &storetest.WorkspaceOpts{Name: "other"})
	elsewhere := storetest.Tenant(ctx, t, q, &storetest.TenantOpts{Name: "elsewhere", WorkspaceID: other.ID})

	type run struct {
		tenant  store.Tenant
		typ     string
		outcome store.Outcome
		age     time.Duration
		result  map[string]any
	}
	for _, r := range []run{
		// healthy: a failure its next run of the type fixed; a drift check that found nothing.
		{healthy, "directory_groups.sync", store.OutcomeFailed, 3 * time.Hour, nil},
		{healthy, "directory_groups.sync", store.OutcomeSucceeded, 2 * time.Hour, nil},
		{healthy, "drift.check", store.OutcomeSucceeded, time.Hour, map[string]any{"drift": map[string]any{"drifted": 0}}},
		// failing: inventory blocked, backup failed and then cancelled (still failing), a verification
		// that failed two days ago (out of the window), a drift check that found 4 and a newer one that
		// failed (failing, and the older one's count stands).
		{failing, "inventory.sync", store.OutcomeSucceeded, 5 * time.Hour, nil},
		{failing, "inventory.sync", store.OutcomeBlocked, 4 * time.Hour, nil},
		{failing, "backup_schedule.run", store.OutcomeFailed, 3 * time.Hour, nil},
		{failing, "backup_schedule.run", store.OutcomeCancelled, 2 * time.Hour, nil},
		{failing, "provider.verification", store.OutcomeFailed, 48 * time.Hour, nil},
		{failing, "drift.check", store.OutcomeSucceeded, 90 * time.Minute, map[string]any{"drift": map[string]any{"drifted": 4}}},
		{failing, "drift.check", store.OutcomeFailed, 30 * time.Minute, nil},
		{elsewhere, "inventory.sync", store.OutcomeFailed, time.Hour, nil},
	} {
		storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &r.tenant.ID, Type: r.typ, Outcome: r.outcome, Result: r.result,
			CreatedAt: ago(r.age + time.Minute), StartedAt: ago(r.age + time.Minute), FinishedAt: ago(r.age)})
	}
	// A run still going is not failing; one that ends failed after a newer run of its type succeeded
	// does not replace that run as the latest.
	storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &healthy.ID, Type: "inventory.sync", Status: store.StatusRunning})
	older := storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &healthy.ID, Type: "directory_role_definitions.sync", Status: store.StatusRunning})
	storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &healthy.ID, Type: "directory_role_definitions.sync", Outcome: store.OutcomeSucceeded})
	storetest.UpdateRun(ctx, t, q, older.ID, &storetest.RunOpts{Status: store.StatusCompleted, Outcome: store.OutcomeFailed})

	storetest.BackupSet(ctx, t, q, &storetest.BackupSetOpts{TenantID: healthy.ID, CompletedAt: ago(26 * time.Hour)})
	storetest.BackupSet(ctx, t, q, &storetest.BackupSetOpts{TenantID: healthy.ID, CompletedAt: ago(2 * time.Hour)})
	storetest.BackupSet(ctx, t, q, &storetest.BackupSetOpts{TenantID: healthy.ID, Status: store.BackupFailed, CompletedAt: ago(time.Minute)})
	storetest.BackupSet(ctx, t, q, &storetest.BackupSetOpts{TenantID: failing.ID, Status: store.BackupRunning})

	got, err := store.FleetHealths(ctx, q, []int64{healthy.WorkspaceID}, since)
	require.NoError(t, err)
	// The trigger keeps what a rebuild from the runs finds.
	require.NoError(t, store.RebuildTenantRunLatest(ctx, q))
	rebuilt, err := store.FleetHealths(ctx, q, []int64{healthy.WorkspaceID}, since)
	require.NoError(t, err)
	require.Equal(t, rebuilt, got)
	require.NoError(t, err)
	require.Len(t, got, 3, "the tenants of the workspace asked for, each once")
	require.NotContains(t, got, elsewhere.ID)

	h := got[healthy.ID]
	require.NotNil(t, h.LastBackupAt)
	require.WithinDuration(t, now.Add(-2*time.Hour), *h.LastBackupAt, time.Second, "the newest complete set, not the failed one")
	require.Zero(t, h.FailingTypes)
	require.NotNil(t, h.Drifted)
	require.Zero(t, *h.Drifted)

	f := got[failing.ID]
	require.Nil(t, f.LastBackupAt, "a set still running is no backup")
	require.Equal(t, 3, f.FailingTypes, "inventory blocked, the backup failed, the last drift check failed; the old verification is out of the window")
	require.NotNil(t, f.Drifted)
	require.Equal(t, 4, *f.Drifted, "the newest drift check that succeeded")
	require.WithinDuration(t, now.Add(-90*time.Minute), *f.DriftCheckedAt, time.Second)

	require.Equal(t, store.FleetHealth{TenantID: bare.ID}, got[bare.ID], "no backup, no failure, no drift check")
}
