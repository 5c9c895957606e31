package reliability_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// fullEnv switches the suite to its long variants (go tool task reliability sets it).
const fullEnv = "TENANTATLAS_RELIABILITY_FULL"

func full() bool { return os.Getenv(fullEnv) == "1" }

// pick returns short in a plain `go test` run and long under TENANTATLAS_RELIABILITY_FULL=1.
func pick[T any](short, long T) T {
	if full() {
		return long
	}
	return short
}

// metric logs one figure for RELIABILITY.md; scripts/reliability collects "METRIC" lines.
func metric(t *testing.T, name string, value any, unit string) {
	t.Helper()
	t.Logf("METRIC %s %v %s", name, value, unit)
}

type bundle struct {
	db     *store.DB
	dsn    string
	svc    *engine.Service
	admin  engine.Actor
	key    []byte
	sealer *engine.Sealer
}

// setup opens a fresh migrated database with a service that can seal credentials.
func setup(t *testing.T) *bundle {
	t.Helper()
	dsn := pgtest.NewDSN(t)
	db, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 20})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return newBundle(t, db, dsn, nil)
}

func newBundle(t *testing.T, db *store.DB, dsn string, opts *engine.ServiceOptions) *bundle {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := engine.NewSealer(key)
	require.NoError(t, err)
	o := engine.ServiceOptions{}
	if opts != nil {
		o = *opts
	}
	o.Sealer = sealer
	svc, err := engine.NewService(db, o)
	require.NoError(t, err)
	admin, err := svc.ActorByName(context.Background(), "")
	require.NoError(t, err)
	return &bundle{db: db, dsn: dsn, svc: svc, admin: admin, key: key, sealer: sealer}
}

func (b *bundle) keyHex() string { return hex.EncodeToString(b.key) }

func (b *bundle) startEngine(t *testing.T, opts engine.Config) *engine.Engine {
	t.Helper()
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 100 * time.Millisecond
	}
	if opts.StaleAfter == 0 {
		opts.StaleAfter = time.Second
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 2 * time.Second
	}
	e, err := engine.NewEngine(b.svc, opts)
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(e.Stop)
	return e
}

func (b *bundle) workspaceID(t *testing.T) int64 {
	t.Helper()
	w, err := store.GetWorkspaceByName(context.Background(), b.db.Pool, "default")
	require.NoError(t, err)
	return w.ID
}

// waitRuns waits until every run of the database is completed, or fails after limit.
func (b *bundle) waitAllCompleted(t *testing.T, limit time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	var active int
	for time.Now().Before(deadline) {
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE status <> 'completed'`).Scan(&active))
		if active == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, _ := b.db.Pool.Query(ctx, `SELECT id, type, status, attempt, coalesce(heartbeat_at::text, '-') FROM operation_runs WHERE status <> 'completed' ORDER BY id LIMIT 20`)
	var lines []string
	for rows != nil && rows.Next() {
		var id int64
		var typ, status, hb string
		var attempt int
		_ = rows.Scan(&id, &typ, &status, &attempt, &hb)
		lines = append(lines, fmt.Sprintf("run %d %s %s attempt %d heartbeat %s", id, typ, status, attempt, hb))
	}
	t.Fatalf("%d runs still active after %s:\n%s", active, limit, strings.Join(lines, "\n"))
}

func (b *bundle) waitRun(t *testing.T, id int64, cond func(store.Run) bool, limit time.Duration) store.Run {
	t.Helper()
	var last store.Run
	require.Eventually(t, func() bool {
		r, err := store.GetRun(context.Background(), b.db.Pool, id)
		require.NoError(t, err)
		last = r
		return cond(r)
	}, limit, 10*time.Millisecond, "run %d never reached the expected state (last: %s %v)", id, last.Status, last.Outcome)
	return last
}

func completed(r store.Run) bool { return r.Status == store.StatusCompleted }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// keyTables are the tables whose row counts prove that hostile input changed nothing.
var keyTables = []string{"workspaces", "users", "memberships", "tenants", "provider_connections", "operation_runs",
	"run_events", "audit_events", "directory_groups", "directory_role_definitions", "backup_schedules", "river_job"}

func rowCounts(t *testing.T, db *store.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range keyTables {
		var n int64
		require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n), table)
		out[table] = n
	}
	return out
}

// settleGoroutines waits until the goroutine count drops to at most want (plus slack), returning
// the last count.
func settleGoroutines(want, slack int, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	n := runtime.NumGoroutine()
	for n > want+slack && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		n = runtime.NumGoroutine()
	}
	return n
}

// lockedBuffer collects output written from several goroutines (a child's stderr, a logger).
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// hostileStrings go into every filter and search field.
var hostileStrings = []string{
	`'; DROP TABLE operation_runs; --`,
	`" OR 1=1 --`,
	`%_\`,
	`%`, `_`, `\`, `\\%`,
	`$1`, `$$; DELETE FROM tenants; $$`,
	"\x00", "line\nbreak", "tab\there",
	`Ωmega ünïcødé 🚀 日本語`,
	"\u202e\u200b", // right-to-left override, zero-width space
	strings.Repeat("A", 10000),
	`{{.}}`, `%s%n%x`, `../../etc/passwd`,
}
