package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func cacheGroups(n int, name string) []store.Group {
	out := make([]store.Group, n)
	for i := range out {
		sum := sha256.Sum256([]byte(fmt.Sprint(name, i)))
		out[i] = store.Group{GraphID: fmt.Sprintf("g-%04d", i), DisplayName: fmt.Sprintf("%s %d", name, i), ContentHash: sum[:]}
	}
	return out
}

// newTenant adds the tenant contoso to the default workspace.
func newTenant(t *testing.T, db *store.DB) store.Tenant {
	t.Helper()
	return storetest.Tenant(context.Background(), t, db.Pool, &storetest.TenantOpts{Name: "contoso"})
}

func liveGroupCount(t *testing.T, db *store.DB, tenantID int64) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM directory_groups WHERE tenant_id = $1 AND deleted_at IS NULL`, tenantID).Scan(&n))
	return n
}

// TestDirectoryWriter covers the two ways a batch reaches the cache — copied straight into an empty
// cache, or merged — and what happens when an object arrives twice.
func TestDirectoryWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		prefill int  // groups cached before the sync
		merge   bool // MergeOnly
		batches [][]store.Group
		wantErr error
		want    store.MergeCounts // summed over the batches
		live    int
	}{
		{name: "first sync copies straight in", batches: [][]store.Group{cacheGroups(3, "a")[:2], cacheGroups(3, "a")[2:]},
			want: store.MergeCounts{Created: 3}, live: 3},
		{name: "an object listed twice in an empty cache aborts", batches: [][]store.Group{cacheGroups(2, "a"), cacheGroups(1, "a")},
			wantErr: store.ErrDirectoryCollision, live: 0},
		{name: "an object listed twice in one batch aborts", batches: [][]store.Group{append(cacheGroups(2, "a"), cacheGroups(1, "a")...)},
			wantErr: store.ErrDirectoryCollision, live: 0},
		{name: "merging keeps the last of an object listed twice", merge: true,
			batches: [][]store.Group{cacheGroups(2, "a"), cacheGroups(1, "b")}, want: store.MergeCounts{Created: 2, Updated: 1}, live: 2},
		{name: "a full sync over a cache merges and deletes what it did not see", prefill: 3,
			batches: [][]store.Group{cacheGroups(2, "a")}, want: store.MergeCounts{Unchanged: 2}, live: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			tenant := newTenant(t, db)
			if tt.prefill > 0 {
				pre, err := store.BeginDirectorySync(ctx, db, tenant.ID, store.CollectionGroups, true)
				require.NoError(t, err)
				_, err = pre.WriteGroups(ctx, cacheGroups(tt.prefill, "a"))
				require.NoError(t, err)
				_, err = pre.Finish(ctx, nil, 0)
				require.NoError(t, err)
				require.NoError(t, pre.Commit(ctx))
			}

			sync, err := store.BeginDirectorySync(ctx, db, tenant.ID, store.CollectionGroups, true)
			require.NoError(t, err)
			defer sync.Rollback(ctx)
			if tt.merge {
				sync.MergeOnly()
			}
			var got store.MergeCounts
			for _, batch := range tt.batches {
				c, err := sync.WriteGroups(ctx, batch)
				if err != nil {
					require.ErrorIs(t, err, tt.wantErr)
					sync.Rollback(ctx)
					require.Equal(t, tt.prefill, liveGroupCount(t, db, tenant.ID), "nothing written")
					return
				}
				got.Created, got.Updated, got.Unchanged = got.Created+c.Created, got.Updated+c.Updated, got.Unchanged+c.Unchanged
			}
			require.NoError(t, tt.wantErr)
			deleted, err := sync.Finish(ctx, nil, 0)
			require.NoError(t, err)
			require.NoError(t, sync.Commit(ctx))
			require.Equal(t, tt.want, got)
			require.EqualValues(t, tt.prefill-min(tt.prefill, tt.live), deleted)
			require.Equal(t, tt.live, liveGroupCount(t, db, tenant.ID))
			state, err := store.GetSyncState(ctx, db.Pool, tenant.ID, store.CollectionGroups)
			require.NoError(t, err)
			require.EqualValues(t, tt.live, state.ItemCount)
		})
	}
}

// TestDirectoryCacheFollowsItsTenant: a sync holds its tenant (it cannot be deleted underneath), and
// a deleted tenant's cache goes with it.
func TestDirectoryCacheFollowsItsTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	tenant := newTenant(t, db)

	sync, err := store.BeginDirectorySync(ctx, db, tenant.ID, store.CollectionGroups, true)
	require.NoError(t, err)
	_, err = sync.WriteGroups(ctx, cacheGroups(5, "a"))
	require.NoError(t, err)
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
			return err
		}
		// The store has no tenant deletion yet: the cascade is the database's, so SQL drives it.
		_, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tenant.ID)
		return err
	})
	require.ErrorContains(t, err, "lock timeout", "the tenant is held by the running sync")
	_, err = sync.Finish(ctx, nil, 0)
	require.NoError(t, err)
	require.NoError(t, sync.Commit(ctx))
	require.Equal(t, 5, liveGroupCount(t, db, tenant.ID))

	_, err = db.Pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tenant.ID)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM directory_groups WHERE tenant_id = $1`, tenant.ID).Scan(&left))
	require.Zero(t, left, "the deleted tenant's cache went with it")
	_, err = store.BeginDirectorySync(ctx, db, tenant.ID, store.CollectionGroups, true)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestDirectoryWriterRoundTrip: every field of a group comes back as written, through both ways
// into the cache (the binary COPY straight in, and the staging table and merge), NULLs, empty
// arrays, non-ASCII text and time zones included.
func TestDirectoryWriterRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	yes, no := true, false
	rule := `(user.department -eq "Ventes – Île-de-France")`
	created := time.Date(2021, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("CET", 3600))
	groups := []store.Group{
		{GraphID: "g-1", DisplayName: "Équipe 東京 \\ \"quoted\"\ttab", Description: "line\nbreak", GroupTypes: []string{"Unified", "DynamicMembership"},
			SecurityEnabled: &yes, MailEnabled: &no, MembershipRule: &rule, IsAssignableToRole: &no, OnPremSyncEnabled: &yes,
			CreatedDateTime: &created, ContentHash: []byte{0, 1, 2, 255}},
		{GraphID: "g-2", GroupTypes: nil, ContentHash: []byte{9}},
		{GraphID: "g-3", DisplayName: "", Description: "", GroupTypes: []string{""}, SecurityEnabled: &no, ContentHash: make([]byte, 32)},
	}
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			tenant := newTenant(t, db)
			sync, err := store.BeginDirectorySync(ctx, db, tenant.ID, store.CollectionGroups, true)
			require.NoError(t, err)
			defer sync.Rollback(ctx)
			if merge {
				sync.MergeOnly()
			}
			c, err := sync.WriteGroups(ctx, groups)
			require.NoError(t, err)
			require.EqualValues(t, 3, c.Created)
			_, err = sync.Finish(ctx, nil, 0)
			require.NoError(t, err)
			require.NoError(t, sync.Commit(ctx))

			got, err := store.GroupNames(ctx, db.Pool, tenant.ID, []string{"g-1", "g-2", "g-3"})
			require.NoError(t, err)
			require.Len(t, got, 3)
			for _, want := range groups {
				g := got[want.GraphID]
				require.Equal(t, tenant.ID, g.TenantID)
				require.Equal(t, want.DisplayName, g.DisplayName)
				require.Equal(t, want.Description, g.Description)
				if want.GroupTypes == nil {
					want.GroupTypes = []string{}
				}
				require.Equal(t, want.GroupTypes, g.GroupTypes)
				require.Equal(t, want.SecurityEnabled, g.SecurityEnabled)
				require.Equal(t, want.MailEnabled, g.MailEnabled)
				require.Equal(t, want.MembershipRule, g.MembershipRule)
				require.Equal(t, want.IsAssignableToRole, g.IsAssignableToRole)
				require.Equal(t, want.OnPremSyncEnabled, g.OnPremSyncEnabled)
				if want.CreatedDateTime == nil {
					require.Nil(t, g.CreatedDateTime)
				} else {
					require.True(t, want.CreatedDateTime.Equal(*g.CreatedDateTime), "%v != %v", want.CreatedDateTime, g.CreatedDateTime)
				}
				require.Equal(t, want.ContentHash, g.ContentHash)
				require.Nil(t, g.DeletedAt)
				require.WithinDuration(t, time.Now(), g.SyncedAt, time.Minute)
			}
		})
	}
}
