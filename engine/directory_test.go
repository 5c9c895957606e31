package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// simBundle is a test bundle whose engine talks to a running graphsim through the real azidentity +
// kiota stack.
type simBundle struct {
	*testBundle
	sim *graphsim.Server
}

func setupSim(t *testing.T, specs ...graphsim.TenantSpec) *simBundle {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{Seed: 7, Tenants: specs})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	b := setup(t)
	b.startEngine(t, engine.Config{Graph: sim.GraphConfig(), RetryBudget: 20 * time.Second})
	return &simBundle{testBundle: b, sim: sim}
}

// addSimTenant registers the i-th simulated tenant under name.
func (b *simBundle) addSimTenant(t *testing.T, i int, name string) (engine.TenantView, *graphsim.Tenant) {
	t.Helper()
	st := b.sim.Tenants()[i]
	creds := st.Credentials()
	v, err := b.svc.AddTenant(context.Background(), b.admin, engine.AddTenantRequest{Name: name, TenantGUID: creds.TenantID,
		ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
	require.NoError(t, err)
	return v, st
}

func (b *simBundle) runOnce(t *testing.T, typ string, tenantID int64) store.Run {
	t.Helper()
	res, err := b.svc.Start(context.Background(), b.admin, engine.StartRequest{Type: typ, TenantID: tenantID})
	require.NoError(t, err)
	require.True(t, res.Created)
	return b.waitRun(t, res.Run.ID, completed)
}

func (b *simBundle) liveGroups(t *testing.T, tenantID int64) map[string]string {
	t.Helper()
	out := map[string]string{}
	after, afterID := "", ""
	for {
		page, err := b.svc.SearchGroups(context.Background(), b.admin, tenantID, "", store.GroupQuery{Limit: 1000, AfterName: after, AfterID: afterID})
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		for _, g := range page {
			out[g.GraphID] = g.DisplayName
		}
		after, afterID = page[len(page)-1].DisplayName, page[len(page)-1].GraphID
	}
}

func TestGroupsSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FullThenDeltaWithAddsRenamesDeletes", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, graphsim.TenantSpec{Groups: 1500})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		require.EqualValues(t, 1500, run.Created)
		require.EqualValues(t, 1500, run.ProgressProcessed)
		require.Len(t, b.liveGroups(t, tenant.ID), 1500)
		require.Equal(t, 2, st.RequestCount("groups.list"), "$top=999: two pages")

		added := st.AddGroup("Incident Responders")
		renamed, gone := st.GroupID(3), st.GroupID(4)
		require.NoError(t, st.RenameGroup(renamed, "Renamed Group"))
		require.NoError(t, st.DeleteGroup(gone))

		run = b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		require.EqualValues(t, 1, run.Created)
		require.EqualValues(t, 1, run.Updated)
		require.EqualValues(t, 1, run.Deleted)
		require.Equal(t, 2, st.RequestCount("groups.list"), "the second run used delta, not a full list")
		groups := b.liveGroups(t, tenant.ID)
		require.Len(t, groups, 1500)
		require.Equal(t, "Incident Responders", groups[added])
		require.Equal(t, "Renamed Group", groups[renamed])
		require.NotContains(t, groups, gone, "deleted groups are hidden by default")

		withDeleted, err := b.svc.SearchGroups(ctx, b.admin, tenant.ID, "", store.GroupQuery{Search: gone, IncludeDeleted: true})
		require.NoError(t, err)
		require.Len(t, withDeleted, 1, "kept for history")
		require.NotNil(t, withDeleted[0].DeletedAt)

		// An unchanged tenant: the delta writes nothing.
		run = b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(run))
		require.Zero(t, run.Created+run.Updated+run.Deleted)

		found, err := b.svc.SearchGroups(ctx, b.admin, 0, "contoso", store.GroupQuery{Search: "incident resp"})
		require.NoError(t, err)
		require.Len(t, found, 1, "case-insensitive substring search")
		found, err = b.svc.SearchGroups(ctx, b.admin, 0, "contoso", store.GroupQuery{Search: `%'; DROP TABLE directory_groups; --`})
		require.NoError(t, err)
		require.Empty(t, found)
	})

	t.Run("ExpiredDeltaLinkFallsBackToFullResync", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, graphsim.TenantSpec{Groups: 200})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		require.Equal(t, store.OutcomeSucceeded, outcome(b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)))
		gone := st.GroupID(0)
		require.NoError(t, st.DeleteGroup(gone))
		st.ExpireDeltaTokens(false)
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		require.EqualValues(t, 1, run.Deleted, "the full resync found the deletion")
		require.Len(t, b.liveGroups(t, tenant.ID), 199)
		events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
		require.NoError(t, err)
		require.Contains(t, messages(events), "the stored delta link expired; running a full resync")
	})

	t.Run("ForbiddenLeavesCacheUnchangedAndBlocks", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, graphsim.TenantSpec{Groups: 100})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		require.Equal(t, store.OutcomeSucceeded, outcome(b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)))
		before := b.liveGroups(t, tenant.ID)
		require.NoError(t, st.RenameGroup(st.GroupID(1), "Should Not Arrive"))
		st.RemoveRoles("Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeBlocked, outcome(run))
		require.Equal(t, "provider_permission_denied", deref(run.ReasonCode))
		require.Equal(t, before, b.liveGroups(t, tenant.ID))
	})

	t.Run("FailureMidSyncNeverHalfReplaces", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, graphsim.TenantSpec{Groups: 3000})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		require.Equal(t, store.OutcomeSucceeded, outcome(b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)))
		before := b.liveGroups(t, tenant.ID)
		st.ExpireDeltaTokens(false)
		require.NoError(t, st.RenameGroup(st.GroupID(0), "Changed Before The Failure"))
		// The third page of the full resync is malformed: two pages were already merged.
		st.AddFault(graphsim.Fault{Kind: graphsim.FaultMalformedJSON, Endpoint: "groups.list", Every: 3, Count: 1})
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeFailed, outcome(run))
		require.Equal(t, "provider_malformed_response", deref(run.ReasonCode))
		require.Equal(t, before, b.liveGroups(t, tenant.ID), "all or nothing")
	})

	t.Run("FirstSyncMeetsAGroupListedTwice", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		b := setupSim(t, graphsim.TenantSpec{Groups: 3000})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		// The first sync copies pages straight into the empty cache; the second page repeats an item.
		st.AddFault(graphsim.Fault{Kind: graphsim.FaultDuplicateItem, Endpoint: "groups.list", Every: 2, Count: 1})
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		require.EqualValues(t, 3000, run.Created, "counts start again with the second listing")
		require.Len(t, b.liveGroups(t, tenant.ID), 3000)
		events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
		require.NoError(t, err)
		require.Contains(t, messages(events), "Graph listed a group twice; listing again and merging every batch")
		again := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(again))
		require.EqualValues(t, 0, again.Created+again.Updated+again.Deleted, "the delta after it changes nothing")
	})

	t.Run("AMistypedGroupIsSkippedAndNamed", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		b := setupSim(t, graphsim.TenantSpec{Groups: 1200})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		st.AddFault(graphsim.Fault{Kind: graphsim.FaultMistypedItem, Endpoint: "groups.list", Every: 2, Count: 1})
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomePartiallySucceeded, outcome(run), deref(run.ReasonDetail))
		require.Equal(t, "provider_malformed_response", deref(run.ReasonCode))
		require.Equal(t, "groups skipped, unreadable: 1 of 1200 (the run's log names them)", deref(run.ReasonDetail))
		require.EqualValues(t, 1, run.Skipped)
		require.EqualValues(t, 1199, run.Created)
		require.Len(t, b.liveGroups(t, tenant.ID), 1199)
		events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
		require.NoError(t, err)
		require.Contains(t, messages(events), "skipped an undecodable group: graph groups.list: item 999 does not decode: "+
			"json: cannot unmarshal number into Go struct field graphGroup.displayName of type string")
	})

	t.Run("ThrottlingSucceedsLate", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, graphsim.TenantSpec{Groups: 50})
		tenant, st := b.addSimTenant(t, 0, "contoso")
		st.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups.list", Count: 2, RetryAfter: 1})
		run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		require.GreaterOrEqual(t, run.FinishedAt.Sub(*run.StartedAt), 2*time.Second, "Retry-After honoured")
		require.Len(t, b.liveGroups(t, tenant.ID), 50)
	})
}

func TestRoleDefinitionsSync(t *testing.T) {
	t.Parallel()
	b := setupSim(t, graphsim.TenantSpec{Groups: 10})
	tenant, _ := b.addSimTenant(t, 0, "contoso")
	run := b.runOnce(t, engine.TypeDirectoryRoleDefsSync, tenant.ID)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	require.Positive(t, run.Created)
	defs, err := b.svc.RoleDefinitions(context.Background(), b.admin, tenant.ID, "", "admin", false)
	require.NoError(t, err)
	require.NotEmpty(t, defs)
	require.Contains(t, string(defs[0].RolePermissions), "allowedResourceActions", "permissions are kept")
	again := b.runOnce(t, engine.TypeDirectoryRoleDefsSync, tenant.ID)
	require.EqualValues(t, run.Created, again.Unchanged)
}

func TestVerification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		spec    graphsim.TenantSpec
		mutate  func(*graphsim.Tenant)
		outcome store.Outcome
		reason  string
		detail  string
		status  string
	}{
		{name: "AllPermissions", spec: graphsim.TenantSpec{Profile: graphsim.ProfileHealthy}, outcome: store.OutcomeSucceeded, status: "ok"},
		{name: "OneMissing", spec: graphsim.TenantSpec{Profile: graphsim.ProfileLostPermission}, outcome: store.OutcomeBlocked,
			reason: "provider_permission_denied", detail: "DeviceManagementConfiguration.Read.All", status: "blocked"},
		{name: "NoneConsented", mutate: func(st *graphsim.Tenant) { st.SetRoles(nil) }, outcome: store.OutcomeBlocked,
			reason: "provider_consent_missing", detail: "no application permissions", status: "blocked"},
		{name: "WrongSecret", mutate: func(st *graphsim.Tenant) { st.SetAuthFault(graphsim.AuthWrongSecret) }, outcome: store.OutcomeBlocked,
			reason: "provider_auth_failed", status: "blocked"},
		{name: "ExpiredSecret", mutate: func(st *graphsim.Tenant) { st.SetAuthFault(graphsim.AuthSecretExpired) }, outcome: store.OutcomeBlocked,
			reason: "provider_secret_expired", status: "blocked"},
		{name: "UnknownApp", mutate: func(st *graphsim.Tenant) { st.SetAuthFault(graphsim.AuthAppNotFound) }, outcome: store.OutcomeBlocked,
			reason: "provider_app_not_found", status: "blocked"},
		{name: "UnknownTenant", mutate: func(st *graphsim.Tenant) { st.SetAuthFault(graphsim.AuthTenantNotFound) }, outcome: store.OutcomeBlocked,
			reason: "provider_tenant_not_found", status: "blocked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupSim(t, tc.spec)
			tenant, st := b.addSimTenant(t, 0, "contoso")
			if tc.mutate != nil {
				tc.mutate(st)
			}
			run := b.runOnce(t, engine.TypeProviderVerification, tenant.ID)
			require.Equal(t, tc.outcome, outcome(run), deref(run.ReasonDetail))
			require.Equal(t, tc.reason, deref(run.ReasonCode))
			if tc.detail != "" {
				require.Contains(t, deref(run.ReasonDetail), tc.detail)
			}
			require.NotContains(t, deref(run.ReasonDetail), st.Credentials().ClientSecret, "never the secret")
			view, err := b.svc.GetTenantByID(ctx, b.admin, tenant.ID)
			require.NoError(t, err)
			require.Equal(t, tc.status, view.Connection.Status)
			require.NotNil(t, view.Connection.LastVerifiedAt)
			if tc.name == "OneMissing" {
				require.Equal(t, []string{"DeviceManagementConfiguration.Read.All"}, view.Connection.MissingPermissions)
				caps := view.Connection.Verification["capabilities"].([]any)
				require.NotEmpty(t, caps)
			}
			if tc.name == "AllPermissions" {
				require.Contains(t, run.Result, "verification")
			}
		})
	}
}

func messages(events []store.RunEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Message)
	}
	return out
}
