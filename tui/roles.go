package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

var rolesKeys = struct{ Open, Sync key.Binding }{
	Open: binding("enter", "permissions"),
	Sync: binding("s", "sync now"),
}

type rolesList = listScreen[store.RoleDefinition, directorySide]

// newRoles shows a tenant's cached directory role definitions and, on enter, the selected one's
// permissions under the table.
func newRoles(env *Env, tenantID int64, name string) *rolesList {
	expanded := false
	return newList(env, listSpec[store.RoleDefinition, directorySide]{
		title:    "Role definitions of " + name,
		relevant: func(n store.Notification) bool { return finishedSync(n, tenantID, engine.TypeDirectoryRoleDefsSync) },
		fetch: func(ctx context.Context, env *Env, q listQuery[store.RoleDefinition]) ([]store.RoleDefinition, directorySide, error) {
			rows, err := env.Svc.RoleDefinitions(ctx, env.Actor, tenantID, "", q.search, false)
			if err != nil {
				return nil, directorySide{}, err
			}
			side, err := loadDirectorySide(ctx, env, tenantID, "")
			return rows, side, err
		},
		search: true,
		columns: func(int) []column {
			return []column{{title: "NAME", flex: true}, {title: "BUILT-IN", width: 8}, {title: "ENABLED", width: 7}, {title: "ACTIONS", width: 7}}
		},
		row: func(_ *Env, _ time.Time, d store.RoleDefinition) []string {
			return []string{d.DisplayName, yesNo(deref(d.IsBuiltIn)), yesNo(deref(d.IsEnabled)), fmt.Sprint(len(roleActions(d)))}
		},
		head: func(l *rolesList) string {
			return withFilter(l, cacheLine(l.env, "definitions", l.side.cache.RoleDefinitions))
		},
		empty: func(*rolesList) string { return "  no cached role definition matches (press s to sync)" },
		below: func(l *rolesList, width int) []string {
			d, ok := l.current()
			if !expanded || !ok {
				return nil
			}
			t := l.env.Theme
			detail := []string{t.Header.Render("── " + d.DisplayName + " ──")}
			if d.Description != "" {
				detail = append(detail, wrap(t.Dim.Render(d.Description), width)...)
			}
			for _, a := range roleActions(d) {
				detail = append(detail, fit("  "+a, width))
			}
			return detail
		},
		actions: []listAction[store.RoleDefinition, directorySide]{
			filterAction[store.RoleDefinition, directorySide]("search"),
			{key: rolesKeys.Open, run: func(*rolesList) tea.Cmd {
				expanded = !expanded
				return nil
			}},
			{key: rolesKeys.Sync, offered: func(l *rolesList) bool { return l.side.canSync },
				run: func(l *rolesList) tea.Cmd { return startRun(l.env, engine.TypeDirectoryRoleDefsSync, tenantID) }},
		},
	})
}

func roleActions(d store.RoleDefinition) []string {
	var perms []struct {
		AllowedResourceActions []string `json:"allowedResourceActions"`
	}
	_ = json.Unmarshal(d.RolePermissions, &perms)
	var out []string
	for _, p := range perms {
		out = append(out, p.AllowedResourceActions...)
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
