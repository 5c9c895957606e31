package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// DirectoryOpts are the options of Groups and RoleDefinitions.
type DirectoryOpts struct {
	TenantID int64      // required
	SyncedAt *time.Time // default: now
}

// Groups caches groups for a tenant as a full group sync does, and records the sync.
func Groups(ctx context.Context, tb testing.TB, db *store.DB, opts *DirectoryOpts, groups []store.Group) {
	tb.Helper()
	directory(ctx, tb, db, orZero(opts), store.CollectionGroups, func(w *store.DirectoryWriter) error {
		_, err := w.WriteGroups(ctx, groups)
		return err
	})
}

// RoleDefinitions caches role definitions for a tenant as a full sync does, and records the sync.
func RoleDefinitions(ctx context.Context, tb testing.TB, db *store.DB, opts *DirectoryOpts, defs []store.RoleDefinition) {
	tb.Helper()
	directory(ctx, tb, db, orZero(opts), store.CollectionRoleDefinitions, func(w *store.DirectoryWriter) error {
		_, err := w.WriteRoleDefinitions(ctx, defs)
		return err
	})
}

func directory(ctx context.Context, tb testing.TB, db *store.DB, opts *DirectoryOpts, collection string, write func(*store.DirectoryWriter) error) {
	tb.Helper()
	w, err := store.BeginDirectorySync(ctx, db, opts.TenantID, collection, true)
	must(tb, err)
	defer w.Rollback(ctx)
	must(tb, write(w))
	_, err = w.Finish(ctx, nil, 0)
	must(tb, err)
	must(tb, w.Commit(ctx))
	if opts.SyncedAt != nil {
		exec(ctx, tb, db.Pool, `UPDATE directory_sync_state SET synced_at = $3 WHERE tenant_id = $1 AND collection = $2`,
			opts.TenantID, collection, *opts.SyncedAt)
	}
}

// ManyGroups caches opts.Count groups ("Group 1", …) for a tenant in one statement, for benchmarks
// at scale, and analyzes the table. No sync state is recorded.
func ManyGroups(ctx context.Context, tb testing.TB, q store.Querier, tenantID int64, count int) {
	tb.Helper()
	_, err := q.Exec(ctx, `INSERT INTO directory_groups (tenant_id, graph_id, display_name, content_hash)
		SELECT $1, 'g-' || g, 'Group ' || g, '\x00'::bytea FROM generate_series(1, $2::int) g`, tenantID, count)
	must(tb, err)
	_, err = q.Exec(ctx, `ANALYZE directory_groups`)
	must(tb, err)
}
