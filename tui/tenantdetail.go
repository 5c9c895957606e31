package tui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

var tenantDetailKeys = struct {
	Verify, SyncGroups, SyncRoles, SyncInventory, Backup, Groups, Roles, Runs, Open key.Binding
}{
	Verify:        binding("v", "start verification"),
	SyncGroups:    binding("s", "sync groups"),
	SyncRoles:     binding("S", "sync roles"),
	SyncInventory: binding("i", "sync inventory"),
	Backup:        binding("b", "backup now"),
	Groups:        binding("e", "groups (Entra)"),
	Roles:         binding("d", "role definitions"),
	Runs:          binding("l", "all runs"),
	Open:          binding("enter", "open run"),
}

// tenantDetail shows a tenant's connection and verification, its last run per type, and the
// actions the actor may take (the onboarding rules of docs/design.md#dashboard: while a verification runs, "Start
// verification" gives way to "Refresh").
type tenantDetail struct {
	env      *Env
	tenantID int64
	name     string
	fetch    fetcher[tenantDetailData]
	view     *engine.TenantView
	last     []store.Run // latest run of each type
	role     access.Role // the actor's role in the tenant's workspace: which actions it may take
	cache    engine.DirectoryCache
	ca       engine.CAStateCounts
	err      error
	table    table
	confirm  confirmer // a second backup while one runs waits for a y
	actions  tenantActions
}

// tenantDetailData is what one load of the tenant detail brings.
type tenantDetailData struct {
	view  engine.TenantView
	runs  []store.Run
	role  access.Role
	cache engine.DirectoryCache
	ca    engine.CAStateCounts
}

func newTenantDetail(c *Env, tenantID int64, name string) *tenantDetail {
	return &tenantDetail{env: c, tenantID: tenantID, name: name, fetch: newFetcher[tenantDetailData](), actions: newTenantActions(c, tenantID)}
}

func (s *tenantDetail) Title() string   { return dashIfEmpty(s.name) }
func (s *tenantDetail) Init() tea.Cmd   { return s.Reload() }
func (s *tenantDetail) Capturing() bool { return s.confirm.asking() || s.actions.capturing() }

// Relevant: any change of the tenant (its runs, its connection, its caches) shows here.
func (s *tenantDetail) Relevant(n store.Notification) bool { return n.TenantID == s.tenantID }

func (s *tenantDetail) Reload() tea.Cmd {
	c, tenantID := s.env, s.tenantID
	return s.fetch.start(c, func(ctx context.Context) (tenantDetailData, error) {
		v, err := c.Svc.GetTenantByID(ctx, c.Actor, tenantID)
		if err != nil {
			return tenantDetailData{}, err
		}
		runs, err := c.Svc.ListRuns(ctx, c.Actor, engine.RunQuery{TenantID: tenantID, Limit: 200})
		if err != nil {
			return tenantDetailData{}, err
		}
		// One role read offers every action; without it none is offered (the commands check again).
		role, _ := c.Svc.Role(ctx, c.Actor, v.WorkspaceID)
		cache, err := c.Svc.DirectoryCacheState(ctx, c.Actor, tenantID)
		if err != nil {
			return tenantDetailData{}, err
		}
		var ca engine.CAStateCounts
		if role.Can(access.InventorySync) {
			if ca, err = c.Svc.ConditionalAccessStates(ctx, c.Actor, tenantID); err != nil {
				return tenantDetailData{}, err
			}
		}
		return tenantDetailData{view: v, runs: runs, role: role, cache: cache, ca: ca}, nil
	})
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

func (s *tenantDetail) ShortHelp() []key.Binding {
	k := tenantDetailKeys
	verify := k.Verify
	if s.verificationActive() {
		verify.SetEnabled(false) // replaced by "r refresh" while it runs
	}
	verify.SetEnabled(verify.Enabled() && s.role.Can(access.ProviderVerify))
	groups, roles, inv, backup := k.SyncGroups, k.SyncRoles, k.SyncInventory, k.Backup
	groups.SetEnabled(s.role.Can(access.DirectorySync))
	roles.SetEnabled(s.role.Can(access.DirectorySync))
	inv.SetEnabled(s.role.Can(access.InventorySync))
	backup.SetEnabled(s.role.Can(access.BackupRun))
	out := []key.Binding{verify, groups, roles, inv, backup, k.Groups, k.Roles, k.Open, k.Runs}
	out = append(out, s.intuneBindings()...)
	if s.confirm.asking() {
		return []key.Binding{confirmKeys.Yes}
	}
	if s.actions.capturing() {
		return s.actions.bindings(s.role)
	}
	return append(out, s.actions.bindings(s.role)...)
}

func (s *tenantDetail) FullHelp() []key.Binding {
	if s.confirm.asking() {
		return []key.Binding{confirmKeys.Yes}
	}
	if s.actions.capturing() {
		return s.ShortHelp()
	}
	return append(s.ShortHelp(), navHelp()...)
}

func (s *tenantDetail) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if cmd, ok := s.actions.receive(msg, s.Reload); ok {
		return s, cmd
	}
	switch msg := msg.(type) {
	case loaded[tenantDetailData]:
		cmd, _ := s.fetch.receive(msg, &s.err, s.show, s.Reload)
		return s, cmd
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

// show keeps a load and draws the last run of each type into the table.
func (s *tenantDetail) show(d tenantDetailData) {
	s.view, s.role, s.cache, s.ca = &d.view, d.role, d.cache, d.ca
	s.name = d.view.Name
	s.last = latestPerType(d.runs)
	s.table.cols = []column{{title: "TYPE", width: 20, flex: true}, {title: "RUN", width: 6}, {title: "STATUS", width: 12},
		reasonColumn(14), {title: "AGE", width: 4}}
	s.table.rows = s.table.rows[:0]
	now := s.env.now()
	for _, r := range s.last {
		s.table.rows = append(s.table.rows, []string{r.Type, fmt.Sprint(r.ID), s.env.RunBadge(r), dashIfEmpty(deref(r.ReasonCode)), ago(now, r.CreatedAt)})
	}
	s.table.clampTo(len(s.last), s.tableHeight())
}

// tableHeight is roughly the room under the tenant's lines for the run table: what a page moves.
func (s *tenantDetail) tableHeight() int {
	_, h := s.env.size()
	return max(bodyHeight(h)-10, 3)
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
	slices.SortStableFunc(out, func(a, b store.Run) int { return cmp.Compare(a.Type, b.Type) })
	return out
}

func (s *tenantDetail) start(typ string, need access.Capability) tea.Cmd {
	if !s.role.Can(need) {
		return nil // not offered
	}
	return startRun(s.env, typ, s.tenantID)
}

// activeRun is the tenant's queued or running run of typ, if any.
func (s *tenantDetail) activeRun(typ string) (store.Run, bool) {
	for _, r := range s.last {
		if r.Type == typ && r.Active() {
			return r, true
		}
	}
	return store.Run{}, false
}

func (s *tenantDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.confirm.asking() {
		return s.confirm.answer(msg)
	}
	if cmd, ok := s.actions.key(msg, s.role); ok {
		return cmd
	}
	if s.table.moveKey(msg, len(s.last), s.tableHeight()) {
		return nil
	}
	if cmd, ok := s.intuneKey(msg); ok {
		return cmd
	}
	k := tenantDetailKeys
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
		if r, ok := s.activeRun(engine.TypeBackupRun); ok && s.role.Can(access.BackupRun) {
			s.confirm.ask(fmt.Sprintf("Backup run %d of %s is still %s. Start another? y to start, any other key to leave it", r.ID, s.name, r.Status),
				"no backup started", func() tea.Cmd { return startRun(s.env, engine.TypeBackupRun, s.tenantID) })
			return nil
		}
		return s.start(engine.TypeBackupRun, access.BackupRun)
	case key.Matches(msg, k.Groups):
		return navigate(newGroups(s.env, s.tenantID, s.name))
	case key.Matches(msg, k.Roles):
		return navigate(newRoles(s.env, s.tenantID, s.name))
	case key.Matches(msg, k.Runs):
		return navigate(newRuns(s.env, runsOptions{tab: allTab, tenantID: s.tenantID, title: "Runs of " + s.name}))
	case key.Matches(msg, k.Open):
		if s.table.cursor < len(s.last) {
			return navigate(newRunDetail(s.env, s.last[s.table.cursor].ID))
		}
	}
	return nil
}

func (s *tenantDetail) View(width, height int) string {
	t := s.env.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.view == nil {
		return t.Dim.Render("loading…")
	}
	v := s.view
	now := s.env.now()
	lines := []string{
		fit(t.Title.Render(v.Name)+t.Dim.Render(fmt.Sprintf("  %s · workspace %s", v.TenantGUID, v.WorkspaceName)), width),
	}
	if v.DisplayName != "" {
		lines = append(lines, fit(t.Dim.Render(v.DisplayName), width))
	}
	c := v.Connection
	conn := t.Header.Render("connection  ") + s.env.Badge(connectionBadgeKey(c))
	if c != nil {
		conn += t.Dim.Render(fmt.Sprintf("  client %s · %s", c.ClientID, c.AuthKind))
		if c.LastVerifiedAt != nil {
			conn += t.Dim.Render(" · last verification " + ago(now, *c.LastVerifiedAt) + " ago")
		}
	}
	lines = append(lines, fit(conn, width))
	if c != nil && c.StatusReasonCode != nil {
		code := reason.Code(*c.StatusReasonCode)
		lines = append(lines, fit(t.Header.Render("reason      ")+t.Error.Render(string(code)), width))
		lines = append(lines, labelled(t.Header.Render("hint        "), reason.Hint(code), width)...)
	}
	if c != nil && len(c.MissingPermissions) > 0 {
		lines = append(lines, labelled(t.Header.Render("missing     "), t.Error.Render(strings.Join(c.MissingPermissions, ", ")), width)...)
	}
	if c != nil && (c.Status == "blocked" || c.Status == "error") {
		lines = append(lines, fit(t.Header.Render("diagnose    ")+t.Key.Render("D")+" runs doctor's checks here"+
			t.Dim.Render("  (key, sign-in, permissions, Graph reachability: each with its fix; c replaces the credential)"), width))
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
		lines = append(lines, fit(t.Header.Render("secret      ")+s.env.Tone(tone, "expires "+c.SecretExpiresAt.Format("2006-01-02")), width))
	}
	lines = append(lines, s.actions.view(s.env, v.Name, width)...)
	if s.verificationActive() {
		lines = append(lines, fit(s.env.Tone("info", "● verification running — this screen updates when it ends"), width))
	}
	lines = append(lines, fit(t.Header.Render("groups      ")+cacheLine(s.env, "groups", s.cache.Groups), width),
		fit(t.Header.Render("roles       ")+cacheLine(s.env, "definitions", s.cache.RoleDefinitions), width))
	if s.ca.Inventoried {
		// Conditional Access policies by state, from the inventory: what is enforced right now.
		lines = append(lines, fit(t.Header.Render("CA policies ")+s.env.Tone("ok", fmt.Sprintf("%d on", s.ca.On))+
			t.Dim.Render(" · ")+s.env.Tone("warn", fmt.Sprintf("%d report-only", s.ca.ReportOnly))+t.Dim.Render(fmt.Sprintf(" · %d off", s.ca.Off)), width))
	}
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
		lines = append(lines, s.table.view(s.env, width, max(height-len(lines), 2)))
	}
	if q := s.confirm.view(t, width); q != "" {
		lines = append(lines[:min(len(lines), max(height-1, 0))], q)
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

var tenantIntuneKeys = struct{ Inventory, Backups key.Binding }{
	Inventory: binding("n", "inventory"),
	Backups:   binding("B", "backups"),
}

// intuneBindings are the keys into the tenant's Intune screens, offered only with the capability
// that views them.
func (s *tenantDetail) intuneBindings() []key.Binding {
	inv, bk := tenantIntuneKeys.Inventory, tenantIntuneKeys.Backups
	inv.SetEnabled(s.role.Can(access.InventorySync))
	bk.SetEnabled(s.role.Can(access.BackupRun))
	return []key.Binding{inv, bk}
}

// intuneKey handles the keys into the tenant's Intune screens.
func (s *tenantDetail) intuneKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, tenantIntuneKeys.Inventory) && s.role.Can(access.InventorySync):
		return navigate(newInventory(s.env, s.tenantID, s.name)), true
	case key.Matches(msg, tenantIntuneKeys.Backups) && s.role.Can(access.BackupRun):
		return navigate(newBackups(s.env, s.tenantID, 0, "Backups of "+s.name)), true
	}
	return nil, false
}
