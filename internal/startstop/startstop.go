// Package startstop is the one lifecycle every background service of TenantAtlas follows (the
// engine, its scheduler, the notification hub, the SSH server), in River's startstop shape:
//
//   - Start(ctx) begins the service's work in the background and returns once it is running; a
//     second Start while it runs is refused with ErrAlreadyStarted.
//   - The work ends when ctx ends or Stop is called, whichever comes first: cancelling the start
//     context is a Stop, for every service alike.
//   - Stop returns once the work has ended. It is safe before Start, twice, and from several
//     goroutines at once; after it the service may be started again.
//
// A service holds a Base (an unexported field, so StartInit stays out of its API), calls StartInit
// at the top of its Start, runs its work under the context StartInit returns and calls stopped when
// the work (and its clean-up) has ended; its Stop is Base.Stop.
package startstop

import (
	"context"
	"errors"
	"sync"
)

// Service is a background service's lifecycle.
type Service interface {
	Start(ctx context.Context) error
	Stop()
}

// ErrAlreadyStarted is Start's answer while the service runs (callers name the service:
// "engine already started").
var ErrAlreadyStarted = errors.New("already started")

// Base implements Stop and guards Start for the service that holds it.
type Base struct {
	mu      sync.Mutex
	cancel  context.CancelFunc // non-nil from StartInit until stopped
	stopped chan struct{}      // closed by stopped; nil before the first start
}

// StartInit begins a start. ctx is the caller's context; the returned one ends when it does or
// when Stop is called, and the service runs its work under it. stopped must be called exactly once
// when the work has ended, including when Start fails after StartInit (Start then returns its
// error and the service is not running). A running service gets ErrAlreadyStarted.
func (b *Base) StartInit(ctx context.Context) (workCtx context.Context, stopped func(), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel != nil {
		return nil, nil, ErrAlreadyStarted
	}
	workCtx, b.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	b.stopped = done
	var once sync.Once
	return workCtx, func() {
		once.Do(func() {
			b.mu.Lock()
			if b.stopped == done {
				b.cancel()
				b.cancel = nil
			}
			b.mu.Unlock()
			close(done)
		})
	}, nil
}

// Stop ends the work and returns once it has ended. Before any start, and after the work ended,
// it returns at once.
func (b *Base) Stop() {
	b.mu.Lock()
	cancel, stopped := b.cancel, b.stopped
	b.mu.Unlock()
	if stopped == nil {
		return
	}
	if cancel != nil {
		cancel()
	}
	<-stopped
}

// Running reports whether the service has started and its work has not ended.
func (b *Base) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cancel != nil
}
