package tui

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// directorySide is what the directory lists (groups, role definitions) load beside their rows.
type directorySide struct {
	cache   engine.DirectoryCache
	canSync bool
	running bool // a sync of the list's collection is queued or running (asked for by groups only)
}

// loadDirectorySide reads the cache state of a tenant's directory, whether the actor may sync it and,
// when syncType is set, whether such a sync is active. The cache state must load; the rest only
// offers keys, and is left out when it cannot be read.
func loadDirectorySide(ctx context.Context, env *Env, tenantID int64, syncType string) (directorySide, error) {
	var side directorySide
	var err error
	if side.cache, err = env.Svc.DirectoryCacheState(ctx, env.Actor, tenantID); err != nil {
		return side, err
	}
	v, err := env.Svc.GetTenantByID(ctx, env.Actor, tenantID)
	if err != nil {
		return side, nil
	}
	side.canSync = env.can(ctx, v.WorkspaceID, access.DirectorySync)
	if syncType != "" {
		active, _ := env.Svc.ListRuns(ctx, env.Actor, engine.RunQuery{TenantID: tenantID, Types: []string{syncType},
			Statuses: []store.Status{store.StatusQueued, store.StatusRunning}, Limit: 1})
		side.running = len(active) > 0
	}
	return side, nil
}

// finishedSync reports whether n is a sync of typ for tenantID that stopped running: its collection
// may have changed.
func finishedSync(n store.Notification, tenantID int64, typ string) bool {
	return n.Table == store.TableRuns && n.TenantID == tenantID && n.Type == typ && n.Status != string(store.StatusRunning)
}

// startRun starts an operation for a tenant and reports the result in the status line.
func startRun(c *Env, typ string, tenantID int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		res, err := c.Svc.Start(ctx, c.Actor, engine.StartRequest{Type: typ, TenantID: tenantID})
		if err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		if !res.Created {
			return flashMsg{text: fmt.Sprintf("%s is already %s as run %d", typ, res.Run.Status, res.Run.ID)}
		}
		return flashMsg{text: fmt.Sprintf("started run %d (%s)", res.Run.ID, typ) + watchOnlyNote(c)}
	}
}

// watchOnlyNote tells a watch-only dashboard (no embedded engine) that a run it queued waits for an
// engine elsewhere.
func watchOnlyNote(c *Env) string {
	if c.EngineEmbedded {
		return ""
	}
	return " — watch only: no engine runs here, it starts when an engine (`tenantatlas engine`) picks it up"
}

// cacheLine renders a collection's freshness: count, when synced, badge.
func cacheLine(c *Env, what string, st store.SyncState) string {
	state := engine.Freshness(st, c.now())
	line := c.Badge("cache:" + state)
	if st.SyncedAt != nil {
		line += c.Theme.Dim.Render(fmt.Sprintf("  %d %s · synced %s ago", st.ItemCount, what, ago(c.now(), *st.SyncedAt)))
	}
	return line
}
