package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// openIncidentTenants lists the tenants of the open incidents of the rule.
func openIncidentTenants(t *testing.T, b *testBundle, rule string) []int64 {
	t.Helper()
	incs, err := b.svc.Incidents(context.Background(), b.admin, engine.IncidentFilter{OpenOnly: true})
	require.NoError(t, err)
	var out []int64
	for _, i := range incs {
		if i.RuleName == rule {
			out = append(out, deref(i.TenantID))
		}
	}
	return out
}

// TestAlertTagScopeEveryCondition: a rule scoped to a tag opens incidents for the tenant carrying
// the tag and none for the tenant without it, whatever its condition: run-driven ones through the
// run's finish, time-driven ones through the alert watch.
func TestAlertTagScopeEveryCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		condition string
		threshold int
		// happen makes the condition hold for the tenant; it returns a finished run to evaluate
		// (0: the condition is the watch's).
		happen func(t *testing.T, b *testBundle, tenant engine.TenantView) int64
	}{
		{engine.ConditionRunFailed, 0, func(t *testing.T, b *testBundle, tenant engine.TenantView) int64 {
			return storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tenant.ID, Type: engine.TypeBackupRun,
				Outcome: store.OutcomeFailed, ReasonCode: new(string(reason.ProviderUnavailable))}).ID
		}},
		{engine.ConditionConnectionBlocked, 0, func(t *testing.T, b *testBundle, tenant engine.TenantView) int64 {
			r := storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tenant.ID, Type: engine.TypeBackupRun,
				Outcome: store.OutcomeBlocked, ReasonCode: new(string(reason.ProviderConsentMissing))})
			_, err := b.db.Pool.Exec(ctx, `UPDATE operation_runs SET provider_connection_id = $2 WHERE id = $1`, r.ID, tenant.Connection.ID)
			require.NoError(t, err)
			return r.ID
		}},
		{engine.ConditionDrift, 0, func(t *testing.T, b *testBundle, tenant engine.TenantView) int64 {
			r := storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tenant.ID, Type: engine.TypeDriftCheck, Outcome: store.OutcomeSucceeded})
			result, err := json.Marshal(map[string]any{"drift": map[string]any{"drifted": 3}})
			require.NoError(t, err)
			_, err = b.db.Pool.Exec(ctx, `UPDATE operation_runs SET result = $2 WHERE id = $1`, r.ID, result)
			require.NoError(t, err)
			return r.ID
		}},
		{engine.ConditionNoSuccess, 2, func(t *testing.T, b *testBundle, tenant engine.TenantView) int64 {
			_, err := b.db.Pool.Exec(ctx, `UPDATE tenants SET created_at = now() - interval '3 hours' WHERE id = $1`, tenant.ID)
			require.NoError(t, err)
			return 0
		}},
		{engine.ConditionRunStuck, 1, func(t *testing.T, b *testBundle, tenant engine.TenantView) int64 {
			storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tenant.ID, Type: engine.TypeBackupRun, Status: store.StatusQueued,
				CreatedAt: new(time.Now().Add(-5 * time.Minute))})
			return 0
		}},
	} {
		t.Run(tc.condition, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tagged, untagged := b.addTenant(t), b.addTenant(t)
			_, err := b.svc.TagTenant(ctx, b.admin, tagged.Name, []string{"eu"}, nil)
			require.NoError(t, err)
			_, err = b.svc.TagTenant(ctx, b.admin, untagged.Name, []string{"us"}, nil)
			require.NoError(t, err)
			rule, err := b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "eu", Condition: tc.condition, Tag: "eu", Threshold: tc.threshold})
			require.NoError(t, err)
			require.Equal(t, "eu", rule.Tag)
			require.Nil(t, rule.TenantID)

			for _, tenant := range []engine.TenantView{tagged, untagged} {
				if id := tc.happen(t, b, tenant); id != 0 {
					require.NoError(t, engine.EvaluateRunAlerts(ctx, b.svc, id))
				}
			}
			require.NoError(t, b.svc.EvaluateAlerts(ctx))
			require.Equal(t, []int64{tagged.ID}, openIncidentTenants(t, b, "eu"), "an incident for the tagged tenant only")
		})
	}
}

// TestAlertTagScopeFollowsTheTags: a run_failed rule on a tag covers whichever tenants carry the
// tag when a run ends. A tenant tagged later is covered from then on; an untagged one fires no
// more (no update of its open incident) and its incident resolves when its next backup succeeds.
func TestAlertTagScopeFollowsTheTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupAlerts(t, nil)
	other := b.addTenant(t)
	_, err := b.svc.TagTenant(ctx, b.admin, b.tenant.Name, []string{"tier-1"}, nil)
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "tier-1-fails", Condition: engine.ConditionRunFailed, Tag: "tier-1"})
	require.NoError(t, err)
	backup := func(tenant engine.TenantView, fail bool) {
		t.Helper()
		b.fail.Store(fail)
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: tenant.ID})
		require.NoError(t, err)
		b.waitRun(t, res.Run.ID, completed)
	}

	backup(b.tenant, true)
	backup(other, true)
	require.Equal(t, []int64{b.tenant.ID}, openIncidentTenants(t, b.testBundle, "tier-1-fails"))

	_, err = b.svc.TagTenant(ctx, b.admin, other.Name, []string{"tier-1"}, nil)
	require.NoError(t, err)
	backup(other, true)
	require.ElementsMatch(t, []int64{b.tenant.ID, other.ID}, openIncidentTenants(t, b.testBundle, "tier-1-fails"), "tagged later: covered")

	_, err = b.svc.TagTenant(ctx, b.admin, b.tenant.Name, nil, []string{"tier-1"})
	require.NoError(t, err)
	backup(b.tenant, true)
	var untaggedIncident store.AlertIncident
	for _, i := range b.incidents(t) {
		if deref(i.TenantID) == b.tenant.ID {
			untaggedIncident = i
		}
	}
	require.Equal(t, store.IncidentOpen, untaggedIncident.State, "untagged: its incident stays open while the condition holds")
	require.Equal(t, 0, untaggedIncident.Updates, "and an out-of-scope failure does not update it")
	backup(b.tenant, false)
	require.Equal(t, []int64{other.ID}, openIncidentTenants(t, b.testBundle, "tier-1-fails"), "the untagged tenant's incident resolved when its backup succeeded")
	backup(b.tenant, true)
	require.Equal(t, []int64{other.ID}, openIncidentTenants(t, b.testBundle, "tier-1-fails"), "and it opens no new one")
}

// TestAlertTagScopeNoSuccessWatch: the watch opens "no successful backup" for the tagged tenant
// only; once the tenant is untagged its incident stays open while it has no backup and resolves
// when a backup succeeds, and no new one opens for it.
func TestAlertTagScopeNoSuccessWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tagged, untagged := b.addTenant(t), b.addTenant(t)
	_, err := b.db.Pool.Exec(ctx, `UPDATE tenants SET created_at = now() - interval '3 hours'`)
	require.NoError(t, err)
	_, err = b.svc.TagTenant(ctx, b.admin, tagged.Name, []string{"eu"}, nil)
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "eu-stale", Condition: engine.ConditionNoSuccess, Threshold: 2, Tag: "eu"})
	require.NoError(t, err)
	require.NoError(t, b.svc.EvaluateAlerts(ctx))
	require.Equal(t, []int64{tagged.ID}, openIncidentTenants(t, b, "eu-stale"))

	_, err = b.svc.TagTenant(ctx, b.admin, untagged.Name, []string{"eu"}, nil)
	require.NoError(t, err)
	_, err = b.svc.TagTenant(ctx, b.admin, tagged.Name, nil, []string{"eu"})
	require.NoError(t, err)
	require.NoError(t, b.svc.EvaluateAlerts(ctx))
	require.ElementsMatch(t, []int64{tagged.ID, untagged.ID}, openIncidentTenants(t, b, "eu-stale"),
		"the newly tagged tenant is covered; the untagged one's condition still holds")

	storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tagged.ID, Type: engine.TypeBackupRun, Outcome: store.OutcomeSucceeded})
	require.NoError(t, b.svc.EvaluateAlerts(ctx))
	require.Equal(t, []int64{untagged.ID}, openIncidentTenants(t, b, "eu-stale"), "cleared as usual once its backup succeeded")
	_, err = b.db.Pool.Exec(ctx, `UPDATE operation_runs SET finished_at = now() - interval '3 hours' WHERE tenant_id = $1`, tagged.ID)
	require.NoError(t, err)
	require.NoError(t, b.svc.EvaluateAlerts(ctx))
	require.Equal(t, []int64{untagged.ID}, openIncidentTenants(t, b, "eu-stale"), "stale again but out of scope: no new incident")
}

// TestAlertRuleScopeValidation: a tag is checked like a tenant's tag, a rule takes a tenant or a
// tag, and an edit's scope flag replaces the scope; refused requests write nothing.
func TestAlertRuleScopeValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	_, err := b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionDrift, Tag: "EU West"})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, `tag "EU West": use lower case letters`)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionDrift, Tag: "eu", Tenant: tenant.Name})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, "not both")
	rules, err := b.svc.ListAlertRules(ctx, b.admin)
	require.NoError(t, err)
	require.Empty(t, rules, "nothing was written")

	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionDrift, Tenant: tenant.Name})
	require.NoError(t, err)
	tag := "pilot"
	r, err := b.svc.EditAlertRule(ctx, b.admin, engine.AlertRuleEdit{Name: "r", Tag: &tag})
	require.NoError(t, err)
	require.Equal(t, "pilot", r.Tag)
	require.Nil(t, r.TenantID, "the tag replaced the tenant")
	bad := "-x"
	_, err = b.svc.EditAlertRule(ctx, b.admin, engine.AlertRuleEdit{Name: "r", Tag: &bad})
	require.ErrorIs(t, err, engine.ErrInvalid)
	all := ""
	r, err = b.svc.EditAlertRule(ctx, b.admin, engine.AlertRuleEdit{Name: "r", Tag: &all})
	require.NoError(t, err)
	require.Empty(t, r.Tag)
	require.Nil(t, r.TenantID, "every tenant again")

	_, err = b.db.Pool.Exec(ctx, `UPDATE alert_rules SET tenant_id = $1, tag = 'eu'`, tenant.ID)
	require.ErrorContains(t, err, "alert_rules_one_scope", "the database refuses both scopes too")
}
