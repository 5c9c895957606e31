package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// Backups, schedules, drift and inventory screens (issue #6). All read PostgreSQL through
// engine.Service; sensitive sets carry the "sensitive" badge and their values never reach a view.

var backupsKeys = struct {
	Up, Down, Diff, Inventory, Schedules key.Binding
}{
	Up:        binding("k", "up", "up"),
	Down:      binding("j", "down", "down"),
	Diff:      binding("enter", "drift vs previous set"),
	Inventory: binding("i", "drift vs inventory"),
	Schedules: binding("s", "schedules"),
}

// backups lists backup sets, newest first (all tenants, one tenant, or one schedule).
type backups struct {
	ctx        *Context
	id         int64
	tenantID   int64
	scheduleID int64
	title      string
	load       loader
	rows       []store.BackupSet
	err        error
	table      table
}

type backupsLoadedMsg struct {
	id   int64
	rows []store.BackupSet
	err  error
}

func newBackups(c *Context, tenantID, scheduleID int64, title string) *backups {
	if title == "" {
		title = "Backups"
	}
	return &backups{ctx: c, id: nextScreenID(), tenantID: tenantID, scheduleID: scheduleID, title: title}
}

func (s *backups) Title() string   { return s.title }
func (s *backups) Init() tea.Cmd   { return s.Reload() }
func (s *backups) Capturing() bool { return false }
func (s *backups) Relevant(n store.Notification) bool {
	return n.Table == "backup_sets"
}

func (s *backups) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, q := s.ctx, s.id, engine.BackupQuery{TenantID: s.tenantID, ScheduleID: s.scheduleID, Limit: 500}
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		rows, err := c.Svc.ListBackupSets(ctx, c.Actor, q)
		return backupsLoadedMsg{id: id, rows: rows, err: err}
	}
}

func (s *backups) Bindings() []key.Binding {
	k := backupsKeys
	return []key.Binding{k.Diff, k.Inventory, k.Schedules}
}

// previousSet is the newest complete set of the same tenant older than rows[i].
func (s *backups) previousSet(i int) *store.BackupSet {
	for j := i + 1; j < len(s.rows); j++ {
		if s.rows[j].TenantID == s.rows[i].TenantID && s.rows[j].Status == store.BackupComplete {
			return &s.rows[j]
		}
	}
	return nil
}

func (s *backups) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case backupsLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.rows, s.err = msg.rows, msg.err
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		h := s.ctx.Height - 5
		k := backupsKeys
		switch {
		case key.Matches(msg, k.Up):
			s.table.move(-1, len(s.rows), h)
		case key.Matches(msg, k.Down):
			s.table.move(1, len(s.rows), h)
		case key.Matches(msg, k.Schedules):
			return s, navigate(newSchedules(s.ctx))
		case key.Matches(msg, k.Diff), key.Matches(msg, k.Inventory):
			if s.table.cursor >= len(s.rows) {
				return s, nil
			}
			cur := s.rows[s.table.cursor]
			if key.Matches(msg, k.Inventory) {
				return s, navigate(newDrift(s.ctx, cur.ID, 0))
			}
			prev := s.previousSet(s.table.cursor)
			if prev == nil {
				return s, flash(fmt.Sprintf("set %d is the oldest complete set of %s: press i to compare it with the inventory", cur.ID, cur.TenantName))
			}
			return s, navigate(newDrift(s.ctx, prev.ID, cur.ID))
		}
	}
	return s, nil
}

func backupBadgeKey(b store.BackupSet) string {
	switch b.Status {
	case store.BackupComplete:
		return string(store.OutcomeSucceeded)
	case store.BackupFailed:
		return string(store.OutcomeFailed)
	}
	return string(store.StatusRunning)
}

func (s *backups) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	head := t.Header.Render(fmt.Sprintf("%d backup set(s)", len(s.rows)))
	if len(s.rows) == 0 && !s.load.loading {
		return head + "\n\n" + t.Dim.Render("  No backups yet. Press b on a tenant, run `tenantatlas backups run TENANT`, or add a schedule.")
	}
	s.table.cols = []column{{title: "SET", width: 5}, {title: "TENANT", width: 10, flex: true}, {title: "SCHEDULE", width: 10, flex: true},
		{title: "STATUS", width: 11}, {title: "ITEMS", width: 5}, {title: "NEW", width: 9}, {title: "", width: 11}, {title: "AGE", width: 4}}
	s.table.rows = nil
	now := s.ctx.now()
	for _, b := range s.rows {
		sens := ""
		if b.Sensitive {
			sens = s.ctx.Badge("sensitive")
		}
		sched := b.ScheduleName
		if sched == "" {
			sched = "manual"
		}
		s.table.rows = append(s.table.rows, []string{fmt.Sprint(b.ID), b.TenantName, sched, s.ctx.Badge(backupBadgeKey(b)),
			fmt.Sprint(b.ItemCount), humanSize(b.NewBytes), sens, ago(now, b.CreatedAt)})
	}
	return head + "\n" + s.table.view(s.ctx, width, height-1)
}

func humanSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/1024/1024)
}

var schedulesKeys = struct {
	Up, Down, Open, Pause key.Binding
}{
	Up:    binding("k", "up", "up"),
	Down:  binding("j", "down", "down"),
	Open:  binding("enter", "its backups"),
	Pause: binding("p", "pause/resume"),
}

// schedules lists backup schedules with their next fire times (computed here, from cron + zone).
type schedules struct {
	ctx    *Context
	id     int64
	load   loader
	rows   []engine.ScheduleView
	manage map[int64]bool // workspace → schedule.manage
	err    error
	table  table
}

type schedulesLoadedMsg struct {
	id     int64
	rows   []engine.ScheduleView
	manage map[int64]bool
	err    error
}

func newSchedules(c *Context) *schedules { return &schedules{ctx: c, id: nextScreenID()} }

func (s *schedules) Title() string   { return "Schedules" }
func (s *schedules) Init() tea.Cmd   { return s.Reload() }
func (s *schedules) Capturing() bool { return false }
func (s *schedules) Relevant(n store.Notification) bool {
	return n.Table == "backup_schedules" || (n.Table == "operation_runs" && n.Type == engine.TypeBackupScheduled)
}

func (s *schedules) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id := s.ctx, s.id
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		rows, err := c.Svc.ListSchedules(ctx, c.Actor, 0)
		manage := map[int64]bool{}
		for _, r := range rows {
			if _, ok := manage[r.WorkspaceID]; !ok {
				manage[r.WorkspaceID] = c.Svc.Can(ctx, c.Actor, r.WorkspaceID, access.ScheduleManage)
			}
		}
		return schedulesLoadedMsg{id: id, rows: rows, manage: manage, err: err}
	}
}

func (s *schedules) canManage() bool {
	for _, ok := range s.manage {
		if ok {
			return true
		}
	}
	return false
}

func (s *schedules) Bindings() []key.Binding {
	k := schedulesKeys
	pause := k.Pause
	pause.SetEnabled(s.canManage())
	return []key.Binding{k.Open, pause}
}

func (s *schedules) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case schedulesLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.rows, s.manage, s.err = msg.rows, msg.manage, msg.err
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		h := s.ctx.Height - 5
		k := schedulesKeys
		switch {
		case key.Matches(msg, k.Up):
			s.table.move(-1, len(s.rows), h)
		case key.Matches(msg, k.Down):
			s.table.move(1, len(s.rows), h)
		case key.Matches(msg, k.Open) && s.table.cursor < len(s.rows):
			r := s.rows[s.table.cursor]
			return s, navigate(newBackups(s.ctx, r.TenantID, r.ID, "Backups of "+r.Name))
		case key.Matches(msg, k.Pause) && s.table.cursor < len(s.rows):
			r := s.rows[s.table.cursor]
			if !s.manage[r.WorkspaceID] {
				return s, nil // not offered
			}
			c := s.ctx
			return s, func() tea.Msg {
				ctx, cancel := c.ctx()
				defer cancel()
				ref := fmt.Sprint(r.ID)
				var err error
				if r.Paused {
					_, err = c.Svc.ResumeSchedule(ctx, c.Actor, ref)
				} else {
					_, err = c.Svc.PauseSchedule(ctx, c.Actor, ref)
				}
				if err != nil {
					return flashMsg{text: err.Error(), isErr: true}
				}
				verb := "paused"
				if r.Paused {
					verb = "resumed"
				}
				return flashMsg{text: fmt.Sprintf("schedule %s %s", r.Name, verb)}
			}
		}
	}
	return s, nil
}

func (s *schedules) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	head := t.Header.Render(fmt.Sprintf("%d schedule(s)", len(s.rows)))
	if len(s.rows) == 0 && !s.load.loading {
		return head + "\n\n" + t.Dim.Render("  No schedules. Add one with `tenantatlas schedules add --tenant T --name N --cron '0 3 * * *'`.")
	}
	s.table.cols = []column{{title: "NAME", width: 10, flex: true}, {title: "TENANT", width: 10, flex: true}, {title: "CRON", width: 12},
		{title: "ZONE", width: 13}, {title: "KEEP", width: 5}, {title: "NEXT FIRE", width: 18}, {title: "LAST RUN", width: 11}}
	s.table.rows = nil
	now := s.ctx.now()
	for _, r := range s.rows {
		next := s.ctx.Badge("paused")
		if !r.Paused {
			next = "-"
			if spec, err := engine.ParseCronSpec(r.Cron, r.Timezone); err == nil {
				if at := spec.Next(now); !at.IsZero() {
					next = at.In(spec.Location).Format("01-02 15:04") + " in " + compact(at.Sub(now))
				}
			}
		}
		keep := "all"
		switch {
		case r.KeepCount != nil && r.KeepDays != nil:
			keep = fmt.Sprintf("%d/%dd", *r.KeepCount, *r.KeepDays)
		case r.KeepCount != nil:
			keep = fmt.Sprint(*r.KeepCount)
		case r.KeepDays != nil:
			keep = fmt.Sprintf("%dd", *r.KeepDays)
		}
		last := "-"
		if r.LastRun != nil {
			last = s.ctx.RunBadge(*r.LastRun)
			if r.LastRun.IsLate {
				last += " " + s.ctx.Badge("late")
			}
		}
		s.table.rows = append(s.table.rows, []string{r.Name, r.TenantName, r.Cron, r.Timezone, keep, next, last})
	}
	return head + "\n" + s.table.view(s.ctx, width, height-1)
}

var driftKeys = struct{ Up, Down, PageDown, PageUp key.Binding }{
	Up:       binding("k", "scroll up", "up"),
	Down:     binding("j", "scroll down", "down"),
	PageDown: binding("f", "page down", "pgdown"),
	PageUp:   binding("b", "page up", "pgup"),
}

// drift shows the per-item, field-level differences between two sets (or a set and the inventory).
type drift struct {
	ctx      *Context
	id       int64
	from, to int64
	load     loader
	d        *engine.Drift
	err      error
	offset   int
}

type driftLoadedMsg struct {
	id  int64
	d   engine.Drift
	err error
}

func newDrift(c *Context, from, to int64) *drift {
	return &drift{ctx: c, id: nextScreenID(), from: from, to: to}
}

func (s *drift) Title() string {
	if s.to == 0 {
		return fmt.Sprintf("Drift %d → inventory", s.from)
	}
	return fmt.Sprintf("Drift %d → %d", s.from, s.to)
}
func (s *drift) Init() tea.Cmd                    { return s.Reload() }
func (s *drift) Capturing() bool                  { return false }
func (s *drift) Relevant(store.Notification) bool { return false }
func (s *drift) Bindings() []key.Binding {
	return []key.Binding{driftKeys.Down, driftKeys.Up, driftKeys.PageDown, driftKeys.PageUp}
}

func (s *drift) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, from, to := s.ctx, s.id, s.from, s.to
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		d, err := c.Svc.DiffBackups(ctx, c.Actor, from, to)
		return driftLoadedMsg{id: id, d: d, err: err}
	}
}

func (s *drift) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case driftLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		s.load.done()
		s.err = msg.err
		if msg.err == nil {
			s.d = &msg.d
		}
	case tea.KeyPressMsg:
		page := max(s.ctx.Height-6, 1)
		switch {
		case key.Matches(msg, driftKeys.Down):
			s.offset++
		case key.Matches(msg, driftKeys.Up):
			s.offset--
		case key.Matches(msg, driftKeys.PageDown):
			s.offset += page
		case key.Matches(msg, driftKeys.PageUp):
			s.offset -= page
		}
		s.offset = max(s.offset, 0)
	}
	return s, nil
}

func driftSide(side engine.DriftSide) string {
	if side.Kind == "inventory" {
		return "inventory of " + side.Tenant
	}
	return fmt.Sprintf("set %d of %s (%s)", side.SetID, side.Tenant, side.At.UTC().Format("2006-01-02 15:04"))
}

func (s *drift) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.d == nil {
		return t.Dim.Render("comparing…")
	}
	d := s.d
	head := []string{
		fit(t.Header.Render("from ")+driftSide(d.From), width),
		fit(t.Header.Render("to   ")+driftSide(d.To), width),
		fit(fmt.Sprintf("%s  %s  %s  %s",
			s.ctx.Tone("warn", fmt.Sprintf("~ %d changed", d.Changed)), s.ctx.Tone("ok", fmt.Sprintf("+ %d added", d.Added)),
			s.ctx.Tone("bad", fmt.Sprintf("- %d removed", d.Removed)), t.Dim.Render(fmt.Sprintf("%d unchanged", d.Unchanged))), width),
	}
	var body []string
	if len(d.Items) == 0 {
		body = append(body, t.Dim.Render("  no drift"))
	}
	for _, it := range d.Items {
		mark, tone := "~", "warn"
		switch it.Status {
		case engine.DriftAdded:
			mark, tone = "+", "ok"
		case engine.DriftRemoved:
			mark, tone = "-", "bad"
		}
		line := s.ctx.Tone(tone, mark+" "+dashIfEmpty(it.DisplayName)) + t.Dim.Render("  "+it.Family+"/"+it.PolicyType)
		if it.Sensitive {
			line += " " + s.ctx.Badge("sensitive")
		}
		body = append(body, fit(line, width))
		for _, c := range it.Changes {
			body = append(body, fit("    "+c.Path+": "+t.Dim.Render(dashIfEmpty(c.From))+" → "+dashIfEmpty(c.To), width))
		}
		if it.Truncated {
			body = append(body, t.Dim.Render("    … more changes"))
		}
	}
	visible := max(height-len(head)-1, 1)
	s.offset = min(s.offset, max(len(body)-visible, 0))
	end := min(s.offset+visible, len(body))
	return strings.Join(head, "\n") + "\n\n" + strings.Join(body[s.offset:end], "\n")
}

var inventoryKeys = struct{ Up, Down, Filter, Deleted key.Binding }{
	Up:      binding("k", "up", "up"),
	Down:    binding("j", "down", "down"),
	Filter:  binding("/", "filter"),
	Deleted: binding("d", "show/hide deleted"),
}

// inventory lists a tenant's Intune objects with their classification.
type inventory struct {
	ctx      *Context
	id       int64
	tenantID int64
	name     string
	load     loader
	rows     []store.InventoryItem
	counts   []store.InventoryTypeCount
	deleted  bool
	err      error
	table    table
	filter   filterField
}

type inventoryLoadedMsg struct {
	id     int64
	rows   []store.InventoryItem
	counts []store.InventoryTypeCount
	err    error
}

func newInventory(c *Context, tenantID int64, name string) *inventory {
	return &inventory{ctx: c, id: nextScreenID(), tenantID: tenantID, name: name}
}

func (s *inventory) Title() string   { return "Inventory of " + s.name }
func (s *inventory) Init() tea.Cmd   { return s.Reload() }
func (s *inventory) Capturing() bool { return s.filter.typing }
func (s *inventory) Relevant(n store.Notification) bool {
	return n.Table == "operation_runs" && n.TenantID == s.tenantID && n.Type == engine.TypeInventorySync && n.Status == string(store.StatusCompleted)
}
func (s *inventory) Bindings() []key.Binding {
	return []key.Binding{inventoryKeys.Filter, inventoryKeys.Deleted}
}

func (s *inventory) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, tenantID, q := s.ctx, s.id, s.tenantID, engine.InventoryQuery{IncludeDeleted: s.deleted, Limit: 5000}
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		rows, err := c.Svc.ListInventory(ctx, c.Actor, tenantID, q)
		if err != nil {
			return inventoryLoadedMsg{id: id, err: err}
		}
		counts, err := c.Svc.InventorySummary(ctx, c.Actor, tenantID)
		return inventoryLoadedMsg{id: id, rows: rows, counts: counts, err: err}
	}
}

func (s *inventory) visible() []store.InventoryItem {
	return matching(&s.filter, s.rows, func(it store.InventoryItem) string {
		return it.DisplayName + " " + it.Family + " " + it.PolicyType + " " + it.ODataType
	})
}

func (s *inventory) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case inventoryLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.rows, s.counts, s.err = msg.rows, msg.counts, msg.err
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
		h := s.ctx.Height - 6
		switch {
		case key.Matches(msg, inventoryKeys.Up):
			s.table.move(-1, len(s.visible()), h)
		case key.Matches(msg, inventoryKeys.Down):
			s.table.move(1, len(s.visible()), h)
		case key.Matches(msg, inventoryKeys.Filter):
			s.filter.typing = true
		case key.Matches(msg, inventoryKeys.Deleted):
			s.deleted = !s.deleted
			return s, s.Reload()
		}
	}
	return s, nil
}

func (s *inventory) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	rows := s.visible()
	var live, unknown int64
	types := 0
	for _, c := range s.counts {
		live += c.Count
		if c.PolicyType == intune.PolicyTypeUnknown {
			unknown += c.Count
		}
		if c.Count > 0 {
			types++
		}
	}
	head := t.Header.Render(fmt.Sprintf("%d object(s) in %d policy types", live, types))
	if unknown > 0 {
		head += "  " + s.ctx.Tone("warn", fmt.Sprintf("%d of unknown type", unknown))
	}
	if f := s.filter.label(t); f != "" {
		head += "   " + f
	}
	if len(s.rows) == 0 && !s.load.loading {
		return head + "\n\n" + t.Dim.Render("  Nothing synced yet: press i on the tenant or run `tenantatlas sync inventory "+s.name+"`.")
	}
	s.table.cols = []column{{title: "NAME", width: 16, flex: true}, {title: "TYPE", width: 22}, {title: "FAMILY", width: 16, flex: true},
		{title: "MODIFIED", width: 10}, {title: "STATE", width: 8}}
	s.table.rows = nil
	for _, it := range rows {
		state := "live"
		switch {
		case it.DeletedAt != nil:
			state = "deleted"
		case it.IsDefault:
			state = "default"
		}
		mod := "-"
		if it.LastModified != nil {
			mod = it.LastModified.UTC().Format("2006-01-02")
		}
		pt := it.PolicyType
		if pt == intune.PolicyTypeUnknown {
			pt = s.ctx.Tone("warn", pt)
		}
		s.table.rows = append(s.table.rows, []string{dashIfEmpty(it.DisplayName), pt, it.Family, mod, state})
	}
	return head + "\n" + s.table.view(s.ctx, width, height-1)
}

// backupsPaletteCommands are the `:` commands of this file's screens.
func backupsPaletteCommands() []paletteCommand {
	return []paletteCommand{
		{name: "backups", usage: "backups [TENANT]", help: "backup sets; enter shows the drift to the previous set",
			args: tenantNames,
			run: func(c *Context, arg string) (tea.Cmd, error) {
				if arg == "" {
					return navigate(newBackups(c, 0, 0, "")), nil
				}
				ctx, cancel := c.ctx()
				defer cancel()
				t, err := c.Svc.GetTenant(ctx, c.Actor, arg)
				if err != nil {
					return nil, err
				}
				return navigate(newBackups(c, t.ID, 0, "Backups of "+t.Name)), nil
			}},
		{name: "schedules", usage: "schedules", help: "backup schedules with their next fire times",
			run: func(c *Context, _ string) (tea.Cmd, error) { return navigate(newSchedules(c)), nil }},
		{name: "inventory", usage: "inventory TENANT", help: "a tenant's Intune inventory, classified by type",
			args: tenantNames,
			run: func(c *Context, arg string) (tea.Cmd, error) {
				if arg == "" {
					return nil, fmt.Errorf("usage: :inventory TENANT")
				}
				ctx, cancel := c.ctx()
				defer cancel()
				t, err := c.Svc.GetTenant(ctx, c.Actor, arg)
				if err != nil {
					return nil, err
				}
				return navigate(newInventory(c, t.ID, t.Name)), nil
			}},
	}
}

var tenantIntuneKeys = struct{ Inventory, Backups key.Binding }{
	Inventory: binding("n", "inventory"),
	Backups:   binding("B", "backups"),
}

// intuneBindings are tenant detail's keys into this file's screens, offered only with the
// capability that views them.
func (s *tenantDetail) intuneBindings() []key.Binding {
	inv, bk := tenantIntuneKeys.Inventory, tenantIntuneKeys.Backups
	inv.SetEnabled(s.caps[access.InventorySync])
	bk.SetEnabled(s.caps[access.BackupRun])
	return []key.Binding{inv, bk}
}

// intuneKey handles tenant detail's keys into this file's screens.
func (s *tenantDetail) intuneKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, tenantIntuneKeys.Inventory) && s.caps[access.InventorySync]:
		return navigate(newInventory(s.ctx, s.tenantID, s.name)), true
	case key.Matches(msg, tenantIntuneKeys.Backups) && s.caps[access.BackupRun]:
		return navigate(newBackups(s.ctx, s.tenantID, 0, "Backups of "+s.name)), true
	}
	return nil, false
}
