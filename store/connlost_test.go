package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestIsConnectionLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AConnectionTheServerTerminated", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		conn, err := pgx.Connect(ctx, pgtest.NewDSN(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(ctx) })
		var pid int
		require.NoError(t, conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
		_, err = db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
		require.NoError(t, err)

		var one int
		err = conn.QueryRow(ctx, `SELECT 1`).Scan(&one)
		require.Error(t, err)
		require.True(t, store.IsConnectionLost(fmt.Errorf("listing runs: %w", err)), "%v", err)
	})

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"ServerShuttingDown", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"ServerStartingUp", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, true},
		{"ConnectionException", &pgconn.PgError{Code: "08006"}, true},
		{"UniqueViolation", &pgconn.PgError{Code: "23505"}, false},
		{"PermissionDenied", &pgconn.PgError{Code: "42501"}, false},
		{"NotFound", store.ErrNotFound, false},
		{"Cancelled", fmt.Errorf("load: %w", context.Canceled), false},
		{"Slow", fmt.Errorf("load: %w", context.DeadlineExceeded), false},
		{"Nil", nil, false},
		{"Other", errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, store.IsConnectionLost(tc.err))
		})
	}
}
