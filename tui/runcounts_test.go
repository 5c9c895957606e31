package tui

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// tabLabel reads a status tab's "N Name count" label.
var tabLabel = regexp.MustCompile(`(\d) (Queued|Running|Failed|Blocked|All) (\d+)`)

// tabCounts reads every status tab's count off the operations screen.
func tabCounts(t *testing.T, view string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range tabLabel.FindAllStringSubmatch(view, -1) {
		n, err := strconv.Atoi(m[3])
		require.NoError(t, err)
		out[m[2]] = n
	}
	require.Len(t, out, 5, view)
	return out
}

// TestTabCountsMatchTheRows: the count each tab shows from the run totals, while another tab is
// open, equals the rows that tab lists when it is opened, on the operations screen and on a
// tenant's runs, and still after a retention prune and a tenant's removal have moved history.
func TestTabCountsMatchTheRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	// A tenant to remove later (the seed's have active runs or imported history), and a month-old
	// history on top of the seed's runs: every outcome, for every tenant.
	v, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: "tailspin", TenantGUID: "6e0c1a2b-0000-4000-8000-000000000004",
		ClientID: "3f2a0000-0000-4000-8000-000000000002", ClientSecret: []byte("secret")})
	require.NoError(t, err)
	b.tenants["tailspin"] = v.ID
	for i := range 40 {
		tenant := b.tenants[[]string{"contoso", "fabrikam", "northwind", "tailspin"}[i%4]]
		storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tenant, Type: []string{engine.TypeInventorySync, engine.TypeDirectoryGroupsSync}[i%2],
			Outcome: store.Outcomes[i%len(store.Outcomes)], FinishedAt: new(time.Now().Add(-time.Duration(30+i) * 24 * time.Hour))})
	}

	// check opens every status tab of the screen and compares its rows with the count the first
	// tab (All, counted from the totals for the others) showed for it.
	check := func(t *testing.T, s *runs, label string) map[string]int {
		t.Helper()
		m := New(b.context(160, 30), nil)
		drive(t, m, m.Init())
		drive(t, m, navigate(s))
		press(t, m, "5")
		counts := tabCounts(t, screen(m))
		for i, name := range []string{"Queued", "Running", "Failed", "Blocked"} {
			press(t, m, strconv.Itoa(i+1))
			require.Equal(t, counts[name], len(m.top().(*runs).rows), "%s: %s", label, name)
			require.Equal(t, counts, tabCounts(t, screen(m)), "%s: on %s", label, name)
		}
		return counts
	}
	contoso := b.tenants["contoso"]
	counts := func(t *testing.T, label string) (all, ofContoso map[string]int) {
		t.Helper()
		all = check(t, newRuns(b.context(160, 30), runsOptions{tab: allTab}), label)
		ofContoso = check(t, newRuns(b.context(160, 30), runsOptions{tab: allTab, tenantID: contoso, title: "Runs of contoso"}), label+", contoso")
		return all, ofContoso
	}

	all, ofContoso := counts(t, "seeded")
	require.Equal(t, 1, all["Queued"])
	require.Equal(t, 1, all["Running"])
	require.Less(t, ofContoso["All"], all["All"])

	var pruned engine.PruneResult
	ws := storetest.DefaultWorkspace(ctx, t, b.db.Pool).ID
	require.NoError(t, store.SetRetention(ctx, b.db.Pool, ws, store.Retention{Runs: 40 * 24 * time.Hour, RunEvents: 24 * time.Hour}))
	pruned, err = b.svc.Prune(ctx, b.admin, ws)
	require.NoError(t, err)
	require.Positive(t, pruned.Runs)
	afterPrune, _ := counts(t, "pruned")
	require.Equal(t, all["All"]-int(pruned.Runs), afterPrune["All"])

	_, err = b.svc.RemoveTenant(ctx, b.admin, engine.RemoveTenantRequest{TenantRef: "tailspin", Confirm: "tailspin"})
	require.NoError(t, err)
	afterRemove, _ := counts(t, "tailspin removed")
	require.Equal(t, afterPrune, afterRemove, "a removed tenant's runs stay, and are counted")
}
