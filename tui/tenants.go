package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var tenantsKeys = struct{ Up, Down, Open, Filter, Add key.Binding }{
	Up:     binding("k", "up", "up"),
	Down:   binding("j", "down", "down"),
	Open:   binding("enter", "open"),
	Filter: binding("/", "filter"),
	Add:    binding("a", "add tenant"),
}

// tenants lists the tenants the actor may view with their connection status.
type tenants struct {
	ctx    *Context
	id     int64
	load   loader
	rows   []engine.TenantView
	canAdd bool
	err    error
	table  table
	filter filterField
}

type tenantsLoadedMsg struct {
	id     int64
	rows   []engine.TenantView
	canAdd bool
	err    error
}

func newTenants(c *Context) *tenants { return &tenants{ctx: c, id: nextScreenID()} }

func (s *tenants) Title() string   { return "Tenants" }
func (s *tenants) Init() tea.Cmd   { return s.Reload() }
func (s *tenants) Capturing() bool { return s.filter.typing }
func (s *tenants) Relevant(n store.Notification) bool {
	return n.Table == "tenants" || n.Table == "provider_connections"
}

func (s *tenants) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id := s.ctx, s.id
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		rows, err := c.Svc.ListTenants(ctx, c.Actor)
		canAdd := false
		if w, werr := c.Svc.ResolveWorkspace(ctx, c.Actor, ""); werr == nil {
			canAdd = c.Svc.Can(ctx, c.Actor, w.ID, access.TenantManage)
		}
		return tenantsLoadedMsg{id: id, rows: rows, canAdd: canAdd, err: err}
	}
}

func (s *tenants) Bindings() []key.Binding {
	add := tenantsKeys.Add
	add.SetEnabled(s.canAdd)
	return []key.Binding{tenantsKeys.Open, tenantsKeys.Filter, add}
}

func (s *tenants) visible() []engine.TenantView {
	return matching(&s.filter, s.rows, func(t engine.TenantView) string {
		return t.Name + " " + t.DisplayName + " " + t.TenantGUID + " " + t.WorkspaceName
	})
}

func (s *tenants) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tenantsLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.rows, s.canAdd, s.err = msg.rows, msg.canAdd, msg.err
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		if s.filter.typing {
			if s.filter.key(msg) {
				s.table.cursor = 0
			}
			return s, nil
		}
		h := s.ctx.Height - 5
		switch {
		case key.Matches(msg, tenantsKeys.Up):
			s.table.move(-1, len(s.visible()), h)
		case key.Matches(msg, tenantsKeys.Down):
			s.table.move(1, len(s.visible()), h)
		case key.Matches(msg, tenantsKeys.Filter):
			s.filter.typing = true
		case key.Matches(msg, tenantsKeys.Add) && s.canAdd:
			return s, navigate(newWizard(s.ctx))
		case key.Matches(msg, tenantsKeys.Open):
			rows := s.visible()
			if s.table.cursor < len(rows) {
				t := rows[s.table.cursor]
				return s, navigate(newTenantDetail(s.ctx, t.ID, t.Name))
			}
		}
	}
	return s, nil
}

func connectionBadgeKey(c *store.ProviderConnection) string {
	if c == nil {
		return "connection:none"
	}
	return "connection:" + c.Status
}

func (s *tenants) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	rows := s.visible()
	head := t.Header.Render(fmt.Sprintf("%d tenant(s)", len(rows)))
	if f := s.filter.label(t); f != "" {
		head += "   " + f
	}
	if len(s.rows) == 0 && !s.load.loading {
		return head + "\n\n" + t.Dim.Render("  No tenants yet. Add one with `tenantatlas tenants add` (see README: pointing at Microsoft Graph).")
	}
	s.table.cols = []column{{title: "TENANT", width: 14, flex: true}, {title: "WORKSPACE", width: 10}, {title: "CONNECTION", width: 15},
		{title: "MISSING PERMISSIONS", width: 20, flex: true}, {title: "VERIFIED", width: 8}}
	s.table.rows = nil
	now := s.ctx.now()
	for _, v := range rows {
		verified, missing := "-", ""
		if c := v.Connection; c != nil {
			if c.LastVerifiedAt != nil {
				verified = ago(now, *c.LastVerifiedAt) + " ago"
			}
			missing = strings.Join(c.MissingPermissions, ", ")
		}
		s.table.rows = append(s.table.rows, []string{v.Name, v.WorkspaceName, s.ctx.Badge(connectionBadgeKey(v.Connection)), missing, verified})
	}
	return head + "\n" + s.table.view(s.ctx, width, height-1)
}
