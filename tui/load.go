package tui

import (
	"context"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/store"
)

// loaded is the answer to one of a screen's loads: id is the screen that asked (every screen on the
// stack sees every message, so a late answer must not land in another), v the value, err the failure.
type loaded[T any] struct {
	id  int64
	v   T
	err error
}

// fetcher runs a screen's loads of one kind, written once: a load starts unless one is in flight
// (then one more is owed, see loader), its answer is kept only by the screen that asked, and the
// owed load follows it.
type fetcher[T any] struct {
	id      int64
	load    loader
	retries int // loads in a row that failed on a lost database connection
}

// retryLoad asks fetcher id to load again after a load failed on a lost connection.
type retryLoad struct{ id int64 }

// retryDelay is the wait before the next load after n loads in a row failed on a lost connection:
// 250 ms doubling up to 4 s, so a dashboard that lost its database comes back on its own shortly
// after the server does, without a keypress and without hammering it meanwhile.
func retryDelay(n int) time.Duration {
	return min(250*time.Millisecond<<min(n-1, 4), 4*time.Second)
}

func newFetcher[T any]() fetcher[T] { return fetcher[T]{id: nextScreenID()} }

// start returns the command that runs get, or nil when a load is already in flight. get runs in the
// command's goroutine: it must use only what it was given, never the screen's state.
func (f *fetcher[T]) start(env *Env, get func(ctx context.Context) (T, error)) tea.Cmd {
	if !f.load.start() {
		return nil
	}
	id := f.id
	return func() tea.Msg {
		ctx, cancel := env.callContext()
		defer cancel()
		v, err := get(ctx)
		return loaded[T]{id: id, v: v, err: err}
	}
}

// receive takes msg when it is this fetcher's answer (ok): the error goes to *err, a value to keep,
// and the result is reload when another load was asked for meanwhile. A load that failed because
// the database connection was lost (a server restart, a failover) is tried again after retryDelay:
// the notification that would have caused the next load may have been lost with the connection.
func (f *fetcher[T]) receive(msg tea.Msg, err *error, keep func(T), reload func() tea.Cmd) (cmd tea.Cmd, ok bool) {
	if r, isRetry := msg.(retryLoad); isRetry && r.id == f.id {
		return reload(), true
	}
	l, ok := msg.(loaded[T])
	if !ok || l.id != f.id {
		return nil, false
	}
	again := f.load.done()
	if *err = l.err; l.err == nil {
		f.retries = 0
		keep(l.v)
	}
	if again {
		return reload(), true
	}
	if l.err != nil && store.IsConnectionLost(l.err) {
		f.retries++
		id := f.id
		return tea.Tick(retryDelay(f.retries), func(time.Time) tea.Msg { return retryLoad{id: id} }), true
	}
	return nil, true
}

// screenIDs tags data messages with the screen (or fetcher) that asked, so a late answer never lands
// in another.
var screenIDs atomic.Int64

func nextScreenID() int64 { return screenIDs.Add(1) }

// loader coalesces reloads: while a load is in flight, further requests collapse into one more load
// after it, so a burst of notifications costs at most two queries.
type loader struct {
	loading bool
	dirty   bool
}

// start reports whether a load should begin now.
func (l *loader) start() bool {
	if l.loading {
		l.dirty = true
		return false
	}
	l.loading = true
	return true
}

// done ends a load and reports whether another is owed (the caller then reloads).
func (l *loader) done() bool {
	l.loading = false
	owed := l.dirty
	l.dirty = false
	return owed
}
