package tui

import (
	"encoding/json"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var rolesKeys = struct{ Up, Down, Filter, Open, Sync key.Binding }{
	Up:     binding("k", "up", "up"),
	Down:   binding("j", "down", "down"),
	Filter: binding("/", "search"),
	Open:   binding("enter", "permissions"),
	Sync:   binding("s", "sync now"),
}

// roles shows a tenant's cached directory role definitions and, for the selected one, its permissions.
type roles struct {
	ctx      *Context
	id       int64
	tenantID int64
	name     string
	load     loader
	rows     []store.RoleDefinition
	cache    engine.DirectoryCache
	canSync  bool
	err      error
	table    table
	filter   filterField
	expanded bool
}

type rolesLoadedMsg struct {
	id      int64
	rows    []store.RoleDefinition
	cache   engine.DirectoryCache
	canSync bool
	err     error
}

func newRoles(c *Context, tenantID int64, name string) *roles {
	return &roles{ctx: c, id: nextScreenID(), tenantID: tenantID, name: name}
}

func (s *roles) Title() string   { return "Role definitions of " + s.name }
func (s *roles) Init() tea.Cmd   { return s.Reload() }
func (s *roles) Capturing() bool { return s.filter.typing }
func (s *roles) Relevant(n store.Notification) bool {
	return n.Table == "operation_runs" && n.TenantID == s.tenantID && n.Type == engine.TypeDirectoryRoleDefsSync && n.Status != string(store.StatusRunning)
}

func (s *roles) Bindings() []key.Binding {
	sync := rolesKeys.Sync
	sync.SetEnabled(s.canSync)
	return []key.Binding{rolesKeys.Filter, rolesKeys.Open, sync}
}

func (s *roles) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, tenantID, search := s.ctx, s.id, s.tenantID, s.filter.String()
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		rows, err := c.Svc.RoleDefinitions(ctx, c.Actor, tenantID, "", search, false)
		if err != nil {
			return rolesLoadedMsg{id: id, err: err}
		}
		msg := rolesLoadedMsg{id: id, rows: rows}
		msg.cache, msg.err = c.Svc.DirectoryCacheState(ctx, c.Actor, tenantID)
		if v, err := c.Svc.GetTenantByID(ctx, c.Actor, tenantID); err == nil {
			msg.canSync = c.Svc.Can(ctx, c.Actor, v.WorkspaceID, access.DirectorySync)
		}
		return msg
	}
}

func (s *roles) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case rolesLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.err = msg.err
		if msg.err == nil {
			s.rows, s.cache, s.canSync = msg.rows, msg.cache, msg.canSync
		}
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		if s.filter.typing {
			if !s.filter.key(msg) {
				return s, nil
			}
			s.table.cursor = 0
			return s, s.Reload()
		}
		h := s.ctx.Height / 2
		switch {
		case key.Matches(msg, rolesKeys.Up):
			s.table.move(-1, len(s.rows), h)
		case key.Matches(msg, rolesKeys.Down):
			s.table.move(1, len(s.rows), h)
		case key.Matches(msg, rolesKeys.Filter):
			s.filter.typing = true
		case key.Matches(msg, rolesKeys.Open):
			s.expanded = !s.expanded
		case key.Matches(msg, rolesKeys.Sync):
			if s.canSync {
				return s, startRun(s.ctx, engine.TypeDirectoryRoleDefsSync, s.tenantID)
			}
		}
	}
	return s, nil
}

func (s *roles) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	head := cacheLine(s.ctx, "definitions", s.cache.RoleDefinitions)
	if f := s.filter.label(t); f != "" {
		head += "   " + f
	}
	lines := []string{fit(head, width)}
	if len(s.rows) == 0 {
		return strings.Join(append(lines, "", t.Dim.Render("  no cached role definition matches (press s to sync)")), "\n")
	}
	s.table.cols = []column{{title: "NAME", flex: true}, {title: "BUILT-IN", width: 8}, {title: "ENABLED", width: 7}, {title: "ACTIONS", width: 7}}
	s.table.rows = s.table.rows[:0]
	for _, d := range s.rows {
		s.table.rows = append(s.table.rows, []string{d.DisplayName, yesNo(deref(d.IsBuiltIn)), yesNo(deref(d.IsEnabled)),
			fmt.Sprint(len(roleActions(d)))})
	}
	tableHeight := height - 1
	var detail []string
	if s.expanded && s.table.cursor < len(s.rows) {
		d := s.rows[s.table.cursor]
		detail = append(detail, t.Header.Render("── "+d.DisplayName+" ──"))
		if d.Description != "" {
			detail = append(detail, wrap(t.Dim.Render(d.Description), width)...)
		}
		for _, a := range roleActions(d) {
			detail = append(detail, fit("  "+a, width))
		}
		tableHeight = max(height-1-min(len(detail), height/2), 3)
	}
	lines = append(lines, s.table.view(s.ctx, width, tableHeight))
	room := height - len(strings.Split(strings.Join(lines, "\n"), "\n"))
	if len(detail) > room {
		detail = append(detail[:max(room-1, 0)], t.Dim.Render(fmt.Sprintf("  … %d more", len(detail)-room+1)))
	}
	return strings.Join(append(lines, detail...), "\n")
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
