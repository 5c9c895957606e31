package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/migrations"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestEngineRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	id, err := store.RegisterEngine(ctx, db.Pool, store.NewEngineRecord{Name: "a:1", Host: "a", PID: 1, Version: "v1", SchemaVersion: 8, Queues: []string{"default"}})
	require.NoError(t, err)
	require.NoError(t, store.HeartbeatEngine(ctx, db.Pool, id, 3))
	dead, err := store.RegisterEngine(ctx, db.Pool, store.NewEngineRecord{Name: "b:2", Host: "b", PID: 2, Version: "v1", SchemaVersion: 8})
	require.NoError(t, err)
	// Raw SQL on purpose: an engine killed without deregistering stops heartbeating.
	_, err = db.Pool.Exec(ctx, `UPDATE engines SET heartbeat_at = now() - interval '1 minute' WHERE id = $1`, dead)
	require.NoError(t, err)

	list, err := store.ListEngines(ctx, db.Pool, false)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "a:1", list[0].Name)
	require.Equal(t, "alive", list[0].State)
	require.Equal(t, 3, list[0].JobsRunning)
	require.Equal(t, "stale", list[1].State)

	require.NoError(t, store.DeregisterEngine(ctx, db.Pool, id))
	list, err = store.ListEngines(ctx, db.Pool, false)
	require.NoError(t, err)
	require.Len(t, list, 1, "a stopped engine leaves the default list")
	all, err := store.ListEngines(ctx, db.Pool, true)
	require.NoError(t, err)
	require.Len(t, all, 2)
	got, err := store.GetEngine(ctx, db.Pool, id)
	require.NoError(t, err)
	require.Equal(t, "stopped", got.State)

	p, err := store.EnginePulse(ctx, db.Pool)
	require.NoError(t, err)
	require.Empty(t, p.ThrottledTenants)
}

// withMigration is the embedded migrations plus one more.
func withMigration(t *testing.T, name, body string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := fs.ReadFile(migrations.FS, e.Name())
		require.NoError(t, err)
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	m[name] = &fstest.MapFile{Data: []byte(body)}
	return m
}

func TestMigrateRefusesWhenOldEnginesAlive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	latest := store.LatestSchemaVersion()
	old, err := store.RegisterEngine(ctx, db.Pool, store.NewEngineRecord{Name: "old-host:42", Host: "old-host", PID: 42, Version: "v0.9.0", SchemaVersion: latest})
	require.NoError(t, err)

	contract := withMigration(t, "99001_drop_thing.sql", "-- +goose Up\n-- tenantatlas:breaks-engines-below 99001\nCREATE TABLE contract_marker (id int);\n-- +goose Down\nDROP TABLE contract_marker;\n")
	_, err = db.WithMigrations(contract).Migrate(ctx)
	require.ErrorIs(t, err, store.ErrEnginesWouldBreak)
	require.Contains(t, err.Error(), "old-host:42 (version v0.9.0")
	require.Contains(t, err.Error(), "99001_drop_thing.sql")
	var exists bool
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT to_regclass('contract_marker') IS NOT NULL`).Scan(&exists))
	require.False(t, exists, "nothing was applied")

	// An expand migration (no marker) goes ahead with the old engine alive.
	expand := withMigration(t, "99001_add_thing.sql", "-- +goose Up\nCREATE TABLE expand_marker (id int);\n-- +goose Down\nDROP TABLE expand_marker;\n")
	n, err := db.WithMigrations(expand).Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Once the old engine is gone the contract step applies.
	db2 := pgtest.NewDB(t)
	old2, err := store.RegisterEngine(ctx, db2.Pool, store.NewEngineRecord{Name: "old", Host: "h", PID: 1, Version: "v0.9.0", SchemaVersion: latest})
	require.NoError(t, err)
	require.NoError(t, store.DeregisterEngine(ctx, db2.Pool, old2))
	_, err = db2.WithMigrations(contract).Migrate(ctx)
	require.NoError(t, err)
	_ = old
}

// TestMigrateAppliesAMissingLowerMigration: a database migrated by a build that lacked a lower
// numbered migration (written on another branch, merged later) gets it applied by the full build.
func TestMigrateAppliesAMissingLowerMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewEmptyDSN(t)
	db, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	without := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	// A build without 00010 (alerts) cannot have 00020 either: it alters 00010's alert_rules.
	var skipped []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "00010_") || strings.HasPrefix(e.Name(), "00020_") {
			skipped = append(skipped, e.Name())
			continue
		}
		b, err := fs.ReadFile(migrations.FS, e.Name())
		require.NoError(t, err)
		without[e.Name()] = &fstest.MapFile{Data: b}
	}
	require.Len(t, skipped, 2, "migrations 00010 and 00020 exist")
	_, err = db.WithMigrations(without).Migrate(ctx)
	require.NoError(t, err)
	pending, err := db.Pending(ctx)
	require.NoError(t, err)
	require.True(t, pending, "the full build sees 00010 pending")

	applied, err := db.Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, applied, "only the missing %s", skipped)
	pending, err = db.Pending(ctx)
	require.NoError(t, err)
	require.False(t, pending)
}
