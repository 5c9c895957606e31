package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestTenantDetailCAStates: the tenant detail counts the tenant's Conditional Access policies by
// state from its inventory (on, report-only, off), and says nothing for a tenant without any.
func TestTenantDetailCAStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	var rows []store.InventoryRow
	for i, state := range []string{"enabled", "enabled", "enabledForReportingButNotEnforced", "disabled", "enabled"} {
		payload := fmt.Sprintf(`{"displayName":"Policy %d","state":%q}`, i, state)
		rows = append(rows, store.InventoryRow{Family: engine.FamilyConditionalAccessPolicies, GraphID: fmt.Sprintf("ca-%d", i),
			PolicyType: "conditionalAccessPolicy", DisplayName: fmt.Sprintf("Policy %d", i), PayloadHash: fmt.Sprintf("h%d", i), Payload: []byte(payload)})
	}
	require.NoError(t, b.db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := store.MergeInventory(ctx, tx, b.tenants["contoso"], b.runs["ok"], rows)
		return err
	}))
	for _, tc := range []struct {
		keys []string
		want string
	}{{[]string{"t", "enter"}, "CA policies 3 on · 1 report-only · 1 off"}, {[]string{"t", "j", "enter"}, ""}} {
		m := New(b.context(120, 40), nil)
		drive(t, m, m.Init())
		for _, k := range tc.keys {
			press(t, m, k)
		}
		view := ansi.Strip(m.Render())
		if tc.want == "" {
			require.NotContains(t, view, "CA policies", "a tenant without inventoried CA policies")
			continue
		}
		require.True(t, strings.Contains(view, tc.want), view)
	}
}
