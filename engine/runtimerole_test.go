package engine_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// logRecorder keeps every record a logger writes.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) matching(s string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// TestSecurityRuntimeRoleRunsRiverMaintenance runs an engine on a fresh local cluster as the runtime role
// tenantatlas_app (not a superuser, owning no table): River's leader election, job cleaner, rescuer
// and scheduler do their work with its grants and log no privilege error. The reindexer, which
// needs to own river_job, is off (REINDEX as this role is refused: the engine does not try). Goose
// migrations run as this role fail with a message naming the owner role to use.
func TestSecurityRuntimeRoleRunsRiverMaintenance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ta-role-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // as root the cluster's own account must reach it
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c, err := store.StartLocal(ctx, store.LocalOptions{Dir: filepath.Join(dir, "pg"), RemoveOnStop: true})
	require.NoError(t, err)
	t.Cleanup(c.Stop)

	// Migrations as the runtime role: refused, with the fix.
	app, err := store.Open(ctx, c.DSN(), store.Options{MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	_, err = app.Migrate(ctx)
	require.ErrorIs(t, err, store.ErrMigrateNotOwner)
	require.Contains(t, err.Error(), "migrations ran as tenantatlas_app")
	require.Contains(t, err.Error(), "naming the role that owns the schema (tenantatlas_owner")

	require.NoError(t, c.Migrate(ctx)) // as the owner, then the runtime grants
	owner, err := store.Open(ctx, c.OwnerDSN(), store.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(owner.Close)
	// Work for each maintainer, written as River would have left it.
	_, err = owner.Pool.Exec(ctx, `INSERT INTO river_job (kind, args, state, queue, attempt, max_attempts, attempted_at, finalized_at, created_at, scheduled_at)
		VALUES ('old_done', '{}', 'completed', 'default', 1, 5, now() - interval '3 days', now() - interval '3 days', now() - interval '3 days', now() - interval '3 days')`)
	require.NoError(t, err)
	_, err = owner.Pool.Exec(ctx, `INSERT INTO river_job (kind, args, state, queue, attempt, max_attempts, attempted_at, attempted_by, created_at, scheduled_at)
		VALUES ('stuck', '{}', 'running', 'default', 1, 5, now() - interval '3 hours', '{gone-client}', now() - interval '3 hours', now() - interval '3 hours')`)
	require.NoError(t, err)
	_, err = owner.Pool.Exec(ctx, `INSERT INTO river_job (kind, args, state, queue, attempt, max_attempts, created_at, scheduled_at)
		VALUES ('due', '{}', 'scheduled', 'nowhere', 0, 5, now() - interval '1 minute', now() - interval '1 minute')`)
	require.NoError(t, err)

	err = riverpgxv5.New(app.Pool).GetExecutor().IndexReindex(ctx, &riverdriver.IndexReindexParams{Index: "river_job_args_index"})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "REINDEX needs the owner")
	require.Equal(t, "42501", pgErr.Code)

	logs := &logRecorder{}
	svc, err := engine.NewService(app, engine.ServiceOptions{Sealer: newSealer(t), Logger: slog.New(logs)})
	require.NoError(t, err)
	e, err := engine.NewEngine(svc, engine.Config{Name: "app-role", HeartbeatInterval: 50 * time.Millisecond, ShutdownTimeout: 2 * time.Second})
	require.NoError(t, err)
	require.NotEmpty(t, logs.matching("River's reindexer is off"))
	require.NoError(t, e.Start(ctx))
	t.Cleanup(e.Stop)

	state := func(kind string) string {
		var s string
		err := app.Pool.QueryRow(ctx, `SELECT coalesce((SELECT state::text FROM river_job WHERE kind = $1), 'deleted')`, kind).Scan(&s)
		require.NoError(t, err)
		return s
	}
	began := time.Now()
	require.Eventually(t, func() bool {
		return state("old_done") == "deleted" && state("stuck") != "running" && state("due") == "available"
	}, 60*time.Second, 50*time.Millisecond, "cleaner, rescuer and scheduler: old_done %s, stuck %s, due %s", state("old_done"), state("stuck"), state("due"))
	t.Logf("METRIC river.maintenance_as_runtime_role %.1f s until cleaner, rescuer and scheduler had run", time.Since(began).Seconds())
	var leader string
	require.NoError(t, app.Pool.QueryRow(ctx, `SELECT leader_id FROM river_leader`).Scan(&leader))
	require.Contains(t, leader, "app-role")
	require.Empty(t, logs.matching("permission denied"))
	require.Empty(t, logs.matching("must be owner"))
	require.Empty(t, logs.matching("SQLSTATE 42501"))
	// And TenantAtlas's own work as the role: a run starts, runs and ends.
	admin, err := svc.ActorByName(ctx, "")
	require.NoError(t, err)
	w, err := store.GetWorkspaceByName(ctx, app.Pool, "default")
	require.NoError(t, err)
	res, err := svc.Start(ctx, admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := store.GetRun(ctx, app.Pool, res.Run.ID)
		require.NoError(t, err)
		return r.Status == store.StatusCompleted
	}, 30*time.Second, 20*time.Millisecond)
}
