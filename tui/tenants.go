package tui

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// tenantsKeys: v, s, S, i and b mean what they mean on the tenant detail, for the marked tenants.
var tenantsKeys = struct{ Open, Add, Verify, SyncGroups, SyncRoles, SyncInventory, Backup key.Binding }{
	Open:          binding("enter", "open"),
	Add:           binding("a", "add tenant"),
	Verify:        binding("v", "verify"),
	SyncGroups:    binding("s", "sync groups"),
	SyncRoles:     binding("S", "sync roles"),
	SyncInventory: binding("i", "sync inventory"),
	Backup:        binding("b", "backup now"),
}

// tenantRow is one tenant of the tenants screen with its health columns.
type tenantRow struct {
	engine.TenantView
	health store.FleetHealth
}

// tenantsSide is what the tenants screen loads beside its rows: whether the actor may add a
// tenant, and its role in each workspace of the rows (which fleet starts it is offered).
type tenantsSide struct {
	canAdd bool
	roles  map[int64]access.Role
}

// mayAny reports whether the actor's role in any workspace of the rows grants capability: otherwise
// the start is not offered (the engine authorizes each tenant again).
func (s tenantsSide) mayAny(capability access.Capability) bool {
	for _, r := range s.roles {
		if r.Can(capability) {
			return true
		}
	}
	return false
}

// tenantsList lists the tenants the actor may view with their connection and health, marks them,
// and starts syncs, verifications and backups for the marked ones (or the selected one).
type tenantsList = listScreen[tenantRow, tenantsSide]

func newTenants(env *Env) *tenantsList {
	styles := styleMemo{}
	return newList(env, listSpec[tenantRow, tenantsSide]{
		title: "Tenants",
		relevant: func(n store.Notification) bool {
			// A run matters once it finished: only then can it change a health column.
			return n.Table == store.TableTenants || n.Table == store.TableConnections ||
				(n.Table == store.TableRuns && n.Status == string(store.StatusCompleted))
		},
		fetch:   fetchTenants,
		columns: tenantColumns,
		row:     func(env *Env, now time.Time, v tenantRow) []string { return tenantCells(env, styles, now, v) },
		match: func(t tenantRow) string {
			return t.Name + " " + t.DisplayName + " " + t.TenantGUID + " " + t.WorkspaceName + " " + strings.Join(t.Tags, " ")
		},
		mark:  func(t tenantRow) int64 { return t.ID },
		sorts: tenantSorts,
		head: func(l *tenantsList) string {
			return withFilter(l, l.env.Theme.Header.Render(fmt.Sprintf("%d tenant(s)", len(l.shown))))
		},
		empty: func(l *tenantsList) string { return "  No tenants yet: " + noTenantsAdvice(l.side.canAdd) },
		actions: []listAction[tenantRow, tenantsSide]{
			{key: tenantsKeys.Open, run: func(l *tenantsList) tea.Cmd {
				if t, ok := l.current(); ok {
					return navigate(newTenantDetail(l.env, t.ID, t.Name))
				}
				return nil
			}},
			filterAction[tenantRow, tenantsSide]("filter"),
			fleetAction(tenantsKeys.Verify, fleetStarts[0]),
			fleetAction(tenantsKeys.SyncGroups, fleetStarts[1]),
			fleetAction(tenantsKeys.SyncRoles, fleetStarts[2]),
			fleetAction(tenantsKeys.SyncInventory, fleetStarts[3]),
			fleetAction(tenantsKeys.Backup, fleetStarts[4]),
			{key: tenantsKeys.Add, offered: func(l *tenantsList) bool { return l.side.canAdd },
				run: func(l *tenantsList) tea.Cmd { return navigate(newWizard(l.env)) }},
		},
	})
}

// fetchTenants loads the tenants and their health side by side, then the actor's roles.
func fetchTenants(ctx context.Context, env *Env, _ listQuery[tenantRow]) ([]tenantRow, tenantsSide, error) {
	var views []engine.TenantView
	var health map[int64]store.FleetHealth
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { health, errs[1] = env.Svc.FleetHealth(ctx, env.Actor, env.now()) })
	views, errs[0] = env.Svc.ListTenants(ctx, env.Actor)
	wg.Wait()
	side := tenantsSide{roles: map[int64]access.Role{}}
	for _, err := range errs {
		if err != nil {
			return nil, side, err
		}
	}
	rows := make([]tenantRow, len(views))
	for i, v := range views {
		rows[i] = tenantRow{TenantView: v, health: health[v.ID]}
		if _, ok := side.roles[v.WorkspaceID]; !ok {
			side.roles[v.WorkspaceID] = env.role(ctx, v.WorkspaceID)
		}
	}
	if w, err := env.Svc.ResolveWorkspace(ctx, env.Actor, ""); err == nil {
		side.canAdd = env.can(ctx, w.ID, access.TenantManage)
	}
	return rows, side, nil
}

// tenantColumn is a column of the tenants screen and its priority: at a width too narrow for all,
// the highest drop goes first (0: never). Name and connection always show.
type tenantColumn struct {
	column
	drop int
}

var tenantColumnSet = []tenantColumn{
	{column{title: "TENANT", width: 14, flex: true, weight: 2}, 0}, // weight 2: names are not cut while other columns have room
	{column{title: "WORKSPACE", width: 10, yields: true}, 6},
	{column{title: "CONNECTION", width: 15}, 0},
	{column{title: "BACKUP", width: 7}, 1},
	{column{title: "FAILING", width: 8}, 2},
	{column{title: "DRIFT", width: 6}, 3},
	{column{title: "MISSING PERMISSIONS", width: 20, flex: true, weight: 3}, 4},
	{column{title: "VERIFIED", width: 9}, 5},
}

// tenantColumns are the columns that fit width, dropped by priority.
func tenantColumns(width int) []column {
	keep := make([]bool, len(tenantColumnSet))
	need := 2 // the cursor/mark gutter
	for i, c := range tenantColumnSet {
		keep[i] = true
		need += c.width + 1
	}
	for need > width {
		worst := -1
		for i, c := range tenantColumnSet {
			if keep[i] && c.drop > 0 && (worst < 0 || c.drop > tenantColumnSet[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		keep[worst] = false
		need -= tenantColumnSet[worst].width + 1
	}
	var out []column
	for i, c := range tenantColumnSet {
		if keep[i] {
			out = append(out, c.column)
		}
	}
	return out
}

// styleMemo keeps the styled cells a list draws again and again (badges, "never", counts): one
// render costs tens of microseconds, and 2,000 rows draw the same few cells 2,000 times
// (BenchmarkDashboard, fleet_first_frame_tenants_ms). Rows are drawn in Update only, so it needs no
// lock; it stops growing at styleMemoSize entries.
type styleMemo map[[2]string]string

const styleMemoSize = 512

// tone is env.Tone(tone, s) — env.Badge(s) for tone "badge", the theme's dim style for "dim" —
// rendered once.
func (m styleMemo) tone(env *Env, tone, s string) string {
	k := [2]string{tone, s}
	if v, ok := m[k]; ok {
		return v
	}
	var v string
	switch tone {
	case "badge":
		v = env.Badge(s)
	case "dim":
		v = env.Theme.Dim.Render(s)
	default:
		v = env.Tone(tone, s)
	}
	if len(m) < styleMemoSize {
		m[k] = v
	}
	return v
}

// tenantCells draws a row in the columns that fit the current width.
func tenantCells(env *Env, styles styleMemo, now time.Time, v tenantRow) []string {
	verified, missing := "-", ""
	if c := v.Connection; c != nil {
		if c.LastVerifiedAt != nil {
			verified = ago(now, *c.LastVerifiedAt) + " ago"
		}
		missing = strings.Join(c.MissingPermissions, ", ")
	}
	h := v.health
	backup := styles.tone(env, "bad", "never")
	if h.LastBackupAt != nil {
		backup = ago(now, *h.LastBackupAt)
	}
	failing := styles.tone(env, "dim", "-")
	if h.FailingTypes > 0 {
		failing = styles.tone(env, "bad", strconv.Itoa(h.FailingTypes))
	}
	drift := styles.tone(env, "dim", "-")
	if h.Drifted != nil {
		drift = strconv.Itoa(*h.Drifted)
		if *h.Drifted > 0 {
			drift = styles.tone(env, "warn", drift)
		}
	}
	conn := styles.tone(env, "badge", connectionBadgeKey(v.Connection))
	width, _ := env.size()
	out := make([]string, 0, len(tenantColumnSet))
	for _, c := range tenantColumns(width) {
		switch c.title {
		case "TENANT":
			out = append(out, v.Name)
		case "WORKSPACE":
			out = append(out, v.WorkspaceName)
		case "CONNECTION":
			out = append(out, conn)
		case "BACKUP":
			out = append(out, backup)
		case "FAILING":
			out = append(out, failing)
		case "DRIFT":
			out = append(out, drift)
		case "MISSING PERMISSIONS":
			out = append(out, missing)
		case "VERIFIED":
			out = append(out, verified)
		}
	}
	return out
}

// connectionRank orders connections worst first: blocked, error, none, unverified, verifying, ok.
func connectionRank(c *store.ProviderConnection) int {
	if c == nil {
		return 2
	}
	switch c.Status {
	case "blocked":
		return 0
	case "error":
		return 1
	case "unverified":
		return 3
	case "verifying":
		return 4
	}
	return 5
}

// tenantSorts are the tenants screen's orders: by name, then each health column worst first.
var tenantSorts = []listSort[tenantRow]{
	{column: "TENANT", arrow: "↑", compare: func(a, b tenantRow) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) }},
	{column: "CONNECTION", arrow: "↓", compare: func(a, b tenantRow) int {
		return cmp.Or(cmp.Compare(connectionRank(a.Connection), connectionRank(b.Connection)), cmp.Compare(a.Name, b.Name))
	}},
	{column: "BACKUP", arrow: "↓", compare: func(a, b tenantRow) int { // the oldest backup first, never first of all
		at := func(t tenantRow) int64 {
			if t.health.LastBackupAt == nil {
				return 0
			}
			return t.health.LastBackupAt.UnixNano()
		}
		return cmp.Or(cmp.Compare(at(a), at(b)), cmp.Compare(a.Name, b.Name))
	}},
	{column: "FAILING", arrow: "↓", compare: func(a, b tenantRow) int {
		return cmp.Or(cmp.Compare(b.health.FailingTypes, a.health.FailingTypes), cmp.Compare(a.Name, b.Name))
	}},
	{column: "DRIFT", arrow: "↓", compare: func(a, b tenantRow) int {
		drifted := func(t tenantRow) int {
			if t.health.Drifted == nil {
				return -1
			}
			return *t.health.Drifted
		}
		return cmp.Or(cmp.Compare(drifted(b), drifted(a)), cmp.Compare(a.Name, b.Name))
	}},
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
