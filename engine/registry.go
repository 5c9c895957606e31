package engine

import (
	"context"
	"os"
	"slices"
	"time"

	"github.com/tenantatlas/tenantatlas/internal/buildinfo"
	"github.com/tenantatlas/tenantatlas/store"
)

// The engines registry (docs/operations.md#engines): an engine registers when it starts, heartbeats
// every store.EngineHeartbeatInterval with how many jobs it runs, and deregisters once its workers
// have stopped. One killed without deregistering turns stale after store.EngineStaleAfter.

// register adds this engine to the registry.
func (e *Engine) register(ctx context.Context) error {
	host, _ := os.Hostname()
	queues := []string{QueueDefault, QueueDirectory, QueueIntune, QueueRestore}
	slices.Sort(queues)
	var keys []string
	if s := e.svc.sealer; s != nil {
		keys = append([]string{s.KeyID()}, s.PreviousKeyIDs()...)
	}
	id, err := store.RegisterEngine(ctx, e.svc.db.Pool, store.NewEngineRecord{Name: e.name, Host: host, PID: os.Getpid(),
		Version: buildinfo.Get().Short(), SchemaVersion: store.LatestSchemaVersion(), Queues: queues, KeyIDs: keys})
	if err != nil {
		return err
	}
	e.registryID.Store(id)
	return nil
}

// heartbeatLoop keeps the registry row fresh until ctx ends.
func (e *Engine) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(store.EngineHeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.mu.Lock()
			jobs := len(e.inflight)
			e.mu.Unlock()
			if err := store.HeartbeatEngine(ctx, e.svc.db.Pool, e.registryID.Load(), jobs); err != nil && ctx.Err() == nil {
				e.logger.Warn("engine heartbeat failed", "error", err)
			}
		}
	}
}

// deregister marks this engine stopped in the registry.
func (e *Engine) deregister() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.DeregisterEngine(ctx, e.svc.db.Pool, e.registryID.Load()); err != nil {
		e.logger.Warn("engine could not deregister; it shows stale until pruned", "error", err)
	}
}

// RegistryID is this engine's id in the registry (0 before Start).
func (e *Engine) RegistryID() int64 { return e.registryID.Load() }

// EnginesView is the fleet: `:engines` and `tenantatlas engines`.
type EnginesView struct {
	Engines []store.EngineRecord `json:"engines"`
	store.Pulse
	// StaleAfter is the stated interval after which an engine without a heartbeat is stale.
	StaleAfter string `json:"stale_after"`
}

// Engines lists the registered engines with the pulse of their queues. Any user may see it: it
// names hosts and queues, no tenant data beyond the names of throttled tenants the actor may see.
func (s *Service) Engines(ctx context.Context, actor Actor, all bool) (EnginesView, error) {
	v := EnginesView{StaleAfter: store.EngineStaleAfter.String()}
	var err error
	if v.Engines, err = store.ListEngines(ctx, s.db.Pool, all); err != nil {
		return v, err
	}
	if v.Engines == nil {
		v.Engines = []store.EngineRecord{}
	}
	if v.Pulse, err = store.EnginePulse(ctx, s.db.Pool); err != nil {
		return v, err
	}
	visible := map[string]bool{}
	if tenants, err := s.ListTenants(ctx, actor); err == nil {
		for _, t := range tenants {
			visible[t.Name] = true
		}
	}
	v.ThrottledTenants = slices.DeleteFunc(v.ThrottledTenants, func(n string) bool { return !visible[n] })
	return v, nil
}

// AliveEngines counts the engines heartbeating now.
func (s *Service) AliveEngines(ctx context.Context) (int, error) {
	engines, err := store.ListEngines(ctx, s.db.Pool, false)
	n := 0
	for _, e := range engines {
		if e.Alive() {
			n++
		}
	}
	return n, err
}

// RunEngine is the registered engine that last ran a run the actor may see; ok is false when none
// did (queued, or run by an engine older than the registry).
func (s *Service) RunEngine(ctx context.Context, actor Actor, runID int64) (store.EngineRecord, bool, error) {
	if _, err := s.GetRun(ctx, actor, runID); err != nil {
		return store.EngineRecord{}, false, err
	}
	// Asked by every dashboard showing the run when its row changes: shared as GetRun's read is, once
	// GetRun authorized the caller.
	got, err := s.shared.engines.do(ctx, runID, 0, func(ctx context.Context, _ []int64) (runEngineRead, error) {
		e, ok, err := store.RunEngine(ctx, s.db.Pool, runID)
		return runEngineRead{engine: e, ok: ok}, err
	})
	if err != nil || !got.ok {
		return store.EngineRecord{}, false, err
	}
	return got.engine.Clone(), true, nil
}
