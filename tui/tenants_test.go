package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// seedHealth adds what the tenants screen's health columns show to the seeded world: backups of
// contoso (5 h before fixedNow) and northwind (9 days), drift checks of contoso (3 drifted) and
// fabrikam (none), and a fourth tenant, bare, with no connection and no history.
func (b *testBundle) seedHealth(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	q := b.db.Pool
	storetest.BackupSet(ctx, t, q, &storetest.BackupSetOpts{TenantID: b.tenants["contoso"], CompletedAt: new(fixedNow.Add(-5 * time.Hour))})
	storetest.BackupSet(ctx, t, q, &storetest.BackupSetOpts{TenantID: b.tenants["northwind"], CompletedAt: new(fixedNow.Add(-9 * 24 * time.Hour))})
	for tenant, drifted := range map[string]int{"contoso": 3, "fabrikam": 0} {
		id := b.tenants[tenant]
		storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &id, Type: engine.TypeDriftCheck, Outcome: store.OutcomeSucceeded,
			Result: map[string]any{"drift": map[string]any{"drifted": drifted}}, CreatedAt: new(fixedNow.Add(-time.Hour)),
			StartedAt: new(fixedNow.Add(-time.Hour)), FinishedAt: new(fixedNow.Add(-59 * time.Minute))})
	}
	bare := storetest.Tenant(ctx, t, q, &storetest.TenantOpts{Name: "bare"})
	b.tenants["bare"] = bare.ID
}

func (b *testBundle) tenantsScreen(t *testing.T, w, h int) *Model {
	t.Helper()
	c := b.context(w, h)
	m := New(c, newTenants(c))
	drive(t, m, m.Init())
	return m
}

// rowsShown are the tenant names in the table, top to bottom.
func rowsShown(m *Model) []string {
	var out []string
	for _, r := range m.top().(*tenantsList).shown {
		out = append(out, r.Name)
	}
	return out
}

// markedShown are the names of the marked tenants.
func markedShown(m *Model) []string {
	var out []string
	for _, r := range m.top().(*tenantsList).marks() {
		out = append(out, r.Name)
	}
	return out
}

// TestTenantsMarks: space marks the tenant under the cursor and moves on, the head counts the
// marks, * marks every tenant the filter shows, a filter unmarks the tenants it hides (the rule ?
// states), and * on a screen all marked unmarks them.
func TestTenantsMarks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	b.seedHealth(t)
	m := b.tenantsScreen(t, 80, 24)

	press(t, m, "space", "j", "space")
	require.Equal(t, []string{"bare", "fabrikam"}, markedShown(m))
	require.Contains(t, screen(m), "2 marked")
	requireGolden(t, "tenants_marked_80x24", m.Render())

	press(t, m, "/", "o", "enter") // contoso, northwind: the marked bare and fabrikam are hidden
	require.Equal(t, []string{"contoso", "northwind"}, rowsShown(m))
	require.Empty(t, markedShown(m), "the filter unmarked what it hides")
	press(t, m, "*")
	require.Equal(t, []string{"contoso", "northwind"}, markedShown(m), "* marks all the filter shows")
	requireGolden(t, "tenants_mark_all_filtered_80x24", m.Render())

	press(t, m, "esc") // clears the filter: the marks made under it stay
	require.Len(t, rowsShown(m), 4)
	require.Equal(t, []string{"contoso", "northwind"}, markedShown(m))
	require.Contains(t, screen(m), "2 marked")

	press(t, m, "*")
	require.Len(t, markedShown(m), 4)
	press(t, m, "*")
	require.Empty(t, markedShown(m), "* again unmarks them")
	require.NotContains(t, screen(m), "marked")

	press(t, m, "?")
	help := screen(m)
	require.Contains(t, help, "a filter unmarks the rows it hides")
	require.Contains(t, help, "mark all shown")
	require.Contains(t, help, "sort by the next / previous column")
}

// verificationRuns counts the verification runs per tenant name.
func (b *testBundle) verificationRuns(t *testing.T) map[string]int {
	t.Helper()
	runs, err := b.svc.ListRuns(context.Background(), b.admin, engine.RunQuery{Limit: 500})
	require.NoError(t, err)
	out := map[string]int{}
	for _, r := range runs {
		if r.Type == engine.TypeProviderVerification {
			out[r.TenantName]++
		}
	}
	return out
}

// TestTenantsFleetStart: with tenants marked, v asks once, with the action and the count; n starts
// nothing; y starts a verification for every marked tenant through the engine — bare, which has no
// connection to verify, is refused on its own line and the others start, each once.
func TestTenantsFleetStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	b.seedHealth(t)
	m := b.tenantsScreen(t, 120, 36)

	press(t, m, "*", "v")
	require.Contains(t, screen(m), "Verify 4 tenants? y to start, any other key to leave them")
	requireGolden(t, "tenants_confirm_verify_120x36", m.Render())
	press(t, m, "n")
	require.Contains(t, screen(m), "nothing started")
	require.Empty(t, b.verificationRuns(t), "declined: nothing started")

	press(t, m, "v", "y")
	view := screen(m)
	require.Contains(t, view, "Connection verification for 4 tenant(s): 3 started, 1 refused")
	require.Contains(t, view, "✖ bare  invalid request: tenant bare has no provider connection to verify")
	require.Equal(t, 1, strings.Count(view, "✖ bare"), "one line per refusal")
	requireGolden(t, "tenants_fleet_refused_120x36", m.Render())
	require.Equal(t, map[string]int{"contoso": 1, "fabrikam": 1, "northwind": 1}, b.verificationRuns(t),
		"exactly the others got a run, none twice")
	require.Len(t, markedShown(m), 4, "the marks stay for the next action")

	// Without marks the keys act on the tenant under the cursor, behind the same question.
	press(t, m, "*", "b")
	require.Contains(t, screen(m), "Back up bare? y to start")
}

// TestTenantsFleetStartsNotOfferedToReadonly: a readonly member is offered none of the starts (the
// hint line and ?), and pressing their keys asks nothing.
func TestTenantsFleetStartsNotOfferedToReadonly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.context(160, 30)
	c.Actor = b.member(t, "rita", "readonly")
	m := New(c, newTenants(c))
	drive(t, m, m.Init())
	press(t, m, "*")
	footer := screen(m)[strings.LastIndex(screen(m), "\n"):]
	for _, hint := range []string{"v verify", "s sync groups", "b backup now", "i sync inventory"} {
		require.NotContains(t, footer, hint)
	}
	for _, k := range []string{"v", "s", "S", "i", "b"} {
		press(t, m, k)
		require.NotContains(t, screen(m), "? y to start", "%s asks nothing", k)
	}
	press(t, m, "?")
	require.NotContains(t, screen(m), "backup now")
	require.Empty(t, b.verificationRuns(t))
}

// TestTenantsHealthColumns: connection, last backup age, failing types and drift at the three sizes;
// columns give way by priority, and at 80×24 every tenant's name and connection show.
func TestTenantsHealthColumns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	b.seedHealth(t)
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"120x36", 120, 36}, {"200x50", 200, 50}} {
		m := b.tenantsScreen(t, size.w, size.h)
		view := m.Render()
		require.Equal(t, size.h, strings.Count(view, "\n")+1, "exactly the screen height")
		requireGolden(t, "tenants_health_"+size.name, view)
		plain := screen(m)
		for _, want := range []string{"contoso", "fabrikam", "northwind", "bare", "✔ connected", "■ blocked", "- no connection", "BACKUP", "FAILING", "DRIFT"} {
			require.Contains(t, plain, want, size.name)
		}
	}
}

// TestTenantsSortByHealth: > moves the order to the next column, shown by its arrow in the header;
// by failing types the failing tenants come first, and the cursor stays on its tenant.
func TestTenantsSortByHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	b.seedHealth(t)
	m := b.tenantsScreen(t, 120, 36)
	require.Equal(t, []string{"bare", "contoso", "fabrikam", "northwind"}, rowsShown(m))
	require.Contains(t, screen(m), "TENANT↑")
	press(t, m, "j") // contoso

	press(t, m, ">", ">")
	require.Contains(t, screen(m), "BACKUP↓")
	require.Equal(t, []string{"bare", "fabrikam", "northwind", "contoso"}, rowsShown(m), "never backed up first, then the oldest")
	press(t, m, ">")
	view := screen(m)
	require.Contains(t, view, "FAILING↓")
	require.NotContains(t, view, "TENANT↑")
	require.Equal(t, []string{"fabrikam", "northwind", "bare", "contoso"}, rowsShown(m))
	cur, ok := m.top().(*tenantsList).current()
	require.True(t, ok)
	require.Equal(t, "contoso", cur.Name, "the cursor stays on its tenant")
	requireGolden(t, "tenants_sorted_failing_120x36", m.Render())
	press(t, m, ">")
	require.Equal(t, []string{"contoso", "fabrikam", "bare", "northwind"}, rowsShown(m), "drift: most drifted first, unchecked last")
	press(t, m, "<", "<", "<", "<")
	require.Equal(t, []string{"bare", "contoso", "fabrikam", "northwind"}, rowsShown(m), "back to by name")
}

// TestTenantColumnsGiveWay: narrower screens drop workspace, verified, missing permissions, then
// drift, failing and backup; name and connection stay at any width.
func TestTenantColumnsGiveWay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		width int
		want  []string
	}{
		{200, []string{"TENANT", "WORKSPACE", "CONNECTION", "BACKUP", "FAILING", "DRIFT", "MISSING PERMISSIONS", "VERIFIED"}},
		{99, []string{"TENANT", "WORKSPACE", "CONNECTION", "BACKUP", "FAILING", "DRIFT", "MISSING PERMISSIONS", "VERIFIED"}},
		{98, []string{"TENANT", "CONNECTION", "BACKUP", "FAILING", "DRIFT", "MISSING PERMISSIONS", "VERIFIED"}},
		{80, []string{"TENANT", "CONNECTION", "BACKUP", "FAILING", "DRIFT", "MISSING PERMISSIONS"}},
		{60, []string{"TENANT", "CONNECTION", "BACKUP", "FAILING", "DRIFT"}},
		{50, []string{"TENANT", "CONNECTION", "BACKUP", "FAILING"}},
		{30, []string{"TENANT", "CONNECTION"}},
	} {
		var got []string
		for _, c := range tenantColumns(tc.width) {
			got = append(got, c.title)
		}
		require.Equal(t, tc.want, got, "width %d", tc.width)
	}
}
