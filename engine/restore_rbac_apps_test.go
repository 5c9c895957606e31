package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

var rbacFamilies = []string{string(graph.FamilyRoleScopeTags), string(graph.FamilyRoleDefinitions), string(graph.FamilyRoleAssignments)}

// TestRoleAssignmentUnmappableGroupBlocksOnlyIt: a role assignment whose admin group the target
// lacks is not restored (dropping it would change who is admin), the preview names the group,
// and the other assignments are restored with their groups mapped by name and their role bound
// (the custom role to the copy restored first, a built-in to the target's own).
func TestRoleAssignmentUnmappableGroupBlocksOnlyIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bs := setupCA(t, graphsim.TenantSpec{PoliciesPerFamily: 3, Groups: 12}, graphsim.TenantSpec{PoliciesPerFamily: 1, Groups: 3})
	a, b := bs[0], bs[1]
	a.syncCA(t)
	run, set := a.backup(t, rbacFamilies...)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	items := rtItems(t, a.testBundle, set.ID)
	blocked := itemNamed(t, items, "Role assignment Baseline 00")
	p := rtPayload(t, a.testBundle, set.ID, blocked)
	admin := fmt.Sprint(p.Object["members"].([]any)[0])
	adminName := p.References.Groups[admin]
	require.NotEmpty(t, adminName)
	for _, name := range referencedGroupNames(t, a.testBundle, set.ID, items) {
		if name != adminName {
			b.simT.AddGroup(name) // B has every group but the blocked assignment's admin group
		}
	}
	b.syncCA(t)

	pv, err := a.svc.PreviewRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: b.tenantID})
	require.NoError(t, err)
	for _, it := range pv.Items {
		if it.Family != string(graph.FamilyRoleAssignments) {
			continue
		}
		if it.DisplayName == blocked.DisplayName {
			require.Equal(t, store.RestoreActionSkip, it.Action)
			require.Contains(t, it.Error, fmt.Sprintf("admin group %q (%s) unresolved", adminName, admin))
			require.Contains(t, it.Error, "would change who administers what")
			continue
		}
		require.Equal(t, store.RestoreActionCreate, it.Action, "%s: %s", it.DisplayName, it.Error)
		var roles []engine.MappingEntry
		for _, m := range it.Mapping {
			if m.Kind == "role_definition" {
				roles = append(roles, m)
			}
		}
		require.Len(t, roles, 1, it.DisplayName)
		require.Equal(t, engine.MappingResolved, roles[0].Status)
		if roles[0].Role == "custom" {
			require.Equal(t, "restore", roles[0].By, "%s: the custom role restored first", it.DisplayName)
		} else {
			require.Equal(t, "id", roles[0].By, "%s: a built-in role by its id", it.DisplayName)
		}
	}

	started, err := a.svc.StartRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: b.tenantID})
	require.NoError(t, err)
	rrun := a.waitRun(t, started.Run.ID, completed)
	require.Equal(t, store.OutcomePartiallySucceeded, outcome(rrun), deref(rrun.ReasonDetail))
	view, err := a.svc.GetRestore(ctx, a.admin, started.Restore.ID)
	require.NoError(t, err)
	restored := 0
	for _, it := range view.Items {
		if it.Family != string(graph.FamilyRoleAssignments) {
			continue
		}
		if it.DisplayName == blocked.DisplayName {
			require.Equal(t, store.RestoreFailed, it.State)
			require.Nil(t, it.WrittenAt, "the blocked assignment was never written")
			require.Contains(t, deref(it.Detail), adminName)
			continue
		}
		require.Equal(t, store.RestoreApplied, it.State, "%s: %s", it.DisplayName, deref(it.Detail))
		restored++
	}
	require.Equal(t, 2, restored)

	// B's copies: A's admin and scope groups by name, the custom role's copy.
	run, setB := b.backup(t, rbacFamilies...)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	copies := map[string]intune.Payload{}
	for _, it := range rtItems(t, b.testBundle, setB.ID) {
		if it.Family == string(graph.FamilyRoleAssignments) {
			copies[it.DisplayName] = rtPayload(t, b.testBundle, setB.ID, it)
		}
	}
	require.NotContains(t, copies, blocked.DisplayName+view.NameSuffix)
	for _, it := range items {
		if it.Family != string(graph.FamilyRoleAssignments) || it.DisplayName == blocked.DisplayName {
			continue
		}
		src := rtPayload(t, a.testBundle, set.ID, it)
		cp, ok := copies[it.DisplayName+view.NameSuffix]
		require.True(t, ok, "%s copied", it.DisplayName)
		for _, k := range intune.RoleAssignmentGroupKeys {
			var want, got []string
			for _, g := range src.Object[k].([]any) {
				want = append(want, src.References.Groups[fmt.Sprint(g)])
			}
			for _, g := range cp.Object[k].([]any) {
				got = append(got, cp.References.Groups[fmt.Sprint(g)])
			}
			require.ElementsMatch(t, want, got, "%s %s", it.DisplayName, k)
		}
		srcRole, _ := intune.RoleDefinitionOf(src.Object)
		cpRole, _ := intune.RoleDefinitionOf(cp.Object)
		if srcRole.BuiltIn {
			require.Equal(t, srcRole, cpRole, "a built-in role is the same in every tenant")
		} else {
			require.Equal(t, srcRole.Name+view.NameSuffix, cpRole.Name, "the copy of the custom role")
		}
	}
}

// TestMobileAppRestoreCreatesOnlyWhatNeedsNoPackage: an app the target has (by name and type)
// gets the backed-up metadata and assignments, never a copy; a missing app whose type needs a
// package (Win32, MSI) or comes from a store sync is named in the preview and not created, the
// rest goes on; a missing store app or web link is created under its own name.
func TestMobileAppRestoreCreatesOnlyWhatNeedsNoPackage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bs := setupCA(t, graphsim.TenantSpec{PoliciesPerFamily: 1, Groups: 10}, graphsim.TenantSpec{PoliciesPerFamily: 1, Groups: 3})
	a, b := bs[0], bs[1]
	a.syncCA(t)
	run, set := a.backup(t, string(graph.FamilyMobileApps))
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	items := rtItems(t, a.testBundle, set.ID)
	for _, name := range referencedGroupNames(t, a.testBundle, set.ID, items) {
		b.simT.AddGroup(name)
	}
	missing := map[string]string{ // B lacks these: name → what the preview says
		"Contoso VPN":      "package not in backup — upload the app to the target, then restore again",
		"Contoso Agent":    "package not in backup — upload the app to the target, then restore again",
		"Microsoft Teams":  "synced from managed Google Play",
		"Contoso intranet": "",
		"Company Portal":   "",
	}
	for _, app := range b.simT.Policies(graph.FamilyMobileApps) {
		if _, ok := missing[fmt.Sprint(app["displayName"])]; ok {
			require.NoError(t, b.simT.DeletePolicy(graph.FamilyMobileApps, fmt.Sprint(app["id"])))
		}
	}
	b.syncCA(t)
	before := len(b.simT.Policies(graph.FamilyMobileApps))

	pv, err := a.svc.PreviewRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: b.tenantID})
	require.NoError(t, err)
	for _, it := range pv.Items {
		why, gone := missing[it.DisplayName]
		switch {
		case gone && why != "":
			require.Equal(t, store.RestoreActionSkip, it.Action, it.DisplayName)
			require.Contains(t, it.Error, why, it.DisplayName)
		case gone:
			require.Equal(t, store.RestoreActionCreate, it.Action, "%s: %s", it.DisplayName, it.Error)
			require.Equal(t, it.DisplayName, it.TargetName, "created under its own name")
		default:
			require.Equal(t, store.RestoreActionUpdate, it.Action, "%s: %s", it.DisplayName, it.Error)
			require.NotEmpty(t, it.TargetGraphID)
			require.Contains(t, it.Notes, "an app is never copied: the target's app of the same name and type gets the backed-up metadata and assignments")
		}
	}

	started, err := a.svc.StartRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: b.tenantID})
	require.NoError(t, err)
	rrun := a.waitRun(t, started.Run.ID, completed)
	require.Equal(t, store.OutcomeSucceeded, outcome(rrun), deref(rrun.ReasonDetail))
	view, err := a.svc.GetRestore(ctx, a.admin, started.Restore.ID)
	require.NoError(t, err)
	for _, it := range view.Items {
		why, gone := missing[it.DisplayName]
		if gone && why != "" {
			require.Equal(t, store.RestoreSkipped, it.State, it.DisplayName)
			require.Nil(t, it.WrittenAt)
			require.Contains(t, deref(it.Detail), why)
			continue
		}
		require.Equal(t, store.RestoreApplied, it.State, "%s: %s", it.DisplayName, deref(it.Detail))
	}
	byName := map[string]map[string]any{}
	for _, app := range b.simT.Policies(graph.FamilyMobileApps) {
		byName[fmt.Sprint(app["displayName"])] = app
	}
	require.Len(t, byName, before+2, "two apps created, no copy and no empty shell")
	for name, why := range missing {
		_, there := byName[name]
		require.Equal(t, why == "", there, "%s in B", name)
	}
	// The created web link carries A's metadata and assignments (intent, settings).
	web := byName["Contoso intranet"]
	require.Equal(t, "https://intranet.contoso.com", web["appUrl"])
	as, err := b.simT.Assignments(graph.FamilyMobileApps, fmt.Sprint(web["id"]))
	require.NoError(t, err)
	require.NotEmpty(t, as)
	for _, a := range as {
		require.Contains(t, []any{"required", "available", "uninstall"}, a["intent"])
	}
}
