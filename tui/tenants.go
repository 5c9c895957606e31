package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var tenantsKeys = struct{ Open, Add key.Binding }{
	Open: binding("enter", "open"),
	Add:  binding("a", "add tenant"),
}

// tenantsList lists the tenants the actor may view with their connection status. Beside them it
// loads whether the actor may add one.
type tenantsList = listScreen[engine.TenantView, bool]

func newTenants(env *Env) *tenantsList {
	return newList(env, listSpec[engine.TenantView, bool]{
		title: "Tenants",
		relevant: func(n store.Notification) bool {
			return n.Table == store.TableTenants || n.Table == store.TableConnections
		},
		fetch: func(ctx context.Context, env *Env, _ listQuery[engine.TenantView]) ([]engine.TenantView, bool, error) {
			rows, err := env.Svc.ListTenants(ctx, env.Actor)
			canAdd := false
			if w, werr := env.Svc.ResolveWorkspace(ctx, env.Actor, ""); werr == nil {
				canAdd = env.Svc.Can(ctx, env.Actor, w.ID, access.TenantManage)
			}
			return rows, canAdd, err
		},
		columns: func(int) []column {
			return []column{{title: "TENANT", width: 14, flex: true}, {title: "WORKSPACE", width: 10}, {title: "CONNECTION", width: 15},
				{title: "MISSING PERMISSIONS", width: 20, flex: true, weight: 3}, {title: "VERIFIED", width: 8}}
		},
		row: func(env *Env, now time.Time, v engine.TenantView) []string {
			verified, missing := "-", ""
			if c := v.Connection; c != nil {
				if c.LastVerifiedAt != nil {
					verified = ago(now, *c.LastVerifiedAt) + " ago"
				}
				missing = strings.Join(c.MissingPermissions, ", ")
			}
			return []string{v.Name, v.WorkspaceName, env.Badge(connectionBadgeKey(v.Connection)), missing, verified}
		},
		match: func(t engine.TenantView) string {
			return t.Name + " " + t.DisplayName + " " + t.TenantGUID + " " + t.WorkspaceName
		},
		head: func(l *tenantsList) string {
			return withFilter(l, l.env.Theme.Header.Render(fmt.Sprintf("%d tenant(s)", len(l.shown))))
		},
		empty: func(l *tenantsList) string { return "  No tenants yet: " + noTenantsAdvice(l.side) },
		actions: []listAction[engine.TenantView, bool]{
			{key: tenantsKeys.Open, run: func(l *tenantsList) tea.Cmd {
				if t, ok := l.current(); ok {
					return navigate(newTenantDetail(l.env, t.ID, t.Name))
				}
				return nil
			}},
			filterAction[engine.TenantView, bool]("filter"),
			{key: tenantsKeys.Add, offered: func(l *tenantsList) bool { return l.side },
				run: func(l *tenantsList) tea.Cmd { return navigate(newWizard(l.env)) }},
		},
	})
}

// withFilter appends the list's filter label to a head line.
func withFilter[T, X any](l *listScreen[T, X], head string) string {
	if f := l.filterLabel(); f != "" {
		head += "   " + f
	}
	return head
}

func connectionBadgeKey(c *store.ProviderConnection) string {
	if c == nil {
		return "connection:none"
	}
	return "connection:" + c.Status
}
