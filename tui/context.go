// Package tui is the TenantAtlas dashboard: a Bubble Tea v2 program, the same locally and over SSH.
//
// It renders from PostgreSQL only, through engine.Service (DESIGN §3 rule 4): it never imports the
// Graph client. The root model routes messages to the active screen and handles only global keys;
// each screen is a small model of its own.
package tui

import (
	"context"
	"time"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// Context is the state every screen shares: who is looking, through which service, in which theme
// and at which size.
type Context struct {
	Svc   *engine.Service
	Actor engine.Actor
	Theme Theme
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
}

// ctx is the context for database calls made by commands. Calls are short; the hub and the program
// own the long-lived contexts.
func (c *Context) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (c *Context) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
