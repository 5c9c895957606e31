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

// BenchmarkFleetHealths reads the tenants screen's health columns for 2,000 tenants over 1,000,000
// runs, a complete backup set for every other tenant and a drift check for one in ten.
func BenchmarkFleetHealths(b *testing.B) {
	ctx := context.Background()
	db := pgtest.NewDB(b)
	q := db.Pool
	var ids []int64
	for range 2000 {
		ids = append(ids, storetest.Tenant(ctx, b, q, nil).ID)
	}
	storetest.ManyRuns(ctx, b, q, &storetest.ManyRunsOpts{TenantIDs: ids, Count: 1_000_000})
	for i, id := range ids {
		if i%2 == 0 {
			storetest.BackupSet(ctx, b, q, &storetest.BackupSetOpts{TenantID: id})
		}
		if i%10 == 0 {
			storetest.Run(ctx, b, q, &storetest.RunOpts{TenantID: &id, Type: "drift.check", Outcome: store.OutcomeSucceeded,
				Result: map[string]any{"drift": map[string]any{"drifted": i % 7}}})
		}
	}
	ws := storetest.DefaultWorkspace(ctx, b, q).ID
	since := time.Now().UTC().Truncate(time.Hour).Add(-23 * time.Hour)
	if testing.Verbose() {
		rows, err := q.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+store.FleetHealthsSQL, []int64{ws}, since)
		require.NoError(b, err)
		for rows.Next() {
			var line string
			require.NoError(b, rows.Scan(&line))
			b.Log(line)
		}
		rows.Close()
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := store.FleetHealths(ctx, q, []int64{ws}, since)
		require.NoError(b, err)
		require.Len(b, got, 2000)
	}
}
