package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/op/backup"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestBackupReads (issue #24): the cheap reads — assignments and the children the descriptor
// names with the list ($expand, where it says Graph answers them complete) or with the GET by id a
// backup makes anyway — back up exactly what the per-object reads do (every payload hash equal),
// with no per-object read of those left for the families that allow it.
func TestBackupReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 4, Groups: 60})
	// listed are the child collections the list expands (intune.Child.ListExpand).
	listed := []string{"deviceCompliancePolicies.scheduledActionsForRule", "compliancePolicies.settings"}
	assignmentReads := func() int {
		n := 0
		for _, c := range graph.Contracts() {
			if c.Kind == graph.KindAssignments || slices.Contains(listed, c.Name) {
				n += b.simT.RequestCount(c.Name)
			}
		}
		return n
	}
	backupWith := func(params map[string]any) (store.BackupSet, int) {
		before := assignmentReads()
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: b.tenantID, Params: params})
		require.NoError(t, err)
		run := b.waitRun(t, res.Run.ID, completed)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		sets, err := b.svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{TenantID: b.tenantID, Limit: 1})
		require.NoError(t, err)
		return sets[0], assignmentReads() - before
	}
	perObject, perObjectReads := backupWith(map[string]any{"reads": backup.ReadsPerObject})
	cheap, cheapReads := backupWith(nil)

	hashes := func(setID int64) map[string]string {
		out := map[string]string{}
		for _, it := range rtItems(t, b.testBundle, setID) {
			out[it.Family+"/"+it.GraphID] = it.PayloadHash
		}
		return out
	}
	require.Equal(t, hashes(perObject.ID), hashes(cheap.ID), "the cheap reads back up the same payloads")
	require.Positive(t, perObjectReads)
	require.Zero(t, cheapReads, "no assignments, compliance rules or compliance settings read one by one (%d before)", perObjectReads)

}

// TestBackupReadsFallBack (issue #24 item 2): a child collection the list expands but answers
// incomplete — here settings-catalog compliance policies whose expanded settings number fewer
// than their settingCount says — is read per object for exactly those policies, the fallback is
// logged once per run however many fall back, and the payload holds every setting.
func TestBackupReadsFallBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 4, Groups: 20})
	var short []string
	for _, p := range b.simT.Policies(graph.FamilyCompliancePolicies) {
		if n, _ := p["settingCount"].(int); n > 1 && n <= 25 && len(short) < 2 {
			id := p["id"].(string)
			require.NoError(t, b.simT.UpdatePolicy(graph.FamilyCompliancePolicies, id, map[string]any{"settingCount": n + 1}))
			short = append(short, id)
		}
	}
	require.Len(t, short, 2)
	before := b.simT.RequestCount("compliancePolicies.settings")
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: b.tenantID,
		Params: map[string]any{"families": "compliancePolicies"}})
	require.NoError(t, err)
	run := b.waitRun(t, res.Run.ID, completed)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	require.Equal(t, 2, b.simT.RequestCount("compliancePolicies.settings")-before, "only the two incomplete expansions read again")

	events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
	require.NoError(t, err)
	var fellBack []string
	for _, m := range messages(events) {
		if strings.Contains(m, "came back incomplete") {
			fellBack = append(fellBack, m)
		}
	}
	require.Len(t, fellBack, 1, "logged once per run")
	require.Contains(t, fellBack[0], "compliancePolicies: the list's $expand=settings came back incomplete")

	sets, err := b.svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{TenantID: b.tenantID, Limit: 1})
	require.NoError(t, err)
	for _, it := range rtItems(t, b.testBundle, sets[0].ID) {
		want, err := b.simT.Children(graph.FamilyCompliancePolicies, it.GraphID, "settings")
		require.NoError(t, err)
		require.Len(t, rtPayload(t, b.testBundle, sets[0].ID, it).Settings, len(want), it.GraphID)
	}
}

// TestBackupReadsInFlight (issue #20 item 3): a backup keeps several reads in flight (families
// side by side), never more than graph.ReadsInFlight, against a Graph whose every answer takes
// time (graphsim's latency model), and backs up every object.
func TestBackupReadsInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	latency := graphsim.Latency{Median: 15 * time.Millisecond, P99: 40 * time.Millisecond}
	ib := setupIntuneSim(t, graphsim.Options{Seed: 7, Latency: &latency,
		Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: 3, Groups: 20}}}, nil, simTenantName)[0]
	b, st, tenantID := ib.testBundle, ib.simT, ib.tenantID

	st.ResetPeakInFlight()
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: tenantID})
	require.NoError(t, err)
	run := b.waitRun(t, res.Run.ID, completed)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	peak := st.PeakInFlight()
	require.Greater(t, peak, 1, "families read side by side")
	require.LessOrEqual(t, peak, graph.ReadsInFlight, "never more than graph.ReadsInFlight at once")
	sets, err := b.svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{TenantID: tenantID, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, store.BackupComplete, sets[0].Status)
	require.Len(t, rtItems(t, b, sets[0].ID), sets[0].ItemCount)
	require.Positive(t, sets[0].ItemCount)
}

// TestBackupReadsInFlightFailure (issue #20 item 3): with families read side by side, a
// permission several families need fails the run on the first of them in family order, as a
// backup of one family after the other does — the same family and detail every time — and ends
// the set failed.
func TestBackupReadsInFlightFailure(t *testing.T) {
	t.Parallel()
	b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 2})
	b.simT.RemoveRoles("DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All")
	var details []string
	for range 3 {
		run, set := b.backup(t)
		require.Equal(t, store.OutcomeBlocked, outcome(run))
		require.Equal(t, "provider_permission_denied", *run.ReasonCode)
		require.Equal(t, store.BackupFailed, set.Status)
		details = append(details, *run.ReasonDetail)
	}
	require.Contains(t, details[0], "DeviceManagementConfiguration.Read.All")
	require.Equal(t, []string{details[0], details[0], details[0]}, details, "the same first family every run")
}
