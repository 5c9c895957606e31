// Package pgtest gives every test its own fresh, migrated PostgreSQL database.
//
// One server per test package (the same local starter the product uses, in a throwaway directory),
// a template database migrated once, and a database per test cloned from it with
// CREATE DATABASE … TEMPLATE (about 50 ms). Set TENANTATLAS_TEST_DATABASE_URL to use an external
// server instead: the template and test databases are then created there and dropped afterwards.
//
// Use it from TestMain so the server is stopped and its directory removed when the package's tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/tenantatlas/store"
)

// EnvURL names the variable that points tests at an external server.
const EnvURL = "TENANTATLAS_TEST_DATABASE_URL"

var (
	once       sync.Once
	setupErr   error
	cluster    *store.LocalCluster
	tempParent string
	admin      *pgxpool.Pool
	adminDSN   string
	template   string
	prefix     string
	counter    atomic.Int64
)

// Main runs the package's tests and then stops the server and drops what the tests created.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops the package's server (or drops the template on an external one). Main calls it.
func Shutdown() {
	if admin != nil {
		if cluster == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{template}.Sanitize()+" WITH (FORCE)")
			cancel()
		}
		admin.Close()
	}
	if cluster != nil {
		cluster.Stop()
	}
	if tempParent != "" {
		_ = os.RemoveAll(tempParent)
	}
}

// Cluster is the package's local server, or nil when tests use TENANTATLAS_TEST_DATABASE_URL.
func Cluster(t testing.TB) *store.LocalCluster {
	t.Helper()
	ensure(t)
	return cluster
}

// NewDB returns a pool on a fresh migrated database that is dropped when the test ends.
func NewDB(t testing.TB) *store.DB {
	t.Helper()
	dsn := NewDSN(t)
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{MaxConns: 10})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// NewDSN creates a fresh migrated database and returns its connection string, for tests that start
// processes of their own. The database is dropped when the test ends.
func NewDSN(t testing.TB) string {
	t.Helper()
	ensure(t)
	name := fmt.Sprintf("%s_%d", prefix, counter.Add(1))
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return dsnWithDatabase(adminDSN, name)
}

// NewEmptyDSN creates an empty, unmigrated database, for migration tests.
func NewEmptyDSN(t testing.TB) string {
	t.Helper()
	ensure(t)
	name := fmt.Sprintf("%s_empty_%d", prefix, counter.Add(1))
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return dsnWithDatabase(adminDSN, name)
}

func ensure(t testing.TB) {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix = fmt.Sprintf("tatest_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	if url := os.Getenv(EnvURL); url != "" {
		adminDSN = url
	} else {
		var err error
		tempParent, err = os.MkdirTemp("", "tenantatlas-pgtest-")
		if err != nil {
			return err
		}
		// As root the cluster runs as postgres, which must be able to reach it.
		if err := os.Chmod(tempParent, 0o755); err != nil {
			return err
		}
		cluster, err = store.StartLocal(ctx, store.LocalOptions{Dir: filepath.Join(tempParent, "pg"), RemoveOnStop: true})
		if err != nil {
			_ = os.RemoveAll(tempParent)
			return err
		}
		adminDSN = cluster.DSNFor("postgres")
	}
	var err error
	admin, err = pgxpool.New(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", EnvURL, err)
	}
	template = prefix + "_tmpl"
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return fmt.Errorf("creating template database: %w", err)
	}
	db, err := store.Open(ctx, dsnWithDatabase(adminDSN, template), store.Options{MaxConns: 4})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating template database: %w", err)
	}
	return nil
}

// dsnWithDatabase swaps the database of a key=value or URL connection string.
func dsnWithDatabase(dsn, database string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		rest := dsn[strings.Index(dsn, "://")+3:]
		query := ""
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			rest, query = rest[:i], rest[i:]
		}
		hostPart := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			hostPart = rest[:i]
		}
		return dsn[:strings.Index(dsn, "://")+3] + hostPart + "/" + database + query
	}
	fields := strings.Fields(dsn)
	out := fields[:0]
	for _, f := range fields {
		if !strings.HasPrefix(f, "dbname=") {
			out = append(out, f)
		}
	}
	return strings.Join(append(out, "dbname="+database), " ")
}
