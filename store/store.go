// Package store is TenantAtlas's only door to PostgreSQL: the connection pool, transactions, record
// types and their queries, the LISTEN/NOTIFY hub, the local embedded cluster and migrations.
//
// Query functions take a Querier as their second argument so the caller owns the transaction:
// engine.Service.Start writes the run, the River job and the audit event in one.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write violates a uniqueness rule (a duplicate name, say).
var ErrConflict = errors.New("already exists")

// Querier is what query functions need: a *pgxpool.Pool, a *pgxpool.Conn or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// DB is the process's connection pool.
type DB struct {
	Pool *pgxpool.Pool

	migrations fs.FS // nil: the embedded migrations
}

// LongRunningMinConns is how many connections the dashboard, engine and SSH server keep open when
// idle (Options.MinConns): enough for the home screen's side-by-side reads.
const LongRunningMinConns = 5

// Options tune Open. The zero value is fine.
type Options struct {
	// MaxConns caps the pool. Zero means 20: the dashboard, engine workers and SSH sessions share it,
	// so it does not grow with sessions.
	MaxConns int32
	// MinConns connections are opened in the background and kept when idle, so that a screen's first
	// reads (the home screen runs five side by side) do not each wait for a new server process.
	// Long-running commands set it; one-shot commands leave it zero.
	MinConns int32
	// ApplicationName shows in pg_stat_activity. Zero means "tenantatlas".
	ApplicationName string
}

// Open connects to dsn and checks the connection. An unreachable server is reported in one line that
// names the address and the fix.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %s (expected postgres://user:pass@host:port/db or key=value form)", redactDSNError(err))
	}
	cfg.MaxConns = 20
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.MinConns = min(opts.MinConns, cfg.MaxConns)
	name := opts.ApplicationName
	if name == "" {
		name = "tenantatlas"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = name
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("error opening database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach the database at %s: %s (check that PostgreSQL is running and TENANTATLAS_DATABASE_URL is right, or unset it to use the local default)",
			describeTarget(cfg.ConnConfig), firstLine(redactDSNError(err)))
	}
	return &DB{Pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// InTx runs fn in a transaction, committing when fn returns nil and rolling back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.Pool, fn)
}

func describeTarget(cc *pgx.ConnConfig) string {
	if strings.HasPrefix(cc.Host, "/") {
		return fmt.Sprintf("socket %s (port %d), database %q", cc.Host, cc.Port, cc.Database)
	}
	return fmt.Sprintf("%s:%d, database %q", cc.Host, cc.Port, cc.Database)
}

// redactDSNError keeps passwords out of error text: pgx can echo the connection string.
func redactDSNError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if at := strings.Index(msg[i:], "@"); at > 0 {
			userinfo := msg[i+3 : i+at]
			if c := strings.Index(userinfo, ":"); c >= 0 {
				msg = msg[:i+3+c+1] + "xxxxx" + msg[i+at:]
			}
		}
	}
	if i := strings.Index(msg, "password="); i >= 0 {
		end := strings.IndexAny(msg[i:], " '\"")
		if end < 0 {
			end = len(msg) - i
		}
		msg = msg[:i] + "password=xxxxx" + msg[i+end:]
	}
	return msg
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// IsConnectionLost reports whether err means the connection to PostgreSQL was lost or refused, so
// that the same query may work a moment later: the server shutting down, starting up or restarting
// (SQLSTATE class 57P: 57P01 "terminating connection due to administrator command", 57P03 "the
// database system is starting up"), a connection exception (class 08), a failed connect, or an error
// that pgconn says happened before anything reached the server.
func IsConnectionLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // a cancelled or slow call, not a lost connection
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "08")
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || pgconn.SafeToRetry(err) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// isUniqueViolation reports whether err is a unique_violation, optionally on a named constraint/index.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// IsUniqueViolation reports whether err comes from the named unique index or constraint
// (any, when constraint is empty).
func IsUniqueViolation(err error, constraint string) bool { return isUniqueViolation(err, constraint) }

// notFound turns pgx.ErrNoRows into ErrNotFound with context.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("error loading %s: %w", what, err)
}
