package tui

import (
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// fixedNow is the clock of golden views.
var fixedNow = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)

type testBundle struct {
	db      *store.DB
	svc     *engine.Service
	admin   engine.Actor
	tenants map[string]int64
	runs    map[string]int64
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	db := pgtest.NewDB(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := engine.NewSealer(key)
	require.NoError(t, err)
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer})
	require.NoError(t, err)
	admin, err := svc.ActorByName(context.Background(), "")
	require.NoError(t, err)
	return &testBundle{db: db, svc: svc, admin: admin, tenants: map[string]int64{}, runs: map[string]int64{}}
}

// seed writes a small, fixed world: three tenants, runs in every state with fixed timestamps, a
// blocked connection with its missing permission, and events.
func (b *testBundle) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i, name := range []string{"contoso", "fabrikam", "northwind"} {
		v, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: name,
			TenantGUID: []string{"6e0c1a2b-0000-4000-8000-000000000001", "6e0c1a2b-0000-4000-8000-000000000002", "6e0c1a2b-0000-4000-8000-000000000003"}[i],
			ClientID:   "3f2a0000-0000-4000-8000-000000000002", ClientSecret: []byte("secret")})
		require.NoError(t, err)
		b.tenants[name] = v.ID
	}
	storetest.UpdateConnection(ctx, t, b.db.Pool, b.connID(t, "contoso"), &storetest.ConnectionOpts{Status: "ok",
		LastVerifiedAt: new(fixedNow.Add(-2 * time.Hour))})
	code := "provider_permission_denied"
	storetest.UpdateConnection(ctx, t, b.db.Pool, b.connID(t, "fabrikam"), &storetest.ConnectionOpts{
		Status: "blocked", ReasonCode: &code, MissingPermissions: []string{"DeviceManagementConfiguration.Read.All"},
		Verification: map[string]any{"capabilities": []any{
			map[string]any{"capability": "directory.sync", "status": "ok"},
			map[string]any{"capability": "inventory.sync", "status": "missing", "missing": []any{"DeviceManagementConfiguration.Read.All"}},
		}}})

	b.seedDirectory(t)
	recs, err := engine.ParseLegacy([]byte(`[
		{"source": "inventory_sync", "id": "inv-77", "tenant": "fabrikam", "status": "Failed", "started_at": "2025-06-01T02:00:00Z",
		 "failure_reason": "Forbidden: Application must have one of the following scopes: DeviceManagementConfiguration.Read.All"},
		{"source": "group_sync", "id": "grp-12", "tenant": "old-tenant", "status": "Error", "started_at": "2025-06-02T02:00:00Z",
		 "failure_reason": "Flux capacitor misaligned"},
		{"source": "backup_schedule", "id": "bk-3", "tenant": "contoso", "status": "Completed", "started_at": "2025-06-03T03:00:00Z"}]`), "json")
	require.NoError(t, err)
	_, err = b.svc.ImportLegacy(ctx, b.admin, "", recs)
	require.NoError(t, err)

	type runSpec struct {
		key, typ, tenant, reason, detail string
		outcome                          store.Outcome
		running                          bool
		age                              time.Duration
	}
	specs := []runSpec{
		{key: "ok", typ: engine.TypeDirectoryGroupsSync, tenant: "contoso", outcome: store.OutcomeSucceeded, age: 50 * time.Minute},
		{key: "blocked", typ: engine.TypeInventorySync, tenant: "fabrikam", outcome: store.OutcomeBlocked, reason: "provider_permission_denied",
			detail: "Application must have one of the following scopes: DeviceManagementConfiguration.Read.All", age: 40 * time.Minute},
		{key: "throttled", typ: engine.TypeDirectoryGroupsSync, tenant: "northwind", outcome: store.OutcomeFailed, reason: "provider_throttled",
			detail: "429 Too Many Requests after 6 retries (retry budget 2m0s spent)", age: 30 * time.Minute},
		{key: "running", typ: engine.TypeInventorySync, tenant: "contoso", running: true, age: 3 * time.Minute},
		{key: "queued", typ: engine.TypeDirectoryRoleDefsSync, tenant: "northwind", age: 1 * time.Minute},
	}
	for _, sp := range specs {
		tid := b.tenants[sp.tenant]
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: sp.typ, TenantID: tid})
		require.NoError(t, err)
		id := res.Run.ID
		b.runs[sp.key] = id
		// Runs start through the service (with their River job, audit event and timeline); then they
		// are moved to their state at fixed times.
		created := fixedNow.Add(-sp.age)
		opts := &storetest.RunOpts{CreatedAt: &created}
		if sp.running || sp.outcome != "" {
			total := int64(200)
			opts.Status = store.StatusRunning
			opts.Progress = &store.Progress{Processed: 120, Total: &total, Counts: store.Counts{Succeeded: 118, Failed: 2}}
			opts.StartedAt, opts.HeartbeatAt = new(created.Add(2*time.Second)), new(fixedNow.Add(-5*time.Second))
			storetest.RunEvent(ctx, t, b.db.Pool, &storetest.RunEventOpts{RunID: id, Kind: "item", Level: "error",
				Message: "403 Forbidden", ReasonCode: &sp.reason, ItemRef: ptr("deviceConfigurations/a1b2")})
		}
		if sp.outcome != "" {
			opts.Status, opts.Outcome = store.StatusCompleted, sp.outcome
			opts.FinishedAt = new(created.Add(95 * time.Second))
			if sp.reason != "" {
				opts.ReasonCode, opts.ReasonDetail = &sp.reason, &sp.detail
			}
		}
		storetest.UpdateRun(ctx, t, b.db.Pool, id, opts)
		storetest.RetimeRunEvents(ctx, t, b.db.Pool, id, created)
	}
}

func (b *testBundle) connID(t *testing.T, tenant string) int64 {
	t.Helper()
	c, err := store.GetDefaultConnection(context.Background(), b.db.Pool, b.tenants[tenant])
	require.NoError(t, err)
	return c.ID
}

func ptr[T any](v T) *T { return &v }

func (b *testBundle) context(w, h int) *Env {
	return &Env{Svc: b.svc, Actor: b.admin, Theme: ThemeNamed("dark"), Now: func() time.Time { return fixedNow },
		Width: w, Height: h, EngineEmbedded: true}
}

// drive runs cmd and feeds the messages it produces back into m until nothing is left: data loads
// become synchronous. Quit and clipboard commands are dropped.
func drive(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		require.Less(t, steps, 1000, "commands did not settle")
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if cmds, ok := commandList(msg); ok {
			queue = append(queue, cmds...)
			continue
		}
		switch msg := msg.(type) {
		case nil:
		case tea.QuitMsg:
		default:
			if isClipboard(msg) {
				continue
			}
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// commandList unpacks tea.Batch's and tea.Sequence's messages (the latter's type is unexported): both
// are lists of commands, run here in their order.
func commandList(msg tea.Msg) ([]tea.Cmd, bool) {
	v := reflect.ValueOf(msg)
	if !v.IsValid() || v.Kind() != reflect.Slice || v.Type().Elem() != reflect.TypeFor[tea.Cmd]() {
		return nil, false
	}
	cmds := make([]tea.Cmd, v.Len())
	for i := range cmds {
		cmds[i] = v.Index(i).Interface().(tea.Cmd)
	}
	return cmds, true
}

// isClipboard spots Bubble Tea's (unexported) OSC52 clipboard message.
func isClipboard(msg tea.Msg) bool { return fmt.Sprintf("%T", msg) == "tea.setClipboardMsg" }

// press sends keys one by one ("enter", "tab", "j" or a literal rune).
func press(t *testing.T, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		drive(t, m, cmd)
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	}
	if c, ok := strings.CutPrefix(k, "ctrl+"); ok {
		return tea.KeyPressMsg{Code: []rune(c)[0], Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// seedDirectory caches a few groups and role definitions for contoso, synced ten minutes before fixedNow.
func (b *testBundle) seedDirectory(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	tid := b.tenants["contoso"]
	synced := &storetest.DirectoryOpts{TenantID: tid, SyncedAt: new(fixedNow.Add(-10 * time.Minute))}
	rule := "user.department -eq \"Sales\""
	var rows []store.Group
	for i, name := range []string{"All Staff", "Sales Team", "Helpdesk Operators", "Intune Pilot Devices", "Finance"} {
		g := store.Group{GraphID: fmt.Sprintf("0000000%d-aaaa-4bbb-8ccc-00000000000%d", i, i), DisplayName: name, ContentHash: []byte{byte(i)}}
		if name == "Sales Team" {
			g.MembershipRule = &rule
			g.GroupTypes = []string{"DynamicMembership"}
		}
		if name == "All Staff" {
			g.GroupTypes = []string{"Unified"}
		}
		rows = append(rows, g)
	}
	storetest.Groups(ctx, t, b.db, synced, rows)

	builtIn := true
	storetest.RoleDefinitions(ctx, t, b.db, synced, []store.RoleDefinition{
		{GraphID: "729827e3-9c14-49f7-bb1b-9608f156bbb8", DisplayName: "Helpdesk Administrator", IsBuiltIn: &builtIn, IsEnabled: &builtIn,
			Description: "Can reset passwords for non-administrators and Helpdesk Administrators.", ContentHash: []byte{1},
			RolePermissions: []byte(`[{"allowedResourceActions":["microsoft.directory/users/invalidateAllRefreshTokens","microsoft.directory/users/password/update"]}]`)},
		{GraphID: "62e90394-69f5-4237-9190-012177145e10", DisplayName: "Global Administrator", IsBuiltIn: &builtIn, IsEnabled: &builtIn,
			ContentHash: []byte{2}, RolePermissions: []byte(`[{"allowedResourceActions":["microsoft.directory/allEntities/allProperties/allTasks"]}]`)},
	})
}
