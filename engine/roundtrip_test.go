package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestRoundTrip is the round-trip property of issue #17 item 5 against the faithful simulator:
// for every family and every payload shape graphsim generates (PoliciesPerFamily 5 cycles through
// all of them), back up tenant A, restore create_copy into tenant B, back up B: each copy's normalized
// payload equals its source except the name suffix, ids and the mapped references (groups,
// filters, scope tags). Then overwrite into A and back up A: equal. A family whose descriptor
// says it does not round-trip (intune.Descriptor.RoundTrip) is compared all the same where the
// shapes allow; built-ins (never restored) and enrollment defaults (PATCHed in place) are left
// out of the copy comparison.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenants := setupIntuneSim(t, graphsim.Options{Seed: 11, Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: 5, Groups: 40}, {PoliciesPerFamily: 1, Groups: 5}}},
		nil, func(i int, st *graphsim.Tenant) string { return fmt.Sprintf("rt-%d-%s", i, st.ID[:8]) })
	a, bt := tenants[0], tenants[1]
	b, ids := a.testBundle, [2]int64{a.tenantID, bt.tenantID}
	syncAll := func(x *intuneBundle) {
		for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeDirectoryRoleDefsSync, engine.TypeInventorySync} {
			run := x.run(t, engine.StartRequest{Type: typ})
			require.Equal(t, store.OutcomeSucceeded, outcome(run), "%s: %s", typ, deref(run.ReasonDetail))
		}
	}
	// A filter and a policy tagged with a custom scope tag: the copies must carry B's copy of the
	// tag (mapped by name, created earlier in the same restore), never A's id.
	var custom string
	for _, tag := range a.simT.Policies(graph.FamilyRoleScopeTags) {
		if tag["id"] != "0" {
			custom = fmt.Sprint(tag["id"])
		}
	}
	require.NotEmpty(t, custom)
	_, err := a.simT.AddPolicy(graph.FamilyAssignmentFilters, map[string]any{"displayName": "Corporate devices (EMEA)",
		"platform": "windows10AndLater", "rule": `(device.deviceOwnership -eq "Corporate")`, "assignmentFilterManagementType": "devices",
		"roleScopeTags": []any{"0", custom}})
	require.NoError(t, err)
	_, err = a.simT.AddPolicy(graph.FamilyDeviceManagementScripts, map[string]any{"displayName": "Tagged script", "fileName": "t.ps1",
		"scriptContent": "V3JpdGUtT3V0cHV0ICd0YWdnZWQn", "runAsAccount": "system", "enforceSignatureCheck": false, "runAs32Bit": false,
		"roleScopeTagIds": []any{custom}})
	require.NoError(t, err)
	syncAll(a)
	run, setA := a.backup(t)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	srcItems := rtItems(t, b, setA.ID)
	// windows10GeneralConfiguration's privacyAccessControls (a navigation, BETA) are in the backup.
	privacy := 0
	for _, it := range srcItems {
		if it.ODataType == "#microsoft.graph.windows10GeneralConfiguration" {
			controls, _ := rtPayload(t, b, setA.ID, it).Object["privacyAccessControls"].([]any)
			require.NotEmpty(t, controls, "%s %q: privacyAccessControls backed up", it.Family, it.DisplayName)
			privacy++
		}
	}
	require.NotZero(t, privacy, "the tenant has a windows10GeneralConfiguration")
	// Notification message templates are backed up with their localized messages (a navigation,
	// BETA), both shapes: two messages (en-us default, de-de) and one (fr-fr).
	var msgCounts []int
	for _, it := range srcItems {
		if it.Family == string(graph.FamilyNotificationMessageTemplates) {
			msgs, _ := rtPayload(t, b, setA.ID, it).Object["localizedNotificationMessages"].([]any)
			msgCounts = append(msgCounts, len(msgs))
		}
	}
	sort.Ints(msgCounts)
	require.Equal(t, []int{1, 2}, msgCounts, "localized messages of each template backed up")
	// Mobile apps: the apps the tenant manages, with their icon (metadata), never Microsoft's
	// unassigned global managed apps (the peers' list filter); role assignments with their role.
	var appTypes []string
	for _, it := range srcItems {
		switch graph.Family(it.Family) {
		case graph.FamilyMobileApps:
			appTypes = append(appTypes, it.ODataType)
			require.NotNil(t, rtPayload(t, b, setA.ID, it).Object["roleScopeTagIds"], "%q: scope tags read by id (the list leaves them out)", it.DisplayName)
			if it.ODataType == "#microsoft.graph.iosStoreApp" {
				require.NotNil(t, rtPayload(t, b, setA.ID, it).Object["largeIcon"], "%q: largeIcon backed up", it.DisplayName)
			}
		case graph.FamilyRoleAssignments:
			ref, ok := intune.RoleDefinitionOf(rtPayload(t, b, setA.ID, it).Object)
			require.True(t, ok && ref.Name != "", "%q: its role definition backed up", it.DisplayName)
		}
	}
	require.NotContains(t, appTypes, "#microsoft.graph.managedIOSStoreApp", "an unassigned global managed app is not the tenant's")
	require.Contains(t, appTypes, "#microsoft.graph.win32LobApp")

	// B has A's groups by name (as a migration target would), nothing else of A.
	for _, name := range referencedGroupNames(t, b, setA.ID, srcItems) {
		bt.simT.AddGroup(name)
	}
	syncAll(bt)

	// The preview names the references it cannot map into B (never copied silently).
	pv, err := b.svc.PreviewRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: setA.ID, TenantID: ids[1]})
	require.NoError(t, err)
	unresolvedKinds := map[string]bool{}
	for _, it := range pv.Items {
		for _, m := range it.Mapping {
			if m.Status != "resolved" {
				unresolvedKinds[m.Kind] = true
			}
		}
	}
	// Mobile apps, notification templates, compliance scripts and custom ADMX definitions B has
	// by name (and type, category and class) are mapped.
	resolvedKinds := map[string]bool{}
	for _, it := range pv.Items {
		for _, m := range it.Mapping {
			switch {
			case m.Status == "resolved" && (m.By == "name" || m.By == "restore"):
				// by name in B, or ("restore") to the copy this restore writes first (compliance scripts)
				resolvedKinds[m.Kind] = true
				if m.Kind == "mobile_app" {
					require.NotEmpty(t, m.Role, "a mobile app is matched with its @odata.type")
				}
			}
		}
	}
	for _, k := range []string{"mobile_app", "notification_template", "compliance_script", "admx_definition"} {
		require.True(t, resolvedKinds[k], "the preview maps %s references by name: %v", k, resolvedKinds)
		require.False(t, unresolvedKinds[k], "no %s reference is left unresolved: %v", k, unresolvedKinds)
	}
	started, err := b.svc.StartRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: setA.ID, TenantID: ids[1]})
	require.NoError(t, err)
	rrun := b.waitRun(t, started.Run.ID, completed)
	view, err := b.svc.GetRestore(ctx, b.admin, started.Restore.ID)
	require.NoError(t, err)
	for _, it := range view.Items {
		if it.State != store.RestoreApplied && it.State != store.RestoreSkipped || it.State == store.RestoreApplied && unexpectedUnresolved(it) {
			t.Errorf("create_copy %s/%s (%s): %s %s", it.Family, it.SourceGraphID, it.DisplayName, it.State, deref(it.Detail))
		}
	}
	require.Contains(t, []store.Outcome{store.OutcomeSucceeded, store.OutcomePartiallySucceeded}, outcome(rrun), deref(rrun.ReasonDetail))

	run, setB := bt.backup(t)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	copies := rtItems(t, b, setB.ID)
	byName := map[string]store.BackupItem{}
	for _, it := range copies {
		byName[it.Family+"\x00"+it.DisplayName] = it
	}
	tagsA, tagsB := tagIndex(srcItems), tagIndex(copies)
	covered := map[string]bool{}
	for _, src := range srcItems {
		if src.IsDefault || isBuiltInItem(t, b, setA.ID, src) {
			continue
		}
		suffix := view.NameSuffix
		if intune.DescriptorOf(graph.Family(src.Family)).MatchExisting {
			suffix = "" // mobile apps are never copied: B's app of the same name and type was updated
		}
		key := src.Family + "\x00" + src.DisplayName + suffix
		cp, ok := byName[key]
		if !rtTrue(t, ok, "%s %q: no copy in B", src.Family, src.DisplayName) {
			continue
		}
		// Scope tags (roleScopeTagIds, filters' roleScopeTags) map by name: the copy carries B's
		// copies of A's tags (created earlier in the same restore) or Default.
		if key := intune.DescriptorOf(graph.Family(src.Family)).ScopeTagKey(); key != "" {
			rtTrue(t, fmt.Sprint(tagNames(rtPayload(t, b, setA.ID, src).Object[key], tagsA, "")) ==
				fmt.Sprint(tagNames(rtPayload(t, b, setB.ID, cp).Object[key], tagsB, view.NameSuffix)),
				"%s %q: scope tags %v mapped to %v", src.Family, src.DisplayName, rtPayload(t, b, setA.ID, src).Object[key], rtPayload(t, b, setB.ID, cp).Object[key])
		}
		// A compliance script restored by the same restore is the one the copy runs (written
		// first, restoreOrder), not B's same-named script.
		if refs := rtPayload(t, b, setB.ID, cp).References; refs != nil {
			for _, n := range refs.Objects[intune.RefComplianceScript] {
				rtTrue(t, strings.HasSuffix(n.Name, view.NameSuffix), "%s %q runs compliance script %q, not the restored copy", src.Family, src.DisplayName, n.Name)
			}
			// Likewise the notification template of a compliance action or an enrollment
			// notification: the copy of A's template restored first, not B's same-named one.
			for _, n := range refs.Objects[intune.RefNotificationTemplate] {
				rtTrue(t, strings.HasSuffix(n.Name, view.NameSuffix), "%s %q notifies with template %q, not the restored copy", src.Family, src.DisplayName, n.Name)
			}
		}
		// A role assignment of a custom role binds the copy of the role restored first, not B's
		// same-named role; a built-in role is B's own.
		if ref, ok := intune.RoleDefinitionOf(rtPayload(t, b, setB.ID, cp).Object); ok {
			rtTrue(t, ref.BuiltIn != strings.HasSuffix(ref.Name, view.NameSuffix), "%s %q binds role %q (built-in %v)", src.Family, src.DisplayName, ref.Name, ref.BuiltIn)
		}
		want := rtComparable(t, b, setA.ID, src, "")
		rtCAExpectedState(src.Family, want) // never enabled without --ca-state original
		got := rtComparable(t, b, setB.ID, cp, view.NameSuffix)
		if suffix == "" {
			_, copied := byName[src.Family+"\x00"+src.DisplayName+view.NameSuffix]
			rtTrue(t, !copied, "%s %q: copied, not matched to B's app", src.Family, src.DisplayName)
		}
		if !rtEqualJSON(t, want, got, "create_copy %s/%s (%s)", src.Family, src.PolicyType, src.ODataType) {
			continue
		}
		covered[src.Family+" "+src.ODataType] = true
	}
	var cov []string
	for k := range covered {
		cov = append(cov, k)
	}
	sort.Strings(cov)
	t.Logf("create_copy round-trips (family × shape): %d\n%s", len(cov), strings.Join(cov, "\n"))
	for _, f := range graph.IntuneFamilies() {
		found := false
		for k := range covered {
			found = found || strings.HasPrefix(k, string(f)+" ")
		}
		require.True(t, found, "family %s round-trips at least one shape", f)
	}
	// Five policies per family generate every fixture type graphsim has (its shapes cycle through
	// them): each one that is restored as a copy round-trips.
	for _, src := range srcItems {
		if !src.IsDefault && !isBuiltInItem(t, b, setA.ID, src) {
			require.True(t, covered[src.Family+" "+src.ODataType], "%s %s (%q) round-trips", src.Family, src.ODataType, src.DisplayName)
		}
	}

	// Since the backup, A gained an autopilot group assignment and an intent setting: an
	// overwrite brings back exactly what was backed up (the additions deleted one by one).
	profile := fmt.Sprint(a.simT.Policies(graph.FamilyWindowsAutopilotDeploymentProfiles)[0]["id"])
	_, err = a.simT.AddAssignment(graph.FamilyWindowsAutopilotDeploymentProfiles, profile, map[string]any{
		"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": a.simT.GroupID(39),
		"deviceAndAppManagementAssignmentFilterId": nil, "deviceAndAppManagementAssignmentFilterType": "none"}, nil)
	require.NoError(t, err)
	require.NoError(t, a.simT.AddChild(graph.FamilyIntents, fmt.Sprint(a.simT.Policies(graph.FamilyIntents)[0]["id"]), "settings", map[string]any{
		"@odata.type":  "#microsoft.graph.deviceManagementBooleanSettingInstance",
		"definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_firewallBlockStatefulFTPAddedLater", "valueJson": "true", "value": true}))

	for _, cfg := range a.simT.Policies(graph.FamilyDeviceConfigurations) {
		if cfg["@odata.type"] == "#microsoft.graph.windows10GeneralConfiguration" {
			require.NoError(t, a.simT.AddChild(graph.FamilyDeviceConfigurations, fmt.Sprint(cfg["id"]), "privacyAccessControls", map[string]any{
				"accessLevel": "forceAllow", "dataCategory": "microphone", "appPackageFamilyName": nil, "appDisplayName": nil}))
			break
		}
	}

	// A template gained a localized message since the backup: the overwrite leaves exactly the backed-up ones.
	require.NoError(t, a.simT.AddChild(graph.FamilyNotificationMessageTemplates, fmt.Sprint(a.simT.Policies(graph.FamilyNotificationMessageTemplates)[0]["id"]),
		"localizedNotificationMessages", map[string]any{"@odata.type": "#microsoft.graph.localizedNotificationMessage", "locale": "nl-nl",
			"isDefault": false, "subject": "Toegevoegd", "messageTemplate": "Added since the backup"}))

	// overwrite into A, back up A: equal.
	started, err = b.svc.StartRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: setA.ID, Mode: store.RestoreOverwrite, CAState: engine.CAStateOriginal})
	require.NoError(t, err)
	orun := b.waitRun(t, started.Run.ID, completed)
	require.Equal(t, store.OutcomeSucceeded, outcome(orun), deref(orun.ReasonDetail))
	run, setA2 := a.backup(t)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	after := map[string]store.BackupItem{}
	for _, it := range rtItems(t, b, setA2.ID) {
		after[it.Family+"/"+it.GraphID] = it
	}
	for _, src := range srcItems {
		if isBuiltInItem(t, b, setA.ID, src) {
			continue
		}
		it, ok := after[src.Family+"/"+src.GraphID]
		if !rtTrue(t, ok, "%s/%s gone after overwrite", src.Family, src.GraphID) {
			continue
		}
		rtEqualJSON(t, rtComparable(t, b, setA.ID, src, ""), rtComparable(t, b, setA2.ID, it, ""), "overwrite %s/%s (%s)", src.Family, src.PolicyType, src.ODataType)
	}
}

func rtTrue(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

func rtEqualJSON(t *testing.T, want, got any, format string, args ...any) bool {
	t.Helper()
	w, _ := intune.CanonicalJSON(want)
	g, _ := intune.CanonicalJSON(got)
	if string(w) != string(g) {
		t.Errorf("%s:\n want %s\n  got %s", fmt.Sprintf(format, args...), w, g)
		return false
	}
	return true
}

func rtItems(t *testing.T, b *testBundle, setID int64) []store.BackupItem {
	t.Helper()
	v, err := b.svc.GetBackupSet(context.Background(), b.admin, setID)
	require.NoError(t, err)
	return v.Items
}

func rtPayload(t *testing.T, b *testBundle, setID int64, it store.BackupItem) intune.Payload {
	t.Helper()
	// The set's view hides a sensitive item's payload key; the store's list has it, and the payload
	// itself is sealed with the service's key: read both unredacted.
	ctx := store.WithPayloadSealer(context.Background(), b.sealer)
	items, err := store.ListBackupItems(ctx, b.db.Pool, setID)
	require.NoError(t, err)
	key := ""
	for _, stored := range items {
		if stored.ID == it.ID {
			key = stored.PayloadHash
		}
	}
	require.NotEmpty(t, key, "item %d of set %d", it.ID, setID)
	raws, err := store.BackupPayloads(ctx, b.db.Pool, []string{key})
	require.NoError(t, err)
	p, err := intune.DecodePayload(raws[key])
	require.NoError(t, err)
	return p
}

func isBuiltInItem(t *testing.T, b *testBundle, setID int64, it store.BackupItem) bool {
	d := intune.DescriptorOf(graph.Family(it.Family))
	return d != nil && d.IsBuiltIn(rtPayload(t, b, setID, it).Object)
}

func referencedGroupNames(t *testing.T, b *testBundle, setID int64, items []store.BackupItem) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		p := rtPayload(t, b, setID, it)
		if p.References == nil {
			continue
		}
		for _, n := range p.References.Groups {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// comparable is a payload without what legitimately differs across tenants: the name, every id,
// the scope tags and the group and filter ids of assignment targets (mapped by name), the
// references block (names of those ids), and an enrollment configuration's priority (tenant-local order).
// copySuffix is the restore's name suffix when it is a copy: a reference to an object the same
// restore copied (a compliance script) names the copy.
func rtComparable(t *testing.T, b *testBundle, setID int64, it store.BackupItem, copySuffix string) map[string]any {
	t.Helper()
	p := rtPayload(t, b, setID, it)
	fi, _ := graph.FamilyOf(graph.Family(it.Family))
	obj := p.Object
	for _, k := range []string{fi.NameProperty, "displayName", "name", "roleScopeTagIds", "roleScopeTags", "priority"} {
		delete(obj, k)
	}
	// References to other objects of the tenant (ESP and app-config mobile apps, notification
	// templates, compliance scripts) are mapped by name across tenants: compared by the names the
	// payload's own backup recorded, so a copy in B equals A only when it holds B's objects of the
	// same name (and type). An id left out of the write would show as a missing name.
	if d := intune.DescriptorOf(graph.Family(it.Family)); d != nil {
		d.VisitReferences(obj, p.ScheduledActions, func(ref intune.Reference, id string) (string, bool) {
			n := p.References.Object(ref.Kind, id)
			require.NotEmpty(t, n.Name, "%s/%s: the backup names %s %s", it.Family, it.GraphID, ref.Kind, id)
			return strings.TrimSuffix(n.Name, copySuffix) + "|" + n.Type, true
		})
	}
	rtCAComparable(t, it.Family, p, obj)
	// A role assignment's role definition (built-in: B's own; custom: the copy restored first) and
	// its admin and scope groups are compared by name.
	if ref, ok := intune.RoleDefinitionOf(obj); ok {
		obj["roleDefinition"] = fmt.Sprintf("%s|builtIn=%v", strings.TrimSuffix(ref.Name, copySuffix), ref.BuiltIn)
	}
	for _, g := range intune.RoleAssignmentGroups(graph.Family(it.Family), obj) {
		require.NotEmpty(t, p.References.Groups[g], "%s/%s: the backup names group %s", it.Family, it.GraphID, g)
	}
	for _, k := range intune.RoleAssignmentGroupKeys {
		if list, ok := obj[k].([]any); ok && it.Family == string(graph.FamilyRoleAssignments) {
			names := []string{}
			for _, g := range list {
				names = append(names, p.References.Groups[fmt.Sprint(g)])
			}
			sort.Strings(names)
			obj[k] = names
		}
	}
	// Compliance notification copies go to groups, mapped like assignment groups: compared by name.
	for _, rule := range p.ScheduledActions {
		acts, _ := rule.(map[string]any)["scheduledActionConfigurations"].([]any)
		for _, a := range acts {
			m := a.(map[string]any)
			cc, _ := m["notificationMessageCCList"].([]any)
			for i, g := range cc {
				require.NotEmpty(t, p.References.Groups[fmt.Sprint(g)], "%s/%s: the backup names CC group %v", it.Family, it.GraphID, g)
				cc[i] = p.References.Groups[fmt.Sprint(g)]
			}
		}
	}
	// Custom ADMX definitions (and their presentations) have ids of their own tenant, mapped by
	// name, category and class (and label): compared without ids, like everything else.
	out := map[string]any{"object": obj, "settings": p.Settings, "scheduledActionsForRule": p.ScheduledActions, "definitionValues": p.DefinitionValues}
	var as []any
	for _, a := range p.Assignments {
		m, _ := a.(map[string]any)
		if target, ok := m["target"].(map[string]any); ok {
			for _, k := range []string{"groupId", "deviceAndAppManagementAssignmentFilterId"} {
				if v, ok := target[k]; ok && v != intune.NoFilterID {
					target[k] = "<mapped>"
				}
			}
		}
		as = append(as, m)
	}
	out["assignments"] = intune.NormalizeAssignments(as)
	rtDropIDs(out)
	return out
}

func rtDropIDs(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "id" || strings.HasSuffix(k, "@odata.context") || k == "sourceId" {
				delete(x, k)
				continue
			}
			rtDropIDs(val)
		}
	case []any:
		for _, val := range x {
			rtDropIDs(val)
		}
	}
}

func tagIndex(items []store.BackupItem) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		if it.Family == string(graph.FamilyRoleScopeTags) {
			out[it.GraphID] = it.DisplayName
		}
	}
	return out
}

// tagNames names scope tag ids, dropping the copy suffix (Default "0" keeps its name).
func tagNames(v any, names map[string]string, suffix string) []string {
	list, _ := v.([]any)
	var out []string
	for _, id := range list {
		n := names[fmt.Sprint(id)]
		if suffix != "" {
			n = strings.TrimSuffix(n, suffix)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// unexpectedUnresolved: any unresolved reference (B has every object A's policies refer to).
func unexpectedUnresolved(it store.RestoreItem) bool {
	var mapping []struct {
		Kind   string `json:"kind"`
		Status string `json:"status"`
	}
	_ = json.Unmarshal(it.Mapping, &mapping)
	for _, m := range mapping {
		if m.Status != "resolved" {
			return true
		}
	}
	return false
}
