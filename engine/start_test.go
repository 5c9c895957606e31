package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func TestStartIdentityRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("DedupeUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tenant := b.addTenant(t)
		const n = 50
		results := make([]engine.StartResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: tenant.ID})
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, results[0].Run.ID, results[i].Run.ID, "every start returns the one active run")
			if results[i].Created {
				created++
			}
		}
		require.Equal(t, 1, created)
		runs, err := store.ListRuns(ctx, b.db.Pool, store.RunFilter{WorkspaceIDs: []int64{tenant.WorkspaceID}})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		var jobs, audits int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&jobs))
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'run.start'`).Scan(&audits))
		require.Equal(t, 1, jobs, "one job")
		require.Equal(t, 1, audits, "one audit event")
	})

	t.Run("DedupeIsPerTenantAndEndsWithTheRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t1, t2 := b.addTenant(t), b.addTenant(t)
		a, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeInventorySync, TenantID: t1.ID})
		require.NoError(t, err)
		other, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeInventorySync, TenantID: t2.ID})
		require.NoError(t, err)
		require.True(t, other.Created)
		_, err = b.svc.Cancel(ctx, b.admin, a.Run.ID)
		require.NoError(t, err)
		again, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeInventorySync, TenantID: t1.ID})
		require.NoError(t, err)
		require.True(t, again.Created)
		require.NotEqual(t, a.Run.ID, again.Run.ID)
	})

	t.Run("UniquePerClick", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tenant := b.addTenant(t)
		ids := map[int64]bool{}
		for range 3 {
			res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: tenant.ID})
			require.NoError(t, err)
			require.True(t, res.Created)
			ids[res.Run.ID] = true
		}
		require.Len(t, ids, 3)
	})

	t.Run("StrictScheduleIdentityAcrossServices", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tenant := b.addTenant(t)
		// Two services stand for two engine processes firing the same schedule.
		other, err := engine.NewService(b.db, engine.ServiceOptions{})
		require.NoError(t, err)
		scheduleID := storetest.Schedule(ctx, t, b.db.Pool, &storetest.ScheduleOpts{TenantID: tenant.ID, Name: "nightly",
			Cron: "0 2 * * *"}).ID
		fire := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		results := make(chan engine.StartResult, 20)
		for i := range 20 {
			svc := b.svc
			if i%2 == 1 {
				svc = other
			}
			wg.Go(func() {
				res, err := svc.Start(ctx, engine.ScheduleActor, engine.StartRequest{Type: engine.TypeBackupScheduled,
					TenantID: tenant.ID, ScheduleID: scheduleID, IntendedFireTime: fire})
				require.NoError(t, err)
				results <- res
			})
		}
		wg.Wait()
		close(results)
		created, ids := 0, map[int64]bool{}
		for res := range results {
			ids[res.Run.ID] = true
			if res.Created {
				created++
			}
		}
		require.Equal(t, 1, created)
		require.Len(t, ids, 1)

		// Even after that run completes, the fire time never runs again.
		for id := range ids {
			_, err := b.svc.Cancel(ctx, b.admin, id)
			require.NoError(t, err)
		}
		res, err := b.svc.Start(ctx, engine.ScheduleActor, engine.StartRequest{Type: engine.TypeBackupScheduled,
			TenantID: tenant.ID, ScheduleID: scheduleID, IntendedFireTime: fire})
		require.NoError(t, err)
		require.False(t, res.Created)
	})

	t.Run("BadRequests", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, req := range map[string]engine.StartRequest{
			"UnknownType":     {Type: "groups.explode", TenantRef: "x"},
			"MissingTenant":   {Type: engine.TypeDirectoryGroupsSync},
			"NoopNoWorkspace": {Type: engine.TypeNoop},
		} {
			_, err := b.svc.Start(ctx, b.admin, req)
			require.ErrorIs(t, err, engine.ErrInvalid, name)
		}
		_, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantRef: "no-such-tenant"})
		require.ErrorIs(t, err, engine.ErrNotFound)
		require.Contains(t, err.Error(), `"no-such-tenant"`)
	})
}
