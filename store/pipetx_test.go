package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// TestPipeTx: BEGIN travels with the first query and COMMIT with the last statement; whatever fails,
// nothing is committed and the connection goes back to the pool outside any transaction.
func TestPipeTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const insert = `INSERT INTO pipe (v) VALUES ($1)`

	tests := []struct {
		name string
		// run drives one transaction; the rows it leaves committed are compared with want.
		run     func(t *testing.T, db *store.DB) error
		want    []int
		wantErr string
	}{
		{
			name: "CommitWith commits everything",
			run: func(t *testing.T, db *store.DB) error {
				tx := begin(t, db, 1)
				_, err := tx.Exec(ctx, insert, 2)
				require.NoError(t, err)
				return tx.CommitWith(ctx, insert, 3)
			},
			want: []int{1, 2, 3},
		},
		{
			name: "a failing last statement skips the pipelined COMMIT",
			run: func(t *testing.T, db *store.DB) error {
				tx := begin(t, db, 1)
				return tx.CommitWith(ctx, insert, 1) // duplicate key
			},
			wantErr: "duplicate key",
		},
		{
			name: "a failing first query rolls back and releases",
			run: func(t *testing.T, db *store.DB) error {
				_, err := db.BeginWith(ctx, func(row pgx.Row) error { var v int; return row.Scan(&v) },
					`SELECT 1 / 0`)
				return err
			},
			wantErr: "division by zero",
		},
		{
			name: "a failing scan rolls back the first query's writes",
			run: func(t *testing.T, db *store.DB) error {
				_, err := db.BeginWith(ctx, func(pgx.Row) error { return errors.New("caller refused") },
					`INSERT INTO pipe (v) VALUES (7) RETURNING v`)
				return err
			},
			wantErr: "caller refused",
		},
		{
			name: "Rollback discards, and the transaction is closed after it",
			run: func(t *testing.T, db *store.DB) error {
				tx := begin(t, db, 1)
				require.NoError(t, tx.Rollback(ctx))
				require.ErrorIs(t, tx.Rollback(ctx), pgx.ErrTxClosed)
				_, err := tx.Exec(ctx, insert, 2)
				require.ErrorIs(t, err, pgx.ErrTxClosed)
				require.ErrorIs(t, tx.SendBatch(ctx, &pgx.Batch{}).Close(), pgx.ErrTxClosed)
				require.Nil(t, tx.Conn(), "the connection went back to the pool")
				return tx.CommitWith(ctx, insert, 3)
			},
			wantErr: pgx.ErrTxClosed.Error(),
		},
		{
			name: "a statement that aborts the transaction makes Commit report the rollback",
			run: func(t *testing.T, db *store.DB) error {
				tx := begin(t, db, 1)
				_, err := tx.Exec(ctx, insert, 1)
				require.Error(t, err)
				return tx.Commit(ctx)
			},
			wantErr: "rollback",
		},
		{
			name: "River-style use: plain statements in between, then Commit",
			run: func(t *testing.T, db *store.DB) error {
				tx := begin(t, db, 1)
				var n int
				require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM pipe`).Scan(&n))
				require.Equal(t, 1, n, "the transaction sees its own first write")
				_, err := tx.Begin(ctx)
				require.Error(t, err, "savepoints are refused, not silently ignored")
				return tx.Commit(ctx)
			},
			want: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			_, err := db.Pool.Exec(ctx, `CREATE TABLE pipe (v int PRIMARY KEY)`)
			require.NoError(t, err)

			err = tt.run(t, db)
			if tt.wantErr != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			rows, err := db.Pool.Query(ctx, `SELECT v FROM pipe ORDER BY v`)
			require.NoError(t, err)
			got, err := pgx.CollectRows(rows, pgx.RowTo[int])
			require.NoError(t, err)
			if tt.want == nil {
				tt.want = []int{}
			}
			require.Equal(t, tt.want, got)
			requireIdleConns(t, db)
		})
	}
}

// begin opens a PipeTx whose first query inserts v.
func begin(t *testing.T, db *store.DB, v int) *store.PipeTx {
	t.Helper()
	tx, err := db.BeginWith(context.Background(), func(row pgx.Row) error { var got int; return row.Scan(&got) },
		`INSERT INTO pipe (v) VALUES ($1) RETURNING v`, v)
	require.NoError(t, err)
	return tx
}

// requireIdleConns: every pooled connection is back and outside a transaction.
func requireIdleConns(t *testing.T, db *store.DB) {
	t.Helper()
	stat := db.Pool.Stat()
	require.Zero(t, stat.AcquiredConns(), "a connection was not released")
	conns := db.Pool.AcquireAllIdle(context.Background())
	for _, c := range conns {
		require.Equal(t, byte('I'), c.Conn().PgConn().TxStatus(), "a pooled connection is still in a transaction")
		c.Release()
	}
}
