package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

type testBundle struct {
	db    *store.DB
	svc   *engine.Service
	admin engine.Actor
	// sealer is the service's key, for tests that read sealed payloads from the store directly.
	sealer *engine.Sealer
}

func newSealer(t testing.TB) *engine.Sealer {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s, err := engine.NewSealer(key)
	require.NoError(t, err)
	return s
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	db := pgtest.NewDB(t)
	sealer := newSealer(t)
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer, Metrics: engine.NewMetrics(db)})
	require.NoError(t, err)
	admin, err := svc.ActorByName(context.Background(), "")
	require.NoError(t, err)
	return &testBundle{db: db, svc: svc, admin: admin, sealer: sealer}
}

// startEngine runs an engine on the bundle's database until the test ends.
func (b *testBundle) startEngine(t *testing.T, opts engine.Config) *engine.Engine {
	t.Helper()
	e := b.newEngine(t, opts)
	require.NoError(t, e.Start(context.Background()))
	return e
}

// newEngine builds an engine on the bundle's database, stopped when the test ends (Start it).
func (b *testBundle) newEngine(t *testing.T, opts engine.Config) *engine.Engine {
	t.Helper()
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 50 * time.Millisecond
	}
	if opts.StaleAfter == 0 {
		opts.StaleAfter = time.Second
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 2 * time.Second
	}
	e, err := engine.NewEngine(b.svc, opts)
	require.NoError(t, err)
	t.Cleanup(e.Stop)
	return e
}

var tenantCounter atomic.Int64

// addTenant creates a tenant with a secret-based default connection in the default workspace.
func (b *testBundle) addTenant(t *testing.T) engine.TenantView {
	t.Helper()
	n := tenantCounter.Add(1)
	v, err := b.svc.AddTenant(context.Background(), b.admin, engine.AddTenantRequest{
		Name: fmt.Sprintf("contoso-%d", n), TenantGUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", n),
		ClientID: "11111111-2222-3333-4444-555555555555", ClientSecret: []byte("s3cret-value-" + fmt.Sprint(n)),
	})
	require.NoError(t, err)
	return v
}

// addUser creates a user with role in the default workspace (role "" = no membership).
func (b *testBundle) addUser(t *testing.T, name, role string) engine.Actor {
	t.Helper()
	ctx := context.Background()
	_, err := b.svc.CreateUser(ctx, b.admin, name)
	require.NoError(t, err)
	if role != "" {
		_, err = b.svc.AddMember(ctx, b.admin, "default", name, role)
		require.NoError(t, err)
	}
	a, err := b.svc.ActorByName(ctx, name)
	require.NoError(t, err)
	return a
}

func (b *testBundle) defaultWorkspace(t testing.TB) store.Workspace {
	t.Helper()
	w, err := store.GetWorkspaceByName(context.Background(), b.db.Pool, "default")
	require.NoError(t, err)
	return w
}

// waitRun polls the run until cond holds (runs change through background workers).
func (b *testBundle) waitRun(t *testing.T, id int64, cond func(store.Run) bool) store.Run {
	t.Helper()
	var last store.Run
	require.Eventually(t, func() bool {
		r, err := store.GetRun(context.Background(), b.db.Pool, id)
		require.NoError(t, err)
		last = r
		return cond(r)
	}, 30*time.Second, 10*time.Millisecond, "run %d never reached the expected state", id)
	return last
}

func completed(r store.Run) bool { return r.Status == store.StatusCompleted }
func running(r store.Run) bool   { return r.Status == store.StatusRunning }

func outcome(r store.Run) store.Outcome { return r.EndedAs() }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
