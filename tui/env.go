// Package tui is the TenantAtlas dashboard: a Bubble Tea v2 program, the same locally and over SSH.
//
// It renders from PostgreSQL only, through engine.Service (docs/architecture.md#dependency-rules): it never imports the
// Graph client. The root model routes messages to the active screen and handles only global keys;
// each screen is a small model of its own.
package tui

import (
	"context"
	"time"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// Env is the state every screen shares: who is looking, through which service, in which theme
// and at which size, and for how long.
type Env struct {
	Svc   *engine.Service
	Actor engine.Actor
	Theme Theme
	// Lifetime ends when the dashboard must stop: the SSH session's context, or the local program's.
	// Database calls derive from it, so a closed session cancels the queries it started. Nil means
	// context.Background().
	Lifetime context.Context
	// Subscribe returns a subscription to the process's notification hub; nil disables live updates.
	Subscribe func() *store.Subscription
	// Now is the clock (tests pin it).
	Now func() time.Time
	// Width and Height are the terminal size.
	Width, Height int
	// Live is false while the hub is reconnecting.
	Live bool
	// EngineEmbedded tells the header whether this process runs workers.
	EngineEmbedded bool

	roles roleCache // the actor's role per workspace, read once per roleTTL (access.go)
}

// callTimeout bounds one command's database calls: they are short, and a stuck one must not hold
// a screen's load open forever.
const callTimeout = 10 * time.Second

// callContext is the context for the database calls a command makes: the dashboard's lifetime,
// bounded by callTimeout.
func (c *Env) callContext() (context.Context, context.CancelFunc) {
	base := c.Lifetime
	if base == nil {
		base = context.Background()
	}
	return context.WithTimeout(base, callTimeout)
}

func (c *Env) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
