package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func TestTagTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)

	v, err := b.svc.TagTenant(ctx, b.admin, tenant.Name, []string{"tier-1", "eu", "eu"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"eu", "tier-1"}, v.Tags, "sorted, once each")
	v, err = b.svc.TagTenant(ctx, b.admin, tenant.Name, []string{"pilot"}, []string{"tier-1", "never-had"})
	require.NoError(t, err)
	require.Equal(t, []string{"eu", "pilot"}, v.Tags)
	_, err = b.svc.TagTenant(ctx, b.admin, tenant.Name, []string{"eu"}, nil)
	require.NoError(t, err)
	events, err := b.svc.ListAudit(ctx, b.admin, store.AuditFilter{Action: "tenant.tag"})
	require.NoError(t, err)
	require.Len(t, events, 2, "a change that changes nothing is not audited")

	for _, bad := range []string{"EU", "has space", "", "-lead", "x" + string(make([]byte, 40))} {
		_, err := b.svc.TagTenant(ctx, b.admin, tenant.Name, []string{bad}, nil)
		require.ErrorIs(t, err, engine.ErrInvalid, "%q", bad)
	}
	operator := b.addUser(t, "tagging-operator", "operator")
	_, err = b.svc.TagTenant(ctx, operator, tenant.Name, []string{"mine"}, nil)
	require.ErrorIs(t, err, engine.ErrForbidden)
	got, err := b.svc.GetTenant(ctx, b.admin, tenant.Name)
	require.NoError(t, err)
	require.Equal(t, []string{"eu", "pilot"}, got.Tags, "nothing changed")
}

// TestStartFleet: a fleet start is one Start per tenant of the tag; a tenant that is refused gets
// its reason and the others start; a tag that matches no tenant is an error, not an empty success.
func TestStartFleet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	a, c := b.addTenant(t), b.addTenant(t)
	noConnection := storetest.Tenant(ctx, t, b.db.Pool, &storetest.TenantOpts{Name: "bare"})
	for _, ref := range []string{a.Name, c.Name, noConnection.Name} {
		_, err := b.svc.TagTenant(ctx, b.admin, ref, []string{"eu"}, nil)
		require.NoError(t, err)
	}
	other := b.addTenant(t) // untagged

	starts, err := b.svc.StartFleet(ctx, b.admin, engine.FleetTarget{Tag: "eu"}, engine.StartRequest{Type: engine.TypeProviderVerification})
	require.NoError(t, err)
	require.Len(t, starts, 3)
	started := map[string]bool{}
	for _, s := range starts {
		if s.Tenant == "bare" {
			require.ErrorIs(t, s.Err, engine.ErrInvalid)
			require.Contains(t, s.Error, "tenant bare has no provider connection to verify")
			continue
		}
		require.NoError(t, s.Err, s.Tenant)
		require.True(t, s.Result.Created)
		started[s.Tenant] = true
	}
	require.Equal(t, map[string]bool{a.Name: true, c.Name: true}, started)

	again, err := b.svc.StartFleet(ctx, b.admin, engine.FleetTarget{Tag: "eu"}, engine.StartRequest{Type: engine.TypeProviderVerification})
	require.NoError(t, err)
	for _, s := range again {
		if s.Result != nil {
			require.False(t, s.Result.Created, "%s: dedupe returns the active run", s.Tenant)
		}
	}

	all, err := b.svc.FleetTenants(ctx, b.admin, engine.FleetTarget{All: true})
	require.NoError(t, err)
	require.Len(t, all, 4)
	require.Contains(t, []string{all[0].Name, all[1].Name, all[2].Name, all[3].Name}, other.Name)

	_, err = b.svc.StartFleet(ctx, b.admin, engine.FleetTarget{Tag: "apac"}, engine.StartRequest{Type: engine.TypeProviderVerification})
	require.ErrorIs(t, err, engine.ErrNotFound)
	require.ErrorContains(t, err, `tag "apac" matches no tenant in workspace default`)
	_, err = b.svc.FleetTenants(ctx, b.admin, engine.FleetTarget{Tag: "eu", All: true})
	require.ErrorIs(t, err, engine.ErrInvalid)

	stranger := b.addUser(t, "fleet-stranger", "")
	_, err = b.svc.FleetTenants(ctx, stranger, engine.FleetTarget{All: true, Workspace: "default"})
	require.ErrorIs(t, err, engine.ErrNotFound)
	readonly := b.addUser(t, "fleet-readonly", "readonly")
	starts, err = b.svc.StartFleet(ctx, readonly, engine.FleetTarget{Tag: "eu"}, engine.StartRequest{Type: engine.TypeInventorySync})
	require.NoError(t, err)
	for _, s := range starts {
		require.ErrorIs(t, s.Err, engine.ErrForbidden, "%s: a readonly member starts nothing", s.Tenant)
	}
}

// TestStartFleetMarked: the dashboard's marked tenants, by id: each tenant is started once however
// often it is named, a refused one gets its reason, and an id that is no tenant of the actor's
// workspaces (removed since it was marked, or another workspace's) is refused on its own line.
func TestStartFleetMarked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	a, c := b.addTenant(t), b.addTenant(t)
	bare := storetest.Tenant(ctx, t, b.db.Pool, &storetest.TenantOpts{Name: "bare-marked"})
	elsewhere := storetest.Tenant(ctx, t, b.db.Pool, &storetest.TenantOpts{
		WorkspaceID: storetest.Workspace(ctx, t, b.db.Pool, nil).ID})

	starts, err := b.svc.StartFleet(ctx, b.admin, engine.FleetTarget{TenantIDs: []int64{c.ID, a.ID, bare.ID, a.ID, elsewhere.ID, 999_999}},
		engine.StartRequest{Type: engine.TypeProviderVerification})
	require.NoError(t, err)
	var started, refused []string
	for _, s := range starts {
		if s.Err != nil {
			refused = append(refused, s.Tenant+": "+s.Error)
			continue
		}
		require.True(t, s.Result.Created, s.Tenant)
		started = append(started, s.Tenant)
	}
	require.ElementsMatch(t, []string{a.Name, c.Name}, started, "each once")
	require.Equal(t, []string{
		"bare-marked: invalid request: tenant bare-marked has no provider connection to verify (" + reason.Hint(reason.ProviderConnectionMissing) + ")",
		fmt.Sprintf("tenant %d: not found: tenant %d (removed, or not in your workspaces)", elsewhere.ID, elsewhere.ID),
		"tenant 999999: not found: tenant 999999 (removed, or not in your workspaces)",
	}, refused)
	runs, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Limit: 50})
	require.NoError(t, err)
	perTenant := map[string]int{}
	for _, r := range runs {
		perTenant[r.TenantName]++
	}
	require.Equal(t, map[string]int{a.Name: 1, c.Name: 1}, perTenant, "one run for each tenant started, none for the refused")

	_, err = b.svc.StartFleet(ctx, b.admin, engine.FleetTarget{TenantIDs: []int64{a.ID}, Tag: "eu"}, engine.StartRequest{Type: engine.TypeInventorySync})
	require.ErrorIs(t, err, engine.ErrInvalid, "one target only")
}
