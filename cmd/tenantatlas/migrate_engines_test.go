package main

import (
	"bytes"
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/migrations"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestCLIMigrateRefusesWhileOldEnginesAlive goes through the command line (cobra, openDB, the
// printed error and the exit code) with the embedded migrations plus a contract step: `migrate`, and
// any command that migrates at start, refuse while an engine built for an older schema is alive,
// naming it; nothing is applied; once it has stopped the step applies.
func TestCLIMigrateRefusesWhileOldEnginesAlive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCLI(t)
	c.ok("migrate")
	db, err := store.Open(ctx, c.env["TENANTATLAS_DATABASE_URL"], store.Options{MaxConns: 2})
	require.NoError(t, err)
	defer db.Close()
	latest := store.LatestSchemaVersion()
	old, err := store.RegisterEngine(ctx, db.Pool, store.NewEngineRecord{Name: "old-host:42", Host: "old-host", PID: 42,
		Version: "v0.9.0", SchemaVersion: latest})
	require.NoError(t, err)
	_, err = store.RegisterEngine(ctx, db.Pool, store.NewEngineRecord{Name: "new-host:7", Host: "new-host", PID: 7,
		Version: "v1.0.0", SchemaVersion: 99001})
	require.NoError(t, err)

	m := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := fs.ReadFile(migrations.FS, e.Name())
		require.NoError(t, err)
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	m["99001_drop_thing.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\n-- tenantatlas:breaks-engines-below 99001\nCREATE TABLE contract_marker (id int);\n-- +goose Down\nDROP TABLE contract_marker;\n")}
	cmd := func(args ...string) result {
		var out, errOut bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(k string) string { return c.env[k] }, migrations: m}
		code := a.execute(ctx, args)
		return result{code: code, stdout: out.String(), stderr: errOut.String()}
	}

	for _, args := range [][]string{{"migrate"}, {"runs", "list"}} {
		r := cmd(args...)
		require.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
		require.Contains(t, r.stderr, "a pending migration would break running engines: 99001_drop_thing.sql", args)
		require.Contains(t, r.stderr, "1 such engine(s) are alive: old-host:42 (version v0.9.0, schema ", args)
		require.NotContains(t, r.stderr, "new-host:7", "an engine of the new release is not in the way")
		require.Contains(t, r.stderr, "upgrade and restart them first", args)
		require.Empty(t, r.stdout, args)
	}
	v, err := store.SchemaVersion(ctx, db.Pool)
	require.NoError(t, err)
	require.Equal(t, latest, v, "nothing applied")

	require.NoError(t, store.DeregisterEngine(ctx, db.Pool, old))
	r := cmd("migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "schema is up to date")
	v, err = store.SchemaVersion(ctx, db.Pool)
	require.NoError(t, err)
	require.EqualValues(t, 99001, v)
}
