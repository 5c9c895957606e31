package store_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func TestAuditIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.DefaultWorkspace(ctx, t, db.Pool)
	require.NoError(t, store.InsertAudit(ctx, db.Pool, store.AuditEvent{WorkspaceID: &w.ID, ActorKind: "system", Action: "test.write"}))

	// Raw SQL on purpose: these are the writes the trigger must refuse.
	for _, stmt := range []string{
		`UPDATE audit_events SET action = 'forged'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		_, err := db.Pool.Exec(ctx, stmt)
		require.Error(t, err, stmt)
		require.Contains(t, err.Error(), "append-only", stmt)
	}
	events, err := store.ListAudit(ctx, db.Pool, store.AuditFilter{WorkspaceIDs: []int64{w.ID}})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "test.write", events[0].Action)
}

func TestRunIdentityIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OneActiveRunPerDedupeIdentity", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		w := storetest.DefaultWorkspace(ctx, t, db.Pool)
		key := "directory_groups.sync:tenant:1"
		first, err := store.InsertRun(ctx, db.Pool, store.NewRun{WorkspaceID: w.ID, Type: "directory_groups.sync", IdentityKey: &key, InitiatorKind: "system"})
		require.NoError(t, err)

		_, err = store.InsertRun(ctx, db.Pool, store.NewRun{WorkspaceID: w.ID, Type: "directory_groups.sync", IdentityKey: &key, InitiatorKind: "system"})
		require.True(t, store.IsUniqueViolation(err, store.IndexActiveIdentity), "second active run: %v", err)

		done, err := store.FinishRun(ctx, db.Pool, first.ID, store.Finish{Outcome: store.OutcomeSucceeded})
		require.NoError(t, err)
		require.True(t, done)
		_, err = store.InsertRun(ctx, db.Pool, store.NewRun{WorkspaceID: w.ID, Type: "directory_groups.sync", IdentityKey: &key, InitiatorKind: "system"})
		require.NoError(t, err, "a new run once the first is completed")
	})

	t.Run("OneRunEverPerScheduleFireTime", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		w := storetest.DefaultWorkspace(ctx, t, db.Pool)
		tenant := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
		scheduleID := storetest.Schedule(ctx, t, db.Pool, &storetest.ScheduleOpts{TenantID: tenant.ID, Name: "nightly"}).ID
		fire := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
		n := store.NewRun{WorkspaceID: w.ID, TenantID: &tenant.ID, Type: "backup_schedule.scheduled", InitiatorKind: "schedule", ScheduleID: &scheduleID, IntendedFireTime: &fire}
		first, err := store.InsertRun(ctx, db.Pool, n)
		require.NoError(t, err)
		_, err = store.FinishRun(ctx, db.Pool, first.ID, store.Finish{Outcome: store.OutcomeSucceeded})
		require.NoError(t, err)

		_, err = store.InsertRun(ctx, db.Pool, n)
		require.True(t, store.IsUniqueViolation(err, store.IndexScheduleFire), "even after the first completed: %v", err)

		next := fire.Add(time.Hour)
		n.IntendedFireTime = &next
		_, err = store.InsertRun(ctx, db.Pool, n)
		require.NoError(t, err)
	})
}

func TestListRunsKeyset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.DefaultWorkspace(ctx, t, db.Pool)
	for range 25 {
		storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID})
	}
	var seen []int64
	var before int64
	for {
		page, err := store.ListRuns(ctx, db.Pool, store.RunFilter{WorkspaceIDs: []int64{w.ID}, BeforeID: before, Limit: 10})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			seen = append(seen, r.ID)
		}
		before = page[len(page)-1].ID
	}
	require.Len(t, seen, 25)
	for i := 1; i < len(seen); i++ {
		require.Greater(t, seen[i-1], seen[i], "newest first, no duplicates")
	}

	counts, err := store.CountRuns(ctx, db.Pool, store.RunFilter{WorkspaceIDs: []int64{w.ID}})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"queued": 25}, counts)

	// A search string with quotes, semicolons and LIKE wildcards matches literally.
	page, err := store.ListRuns(ctx, db.Pool, store.RunFilter{WorkspaceIDs: []int64{w.ID}, Search: `'; DROP TABLE operation_runs; --%_`})
	require.NoError(t, err)
	require.Empty(t, page)
}

// TestListRunsOneValueFilters: a filter of one status, outcome or type (compared with =, so that an
// index gives the page newest first) selects what the same filter of several values does.
func TestListRunsOneValueFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.DefaultWorkspace(ctx, t, db.Pool)
	tenant := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	other := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: w.ID})
	byName := map[string][]int64{}
	for _, o := range []struct {
		name    string
		tenant  int64
		typ     string
		status  store.Status
		outcome store.Outcome
	}{
		{"failed-inventory", tenant.ID, "inventory.sync", store.StatusCompleted, store.OutcomeFailed},
		{"succeeded-inventory", tenant.ID, "inventory.sync", store.StatusCompleted, store.OutcomeSucceeded},
		{"failed-groups", tenant.ID, "directory_groups.sync", store.StatusCompleted, store.OutcomeFailed},
		{"failed-other-tenant", other.ID, "inventory.sync", store.StatusCompleted, store.OutcomeFailed},
		{"blocked-groups", tenant.ID, "directory_groups.sync", store.StatusCompleted, store.OutcomeBlocked},
		{"queued-inventory", tenant.ID, "inventory.sync", store.StatusQueued, ""},
		{"running-groups", tenant.ID, "directory_groups.sync", store.StatusRunning, ""},
		{"failed-inventory", tenant.ID, "inventory.sync", store.StatusCompleted, store.OutcomeFailed},
	} {
		r := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{TenantID: &o.tenant, Type: o.typ, Status: o.status, Outcome: o.outcome})
		byName[o.name] = append([]int64{r.ID}, byName[o.name]...) // newest first
	}
	ids := func(names ...string) []int64 {
		var out []int64
		for _, n := range names {
			out = append(out, byName[n]...)
		}
		slices.SortFunc(out, func(a, b int64) int { return cmp.Compare(b, a) })
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.RunFilter
		want []int64
	}{
		{"one outcome", store.RunFilter{Outcomes: []store.Outcome{store.OutcomeFailed}},
			ids("failed-inventory", "failed-groups", "failed-other-tenant")},
		{"one outcome of a tenant", store.RunFilter{TenantID: tenant.ID, Outcomes: []store.Outcome{store.OutcomeFailed}},
			ids("failed-inventory", "failed-groups")},
		{"two outcomes", store.RunFilter{TenantID: tenant.ID, Outcomes: []store.Outcome{store.OutcomeFailed, store.OutcomeBlocked}},
			ids("failed-inventory", "failed-groups", "blocked-groups")},
		{"one status", store.RunFilter{Statuses: []store.Status{store.StatusQueued}}, ids("queued-inventory")},
		{"two statuses", store.RunFilter{Statuses: []store.Status{store.StatusQueued, store.StatusRunning}},
			ids("queued-inventory", "running-groups")},
		{"one type and outcome", store.RunFilter{Types: []string{"inventory.sync"}, Outcomes: []store.Outcome{store.OutcomeFailed}},
			ids("failed-inventory", "failed-other-tenant")},
		{"no type", store.RunFilter{Types: []string{}}, nil},
		{"one outcome, the next page", store.RunFilter{Outcomes: []store.Outcome{store.OutcomeFailed}, BeforeID: byName["failed-inventory"][0], Limit: 2},
			ids("failed-inventory", "failed-groups", "failed-other-tenant")[1:3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f.WorkspaceIDs = []int64{w.ID}
			page, err := store.ListRuns(ctx, db.Pool, tc.f)
			require.NoError(t, err)
			var got []int64
			for _, r := range page {
				got = append(got, r.ID)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
