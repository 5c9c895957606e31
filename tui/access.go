package tui

import (
	"context"
	"sync"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/access"
)

// roleTTL is how long a dashboard trusts a role it read: screens reload on every change of what they
// show, and re-reading the role each time cost a query per workspace per load. A role changed meanwhile
// shows within roleTTL; the engine checks every command against the current role anyway.
const roleTTL = 30 * time.Second

// roleCache holds the actor's role per workspace for one dashboard (one session). Loads run in
// commands, side by side, so it is safe for concurrent use.
type roleCache struct {
	mu    sync.Mutex
	roles map[int64]cachedRole
}

type cachedRole struct {
	role access.Role // "" when the actor is no member (or the read failed): nothing is offered
	at   time.Time
}

// role is the actor's role in workspaceID, read at most once per roleTTL. It is what views use to
// offer actions; authorization stays in the engine (engine/access), which refuses what a role may not do.
func (c *Env) role(ctx context.Context, workspaceID int64) access.Role {
	rc := &c.roles
	rc.mu.Lock()
	if r, ok := rc.roles[workspaceID]; ok && time.Since(r.at) < roleTTL {
		rc.mu.Unlock()
		return r.role
	}
	rc.mu.Unlock()
	role, err := c.Svc.Role(ctx, c.Actor, workspaceID)
	if err != nil {
		role = ""
		if ctx.Err() != nil {
			return role // a cancelled read says nothing about the role: do not keep it
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.roles == nil {
		rc.roles = map[int64]cachedRole{}
	}
	rc.roles[workspaceID] = cachedRole{role: role, at: time.Now()}
	return role
}

// can reports whether the actor's role in workspaceID grants capability (see role).
func (c *Env) can(ctx context.Context, workspaceID int64, capability access.Capability) bool {
	return c.role(ctx, workspaceID).Can(capability)
}

// mayAddTenants reports whether the actor may add a tenant to its workspace (the one the wizard adds
// to): otherwise `:onboard` stays in the palette with the reason, as the a key is not offered.
func (c *Env) mayAddTenants() bool {
	ctx, cancel := c.callContext()
	defer cancel()
	w, err := c.Svc.ResolveWorkspace(ctx, c.Actor, "")
	return err == nil && c.can(ctx, w.ID, access.TenantManage)
}
