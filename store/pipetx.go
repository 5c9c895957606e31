package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PipeTx is a transaction for a hot path that saves two round trips: its BEGIN travels in one
// pipelined batch with the first query (BeginWith) and its COMMIT with the last statement
// (CommitWith). In between it is an ordinary pgx.Tx, so River can insert its job in it.
//
// pgx sends a batch as one pipeline ending in a single Sync: when a statement fails, PostgreSQL
// skips the rest of the batch, so a COMMIT queued behind a failed statement never runs.
type PipeTx struct {
	conn   *pgxpool.Conn
	closed bool
}

var _ pgx.Tx = (*PipeTx)(nil)

// errNestedPipeTx: a savepoint inside a PipeTx is not needed on the hot path and not supported.
var errNestedPipeTx = errors.New("store: savepoints are not supported in a pipelined transaction")

// BeginWith acquires a connection and sends BEGIN and the query sql in one round trip; scan reads the
// query's single row. On any error the transaction is rolled back and the connection released.
func (db *DB) BeginWith(ctx context.Context, scan func(pgx.Row) error, sql string, args ...any) (*PipeTx, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("error acquiring a connection: %w", err)
	}
	tx := &PipeTx{conn: conn}
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(sql, args...)
	br := conn.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		err = scan(br.QueryRow())
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tx.abort(ctx)
		return nil, err
	}
	return tx, nil
}

// CommitWith sends the statement sql and COMMIT in one round trip. When sql fails, the COMMIT does not
// run and the transaction is rolled back; the statement's error is returned.
func (t *PipeTx) CommitWith(ctx context.Context, sql string, args ...any) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue("commit")
	br := t.conn.SendBatch(ctx, b)
	_, err := br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return t.committed(ctx, tag, err)
}

// Commit commits the transaction.
func (t *PipeTx) Commit(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	tag, err := t.conn.Exec(ctx, "commit")
	return t.committed(ctx, tag, err)
}

// committed closes the transaction after its COMMIT answered tag or failed with err. A COMMIT of a
// transaction that had already failed answers ROLLBACK: pgx.ErrTxCommitRollback.
func (t *PipeTx) committed(ctx context.Context, tag pgconn.CommandTag, err error) error {
	if err == nil && tag.String() == "ROLLBACK" {
		err = pgx.ErrTxCommitRollback
	}
	if err != nil {
		t.abort(ctx)
		return err
	}
	t.release()
	return nil
}

// Rollback rolls the transaction back; after Commit or Rollback it returns pgx.ErrTxClosed, so a
// deferred Rollback is safe.
func (t *PipeTx) Rollback(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	t.abort(ctx)
	return nil
}

// abort rolls back and releases the connection. A connection left inside a transaction (the rollback
// failed, the context ended) is destroyed by the pool on release, never reused.
func (t *PipeTx) abort(ctx context.Context) {
	if t.conn.Conn().PgConn().TxStatus() != 'I' {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = t.conn.Exec(rctx, "rollback")
		cancel()
	}
	t.release()
}

func (t *PipeTx) release() {
	t.closed = true
	t.conn.Release()
}

// Begin would start a savepoint; a PipeTx does not support them.
func (t *PipeTx) Begin(context.Context) (pgx.Tx, error) { return nil, errNestedPipeTx }

// Exec runs a statement in the transaction.
func (t *PipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.closed {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	return t.conn.Exec(ctx, sql, args...)
}

// Query runs a query in the transaction.
func (t *PipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.closed {
		return nil, pgx.ErrTxClosed
	}
	return t.conn.Query(ctx, sql, args...)
}

// QueryRow runs a single-row query in the transaction.
func (t *PipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.closed {
		return errRow{pgx.ErrTxClosed}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

// CopyFrom copies rows in the transaction.
func (t *PipeTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if t.closed {
		return 0, pgx.ErrTxClosed
	}
	return t.conn.CopyFrom(ctx, table, columns, src)
}

// SendBatch sends a batch in the transaction.
func (t *PipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.closed {
		return errBatch{pgx.ErrTxClosed}
	}
	return t.conn.SendBatch(ctx, b)
}

// Prepare prepares a statement on the transaction's connection.
func (t *PipeTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if t.closed {
		return nil, pgx.ErrTxClosed
	}
	return t.conn.Conn().Prepare(ctx, name, sql)
}

// LargeObjects is not supported: large objects are not used here.
func (t *PipeTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Conn is the transaction's connection (nil once the transaction ended: it went back to the pool).
func (t *PipeTx) Conn() *pgx.Conn {
	if t.closed {
		return nil
	}
	return t.conn.Conn()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch answers every result of a batch sent on an ended transaction with its error.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }
