package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

func TestEngineRegistersAndNamesItsRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	e := b.startEngine(t, engine.Config{Name: "registry-test"})
	require.NotZero(t, e.RegistryID())

	v, err := b.svc.Engines(ctx, b.admin, false)
	require.NoError(t, err)
	require.Len(t, v.Engines, 1)
	got := v.Engines[0]
	require.Equal(t, "registry-test", got.Name)
	require.Equal(t, "alive", got.State)
	require.Equal(t, store.LatestSchemaVersion(), got.SchemaVersion)
	require.NotEmpty(t, got.Version)
	require.Contains(t, got.Queues, engine.QueueDefault)
	require.NotEmpty(t, v.StaleAfter)

	res, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"steps": "1"}))
	require.NoError(t, err)
	b.waitRun(t, res.Run.ID, completed)
	ran, ok, err := b.svc.RunEngine(ctx, b.admin, res.Run.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, e.RegistryID(), ran.ID)

	alive, err := b.svc.AliveEngines(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, alive)

	e.Stop()
	alive, err = b.svc.AliveEngines(ctx)
	require.NoError(t, err)
	require.Zero(t, alive, "a stopped engine deregisters")
	ran, ok, err = b.svc.RunEngine(ctx, b.admin, res.Run.ID)
	require.NoError(t, err)
	require.True(t, ok, "the run still names its engine")
	require.Equal(t, "stopped", ran.State)
}
