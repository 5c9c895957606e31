package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var tenantDetailKeys = struct {
	Verify, SyncGroups, SyncRoles, SyncInventory, Backup, Groups, Roles, Runs, Up, Down, Open key.Binding
}{
	Verify:        binding("v", "start verification"),
	SyncGroups:    binding("s", "sync groups"),
	SyncRoles:     binding("S", "sync roles"),
	SyncInventory: binding("i", "sync inventory"),
	Backup:        binding("b", "backup now"),
	Groups:        binding("g", "groups"),
	Roles:         binding("d", "role definitions"),
	Runs:          binding("l", "all runs"),
	Up:            binding("k", "up", "up"),
	Down:          binding("j", "down", "down"),
	Open:          binding("enter", "open run"),
}

// tenantDetail shows a tenant's connection and verification, its last run per type, and the
// actions the actor may take (DESIGN §6 onboarding rules: while a verification runs, "Start
// verification" gives way to "Refresh").
type tenantDetail struct {
	ctx      *Context
	id       int64
	tenantID int64
	name     string
	load     loader
	view     *engine.TenantView
	last     []store.Run // latest run of each type
	caps     map[access.Capability]bool
	cache    engine.DirectoryCache
	err      error
	table    table
}

type tenantDetailLoadedMsg struct {
	id    int64
	view  engine.TenantView
	runs  []store.Run
	caps  map[access.Capability]bool
	cache engine.DirectoryCache
	err   error
}

func newTenantDetail(c *Context, tenantID int64, name string) *tenantDetail {
	return &tenantDetail{ctx: c, id: nextScreenID(), tenantID: tenantID, name: name}
}

func (s *tenantDetail) Title() string   { return dashIfEmpty(s.name) }
func (s *tenantDetail) Init() tea.Cmd   { return s.Reload() }
func (s *tenantDetail) Capturing() bool { return false }
func (s *tenantDetail) Relevant(n store.Notification) bool {
	return (n.Table == "operation_runs" && n.TenantID == s.tenantID) || n.TenantID == s.tenantID
}

func (s *tenantDetail) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, tenantID := s.ctx, s.id, s.tenantID
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		v, err := c.Svc.GetTenantByID(ctx, c.Actor, tenantID)
		if err != nil {
			return tenantDetailLoadedMsg{id: id, err: err}
		}
		runs, err := c.Svc.ListRuns(ctx, c.Actor, engine.RunQuery{TenantID: tenantID, Limit: 200})
		caps := map[access.Capability]bool{}
		for _, cp := range access.Capabilities {
			caps[cp] = c.Svc.Can(ctx, c.Actor, v.WorkspaceID, cp)
		}
		if err != nil {
			return tenantDetailLoadedMsg{id: id, err: err}
		}
		cache, err := c.Svc.DirectoryCacheState(ctx, c.Actor, tenantID)
		return tenantDetailLoadedMsg{id: id, view: v, runs: runs, caps: caps, cache: cache, err: err}
	}
}

// verificationActive reports whether a verification run is queued or running.
func (s *tenantDetail) verificationActive() bool {
	for _, r := range s.last {
		if r.Type == engine.TypeProviderVerification && r.Active() {
			return true
		}
	}
	return false
}

func (s *tenantDetail) Bindings() []key.Binding {
	k := tenantDetailKeys
	verify := k.Verify
	if s.verificationActive() {
		verify.SetEnabled(false) // replaced by "r refresh" while it runs
	}
	verify.SetEnabled(verify.Enabled() && s.caps[access.ProviderVerify])
	groups, roles, inv, backup := k.SyncGroups, k.SyncRoles, k.SyncInventory, k.Backup
	groups.SetEnabled(s.caps[access.DirectorySync])
	roles.SetEnabled(s.caps[access.DirectorySync])
	inv.SetEnabled(s.caps[access.InventorySync])
	backup.SetEnabled(s.caps[access.BackupRun])
	out := []key.Binding{verify, groups, roles, inv, backup, k.Groups, k.Roles, k.Open, k.Runs}
	out = append(out, s.intuneBindings()...)
	if s.verificationActive() {
		out = append([]key.Binding{binding("r", "refresh (verification running)")}, out...)
	}
	return out
}

func (s *tenantDetail) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tenantDetailLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.err = msg.err
		if msg.err == nil {
			s.view, s.caps, s.cache = &msg.view, msg.caps, msg.cache
			s.name = msg.view.Name
			s.last = latestPerType(msg.runs)
		}
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

func latestPerType(runs []store.Run) []store.Run {
	seen := map[string]bool{}
	var out []store.Run
	for _, r := range runs { // newest first
		if !seen[r.Type] {
			seen[r.Type] = true
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

func (s *tenantDetail) start(typ string, need access.Capability) tea.Cmd {
	if !s.caps[need] {
		return nil // not offered
	}
	return startRun(s.ctx, typ, s.tenantID)
}

func (s *tenantDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := s.intuneKey(msg); ok {
		return cmd
	}
	k := tenantDetailKeys
	h := s.ctx.Height
	switch {
	case key.Matches(msg, k.Verify):
		if s.verificationActive() {
			return s.Reload()
		}
		return s.start(engine.TypeProviderVerification, access.ProviderVerify)
	case key.Matches(msg, k.SyncGroups):
		return s.start(engine.TypeDirectoryGroupsSync, access.DirectorySync)
	case key.Matches(msg, k.SyncRoles):
		return s.start(engine.TypeDirectoryRoleDefsSync, access.DirectorySync)
	case key.Matches(msg, k.SyncInventory):
		return s.start(engine.TypeInventorySync, access.InventorySync)
	case key.Matches(msg, k.Backup):
		return s.start(engine.TypeBackupRun, access.BackupRun)
	case key.Matches(msg, k.Groups):
		return navigate(newGroups(s.ctx, s.tenantID, s.name))
	case key.Matches(msg, k.Roles):
		return navigate(newRoles(s.ctx, s.tenantID, s.name))
	case key.Matches(msg, k.Runs):
		return navigate(newRuns(s.ctx, runsOptions{tab: allTab, tenantID: s.tenantID, title: "Runs of " + s.name}))
	case key.Matches(msg, k.Up):
		s.table.move(-1, len(s.last), h)
	case key.Matches(msg, k.Down):
		s.table.move(1, len(s.last), h)
	case key.Matches(msg, k.Open):
		if s.table.cursor < len(s.last) {
			return navigate(newRunDetail(s.ctx, s.last[s.table.cursor].ID))
		}
	}
	return nil
}

func (s *tenantDetail) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.view == nil {
		return t.Dim.Render("loading…")
	}
	v := s.view
	now := s.ctx.now()
	lines := []string{
		fit(t.Title.Render(v.Name)+t.Dim.Render(fmt.Sprintf("  %s · workspace %s", v.TenantGUID, v.WorkspaceName)), width),
	}
	if v.DisplayName != "" {
		lines = append(lines, fit(t.Dim.Render(v.DisplayName), width))
	}
	c := v.Connection
	conn := t.Header.Render("connection  ") + s.ctx.Badge(connectionBadgeKey(c))
	if c != nil {
		conn += t.Dim.Render(fmt.Sprintf("  client %s · %s", c.ClientID, c.AuthKind))
		if c.LastVerifiedAt != nil {
			conn += t.Dim.Render(" · verified " + ago(now, *c.LastVerifiedAt) + " ago")
		}
	}
	lines = append(lines, fit(conn, width))
	if c != nil && len(c.MissingPermissions) > 0 {
		lines = append(lines, wrap(t.Header.Render("missing     ")+t.Error.Render(strings.Join(c.MissingPermissions, ", ")), width)...)
	}
	if c != nil && c.SecretExpiresAt != nil {
		left := c.SecretExpiresAt.Sub(now)
		tone := "ok"
		if left < 30*24*time.Hour {
			tone = "warn"
		}
		if left < 0 {
			tone = "bad"
		}
		lines = append(lines, fit(t.Header.Render("secret      ")+s.ctx.Tone(tone, "expires "+c.SecretExpiresAt.Format("2006-01-02")), width))
	}
	if s.verificationActive() {
		lines = append(lines, fit(s.ctx.Tone("info", "● verification running — press r to refresh"), width))
	}
	lines = append(lines, fit(t.Header.Render("groups      ")+cacheLine(s.ctx, "groups", s.cache.Groups), width),
		fit(t.Header.Render("roles       ")+cacheLine(s.ctx, "definitions", s.cache.RoleDefinitions), width))
	if res := verificationTable(c); len(res) > 0 {
		lines = append(lines, t.Header.Render("verification"))
		for _, l := range res {
			lines = append(lines, fit("  "+l, width))
		}
	}
	lines = append(lines, "", t.Header.Render("last run per type"))
	if len(s.last) == 0 {
		lines = append(lines, t.Dim.Render("  no runs yet — start one with the keys below"))
	} else {
		s.table.cols = []column{{title: "TYPE", width: 20, flex: true}, {title: "RUN", width: 6}, {title: "STATUS", width: 12},
			{title: "REASON", width: 14, flex: true}, {title: "AGE", width: 4}}
		s.table.rows = nil
		for _, r := range s.last {
			s.table.rows = append(s.table.rows, []string{r.Type, fmt.Sprint(r.ID), s.ctx.RunBadge(r), dashIfEmpty(deref(r.ReasonCode)), ago(now, r.CreatedAt)})
		}
		lines = append(lines, s.table.view(s.ctx, width, max(height-len(lines), 2)))
	}
	return strings.Join(lines, "\n")
}

// verificationTable renders the per-capability results stored on the connection.
func verificationTable(c *store.ProviderConnection) []string {
	if c == nil || len(c.Verification) == 0 {
		return nil
	}
	caps, _ := c.Verification["capabilities"].([]any)
	var out []string
	for _, raw := range caps {
		m, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		line := fmt.Sprintf("%-18v ", m["capability"])
		required, isSet := m["required"].(bool)
		switch m["status"] {
		case "ok":
			line += "✔ ok"
		case "missing":
			prefix := "✖ missing "
			if isSet && !required {
				prefix = "– optional, missing "
			}
			line += prefix + joinAny(m["missing"])
		case "probe_failed":
			line += "✖ probe failed: " + joinAny(m["failed_probes"])
		default:
			line += fmt.Sprint(m["status"])
		}
		out = append(out, line)
	}
	return out
}

func joinAny(v any) string {
	list, _ := v.([]any)
	names := make([]string, 0, len(list))
	for _, x := range list {
		names = append(names, fmt.Sprint(x))
	}
	return strings.Join(names, ", ")
}
