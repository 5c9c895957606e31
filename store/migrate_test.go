package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AppliesOnEmptyAndReappliesAsNoop", func(t *testing.T) {
		t.Parallel()
		db, err := store.Open(ctx, pgtest.NewEmptyDSN(t), store.Options{})
		require.NoError(t, err)
		t.Cleanup(db.Close)

		pending, err := db.Pending(ctx)
		require.NoError(t, err)
		require.True(t, pending)

		applied, err := db.Migrate(ctx)
		require.NoError(t, err)
		require.Greater(t, applied, 1, "ours and River's migrations")

		again, err := db.Migrate(ctx)
		require.NoError(t, err)
		require.Zero(t, again)

		statuses, err := db.MigrationStatus(ctx)
		require.NoError(t, err)
		components := map[string]bool{}
		for _, s := range statuses {
			require.True(t, s.Applied, "%s %d", s.Component, s.Version)
			components[s.Component] = true
		}
		require.Equal(t, map[string]bool{"tenantatlas": true, "river": true}, components)

		var admin string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT u.name FROM memberships m JOIN users u ON u.id = m.user_id
			JOIN workspaces w ON w.id = m.workspace_id WHERE w.name = 'default' AND m.role = 'owner'`).Scan(&admin))
		require.Equal(t, "admin", admin, "the first migration creates the bootstrap admin and default workspace")
	})

	t.Run("ConcurrentMigratesApplyOnce", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.NewEmptyDSN(t)
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				db, err := store.Open(ctx, dsn, store.Options{})
				if err != nil {
					errs <- err
					return
				}
				defer db.Close()
				_, err = db.Migrate(ctx)
				errs <- err
			}()
		}
		for range 3 {
			require.NoError(t, <-errs)
		}
	})

	t.Run("RefusesSchemaFromNewerBinary", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		// Raw SQL on purpose: fakes a migration that only a newer binary knows.
		_, err := db.Pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`)
		require.NoError(t, err)
		var before int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&before))

		_, err = db.Migrate(ctx)
		require.ErrorIs(t, err, store.ErrSchemaTooNew)
		require.Contains(t, err.Error(), "schema version 99999")
		require.Contains(t, err.Error(), "upgrade tenantatlas")

		var after int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&after))
		require.Equal(t, before, after, "nothing changed")
	})
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "postgres://someone:hunter2@127.0.0.1:1/nope?connect_timeout=2", store.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot reach the database at 127.0.0.1:1")
	require.Contains(t, err.Error(), "TENANTATLAS_DATABASE_URL")
	require.NotContains(t, err.Error(), "hunter2")
	require.NotContains(t, err.Error(), "\n")

	_, err = store.Open(context.Background(), "postgres://a:b@host:notaport/x", store.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "invalid database URL")
	require.False(t, errors.Is(err, store.ErrNotFound))
}

// TestOpenKeepsMinConns: the connections a long-running process asks for are opened in the
// background and stay open while idle; a one-shot command's pool opens only what it uses.
func TestOpenKeepsMinConns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     store.Options
		wantOpen int32
	}{
		{"LongRunning", store.Options{MinConns: 5}, 5},
		{"CappedByMax", store.Options{MinConns: 5, MaxConns: 2}, 2},
		{"OneShot", store.Options{}, 1}, // the ping's, kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(context.Background(), pgtest.NewEmptyDSN(t), tc.opts)
			require.NoError(t, err)
			defer db.Close()
			// The ping may open one of its own before the background ones are ready.
			require.Eventually(t, func() bool { return db.Pool.Stat().IdleConns() >= tc.wantOpen }, 10*time.Second, 10*time.Millisecond)
			require.LessOrEqual(t, db.Pool.Stat().TotalConns(), min(tc.wantOpen+1, db.Pool.Config().MaxConns))
		})
	}
}
