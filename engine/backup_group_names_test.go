package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// setupIntuneGranting is setupIntune with extra application permissions granted before the
// engine's first token (tokens keep the roles they were issued with).
func setupIntuneGranting(t *testing.T, spec graphsim.TenantSpec, roles ...string) *intuneBundle {
	t.Helper()
	return setupIntuneWith(t, spec, func(st *graphsim.Tenant) { st.GrantRoles(roles...) })
}

// setupIntuneWith is setupIntune with the app's permissions changed by grant before the engine's
// first token.
func setupIntuneWith(t *testing.T, spec graphsim.TenantSpec, grant func(*graphsim.Tenant)) *intuneBundle {
	t.Helper()
	return setupIntuneSim(t, graphsim.Options{Seed: 7, Tenants: []graphsim.TenantSpec{spec}}, grant, simTenantName)[0]
}

// TestBackupGroupNames (issue #24): a backup names the groups its objects refer to with
// directoryObjects/getByIds (up to 1,000 per request) where the app has Directory.Read.All, and
// with one groups.get per group where it does not — the token's roles say so, so no getByIds is
// sent to be refused, and the run says it once — and both back up exactly the same payloads
// (every hash equal), a deleted group named "" either way.
func TestBackupGroupNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spec := graphsim.TenantSpec{PoliciesPerFamily: 4, Groups: 40}
	type result struct {
		hashes       map[string]string
		byIDs, get   int
		refusals     []string
		deletedNamed map[string]bool // item → its payload names the deleted group ""
	}
	backup := func(t *testing.T, roles ...string) result {
		b := setupIntuneGranting(t, spec, roles...)
		as, err := b.simT.Assignments(graph.FamilyDeviceConfigurations, b.simT.Policies(graph.FamilyDeviceConfigurations)[0]["id"].(string))
		require.NoError(t, err)
		deleted := ""
		for _, a := range as {
			if g, _ := a["target"].(map[string]any)["groupId"].(string); g != "" && deleted == "" {
				deleted = g
			}
		}
		require.NotEmpty(t, deleted)
		require.NoError(t, b.simT.DeleteGroup(deleted))
		byIDs, get := b.simT.RequestCount("groups.getByIds"), b.simT.RequestCount("groups.get")
		run, set := b.backup(t)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		r := result{hashes: map[string]string{}, byIDs: b.simT.RequestCount("groups.getByIds") - byIDs,
			get: b.simT.RequestCount("groups.get") - get, deletedNamed: map[string]bool{}}
		for _, it := range rtItems(t, b.testBundle, set.ID) {
			r.hashes[it.Family+"/"+it.GraphID] = it.PayloadHash
			p := rtPayload(t, b.testBundle, set.ID, it)
			if p.References == nil {
				continue
			}
			require.Empty(t, p.References.UnnamedGroups, "every group named or found deleted")
			for id, name := range p.References.Groups {
				if id == deleted {
					r.deletedNamed[it.Family+"/"+it.GraphID] = name == ""
				} else {
					require.NotEmpty(t, name, "group %s of %s/%s", id, it.Family, it.GraphID)
				}
			}
		}
		events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
		require.NoError(t, err)
		for _, m := range messages(events) {
			if strings.Contains(m, "getByIds") || strings.Contains(m, "groups named one by one") {
				r.refusals = append(r.refusals, m)
			}
		}
		return r
	}
	byIDs, oneByOne := backup(t, "Directory.Read.All"), backup(t)

	t.Logf("getByIds: %d getByIds, %d groups.get; refused: %d getByIds, %d groups.get; %d items", byIDs.byIDs, byIDs.get,
		oneByOne.byIDs, oneByOne.get, len(byIDs.hashes))
	families := len(graph.IntuneFamilies())
	require.Positive(t, byIDs.byIDs)
	require.LessOrEqual(t, byIDs.byIDs, families, "at most one getByIds per 100-object chunk (4 objects a family)")
	require.Zero(t, byIDs.get, "no group read one by one")
	require.Empty(t, byIDs.refusals)

	require.Zero(t, oneByOne.byIDs, "not sent when the token lacks its permission: a refusal would cost a request")
	require.Positive(t, oneByOne.get)
	require.LessOrEqual(t, oneByOne.get, spec.Groups, "each group named once per run, however many families refer to it side by side")
	require.Len(t, oneByOne.refusals, 1, "said once per run")
	require.Contains(t, oneByOne.refusals[0], "groups named one by one (groups.get): the app is not granted Directory.Read.All")

	require.Equal(t, oneByOne.hashes, byIDs.hashes, "the same payloads either way")
	require.NotEmpty(t, byIDs.deletedNamed)
	require.Equal(t, byIDs.deletedNamed, oneByOne.deletedNamed)
	for item, empty := range byIDs.deletedNamed {
		require.True(t, empty, "%s names the deleted group", item)
	}
}

// TestBackupUnnamedGroups: without Group.Read.All (nor a role implying it) a backup sends no
// groups.get to be refused, warns once for the run with the count of groups left unnamed and the
// permission that names them, and records them as unnamed with why — not as deleted groups (""
// alone). A restore preview into another tenant then says each could not be named because the
// backup lacked the permission.
func TestBackupUnnamedGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupIntuneWith(t, graphsim.TenantSpec{PoliciesPerFamily: 4, Groups: 40}, func(st *graphsim.Tenant) {
		st.RemoveRoles("Group.Read.All", "Group.ReadWrite.All")
	})
	get, byIDs := b.simT.RequestCount("groups.get"), b.simT.RequestCount("groups.getByIds")
	run, set := b.backup(t)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	require.Equal(t, get, b.simT.RequestCount("groups.get"), "no groups.get sent to be refused")
	require.Equal(t, byIDs, b.simT.RequestCount("groups.getByIds"))

	unnamed := map[string]bool{}
	var assigned store.BackupItem // a device configuration assigned to groups
	for _, it := range rtItems(t, b.testBundle, set.ID) {
		p := rtPayload(t, b.testBundle, set.ID, it)
		if p.References == nil {
			continue
		}
		for id, name := range p.References.Groups {
			require.Empty(t, name)
			require.Equal(t, reason.ProviderPermissionDenied, p.References.UnnamedGroups[id], "group %s of %s/%s", id, it.Family, it.GraphID)
			unnamed[id] = true
		}
		if it.Family == string(graph.FamilyDeviceConfigurations) && len(p.References.Groups) > 0 && assigned.GraphID == "" {
			assigned = it
		}
	}
	require.Greater(t, len(unnamed), 1)
	require.NotEmpty(t, assigned.GraphID)

	events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
	require.NoError(t, err)
	var warnings []store.RunEvent
	for _, e := range events {
		if strings.Contains(e.Message, "unnamed") || strings.Contains(e.Message, "cannot name group") {
			warnings = append(warnings, e)
		}
	}
	require.Len(t, warnings, 1, "one warning per run, not one per group")
	w := warnings[0]
	require.Equal(t, store.LevelWarn, w.Level)
	require.Equal(t, string(reason.ProviderPermissionDenied), deref(w.ReasonCode))
	require.Contains(t, w.Message, fmt.Sprintf("%d group(s) the assignments refer to left unnamed: the app is not granted Group.Read.All", len(unnamed)))
	require.Contains(t, w.Message, "(or one of GroupMember.Read.All, Directory.Read.All)", "the roles that imply it, from the registry")
	require.Contains(t, w.Message, "not deleted")

	other := b.addTenant(t)
	preview, err := b.svc.PreviewRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: other.ID, Items: []string{assigned.GraphID}})
	require.NoError(t, err)
	require.Len(t, preview.Items, 1)
	pi := preview.Items[0]
	groups := 0
	for _, m := range pi.Mapping {
		if m.Kind != engine.MappingGroup {
			continue
		}
		groups++
		require.Equal(t, engine.MappingUnresolved, m.Status)
		require.Equal(t, reason.ProviderPermissionDenied, m.Unnamed)
		require.Contains(t, m.Note, "the backup could not name this group: its app lacked Group.Read.All")
		require.Contains(t, m.Note, "not a deleted group")
	}
	require.Positive(t, groups)
	require.Contains(t, strings.Join(pi.Notes, "\n"), fmt.Sprintf("%d group(s) unresolved because the backup could not name this group: its app lacked Group.Read.All", groups))
}
