// Package storetest writes test fixtures: one function per kind of row (Tenant, Run, BackupSet, …),
// each taking an options struct whose zero value gives a valid row with a unique name.
//
// It is modelled on River's testfactory. Rows are created through the store's own functions where
// one exists, so a fixture goes through the same code the product does; SQL here is only for the
// columns a test forces and no store function sets (a backdated created_at, a run stopped half-way).
// Tests outside this package do not write fixture rows with SQL; the exceptions are tests that fake
// corruption or a crash on purpose, and they say so.
//
//	tenant := storetest.Tenant(ctx, t, db.Pool, nil)
//	run := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{TenantID: &tenant.ID, Outcome: store.OutcomeFailed,
//		CreatedAt: new(time.Now().Add(-time.Hour))})
//
// Every function fails the test on error, so callers never check one.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/store"
)

// seq makes default names unique across the tests of a process, which may share a database.
var seq atomic.Int64

func next() int64 { return seq.Add(1) }

// update collects the columns a fixture forces, for one UPDATE of one row. Setting a column
// again replaces the earlier value, so defaults can be set first and explicit options after.
type update struct {
	cols  []string
	exprs map[string]string // column → SQL expression, with $n placeholders into args
	args  []any
}

func (u *update) set(col string, v any) {
	u.args = append(u.args, v)
	u.setSQL(col, fmt.Sprintf("$%d", len(u.args)+1)) // $1 is the row's id
}

func (u *update) setSQL(col, expr string) {
	if u.exprs == nil {
		u.exprs = map[string]string{}
	}
	if _, ok := u.exprs[col]; !ok {
		u.cols = append(u.cols, col)
	}
	u.exprs[col] = expr
}

func (u *update) apply(ctx context.Context, tb testing.TB, q store.Querier, table string, id int64) {
	tb.Helper()
	if len(u.cols) == 0 {
		return
	}
	sets := make([]string, len(u.cols))
	for i, col := range u.cols {
		sets[i] = col + " = " + u.exprs[col]
	}
	exec(ctx, tb, q, "UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id = $1", append([]any{id}, u.args...)...)
}

func exec(ctx context.Context, tb testing.TB, q store.Querier, sql string, args ...any) {
	tb.Helper()
	tag, err := q.Exec(ctx, sql, args...)
	must(tb, err)
	if tag.RowsAffected() == 0 {
		tb.Fatalf("storetest: %s changed no row (args %v)", sql, args)
	}
}

// inTx runs fn in a transaction on q (a savepoint when q is already one), for store functions that
// need a pgx.Tx.
func inTx(ctx context.Context, tb testing.TB, q store.Querier, fn func(pgx.Tx) error) {
	tb.Helper()
	b, ok := q.(interface {
		Begin(context.Context) (pgx.Tx, error)
	})
	if !ok {
		tb.Fatalf("storetest: %T cannot begin a transaction", q)
	}
	must(tb, pgx.BeginFunc(ctx, b, fn))
}

func workspaceOr(ctx context.Context, tb testing.TB, q store.Querier, id int64) int64 {
	tb.Helper()
	if id != 0 {
		return id
	}
	return DefaultWorkspace(ctx, tb, q).ID
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
}

func orZero[T any](opts *T) *T {
	if opts == nil {
		return new(T)
	}
	return opts
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orBytes(v, def []byte) []byte {
	if v == nil {
		return def
	}
	return v
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
