package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tenantatlas/tenantatlas/store"
)

// sharedReads lets the callers that ask the same question at the same moment share one database
// read: a hundred dashboards watching one run all ask for its new log line when the hub announces
// it, and one read answers them all (docs/architecture.md#live-updates).
//
// A caller only joins a read that has not started yet, so every answer reflects the database as of
// the caller's call or later: joining a read begun before the change that made the caller ask would
// lose that change. Per key at most one read runs; callers arriving meanwhile gather into the next,
// which starts when the running one ends. A burst of N identical calls costs at most two reads.
//
// The read is given the users of every caller it answers, so that it can bring each one's access
// in the same round trip: authorization stays per caller (the service checks each caller's own
// role against the shared answer), sharing only spares the database. Callers are waited for on
// their own context; a read whose callers all left is cancelled.
type sharedReads[K comparable, V any] struct {
	mu    sync.Mutex
	keys  map[K]*sharedKey[V]
	reads atomic.Int64 // reads started
	calls atomic.Int64 // callers that joined a read
}

// sharedKey is one key's running read and the read gathering callers for after it.
type sharedKey[V any] struct {
	running, next *sharedRead[V]
}

// sharedRead is one read and the callers waiting for it.
type sharedRead[V any] struct {
	base    context.Context // the first caller's: its values, not its cancellation
	read    func(ctx context.Context, users []int64) (V, error)
	users   map[int64]bool
	waiters int
	cancel  context.CancelFunc // set once started
	done    chan struct{}
	v       V
	err     error
}

// do answers the caller user (0 for an actor that is no user) with key's next read. read is the
// read every caller of key would make: the first caller's runs.
func (g *sharedReads[K, V]) do(ctx context.Context, key K, user int64, read func(ctx context.Context, users []int64) (V, error)) (V, error) {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = map[K]*sharedKey[V]{}
	}
	k := g.keys[key]
	if k == nil {
		k = &sharedKey[V]{}
		g.keys[key] = k
	}
	r := k.next
	if r == nil {
		r = &sharedRead[V]{base: ctx, read: read, users: map[int64]bool{}, done: make(chan struct{})}
		k.next = r
	}
	r.users[user] = true
	r.waiters++
	g.calls.Add(1) // once joined: a caller counted is a caller the read answers
	if k.running == nil {
		g.launch(key, k)
	}
	g.mu.Unlock()

	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		if r.waiters--; r.waiters == 0 {
			switch {
			case r.cancel != nil:
				r.cancel() // started: nobody waits for its answer any more
			case k.next == r:
				k.next = nil // not started: it never will be
			}
		}
		var zero V
		return zero, ctx.Err()
	}
}

// launch starts key's gathered read. Called with mu held.
func (g *sharedReads[K, V]) launch(key K, k *sharedKey[V]) {
	r := k.next
	k.next, k.running = nil, r
	users := make([]int64, 0, len(r.users))
	for u := range r.users {
		users = append(users, u)
	}
	slices.Sort(users)
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(r.base))
	g.reads.Add(1)
	go func() {
		v, err := r.read(ctx, users)
		g.mu.Lock()
		defer g.mu.Unlock()
		r.v, r.err = v, err
		r.cancel()
		close(r.done)
		k.running = nil
		if k.next != nil {
			g.launch(key, k)
			return
		}
		delete(g.keys, key)
	}()
}

// SharedReadStats is what the dashboards' shared reads cost: Reads made to the database for Calls
// callers. Tests read it to show that N dashboards on one change cause one read.
type SharedReadStats struct {
	Reads, Calls int64
}

// SharedReadStats adds up every shared read of the service so far.
func (s *Service) SharedReadStats() SharedReadStats {
	sh := &s.shared
	return SharedReadStats{
		Reads: sh.events.reads.Load() + sh.runs.reads.Load() + sh.engines.reads.Load(),
		Calls: sh.events.calls.Load() + sh.runs.calls.Load() + sh.engines.calls.Load(),
	}
}

// sharedReaders are the reads the dashboards make on every change they watch: a run's new log lines,
// its row and its engine.
type sharedReaders struct {
	events  sharedReads[string, runEventsRead]
	runs    sharedReads[int64, runRead]
	engines sharedReads[int64, runEngineRead]
}

// runEventsRead is one shared read of a run's events, with the access of each caller's user.
type runEventsRead struct {
	acc    store.RunAccess
	events []store.RunEvent
}

// runRead is one shared read of a run's row, with the role of each caller's user in its workspace.
type runRead struct {
	run   store.Run
	roles map[int64]string
}

// runEngineRead is one shared read of the registered engine that ran a run.
type runEngineRead struct {
	engine store.EngineRecord
	ok     bool
}
