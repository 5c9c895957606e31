package main

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/internal/buildinfo"
	"github.com/tenantatlas/tenantatlas/store"
)

func TestCLIVersionJSON(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{}}
	var v buildinfo.Info
	c.jsonOut(&v, "version")
	require.Equal(t, runtime.Version(), v.GoVersion)
	require.NotEmpty(t, v.Version)
	require.NotEmpty(t, v.Commit)
	require.NotEmpty(t, v.BuildDate)
	require.Equal(t, "github.com/tenantatlas/tenantatlas", v.Module)
	require.Contains(t, c.ok("version"), "commit ")
}

func TestCLIEngines(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	require.Contains(t, c.ok("engines"), "no engine registered")

	db, err := store.Open(context.Background(), c.env["TENANTATLAS_DATABASE_URL"], store.Options{})
	require.NoError(t, err)
	defer db.Close()
	_, err = store.RegisterEngine(context.Background(), db.Pool, store.NewEngineRecord{Name: "eng-a:7", Host: "eng-a", PID: 7,
		Version: "v1.2.3@abc", SchemaVersion: store.LatestSchemaVersion(), Queues: []string{"default", "intune"}})
	require.NoError(t, err)

	out := c.ok("engines")
	require.Contains(t, out, "eng-a:7")
	require.Contains(t, out, "alive")
	require.Contains(t, out, "v1.2.3@abc")
	require.Contains(t, out, "default,intune")
	require.Contains(t, out, "runs/min")

	var v struct {
		Engines []store.EngineRecord `json:"engines"`
		Queues  []store.QueueDepth   `json:"queues"`
		Stale   string               `json:"stale_after"`
	}
	c.jsonOut(&v, "engines")
	require.Len(t, v.Engines, 1)
	require.Equal(t, "eng-a", v.Engines[0].Host)
	require.Equal(t, store.EngineStaleAfter.String(), v.Stale)
}
