package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"
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
	id   int64
	load loader
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

// answer takes a message: ok is false unless it is this fetcher's answer; again reports that another
// load was asked for while this one ran (the caller then starts it).
func (f *fetcher[T]) answer(msg tea.Msg) (l loaded[T], ok, again bool) {
	l, ok = msg.(loaded[T])
	if !ok || l.id != f.id {
		return l, false, false
	}
	return l, true, f.load.done()
}

// loading reports whether a load is in flight.
func (f *fetcher[T]) loading() bool { return f.load.loading }
