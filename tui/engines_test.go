package tui

import (
	"context"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
)

func TestEnginesScreenAndRunEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	id, err := store.RegisterEngine(ctx, b.db.Pool, store.NewEngineRecord{Name: "worker-1:4242", Host: "worker-1", PID: 4242,
		Version: "v1.4.0@0123456789ab", SchemaVersion: store.LatestSchemaVersion(), Queues: []string{"default", "directory"}})
	require.NoError(t, err)
	ran := b.runs["running"]
	require.NoError(t, store.MarkRunRunningOn(ctx, b.db.Pool, ran, id))

	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	home := ansi.Strip(m.Render())
	require.NotContains(t, home, "no engine is alive", "an engine heartbeats")

	press(t, m, append([]string{":"}, append(keysOf("engines"), "enter")...)...)
	view := ansi.Strip(m.Render())
	require.Contains(t, view, "Engines")
	require.Contains(t, view, "worker-1:4242")
	require.Contains(t, view, "alive")
	require.Contains(t, view, "v1.4.0@0123456789ab")
	require.Contains(t, view, "1 alive")
	require.Contains(t, view, "runs/min")
	require.Contains(t, view, "QUEUE")
	require.Contains(t, view, "this dashboard")

	require.NoError(t, store.DeregisterEngine(ctx, b.db.Pool, id))
	press(t, m, "r")
	view = ansi.Strip(m.Render())
	require.Contains(t, view, "No engine registered")
	press(t, m, "a") // show stopped
	require.Contains(t, ansi.Strip(m.Render()), "stopped")

	press(t, m, append([]string{":"}, append(keysOf("run "+itoa(ran)), "enter")...)...)
	view = ansi.Strip(m.Render())
	require.Contains(t, view, "engine  worker-1:4242 (v1.4.0@0123456789ab, engine "+itoa(id)+")")
	press(t, m, "e")
	require.Contains(t, ansi.Strip(m.Render()), "Engines")
}

func TestHomeWarnsWhenNoEngineAndRunsQueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	m := New(b.context(160, 40), nil)
	drive(t, m, m.Init())
	require.Contains(t, ansi.Strip(m.Render()), "no engine is alive and 1 run(s) are queued")
	press(t, m, "enter") // the warning is the first selectable line
	require.Contains(t, ansi.Strip(m.Render()), "Engines")
}
