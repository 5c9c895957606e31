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

var groupsKeys = struct{ Up, Down, Filter, Deleted, Sync, Copy key.Binding }{
	Up:      binding("k", "up", "up"),
	Down:    binding("j", "down", "down"),
	Filter:  binding("/", "search"),
	Deleted: binding("x", "show deleted"),
	Sync:    binding("s", "sync now"),
	Copy:    binding("y", "copy id"),
}

// groupsPage is how many groups one query loads; scrolling near the end loads the next page.
const groupsPage = 200

// groups shows a tenant's cached groups: searchable, staleness shown, "Sync now" (DB only: fresh
// data arrives through the sync run).
type groups struct {
	ctx      *Context
	id       int64
	tenantID int64
	name     string

	load        loader
	rows        []store.Group
	exhausted   bool
	cache       engine.DirectoryCache
	canSync     bool
	syncRunning bool
	err         error
	table       table
	filter      filterField
	deleted     bool
}

type groupsLoadedMsg struct {
	id       int64
	rows     []store.Group
	appended bool
	cache    engine.DirectoryCache
	canSync  bool
	running  bool
	err      error
}

func newGroups(c *Context, tenantID int64, name string) *groups {
	return &groups{ctx: c, id: nextScreenID(), tenantID: tenantID, name: name}
}

func (s *groups) Title() string   { return "Groups of " + s.name }
func (s *groups) Init() tea.Cmd   { return s.Reload() }
func (s *groups) Capturing() bool { return s.filter.typing }
func (s *groups) Relevant(n store.Notification) bool {
	return n.Table == "operation_runs" && n.TenantID == s.tenantID && n.Type == engine.TypeDirectoryGroupsSync && n.Status != string(store.StatusRunning)
}

func (s *groups) Bindings() []key.Binding {
	sync := groupsKeys.Sync
	sync.SetEnabled(s.canSync && !s.syncRunning)
	deleted := groupsKeys.Deleted
	if s.deleted {
		deleted.SetHelp("x", "hide deleted")
	}
	return []key.Binding{groupsKeys.Filter, deleted, sync, groupsKeys.Copy}
}

func (s *groups) Reload() tea.Cmd { return s.query(false) }

func (s *groups) query(more bool) tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, tenantID := s.ctx, s.id, s.tenantID
	q := store.GroupQuery{Search: s.filter.String(), IncludeDeleted: s.deleted, Limit: groupsPage}
	if more && len(s.rows) > 0 {
		last := s.rows[len(s.rows)-1]
		q.AfterName, q.AfterID = last.DisplayName, last.GraphID
	}
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		rows, err := c.Svc.SearchGroups(ctx, c.Actor, tenantID, "", q)
		if err != nil {
			return groupsLoadedMsg{id: id, err: err}
		}
		msg := groupsLoadedMsg{id: id, rows: rows, appended: more}
		if msg.cache, err = c.Svc.DirectoryCacheState(ctx, c.Actor, tenantID); err != nil {
			return groupsLoadedMsg{id: id, err: err}
		}
		if v, err := c.Svc.GetTenantByID(ctx, c.Actor, tenantID); err == nil {
			msg.canSync = c.Svc.Can(ctx, c.Actor, v.WorkspaceID, access.DirectorySync)
			active, _ := c.Svc.ListRuns(ctx, c.Actor, engine.RunQuery{TenantID: tenantID, Types: []string{engine.TypeDirectoryGroupsSync},
				Statuses: []store.Status{store.StatusQueued, store.StatusRunning}, Limit: 1})
			msg.running = len(active) > 0
		}
		return msg
	}
}

func (s *groups) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case groupsLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.err = msg.err
		if msg.err == nil {
			if msg.appended {
				s.rows = append(s.rows, msg.rows...)
			} else {
				s.rows = msg.rows
			}
			s.exhausted = len(msg.rows) < groupsPage
			s.cache, s.canSync, s.syncRunning = msg.cache, msg.canSync, msg.running
		}
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

func (s *groups) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.filter.typing {
		if !s.filter.key(msg) {
			return nil
		}
		s.table.cursor = 0
		return s.Reload()
	}
	h := s.ctx.Height - 6
	switch {
	case key.Matches(msg, groupsKeys.Up):
		s.table.move(-1, len(s.rows), h)
	case key.Matches(msg, groupsKeys.Down):
		s.table.move(1, len(s.rows), h)
		if !s.exhausted && s.table.cursor >= len(s.rows)-10 {
			return s.query(true)
		}
	case key.Matches(msg, groupsKeys.Filter):
		s.filter.typing = true
	case key.Matches(msg, groupsKeys.Deleted):
		s.deleted = !s.deleted
		return s.Reload()
	case key.Matches(msg, groupsKeys.Sync):
		if s.canSync && !s.syncRunning {
			s.syncRunning = true
			return startRun(s.ctx, engine.TypeDirectoryGroupsSync, s.tenantID)
		}
	case key.Matches(msg, groupsKeys.Copy):
		if s.table.cursor < len(s.rows) {
			id := s.rows[s.table.cursor].GraphID
			return tea.Batch(tea.SetClipboard(id), flash("copied group id "+id))
		}
	}
	return nil
}

// startRun starts an operation for a tenant and reports the result in the status line.
func startRun(c *Context, typ string, tenantID int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		res, err := c.Svc.Start(ctx, c.Actor, engine.StartRequest{Type: typ, TenantID: tenantID})
		if err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		if !res.Created {
			return flashMsg{text: fmt.Sprintf("%s is already %s as run %d", typ, res.Run.Status, res.Run.ID)}
		}
		return flashMsg{text: fmt.Sprintf("started run %d (%s)", res.Run.ID, typ)}
	}
}

// cacheLine renders a collection's freshness: count, when synced, badge.
func cacheLine(c *Context, what string, st store.SyncState) string {
	state := engine.Freshness(st, c.now())
	line := c.Badge("cache:" + state)
	if st.SyncedAt != nil {
		line += c.Theme.Dim.Render(fmt.Sprintf("  %d %s · synced %s ago", st.ItemCount, what, ago(c.now(), *st.SyncedAt)))
	}
	return line
}

func (s *groups) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	head := cacheLine(s.ctx, "groups", s.cache.Groups)
	if s.syncRunning {
		head += "  " + s.ctx.Tone("info", "● sync running")
	}
	if f := s.filter.label(t); f != "" {
		head += "   " + f
	}
	lines := []string{fit(head, width)}
	if len(s.rows) == 0 {
		if s.cache.Groups.SyncedAt == nil {
			msg := "  The group cache is empty: it has never been synced."
			if s.canSync {
				msg += " Press s to sync now."
			}
			return strings.Join(append(lines, "", t.Dim.Render(msg)), "\n")
		}
		return strings.Join(append(lines, "", t.Dim.Render("  no cached group matches")), "\n")
	}
	s.table.cols = []column{{title: "NAME", flex: true}, {title: "TYPE", width: 16}, {title: "ID", width: 36}}
	if width < 100 {
		s.table.cols = []column{{title: "NAME", flex: true}, {title: "TYPE", width: 16}, {title: "ID", width: 13}}
	}
	s.table.rows = s.table.rows[:0]
	for _, g := range s.rows {
		name := g.DisplayName
		if g.DeletedAt != nil {
			name = t.Dim.Render(name + " (deleted)")
		}
		s.table.rows = append(s.table.rows, []string{name, groupKind(g), g.GraphID})
	}
	more := ""
	if !s.exhausted {
		more = t.Dim.Render(fmt.Sprintf("  %d shown; scroll for more", len(s.rows)))
	}
	lines = append(lines, s.table.view(s.ctx, width, height-2))
	if more != "" {
		lines = append(lines, more)
	}
	return strings.Join(lines, "\n")
}

func groupKind(g store.Group) string {
	kind := "security"
	for _, t := range g.GroupTypes {
		if t == "Unified" {
			kind = "microsoft 365"
		}
	}
	if g.MembershipRule != nil && *g.MembershipRule != "" {
		kind += " ·dyn"
	}
	return kind
}
