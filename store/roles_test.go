package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
)

// TestSecurityLocalClusterAccess reproduces security review finding 4 against a fresh local cluster:
// no trust authentication and no TCP in the cluster's own configuration, and a runtime role that is
// not a superuser, owns no table and cannot rewrite the audit log (SET session_replication_role,
// DELETE, UPDATE, TRUNCATE all refused) while it can append to and read it.
func TestSecurityLocalClusterAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := tempDir(t)
	c, err := store.StartLocal(ctx, store.LocalOptions{Dir: dir, RemoveOnStop: true})
	require.NoError(t, err)
	t.Cleanup(c.Stop)

	// The configuration a hand-started server (`postgres -D data`, no flags) would use.
	hba, err := os.ReadFile(filepath.Join(dir, "data", "pg_hba.conf"))
	require.NoError(t, err)
	require.NotContains(t, string(hba), "trust")
	super, err := pgx.Connect(ctx, c.DSNFor("tenantatlas"))
	require.NoError(t, err)
	defer super.Close(ctx)
	var trust, tcp int
	require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FILTER (WHERE auth_method = 'trust'),
		count(*) FILTER (WHERE type <> 'local' AND auth_method <> 'reject') FROM pg_hba_file_rules`).Scan(&trust, &tcp))
	require.Zero(t, trust, "trust authentication")
	require.Zero(t, tcp, "a TCP rule that does not reject")
	auto, err := os.ReadFile(filepath.Join(dir, "data", "postgresql.auto.conf"))
	require.NoError(t, err)
	require.Contains(t, string(auto), "listen_addresses = ''")
	require.Contains(t, string(auto), "unix_socket_permissions = '0700'")

	owner, err := store.Open(ctx, c.OwnerDSN(), store.Options{MaxConns: 2})
	require.NoError(t, err)
	defer owner.Close()
	_, err = owner.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, store.GrantRuntimeRole(ctx, owner.Pool, store.RuntimeRole))
	warnings, err := store.RoleWarnings(ctx, owner.Pool)
	require.NoError(t, err)
	require.Equal(t, []string{"the database role tenantatlas_owner owns TenantAtlas's tables"}, warnings)

	app, err := store.Open(ctx, c.DSN(), store.Options{MaxConns: 2})
	require.NoError(t, err)
	defer app.Close()
	warnings, err = store.RoleWarnings(ctx, app.Pool)
	require.NoError(t, err)
	require.Empty(t, warnings)
	pending, err := app.Pending(ctx)
	require.NoError(t, err)
	require.False(t, pending)
	var isSuper bool
	var owned int
	require.NoError(t, app.Pool.QueryRow(ctx, `SELECT rolsuper, (SELECT count(*) FROM pg_tables WHERE tableowner = current_user)
		FROM pg_roles WHERE rolname = current_user`).Scan(&isSuper, &owned))
	require.False(t, isSuper)
	require.Zero(t, owned)

	require.NoError(t, store.InsertAudit(ctx, app.Pool, store.AuditEvent{ActorKind: "system", Action: "test.append"}))
	var appended int
	require.NoError(t, app.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'test.append'`).Scan(&appended))
	require.Equal(t, 1, appended)
	for _, attack := range []string{
		"SET session_replication_role = replica",
		"DELETE FROM audit_events",
		"UPDATE audit_events SET action = 'forged'",
		"TRUNCATE audit_events",
		"ALTER TABLE audit_events DISABLE TRIGGER ALL",
		"DROP TABLE audit_events",
	} {
		_, err := app.Pool.Exec(ctx, attack)
		require.Error(t, err, attack)
		require.Contains(t, err.Error(), "SQLSTATE 42501", attack) // insufficient privilege
	}
	// Retention's one way to delete audit rows works for the runtime role, and deletes only rows
	// older than the workspace's audit retention; setting the trigger's flag by hand gives no DELETE.
	var ws int64
	require.NoError(t, app.Pool.QueryRow(ctx, `SELECT id FROM workspaces WHERE name = 'default'`).Scan(&ws))
	require.NoError(t, store.SetRetention(ctx, app.Pool, ws, store.Retention{Runs: store.DefaultRunRetention,
		RunEvents: store.DefaultRunEventRetention, Audit: store.MinAuditRetention}))
	_, err = owner.Pool.Exec(ctx, `INSERT INTO audit_events (workspace_id, actor_kind, action, at) VALUES
		($1, 'system', 'test.old', now() - interval '31 days'), ($1, 'system', 'test.young', now() - interval '29 days')`, ws)
	require.NoError(t, err)
	pruned, err := store.PruneAudit(ctx, app, ws)
	require.NoError(t, err)
	require.EqualValues(t, 1, pruned)
	var left []string
	require.NoError(t, app.Pool.QueryRow(ctx, `SELECT array_agg(action ORDER BY id) FROM audit_events WHERE action LIKE 'test.%'`).Scan(&left))
	require.Equal(t, []string{"test.append", "test.young"}, left)
	tx, err := app.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT set_config('tenantatlas.audit_prune', 'on', true)`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM audit_events`)
	require.ErrorContains(t, err, "SQLSTATE 42501")
	require.NoError(t, tx.Rollback(ctx))

	t.Logf("METRIC dbroles.audit_rewrites_refused 6 of 6 statements")
	// Everything else TenantAtlas does keeps working.
	_, err = app.Pool.Exec(ctx, `INSERT INTO workspaces (name) VALUES ('roles-test')`)
	require.NoError(t, err)
	_, err = app.Pool.Exec(ctx, `DELETE FROM workspaces WHERE name = 'roles-test'`)
	require.NoError(t, err)
	// A run finishing as the runtime role moves the rollups its trigger keeps (the hours, the totals).
	run, err := store.InsertRun(ctx, app.Pool, store.NewRun{WorkspaceID: ws, Type: "system.noop", InitiatorKind: "system"})
	require.NoError(t, err)
	done, err := store.FinishRun(ctx, app.Pool, run.ID, store.Finish{Outcome: store.OutcomeSucceeded})
	require.NoError(t, err)
	require.True(t, done)
	counts, err := store.CountRuns(ctx, app.Pool, store.RunFilter{WorkspaceIDs: []int64{ws}})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{string(store.OutcomeSucceeded): 1}, counts)
}
