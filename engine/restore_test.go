package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// restoreBundle is a graphsim tenant registered, its groups and inventory synced and backed up.
type restoreBundle struct {
	*intuneBundle
	set store.BackupSet
}

func setupRestore(t *testing.T, spec graphsim.TenantSpec, families ...string) *restoreBundle {
	t.Helper()
	b := setupIntune(t, spec)
	for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeInventorySync} {
		run := b.run(t, engine.StartRequest{Type: typ})
		require.Equal(t, store.OutcomeSucceeded, outcome(run), "%s: %s", typ, deref(run.ReasonDetail))
	}
	run, set := b.backup(t, families...)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	return &restoreBundle{intuneBundle: b, set: set}
}

func (b *restoreBundle) items(t *testing.T) []store.BackupItem {
	t.Helper()
	v, err := b.svc.GetBackupSet(context.Background(), b.admin, b.set.ID)
	require.NoError(t, err)
	return v.Items
}

// restore starts a restore and waits for its run.
func (b *restoreBundle) restore(t *testing.T, req engine.RestoreRequest) (store.Run, engine.RestoreView) {
	t.Helper()
	ctx := context.Background()
	if req.BackupSetID == 0 {
		req.BackupSetID = b.set.ID
	}
	started, err := b.svc.StartRestore(ctx, b.admin, req)
	require.NoError(t, err)
	require.Equal(t, engine.TypeRestoreExecute, started.Run.Type)
	run := b.waitRun(t, started.Run.ID, completed)
	view, err := b.svc.GetRestore(ctx, b.admin, started.Restore.ID)
	require.NoError(t, err)
	return run, view
}

func nameOf(f graph.Family, obj map[string]any) string {
	fi, _ := graph.FamilyOf(f)
	s, _ := obj[fi.NameProperty].(string)
	return s
}

func findPolicy(st *graphsim.Tenant, f graph.Family, id string) map[string]any {
	for _, p := range st.Policies(f) {
		if fmt.Sprint(p["id"]) == id {
			return p
		}
	}
	return nil
}

func directAssignments(t *testing.T, st *graphsim.Tenant, f graph.Family, id string) []string {
	t.Helper()
	as, err := st.Assignments(f, id)
	require.NoError(t, err)
	var out []string
	for _, a := range as {
		target := a["target"].(map[string]any)
		out = append(out, fmt.Sprintf("%v %v", target["@odata.type"], target["groupId"]))
	}
	return out
}

// pickPerFamily chooses, per Intune family, its first non-default item, plus an enrollment default
// and the encrypted-OMA-URI device configuration.
func pickPerFamily(items []store.BackupItem) []store.BackupItem {
	seen := map[string]bool{}
	var out []store.BackupItem
	for _, it := range items {
		switch {
		case it.IsDefault && !seen["default"]:
			seen["default"] = true
			out = append(out, it)
		case it.ODataType == "#microsoft.graph.windows10CustomConfiguration" && !seen["custom"]:
			seen["custom"] = true
			out = append(out, it)
		case it.Family == "roleScopeTags" && it.GraphID == "0",
			it.Family == "roleDefinitions" && (it.DisplayName == "Help Desk Operator" || it.DisplayName == "Policy and Profile manager"):
			// the built-in Default tag and graphsim's built-in roles are never restored (TestRestoreBuiltInsNeverCopied)
		case !it.IsDefault && !seen[it.Family]:
			seen[it.Family] = true
			out = append(out, it)
		}
	}
	return out
}

func refs(items []store.BackupItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Family + "/" + it.GraphID
	}
	return out
}

func TestRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// create_copy and overwrite of every Intune family against graphsim. No family is skipped: the
	// simulator writes them all (legacy intents restore their shell only: their settings are not
	// part of a backup).
	t.Run("EveryFamilyCreateCopyAndOverwrite", func(t *testing.T) {
		t.Parallel()
		b := setupRestore(t, graphsim.TenantSpec{PoliciesPerFamily: 3, Groups: 300})
		picked := pickPerFamily(b.items(t))
		families := map[string]bool{}
		for _, it := range picked {
			families[it.Family] = true
		}
		for _, f := range graph.IntuneFamilies() {
			require.True(t, families[string(f)], "the backup holds %s", f)
		}

		preview, err := b.svc.PreviewRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: b.set.ID, Items: refs(picked)})
		require.NoError(t, err)
		require.Equal(t, store.RestoreCreateCopy, preview.Mode)
		require.Len(t, preview.Items, len(picked))
		require.Zero(t, preview.Unresolved, "%+v", preview.Items)
		// The enrollment default is an update; the app is left as it is: an app is never copied,
		// and into its own tenant only an overwrite rewrites it (docs/graph.md#mobile-apps).
		require.Equal(t, len(picked)-2, preview.Creates, "the enrollment default is an update, the app a skip")
		require.Equal(t, 1, preview.Updates)
		require.Equal(t, 1, preview.Skips)
		for _, it := range preview.Items {
			if intune.DescriptorOf(graph.Family(it.Family)).MatchExisting {
				require.Equal(t, store.RestoreActionSkip, it.Action)
				require.Contains(t, it.Error, "create_copy never copies an app nor overwrites it")
			}
		}
		require.Empty(t, preview.Warnings)
		writesBefore := 0
		for _, r := range b.simT.Requests() {
			if isGraphWrite(r) {
				writesBefore++
			}
		}
		require.Zero(t, writesBefore, "a preview writes nothing")

		run, view := b.restore(t, engine.RestoreRequest{Items: refs(picked)})
		require.Equal(t, store.OutcomeSucceeded, outcome(run), "%s", deref(run.ReasonDetail))
		require.EqualValues(t, len(picked)-2, run.Created)
		require.EqualValues(t, 1, run.Updated)
		byID := map[string]store.RestoreItem{}
		for _, it := range view.Items {
			want := store.RestoreApplied
			if intune.DescriptorOf(graph.Family(it.Family)).MatchExisting {
				want = store.RestoreSkipped
			}
			require.Equal(t, want, it.State, "%s: %s", it.SourceGraphID, deref(it.Detail))
			byID[it.SourceGraphID] = it
		}
		for _, src := range picked {
			t.Run("create_copy/"+src.Family+"/"+src.PolicyType, func(t *testing.T) {
				f := graph.Family(src.Family)
				it := byID[src.GraphID]
				if intune.DescriptorOf(f).MatchExisting {
					require.Nil(t, it.TargetGraphID, "an app is neither copied nor rewritten by create_copy")
					require.Zero(t, b.simT.RequestCount("mobileApps.assign"))
					require.Zero(t, b.simT.RequestCount("mobileApps.update"))
					return
				}
				require.NotNil(t, it.TargetGraphID)
				if src.IsDefault {
					require.Equal(t, src.GraphID, *it.TargetGraphID, "a default is patched in place")
					require.Equal(t, 1, b.simT.RequestCount("deviceEnrollmentConfigurations.update"))
					return
				}
				require.NotEqual(t, src.GraphID, *it.TargetGraphID)
				copied := findPolicy(b.simT, f, *it.TargetGraphID)
				require.NotNil(t, copied, "the copy exists")
				require.Equal(t, src.DisplayName+view.NameSuffix, nameOf(f, copied))
				require.Contains(t, view.NameSuffix, "(restored ")
				orig := findPolicy(b.simT, f, src.GraphID)
				require.Equal(t, src.DisplayName, nameOf(f, orig), "the original is untouched")
				fi, _ := graph.FamilyOf(f)
				if fi.HasAssignments {
					require.ElementsMatch(t, directAssignments(t, b.simT, f, src.GraphID), directAssignments(t, b.simT, f, *it.TargetGraphID),
						"the full assignment set, ids mapped")
				}
				switch f {
				case graph.FamilyConfigurationPolicies, graph.FamilyCompliancePolicies:
					require.Equal(t, fmt.Sprint(orig["settingCount"]), fmt.Sprint(copied["settingCount"]), "created with every setting (paged backup)")
				case graph.FamilyDeviceEnrollmentConfigurations:
					require.Equal(t, fmt.Sprint(orig["priority"]), fmt.Sprint(copied["priority"]), "priority set with setPriority")
				case graph.FamilyDeviceConfigurations:
					if src.Sensitive {
						oma := copied["omaSettings"].([]any)
						require.Contains(t, fmt.Sprint(oma), "sim-plaintext-", "the decrypted value is written")
					}
				}
			})
		}
		var audits int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'restore.item'
			AND details->>'target_tenant' IS NOT NULL AND details->>'source_id' <> '' AND details->>'new_id' <> ''`).Scan(&audits))
		require.Equal(t, len(picked)-1, audits, "every item written is audited (the app is not written)")

		// Overwrite: drift every picked object, delete one, restore in place.
		var deleted store.BackupItem
		for _, src := range picked {
			f := graph.Family(src.Family)
			fi, _ := graph.FamilyOf(f)
			if src.Family == string(graph.FamilyWindowsDriverUpdateProfiles) {
				require.NoError(t, b.simT.DeletePolicy(f, src.GraphID))
				deleted = src
				continue
			}
			drift := map[string]any{fi.NameProperty: "drifted " + src.DisplayName, "description": "drifted"}
			if f == graph.FamilyNamedLocations {
				delete(drift, "description") // res:v1 namedlocation has no description
			}
			require.NoError(t, b.simT.UpdatePolicy(f, src.GraphID, drift))
		}
		preview, err = b.svc.PreviewRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: b.set.ID, Items: refs(picked), Mode: store.RestoreOverwrite})
		require.NoError(t, err)
		require.Equal(t, store.RestoreOverwrite, preview.Mode)
		for _, pi := range preview.Items {
			require.NotEqual(t, store.RestoreActionSkip, pi.Action, "%s: %s", pi.SourceGraphID, pi.Error)
		}

		run, view = b.restore(t, engine.RestoreRequest{Items: refs(picked), Mode: store.RestoreOverwrite})
		require.Equal(t, store.OutcomeSucceeded, outcome(run), "%s", deref(run.ReasonDetail))
		for _, it := range view.Items {
			require.Equal(t, store.RestoreApplied, it.State, "%s: %s", it.SourceGraphID, deref(it.Detail))
			byID[it.SourceGraphID] = it
		}
		for _, src := range picked {
			t.Run("overwrite/"+src.Family+"/"+src.PolicyType, func(t *testing.T) {
				f := graph.Family(src.Family)
				it := byID[src.GraphID]
				if src.GraphID == deleted.GraphID {
					require.Equal(t, store.RestoreActionCreate, it.Action, "gone from the target: recreated")
					require.Equal(t, src.DisplayName, nameOf(f, findPolicy(b.simT, f, *it.TargetGraphID)), "under its own name")
					return
				}
				require.Equal(t, src.GraphID, *it.TargetGraphID, "the same Graph id")
				require.Equal(t, store.RestoreActionUpdate, it.Action)
				obj := findPolicy(b.simT, f, src.GraphID)
				require.Equal(t, src.DisplayName, nameOf(f, obj), "the drift is undone")
				require.NotEqual(t, "drifted", obj["description"])
			})
		}
		require.Equal(t, 1, b.simT.RequestCount("configurationPolicies.replace"), "settings catalog: PUT")
		require.Equal(t, 1, b.simT.RequestCount("deviceCompliancePolicies.scheduleActionsForRules"), "compliance actions through their action")
		require.GreaterOrEqual(t, b.simT.RequestCount("groupPolicyConfigurations.updateDefinitionValues"), 2)
		for _, r := range b.simT.Requests() {
			if r.Contract == "deviceEnrollmentConfigurations.assign" || r.Contract == "deviceEnrollmentConfigurations.setPriority" {
				require.NotContains(t, r.Path, "_Default", "defaults are never assigned nor prioritised")
			}
		}
	})

	t.Run("UnresolvedGroupEndsPartiallySucceededWithMappingReport", func(t *testing.T) {
		t.Parallel()
		b := setupRestore(t, graphsim.TenantSpec{PoliciesPerFamily: 3, Groups: 300}, "deviceConfigurations")
		var src store.BackupItem
		for _, it := range b.items(t) {
			as, err := b.simT.Assignments(graph.FamilyDeviceConfigurations, it.GraphID)
			require.NoError(t, err)
			if len(as) > 0 && len(as) < 5 {
				src = it
				break
			}
		}
		require.NotEmpty(t, src.GraphID)
		as, _ := b.simT.Assignments(graph.FamilyDeviceConfigurations, src.GraphID)
		var gone string
		for _, a := range as {
			if g, _ := a["target"].(map[string]any)["groupId"].(string); g != "" {
				gone = g
				break
			}
		}
		require.NotEmpty(t, gone)
		require.NoError(t, b.simT.DeleteGroup(gone))
		run := b.run(t, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync})
		require.Equal(t, store.OutcomeSucceeded, outcome(run))

		preview, err := b.svc.PreviewRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: b.set.ID, Items: []string{src.GraphID}})
		require.NoError(t, err)
		require.Equal(t, 1, preview.Unresolved)
		var listed bool
		for _, m := range preview.Items[0].Mapping {
			if m.SourceID == gone {
				listed = true
				require.Equal(t, engine.MappingUnresolved, m.Status)
				require.NotEmpty(t, m.SourceName, "named from the backup's references")
			}
		}
		require.True(t, listed, "the unresolved group is listed, not dropped")

		run, view := b.restore(t, engine.RestoreRequest{Items: []string{src.GraphID}})
		require.Equal(t, store.OutcomePartiallySucceeded, outcome(run), deref(run.ReasonDetail))
		require.Equal(t, "mapping_unresolved", deref(run.ReasonCode))
		it := view.Items[0]
		require.Equal(t, store.RestoreApplied, it.State)
		require.Equal(t, 1, it.Unresolved)
		require.Contains(t, string(it.Mapping), gone)
		require.Contains(t, deref(it.Detail), "assignments not applied")
		require.Zero(t, b.simT.RequestCount("deviceConfigurations.assign"), "no partial assignment set")
		copied, err := b.simT.Assignments(graph.FamilyDeviceConfigurations, *it.TargetGraphID)
		require.NoError(t, err)
		require.Empty(t, copied, "the copy stays unassigned")
		events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
		require.NoError(t, err)
		var warned bool
		for _, e := range events {
			if e.Kind == "item" && deref(e.ReasonCode) == "mapping_unresolved" {
				warned = strings.Contains(e.Message, gone)
			}
		}
		require.True(t, warned, "the item event names the unresolved group")
	})

	t.Run("ModelValidationFailureFailsOneItemOthersContinue", func(t *testing.T) {
		t.Parallel()
		b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 3, Groups: 100})
		// A property the beta schema does not declare (a tenant answered with a property a later
		// Graph version dropped): Graph refuses the write with ModelValidationFailure naming it
		// (OData "The property 'p' does not exist on type …", families.md §0). The earlier premise,
		// a windows81GeneralConfiguration, is a real type Graph creates (CSDL10, BETA).
		bad, err := b.simT.AddPolicy(graph.FamilyDeviceConfigurations, map[string]any{
			"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Retired setting",
			"legacyStartMenuLayoutMode": "classic", "roleScopeTagIds": []any{"0"}})
		require.NoError(t, err)
		for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeInventorySync} {
			b.run(t, engine.StartRequest{Type: typ})
		}
		_, set := b.backup(t, "deviceConfigurations")
		rb := &restoreBundle{intuneBundle: b, set: set}
		run, view := rb.restore(t, engine.RestoreRequest{})
		require.Equal(t, store.OutcomePartiallySucceeded, outcome(run), deref(run.ReasonDetail))
		require.Equal(t, "provider_invalid_request", deref(run.ReasonCode))
		require.EqualValues(t, 1, run.Failed)
		require.EqualValues(t, len(view.Items)-1, run.Succeeded)
		for _, it := range view.Items {
			if it.SourceGraphID == bad {
				require.Equal(t, store.RestoreFailed, it.State)
				require.Equal(t, "provider_invalid_request", deref(it.ReasonCode))
				require.Contains(t, deref(it.Detail), "ModelValidationFailure")
				require.Contains(t, deref(it.Detail), "legacyStartMenuLayoutMode", "the detail names the property Graph refused")
				require.Contains(t, deref(it.Detail), "see the run log for the property Graph named", "with its hint")
				require.Nil(t, it.WrittenAt)
				continue
			}
			require.Equal(t, store.RestoreApplied, it.State, deref(it.Detail))
		}

		// A retry (the restore ledger) writes nothing already written: only the refused item is
		// tried again, and refused again.
		creates := b.simT.RequestCount("deviceConfigurations.create")
		retry, err := b.svc.Retry(context.Background(), b.admin, run.ID)
		require.NoError(t, err)
		run = b.waitRun(t, retry.Run.ID, completed)
		require.Equal(t, "provider_invalid_request", deref(run.ReasonCode), deref(run.ReasonDetail))
		require.Equal(t, creates+1, b.simT.RequestCount("deviceConfigurations.create"), "only the refused item is written again")
	})

	t.Run("MissingWritePermissionBlocksBeforeAnyWrite", func(t *testing.T) {
		t.Parallel()
		b := setupRestore(t, graphsim.TenantSpec{PoliciesPerFamily: 2, Groups: 50}, "deviceConfigurations", "deviceManagementScripts")
		b.simT.RemoveRoles("DeviceManagementScripts.ReadWrite.All")
		run, view := b.restore(t, engine.RestoreRequest{})
		require.Equal(t, store.OutcomeBlocked, outcome(run))
		require.Equal(t, "provider_permission_denied", deref(run.ReasonCode))
		require.Contains(t, deref(run.ReasonDetail), "DeviceManagementScripts.ReadWrite.All")
		require.NotContains(t, deref(run.ReasonDetail), "lacks DeviceManagementConfiguration")
		for _, r := range b.simT.Requests() {
			require.False(t, isGraphWrite(r), "no write before the check: %s %s", r.Method, r.Contract)
		}
		for _, it := range view.Items {
			require.Equal(t, store.RestorePending, it.State)
		}

		// Granted again, the same restore continues through a retry of its run.
		b.simT.GrantRoles("DeviceManagementScripts.ReadWrite.All")
		retry, err := b.svc.Retry(ctx, b.admin, run.ID)
		require.NoError(t, err)
		run = b.waitRun(t, retry.Run.ID, completed)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		again, err := b.svc.GetRestore(ctx, b.admin, view.ID)
		require.NoError(t, err)
		require.Equal(t, run.ID, *again.RunID)
		for _, it := range again.Items {
			require.Equal(t, store.RestoreApplied, it.State)
		}
	})

	t.Run("Authorization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tenant := b.addTenant(t)
		set := seedBackupSet(t, b, tenant.ID)
		req := engine.RestoreRequest{BackupSetID: set}
		for _, tc := range []struct {
			role string
			err  error
		}{{"readonly", engine.ErrForbidden}, {"operator", engine.ErrForbidden}, {"", engine.ErrNotFound}} {
			actor := b.addUser(t, "restorer-"+tc.role+"x", tc.role)
			_, err := b.svc.PreviewRestore(ctx, actor, req)
			require.ErrorIs(t, err, tc.err, tc.role)
			_, err = b.svc.StartRestore(ctx, actor, req)
			require.ErrorIs(t, err, tc.err, tc.role)
		}
		manager := b.addUser(t, "restorer-manager", "manager")
		preview, err := b.svc.PreviewRestore(ctx, manager, req)
		require.NoError(t, err)
		require.Len(t, preview.Items, 1)
		started, err := b.svc.StartRestore(ctx, manager, req)
		require.NoError(t, err)
		operator := b.addUser(t, "restorer-viewer", "operator")
		_, err = b.svc.GetRestore(ctx, operator, started.Restore.ID)
		require.ErrorIs(t, err, engine.ErrForbidden)
		_, err = b.svc.GetRun(ctx, operator, started.Run.ID)
		require.ErrorIs(t, err, engine.ErrForbidden, "viewing a restore run needs restore.execute")

		_, err = b.svc.StartRestore(ctx, manager, engine.RestoreRequest{BackupSetID: set, Mode: "merge"})
		require.ErrorIs(t, err, engine.ErrInvalid)
		_, err = b.svc.StartRestore(ctx, manager, engine.RestoreRequest{BackupSetID: set, Items: []string{"nope"}})
		require.ErrorIs(t, err, engine.ErrInvalid)
		other := b.addTenant(t)
		_, err = b.svc.StartRestore(ctx, manager, engine.RestoreRequest{BackupSetID: set, TenantID: other.ID, Mode: store.RestoreOverwrite})
		require.ErrorIs(t, err, engine.ErrInvalid, "overwrite only into the backup's own tenant")
		_, err = b.svc.PreviewRestore(ctx, manager, engine.RestoreRequest{BackupSetID: set, TenantID: other.ID})
		require.NoError(t, err, "a copy into another tenant of the workspace")
	})
}

// seedBackupSet writes a complete backup set with one device configuration, without Graph.
func seedBackupSet(t *testing.T, b *testBundle, tenantID int64) int64 {
	t.Helper()
	ctx := context.Background()
	ws := b.defaultWorkspace(t)
	set, err := store.StartBackupSet(ctx, b.db.Pool, store.BackupSet{WorkspaceID: ws.ID, TenantID: tenantID, Families: []string{"deviceConfigurations"}})
	require.NoError(t, err)
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, _, err = store.AddBackupItems(ctx, tx, set.ID, []store.BackupItemRow{{Family: "deviceConfigurations", GraphID: "dc-1",
		PolicyType: "deviceConfiguration", DisplayName: "Baseline", ODataType: "#microsoft.graph.windows10GeneralConfiguration",
		PayloadHash: "seed-hash-" + fmt.Sprint(time.Now().UnixNano()),
		Payload:     []byte(`{"object":{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"Baseline","passwordRequired":true}}`)}})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	_, err = store.FinishBackupSet(ctx, b.db.Pool, set.ID, store.BackupComplete)
	require.NoError(t, err)
	return set.ID
}

// isGraphWrite reports whether a recorded request changed the tenant: a write contract (a POST
// that only reads, directoryObjects/getByIds, is none), never the $batch envelope itself.
func isGraphWrite(r graphsim.RequestRecord) bool {
	if c, ok := graph.Lookup(r.Contract); ok {
		return c.IsWrite()
	}
	return r.Method != "GET" && r.Contract != "$batch"
}
