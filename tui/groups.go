package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

var groupsKeys = struct{ Deleted, Sync, Copy key.Binding }{
	Deleted: binding("x", "show deleted"),
	Sync:    binding("s", "sync now"),
	Copy:    binding("y", "copy id"),
}

// groupsPage is how many groups one query loads; scrolling near the end loads the next page.
const groupsPage = 200

type groupsList = listScreen[store.Group, directorySide]

// newGroups shows a tenant's cached groups: searched in the database, staleness shown, "Sync now"
// (DB only: fresh data arrives through the sync run).
func newGroups(env *Env, tenantID int64, name string) *groupsList {
	return newList(env, listSpec[store.Group, directorySide]{
		title:    "Groups of " + name,
		relevant: func(n store.Notification) bool { return finishedSync(n, tenantID, engine.TypeDirectoryGroupsSync) },
		fetch: func(ctx context.Context, env *Env, q listQuery[store.Group]) ([]store.Group, directorySide, error) {
			gq := store.GroupQuery{Search: q.search, IncludeDeleted: q.deleted, Limit: groupsPage}
			if q.more {
				gq.AfterName, gq.AfterID = q.last.DisplayName, q.last.GraphID
			}
			rows, err := env.Svc.SearchGroups(ctx, env.Actor, tenantID, "", gq)
			if err != nil {
				return nil, directorySide{}, err
			}
			side, err := loadDirectorySide(ctx, env, tenantID, engine.TypeDirectoryGroupsSync)
			return rows, side, err
		},
		search: true,
		page:   groupsPage,
		columns: func(width int) []column {
			if width < 100 {
				return []column{{title: "NAME", flex: true}, {title: "TYPE", width: 18}, {title: "ID", width: 13}}
			}
			return []column{{title: "NAME", flex: true}, {title: "TYPE", width: 18}, {title: "ID", width: 36}}
		},
		row: func(env *Env, _ time.Time, g store.Group) []string {
			name := g.DisplayName
			if g.DeletedAt != nil {
				name = env.Theme.Dim.Render(name + " (deleted)")
			}
			return []string{name, groupKind(g), g.GraphID}
		},
		head: func(l *groupsList) string {
			head := cacheLine(l.env, "groups", l.side.cache.Groups)
			if l.side.running {
				head += "  " + l.env.Tone("info", "● sync running")
			}
			return withFilter(l, head)
		},
		empty: func(l *groupsList) string {
			if l.side.cache.Groups.SyncedAt != nil {
				return "  no cached group matches"
			}
			msg := "  The group cache is empty: it has never been synced."
			if l.side.canSync {
				msg += " Press s to sync now."
			}
			return msg
		},
		below: func(l *groupsList, _ int) []string {
			if l.exhausted {
				return nil
			}
			return []string{l.env.Theme.Dim.Render(fmt.Sprintf("  %d shown; scroll for more", len(l.all)))}
		},
		describe: func(_ *Env, g store.Group) [][2]string {
			out := [][2]string{{"name", g.DisplayName}, {"id", g.GraphID}, {"kind", groupKind(g)}}
			if len(g.GroupTypes) > 0 {
				out = append(out, [2]string{"types", strings.Join(g.GroupTypes, ", ")})
			}
			if g.MembershipRule != nil && *g.MembershipRule != "" {
				out = append(out, [2]string{"rule", *g.MembershipRule})
			}
			if g.DeletedAt != nil {
				out = append(out, [2]string{"deleted", g.DeletedAt.UTC().Format("2006-01-02 15:04")})
			}
			return out
		},
		actions: []listAction[store.Group, directorySide]{
			filterAction[store.Group, directorySide]("search"),
			deletedAction[store.Group, directorySide](groupsKeys.Deleted, "hide deleted"),
			{key: groupsKeys.Sync, offered: func(l *groupsList) bool { return l.side.canSync && !l.side.running },
				run: func(l *groupsList) tea.Cmd {
					l.side.running = true
					return startRun(l.env, engine.TypeDirectoryGroupsSync, tenantID)
				}},
			{key: groupsKeys.Copy, run: func(l *groupsList) tea.Cmd {
				g, ok := l.current()
				if !ok {
					return nil
				}
				return copyText(g.GraphID, "copied group id "+g.GraphID)
			}},
		},
	})
}

func groupKind(g store.Group) string {
	kind := "security"
	if slices.Contains(g.GroupTypes, "Unified") {
		kind = "microsoft 365"
	}
	if g.MembershipRule != nil && *g.MembershipRule != "" {
		kind += " ·dyn"
	}
	return kind
}
