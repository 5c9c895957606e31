package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

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
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockID); err != nil {
		return 0, fmt.Errorf("error taking the migration lock: %w", err)
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
	results, err := provider.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("error applying TenantAtlas migrations: %w", err)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
	if err != nil {
		return 0, fmt.Errorf("error preparing River migrations: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("error applying River migrations: %w", err)
	}
	return len(results) + len(res.Versions), nil
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
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrationFS(),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("error loading embedded migrations: %w", err)
	}
	return provider, func() { provider.Close() }, nil
}

func migrationFS() fs.FS { return migrations.FS }

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
