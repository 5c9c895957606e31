package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tenantatlas/tenantatlas/migrations"
)

// ErrSchemaTooNew means the database was migrated by a newer TenantAtlas than this binary.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// migrateLockID serialises migrations across processes (pg_advisory_lock key).
const migrateLockID = 0x7e4a47a5

// MigrationStatus is one row of `tenantatlas migrate status`.
type MigrationStatus struct {
	Component string     `json:"component"` // "tenantatlas" or "river"
	Version   int64      `json:"version"`
	Name      string     `json:"name"`
	Applied   bool       `json:"applied"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

// Migrate applies every pending TenantAtlas migration and River's schema in one step, holding an
// advisory lock so concurrent processes migrate once. It returns how many migrations it applied.
// A database migrated by a newer binary is refused with ErrSchemaTooNew before anything changes.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("error acquiring connection for migrations: %w", err)
	}
	defer conn.Release()
	// Waiting by polling, not in pg_advisory_lock: a session blocked in a statement holds a
	// snapshot, and CREATE INDEX CONCURRENTLY (migration 00016) waits for every older snapshot of
	// the database, so the migrator holding the lock would wait for the one waiting for it.
	for {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrateLockID).Scan(&locked); err != nil {
			return 0, fmt.Errorf("error taking the migration lock: %w", err)
		}
		if locked {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for another process's migration: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockID) //nolint:errcheck

	provider, closeProvider, err := db.gooseProvider()
	if err != nil {
		return 0, err
	}
	defer closeProvider()
	if err := checkNotTooNew(ctx, provider); err != nil {
		return 0, err
	}
	pending := map[int64]bool{}
	if statuses, err := provider.Status(ctx); err == nil {
		for _, st := range statuses {
			if st.State != goose.StateApplied {
				pending[st.Source.Version] = true
			}
		}
	} else { // no version table yet: every migration is pending
		for _, src := range provider.ListSources() {
			pending[src.Version] = true
		}
	}
	if err := checkCanMigrate(ctx, conn, len(pending) > 0); err != nil {
		return 0, err
	}
	if err := checkEnginesSurvive(ctx, conn, db.migrationFS(), pending); err != nil {
		return 0, err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return 0, notOwnerHint(ctx, conn, fmt.Errorf("error applying TenantAtlas migrations: %w", err))
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
	if err != nil {
		return 0, fmt.Errorf("error preparing River migrations: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, notOwnerHint(ctx, conn, fmt.Errorf("error applying River migrations: %w", err))
	}
	return len(results) + len(res.Versions), nil
}

// ErrMigrateNotOwner means migrations ran as a role that may not change the schema: in the
// two-role setup, the runtime role instead of the owner (docs/architecture.md#database-roles).
var ErrMigrateNotOwner = errors.New("this database role may not change the schema")

// notOwnerHint turns a migration's insufficient-privilege error (SQLSTATE 42501: no CREATE on the
// schema, not the owner of a table) into one that names the role and says which to use.
func notOwnerHint(ctx context.Context, q Querier, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		return err
	}
	role := "this role"
	_ = q.QueryRow(context.WithoutCancel(ctx), `SELECT current_user`).Scan(&role)
	return fmt.Errorf("%w: migrations ran as %s, which is refused (%s); run `tenantatlas migrate` with TENANTATLAS_DATABASE_URL naming the role that owns the schema (tenantatlas_owner in the two-role setup), grant %s its privileges, and run everything else as %s (README, Database roles)",
		ErrMigrateNotOwner, role, pgErr.Message, role, role)
}

// checkCanMigrate refuses up front, with notOwnerHint's message, when a TenantAtlas migration is
// pending and the role may not create in the schema (goose would report only that its version
// table does not exist).
func checkCanMigrate(ctx context.Context, q Querier, hasPending bool) error {
	if !hasPending {
		return nil
	}
	var canCreate bool
	var schema string
	if err := q.QueryRow(ctx, `SELECT current_schema(), has_schema_privilege(current_schema(), 'CREATE')`).Scan(&schema, &canCreate); err != nil {
		return fmt.Errorf("cannot inspect the role's privileges: %w", err)
	}
	if canCreate {
		return nil
	}
	return notOwnerHint(ctx, q, &pgconn.PgError{Code: "42501", Message: "permission denied for schema " + schema})
}

// MigrationStatus lists every known migration, ours and River's, with whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	provider, closeProvider, err := db.gooseProvider()
	if err != nil {
		return nil, err
	}
	defer closeProvider()
	if err := checkNotTooNew(ctx, provider); err != nil {
		return nil, err
	}
	statuses, err := provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("error reading migration status: %w", err)
	}
	var out []MigrationStatus
	for _, s := range statuses {
		row := MigrationStatus{Component: "tenantatlas", Version: s.Source.Version, Name: baseName(s.Source.Path),
			Applied: s.State == goose.StateApplied}
		if row.Applied {
			at := s.AppliedAt
			row.AppliedAt = &at
		}
		out = append(out, row)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
	if err != nil {
		return nil, fmt.Errorf("error preparing River migrations: %w", err)
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		existing = nil // no river_migration table yet: nothing applied
	}
	applied := map[int]bool{}
	for _, m := range existing {
		applied[m.Version] = true
	}
	for _, m := range migrator.AllVersions() {
		out = append(out, MigrationStatus{Component: "river", Version: int64(m.Version), Name: m.Name, Applied: applied[m.Version]})
	}
	return out, nil
}

// Pending reports whether any TenantAtlas or River migration is not applied yet.
func (db *DB) Pending(ctx context.Context) (bool, error) {
	statuses, err := db.MigrationStatus(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range statuses {
		if !s.Applied {
			return true, nil
		}
	}
	return false, nil
}

func (db *DB) gooseProvider() (*goose.Provider, func(), error) {
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	// Out of order: migrations written on branches in parallel get numbers in the order they were
	// begun, not merged, so a database migrated by a build of one branch may miss a lower number
	// that another branch added. Every migration is expand-only or says which engines it breaks
	// (docs/operations.md#safe-upgrades), so applying a missing lower one later is safe.
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, db.migrationFS(),
		goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("error loading embedded migrations: %w", err)
	}
	return provider, func() { provider.Close() }, nil
}

func migrationFS() fs.FS { return migrations.FS }

// migrationFS is the migrations this DB applies: the embedded ones, or a test's (WithMigrations).
func (db *DB) migrationFS() fs.FS {
	if db.migrations != nil {
		return db.migrations
	}
	return migrationFS()
}

// WithMigrations returns a DB on the same pool that applies fsys's migrations instead of the
// embedded ones (tests of the upgrade rules add a later migration).
func (db *DB) WithMigrations(fsys fs.FS) *DB { return &DB{Pool: db.Pool, migrations: fsys} }

func checkNotTooNew(ctx context.Context, provider *goose.Provider) error {
	current, err := provider.GetDBVersion(ctx)
	if err != nil {
		return nil // no version table yet: an empty database
	}
	sources := provider.ListSources()
	var newest int64
	for _, s := range sources {
		newest = max(newest, s.Version)
	}
	if current > newest {
		return fmt.Errorf("%w: the database is at schema version %d but this tenantatlas knows only up to %d; upgrade tenantatlas (or point it at another database)",
			ErrSchemaTooNew, current, newest)
	}
	return nil
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}

// LatestSchemaVersion is the newest TenantAtlas migration this binary carries: what an engine
// registers as its schema_version.
func LatestSchemaVersion() int64 {
	var newest int64
	entries, _ := fs.ReadDir(migrationFS(), ".")
	for _, e := range entries {
		if v, ok := migrationVersion(e.Name()); ok {
			newest = max(newest, v)
		}
	}
	return newest
}

func migrationVersion(name string) (int64, bool) {
	if !strings.HasSuffix(name, ".sql") {
		return 0, false
	}
	num, _, ok := strings.Cut(name, "_")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(num, 10, 64)
	return v, err == nil
}

// breaksMarker, in a migration's header, makes it a contract step (docs/operations.md#safe-upgrades):
// `-- tenantatlas:breaks-engines-below 9` says engines built for a schema older than 9 fail once it
// is applied. Migrate refuses such a migration while those engines are alive.
const breaksMarker = "-- tenantatlas:breaks-engines-below "

// ErrEnginesWouldBreak means a pending migration would break engines that are alive.
var ErrEnginesWouldBreak = errors.New("a pending migration would break running engines")

// checkEnginesSurvive refuses when a pending migration declares it breaks engines below some schema
// version and an alive registered engine is below it. Before 00008 there is no registry: nothing to
// check.
func checkEnginesSurvive(ctx context.Context, q Querier, fsys fs.FS, pending map[int64]bool) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("error reading embedded migrations: %w", err)
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('engines') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return err
	}
	for _, e := range entries {
		v, ok := migrationVersion(e.Name())
		if !ok || !pending[v] {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return err
		}
		below := breaksBelow(string(body))
		if below == 0 {
			continue
		}
		engines, err := ListEngines(ctx, q, false)
		if err != nil {
			return err
		}
		var old []string
		for _, eng := range engines {
			if eng.Alive() && eng.SchemaVersion < below {
				old = append(old, fmt.Sprintf("%s (version %s, schema %d)", eng.Name, eng.Version, eng.SchemaVersion))
			}
		}
		if len(old) > 0 {
			return fmt.Errorf("%w: %s removes what engines built for schema < %d use, and %d such engine(s) are alive: %s; upgrade and restart them first (see `tenantatlas engines`), then migrate",
				ErrEnginesWouldBreak, e.Name(), below, len(old), strings.Join(old, ", "))
		}
	}
	return nil
}

func breaksBelow(sql string) int64 {
	for line := range strings.SplitSeq(sql, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), breaksMarker); ok {
			if v, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
				return v
			}
		}
	}
	return 0
}
