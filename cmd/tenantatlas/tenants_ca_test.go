package main

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// TestCLITenantsShowCAStates: tenants show counts the tenant's Conditional Access policies by
// state from its inventory (on, report-only, off) as the dashboard's tenant detail does, says when
// the family was never inventoried, and shows nothing of it to who may not read the inventory.
func TestCLITenantsShowCAStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCLI(t)
	for _, name := range []string{"contoso", "fabrikam"} {
		r := c.run("s3cret-value", "tenants", "add", "--name", name, "--tenant-id", name+".onmicrosoft.com",
			"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
		require.Equal(t, 0, r.code, r.stderr)
	}
	db, err := store.Open(ctx, c.env["TENANTATLAS_DATABASE_URL"], store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	tenants, err := store.FindTenants(ctx, db.Pool, []int64{storetest.DefaultWorkspace(ctx, t, db.Pool).ID}, "contoso")
	require.NoError(t, err)
	require.Len(t, tenants, 1)
	var rows []store.InventoryRow
	for i, state := range []string{"enabled", "enabledForReportingButNotEnforced", "enabled", "disabled", "enabledForReportingButNotEnforced", "enabled"} {
		rows = append(rows, store.InventoryRow{Family: engine.FamilyConditionalAccessPolicies, GraphID: fmt.Sprintf("ca-%d", i),
			PolicyType: "conditionalAccessPolicy", DisplayName: fmt.Sprintf("Policy %d", i),
			Payload: fmt.Appendf(nil, `{"displayName":"Policy %d","state":%q}`, i, state)})
	}
	storetest.Inventory(ctx, t, db.Pool, &storetest.InventoryOpts{TenantID: tenants[0].ID, Rows: rows})
	c.ok("users", "add", "rita")
	c.ok("members", "add", "default", "rita", "readonly")

	for _, tc := range []struct {
		name, tenant, user, text string
		json                     *engine.CAStateCounts
	}{
		{"Counted", "contoso", "", "3 on, 2 report-only, 1 off", &engine.CAStateCounts{On: 3, ReportOnly: 2, Off: 1, Inventoried: true}},
		{"NeverInventoried", "fabrikam", "", "not inventoried (tenantatlas sync inventory fabrikam)", &engine.CAStateCounts{}},
		{"ReadonlySeesNone", "contoso", "rita", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc := &cli{t: t, env: c.env} // the same database; read only from here on
			args := []string{"tenants", "show", tc.tenant}
			if tc.user != "" {
				args = append(args, "--as", tc.user)
			}
			out := sc.ok(args...)
			if tc.text == "" {
				require.NotContains(t, out, "CA policies")
			} else {
				require.Regexp(t, `(?m)^CA policies:\s+`+regexp.QuoteMeta(tc.text)+`$`, out)
			}
			var shown struct {
				Name              string                `json:"name"`
				ConditionalAccess *engine.CAStateCounts `json:"conditional_access"`
			}
			sc.jsonOut(&shown, args...)
			require.Equal(t, tc.tenant, shown.Name)
			require.Equal(t, tc.json, shown.ConditionalAccess)
		})
	}
}
