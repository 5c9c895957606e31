package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/tui"
)

// TestSecurityHostileInput sends quote-and-semicolon strings, LIKE wildcards, NUL bytes, control
// characters, unicode and 10,000-character strings into every filter and search field of the
// Service and of the dashboard (`/` filters and the `:` palette). Each answers with data or a
// clear error (never a raw database error), never panics, never treats % or _ as wildcards, and no row of any key table changes.
func TestSecurityHostileInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	sim, err := graphsim.New(graphsim.Options{Seed: 3, Tenants: []graphsim.TenantSpec{{Groups: 40, PoliciesPerFamily: 1}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	creds := sim.Tenants()[0].Credentials()
	tenant, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: "hostile", TenantGUID: creds.TenantID,
		ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
	require.NoError(t, err)
	e := b.startEngine(t, engine.Config{Graph: sim.GraphConfig()})
	var lastRun int64
	for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeDirectoryRoleDefsSync, engine.TypeBackupRun} {
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: typ, TenantID: tenant.ID})
		require.NoError(t, err)
		b.waitRun(t, res.Run.ID, completed, 60*time.Second)
		lastRun = res.Run.ID
	}
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "nightly", Cron: "0 3 * * *"})
	require.NoError(t, err)
	e.Stop() // nothing may change the tables from here on
	before := rowCounts(t, b.db)

	calls := 0
	oneLine := func(what string, err error) {
		t.Helper()
		calls++
		if err != nil {
			if strings.Contains(err.Error(), "SQLSTATE") {
				t.Errorf("%s: a database error reached the caller: %v", what, err)
			}
			require.False(t, errors.Is(err, engine.ErrForbidden), "%s: %v", what, err)
		}
	}
	for _, h := range hostileStrings {
		label := fmt.Sprintf("%.20q", h)
		q := engine.RunQuery{Search: h}
		runs, err := b.svc.ListRuns(ctx, b.admin, q)
		oneLine("ListRuns search "+label, err)
		// Run types and reason codes hold "_", so only % and \ prove that wildcards stay literal.
		if strings.ContainsAny(h, `%\`) && !strings.ContainsAny(h, "abcdefghijklmnopqrstuvwxyz") {
			require.Empty(t, runs, "LIKE wildcards are literal: %s", label)
		}
		for _, rq := range []engine.RunQuery{{Types: []string{h}}, {Statuses: []store.Status{store.Status(h)}}, {Outcomes: []store.Outcome{store.Outcome(h)}}, {ReasonCode: h}} {
			_, err = b.svc.ListRuns(ctx, b.admin, rq)
			oneLine("ListRuns filter "+label, err)
			_, err = b.svc.CountRuns(ctx, b.admin, rq)
			oneLine("CountRuns filter "+label, err)
		}
		_, err = b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: lastRun, Search: h})
		oneLine("RunEvents search "+label, err)
		groups, err := b.svc.SearchGroups(ctx, b.admin, tenant.ID, "", store.GroupQuery{Search: h})
		oneLine("SearchGroups "+label, err)
		if h == "%" || h == "_" || h == `%_\` {
			require.Empty(t, groups, "LIKE wildcards are literal: %s", label)
		}
		_, err = b.svc.SearchGroups(ctx, b.admin, 0, h, store.GroupQuery{})
		oneLine("SearchGroups tenant "+label, err)
		require.True(t, errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrInvalid), "%s: %v", label, err)
		_, err = b.svc.SearchGroups(ctx, b.admin, tenant.ID, "", store.GroupQuery{AfterName: h, AfterID: h})
		oneLine("SearchGroups keyset "+label, err)
		_, err = b.svc.RoleDefinitions(ctx, b.admin, tenant.ID, "", h, true)
		oneLine("RoleDefinitions "+label, err)
		_, err = b.svc.RoleDefinitions(ctx, b.admin, 0, h, "", false)
		oneLine("RoleDefinitions tenant "+label, err)
		_, err = b.svc.GroupLabels(ctx, b.admin, tenant.ID, []string{h})
		oneLine("GroupLabels "+label, err)
		_, err = b.svc.ListInventory(ctx, b.admin, tenant.ID, engine.InventoryQuery{Search: h, Family: h, PolicyType: h})
		oneLine("ListInventory "+label, err)
		_, err = b.svc.ListAudit(ctx, b.admin, store.AuditFilter{Action: h, TargetKind: h, TargetID: h})
		oneLine("ListAudit "+label, err)
		_, err = b.svc.ListLegacyRuns(ctx, b.admin, store.LegacyFilter{})
		oneLine("ListLegacyRuns "+label, err)
		_, err = b.svc.GetTenant(ctx, b.admin, h)
		oneLine("GetTenant "+label, err)
		require.True(t, errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrInvalid), "%s: %v", label, err)
		_, err = b.svc.GetSchedule(ctx, b.admin, h)
		oneLine("GetSchedule "+label, err)
		_, err = b.svc.PauseSchedule(ctx, b.admin, h)
		require.Error(t, err, label)
		oneLine("PauseSchedule "+label, err)
		_, err = b.svc.ResolveWorkspace(ctx, b.admin, h)
		oneLine("ResolveWorkspace "+label, err)
		_, err = b.svc.ListMembers(ctx, b.admin, h)
		oneLine("ListMembers "+label, err)
		_, err = b.svc.AddMember(ctx, b.admin, h, h, h)
		require.Error(t, err, label)
		oneLine("AddMember "+label, err)
		_, err = b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantRef: h})
		require.Error(t, err, label)
		oneLine("Start tenant "+label, err)
		_, err = b.svc.Start(ctx, b.admin, engine.StartRequest{Type: h, TenantID: tenant.ID})
		oneLine("Start type "+label, err)
		require.ErrorIs(t, err, engine.ErrInvalid, label)
		_, err = b.svc.ActorByName(ctx, h)
		oneLine("ActorByName "+label, err)
	}

	// The dashboard: every `/` filter and the palette, typed (pasted) with each hostile string.
	dash := newDashboard(t, &tui.Env{Svc: b.svc, Actor: b.admin, Theme: tui.ThemeNamed("dark"), Width: 160, Height: 48})
	dash.waitFor(10*time.Second, containsAll("CONNECTIONS"))
	screens := 0
	dashStrings := hostileStrings
	if !full() { // every string reaches the Service above; the dashboard gets a representative few
		dashStrings = []string{hostileStrings[0], hostileStrings[2], "\x00", `Ωmega ünïcødé 🚀 日本語`, strings.Repeat("A", 10000)}
	}
	for _, h := range dashStrings {
		for _, nav := range []string{"runs all", "tenants", "groups hostile", "roles hostile", "audit", "backups", fmt.Sprintf("run %d", lastRun)} {
			dash.press(":")
			dash.paste(nav)
			dash.press("enter")
			dash.paste("/", h)
			dash.press("enter")
			dash.settle(30 * time.Millisecond)
			require.NotEmpty(t, dash.screen())
			screens++
			dash.press("esc", "esc")
		}
		for _, line := range []string{h, "run " + h, "tenant " + h, "groups " + h, "runs " + h} {
			dash.press(":")
			dash.paste(line)
			dash.press("enter")
			s := dash.screen()
			require.NotEmpty(t, s)
			screens++
			dash.press("esc")
		}
	}
	// The dashboard still works afterwards.
	dash.press(":", "tenants", "enter")
	dash.waitFor(5*time.Second, containsAll("hostile"))

	require.Equal(t, before, rowCounts(t, b.db), "no data changed")
	metric(t, "badinput.hostile_strings", len(hostileStrings), "strings")
	metric(t, "badinput.service_calls", calls, "calls")
	metric(t, "badinput.dashboard_inputs", screens, "inputs")
}

// paste types text as one key event per argument (the way a terminal delivers a paste in
// bracketed-paste-less mode: the whole text at once), so long strings cost one event.
func (d *dashboard) paste(texts ...string) {
	for _, s := range texts {
		d.apply(tea.KeyPressMsg{Code: []rune(s + " ")[0], Text: s})
		d.settle(15 * time.Millisecond)
	}
}
