package engine_test

import (
	"context"
	"encoding/json"
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

// intuneBundle is a test database, a started graphsim with one tenant, an engine pointed at it and
// the tenant registered with the sim's credentials.
type intuneBundle struct {
	*testBundle
	sim      *graphsim.Server
	simT     *graphsim.Tenant
	tenantID int64
}

func setupIntune(t *testing.T, spec graphsim.TenantSpec) *intuneBundle {
	t.Helper()
	return setupIntuneSim(t, graphsim.Options{Seed: 7, Tenants: []graphsim.TenantSpec{spec}}, nil, simTenantName)[0]
}

// setupIntuneSim starts a simulator made from opts, applies prepare (nil: nothing) to each of its
// tenants before the engine's first token, starts the engine against it and registers every
// tenant in order, named by name, with the simulator's credentials.
func setupIntuneSim(t *testing.T, opts graphsim.Options, prepare func(*graphsim.Tenant), name func(i int, st *graphsim.Tenant) string) []*intuneBundle {
	t.Helper()
	b := setup(t)
	sim, err := graphsim.New(opts)
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	if prepare != nil {
		for _, st := range sim.Tenants() {
			prepare(st)
		}
	}
	cfg := sim.GraphConfig()
	cfg.Retry.DelaySeconds = 1
	b.startEngine(t, engine.Config{Graph: cfg, SchedulePollInterval: 200 * time.Millisecond,
		GraphLimits: graph.Limits{RequestsPerSecond: 10_000, Burst: 10_000, WritesPerSecond: 1000, WriteBurst: 1000}})
	var out []*intuneBundle
	for i, st := range sim.Tenants() {
		creds := st.Credentials()
		v, err := b.svc.AddTenant(context.Background(), b.admin, engine.AddTenantRequest{Name: name(i, st), TenantGUID: st.ID,
			ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
		require.NoError(t, err)
		out = append(out, &intuneBundle{testBundle: b, sim: sim, simT: st, tenantID: v.ID})
	}
	return out
}

// simTenantName names a simulator's tenant after its id.
func simTenantName(_ int, st *graphsim.Tenant) string { return "sim-" + st.ID[:8] }

func (b *intuneBundle) run(t *testing.T, req engine.StartRequest) store.Run {
	t.Helper()
	if req.TenantID == 0 {
		req.TenantID = b.tenantID
	}
	res, err := b.svc.Start(context.Background(), b.admin, req)
	require.NoError(t, err)
	return b.waitRun(t, res.Run.ID, completed)
}

func (b *intuneBundle) backup(t *testing.T, families ...string) (store.Run, store.BackupSet) {
	t.Helper()
	res, err := b.svc.StartBackup(context.Background(), b.admin, "", b.tenantID, families)
	require.NoError(t, err)
	run := b.waitRun(t, res.Run.ID, completed)
	sets, err := b.svc.ListBackupSets(context.Background(), b.admin, engine.BackupQuery{TenantID: b.tenantID, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, sets)
	return run, sets[0]
}

func (b *intuneBundle) inventory(t *testing.T) map[string]store.InventoryItem {
	t.Helper()
	items, err := b.svc.ListInventory(context.Background(), b.admin, b.tenantID, engine.InventoryQuery{IncludeDeleted: true, Limit: 100_000})
	require.NoError(t, err)
	out := map[string]store.InventoryItem{}
	for _, it := range items {
		out[it.Family+"/"+it.GraphID] = it
	}
	return out
}

func TestInventorySync(t *testing.T) {
	t.Parallel()

	t.Run("EveryFamilyClassifiedAndDeletionsMarked", func(t *testing.T) {
		t.Parallel()
		b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 4})
		// Every family's items are classified, those listed without @odata.type (minimal metadata,
		// OData JSON 4.01 §4.5.3) by their collection's declared type; an unknown derived type is
		// covered by engine/intune TestClassify (the faithful simulator lists only the types of the
		// beta schema, so it cannot list one).

		run := b.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
		require.Equal(t, store.OutcomeSucceeded, outcome(run), "%v", run.ReasonDetail)
		inv := b.inventory(t)
		var expected int
		for _, f := range graph.IntuneFamilies() {
			n := len(tenantManaged(b.simT, f))
			expected += n
			got := 0
			for _, it := range inv {
				if it.Family == string(f) {
					got++
				}
			}
			require.Equal(t, n, got, "family %s", f)
		}
		// The reference families (mobile apps, notification templates) are synced too, for the
		// restore's mapping by name; listed when asked for by family, not among the policies.
		for _, f := range graph.ReferenceFamilies() {
			n := len(b.simT.Policies(f))
			require.NotZero(t, n, "graphsim has %s", f)
			expected += n
			items, err := b.svc.ListInventory(context.Background(), b.admin, b.tenantID, engine.InventoryQuery{Family: string(f), Limit: 100_000})
			require.NoError(t, err)
			require.Len(t, items, n, "family %s", f)
			for _, it := range inv {
				require.NotEqual(t, string(f), it.Family, "reference family listed among the policies")
			}
		}
		require.EqualValues(t, expected, run.Created)
		require.EqualValues(t, expected, run.ProgressProcessed)

		// The enrollment type collision (docs/graph.md#enrollment-type-collision), defaults by priority 0 + id suffix.
		byType := map[string]int{}
		defaults := map[string]bool{}
		for _, p := range b.simT.Policies(graph.FamilyDeviceEnrollmentConfigurations) {
			it := inv[string(graph.FamilyDeviceEnrollmentConfigurations)+"/"+p["id"].(string)]
			byType[it.PolicyType]++
			if it.IsDefault {
				defaults[it.PolicyType] = true
			}
			switch p["@odata.type"] {
			case "#microsoft.graph.deviceEnrollmentLimitConfiguration":
				require.Equal(t, "enrollmentDeviceLimit", it.PolicyType)
			case "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration":
				require.Equal(t, "enrollmentPlatformRestrictions", it.PolicyType)
			case "#microsoft.graph.deviceEnrollmentPlatformRestrictionConfiguration":
				require.Equal(t, "enrollmentPlatformRestriction", it.PolicyType)
			case "#microsoft.graph.deviceEnrollmentWindowsHelloForBusinessConfiguration":
				require.Equal(t, "enrollmentWindowsHello", it.PolicyType)
			case "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration":
				require.Equal(t, "enrollmentStatusPage", it.PolicyType)
			case "#microsoft.graph.deviceComanagementAuthorityConfiguration":
				require.Equal(t, "enrollmentCoManagement", it.PolicyType)
			case "#microsoft.graph.deviceEnrollmentNotificationConfiguration":
				require.Equal(t, "enrollmentNotifications", it.PolicyType)
			case "#microsoft.graph.windowsRestoreDeviceEnrollmentConfiguration":
				require.Equal(t, "enrollmentWindowsRestore", it.PolicyType)
			default:
				require.Equal(t, intune.PolicyTypeUnknown, it.PolicyType, "unknown type never misfiled")
			}
			id := p["id"].(string)
			wantDefault := strings.Contains(id, "_Default") || strings.HasSuffix(id, "_WindowsRestore")
			require.Equal(t, wantDefault, it.IsDefault, id)
		}
		for _, pt := range []string{"enrollmentDeviceLimit", "enrollmentPlatformRestrictions", "enrollmentWindowsHello", "enrollmentStatusPage", "enrollmentWindowsRestore"} {
			require.True(t, defaults[pt], "default %s recognised", pt)
		}
		require.Zero(t, byType[intune.PolicyTypeUnknown])
		for _, it := range inv {
			require.NotEqual(t, intune.PolicyTypeUnknown, it.PolicyType, "%s/%s (%s) classified", it.Family, it.GraphID, it.ODataType)
		}
		// Other fan-outs.
		for _, p := range b.simT.Policies(graph.FamilyManagedAppPolicies) {
			require.True(t, strings.HasPrefix(inv["managedAppPolicies/"+p["id"].(string)].PolicyType, "appProtection"))
		}

		// A second sync: unchanged; then an edit, a deletion and an addition.
		run = b.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
		require.Equal(t, store.OutcomeSucceeded, outcome(run))
		require.EqualValues(t, expected, run.Unchanged)
		require.Zero(t, run.Created+run.Updated+run.Deleted)

		cfgs := b.simT.Policies(graph.FamilyDeviceConfigurations)
		require.NoError(t, b.simT.UpdatePolicy(graph.FamilyDeviceConfigurations, cfgs[1]["id"].(string), map[string]any{"description": "edited"}))
		require.NoError(t, b.simT.DeletePolicy(graph.FamilyDeviceConfigurations, cfgs[2]["id"].(string)))
		_, err := b.simT.AddPolicy(graph.FamilyDeviceConfigurations, map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "New"})
		require.NoError(t, err)
		run = b.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
		require.EqualValues(t, 1, run.Created)
		require.EqualValues(t, 1, run.Updated)
		require.EqualValues(t, 1, run.Deleted)
		gone := b.inventory(t)["deviceConfigurations/"+cfgs[2]["id"].(string)]
		require.NotNil(t, gone.DeletedAt, "items gone from Graph are marked deleted, not removed")
	})

	t.Run("MissingPermissionBlocksWithoutWiping", func(t *testing.T) {
		t.Parallel()
		b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 2})
		run := b.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
		require.Equal(t, store.OutcomeSucceeded, outcome(run))
		before := b.inventory(t)

		b.simT.RemoveRoles("DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All")
		run = b.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
		require.Equal(t, store.OutcomeBlocked, outcome(run))
		require.Equal(t, "provider_permission_denied", *run.ReasonCode)
		require.Contains(t, *run.ReasonDetail, "DeviceManagementConfiguration.Read.All")
		require.Contains(t, *run.ReasonDetail, "deviceConfigurations")
		after := b.inventory(t)
		require.Len(t, after, len(before))
		for k, it := range after {
			require.Nil(t, it.DeletedAt, "%s must not be marked deleted", k)
		}
		require.Positive(t, run.Unchanged, "families the app can still read were synced")
	})
}

func payloadOf(t *testing.T, b *intuneBundle, setID int64, graphID string) map[string]any {
	t.Helper()
	raw, err := b.svc.BackupItemPayload(context.Background(), b.admin, setID, graphID)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FullPayloadsContentAddressedAndDrift", func(t *testing.T) {
		t.Parallel()
		b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 4})
		run, set := b.backup(t)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), "%v", deref(run.ReasonDetail))
		require.Equal(t, store.BackupComplete, set.Status)
		total := 0
		for _, f := range graph.IntuneFamilies() {
			total += len(tenantManaged(b.simT, f))
		}
		require.Equal(t, total, set.ItemCount)
		require.True(t, set.Sensitive, "decrypted OMA-URI values make the set sensitive")

		// Sub-collections over 25 items are read to the end.
		sc := b.simT.Policies(graph.FamilyConfigurationPolicies)[0]
		p := payloadOf(t, b, set.ID, sc["id"].(string))
		require.Len(t, p["settings"], sc["settingCount"].(int))
		require.Greater(t, len(p["settings"].([]any)), 25)
		assignments, err := b.simT.Assignments(graph.FamilyConfigurationPolicies, sc["id"].(string))
		require.NoError(t, err)
		require.Greater(t, len(assignments), 25)
		require.Len(t, p["assignments"], len(assignments))
		refs := p["references"].(map[string]any)
		require.NotEmpty(t, refs["groups"])
		for _, name := range refs["groups"].(map[string]any) {
			require.NotEmpty(t, name, "referenced groups are named")
		}
		require.Equal(t, "Default", refs["scopeTags"].(map[string]any)["0"])
		admx := b.simT.Policies(graph.FamilyGroupPolicyConfigurations)[0]
		p = payloadOf(t, b, set.ID, admx["id"].(string))
		dvs := p["definitionValues"].([]any)
		require.Greater(t, len(dvs), 25)
		require.NotEmpty(t, dvs[0].(map[string]any)["presentationValues"])
		require.NotNil(t, dvs[0].(map[string]any)["definition"], "definitions expanded")
		comp := b.simT.Policies(graph.FamilyDeviceCompliancePolicies)[0]
		p = payloadOf(t, b, set.ID, comp["id"].(string))
		require.NotEmpty(t, p["scheduledActionsForRule"])
		obj := p["object"].(map[string]any)
		for _, volatile := range []string{"lastModifiedDateTime", "version", "@odata.context", "id"} {
			require.NotContains(t, obj, volatile)
		}

		// Sensitive items are redacted in every view.
		view, err := b.svc.GetBackupSet(ctx, b.admin, set.ID)
		require.NoError(t, err)
		var secretItem store.BackupItem
		for _, it := range view.Items {
			if it.Sensitive {
				secretItem = it
			}
		}
		require.NotEmpty(t, secretItem.GraphID)
		raw, err := b.svc.BackupItemPayload(ctx, b.admin, set.ID, secretItem.GraphID)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "sim-plaintext")
		require.Contains(t, string(raw), intune.Redacted)
		// The decrypted secret is sealed at rest (restore opens it with the key), and its hash is not
		// shown (security review finding 3).
		require.Empty(t, secretItem.PayloadHash, "a sensitive item's hash is not shown")
		var stored *string
		var sealed []byte
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT p.payload::text, p.sealed FROM backup_payloads p
			JOIN backup_items i ON i.payload_hash = p.hash WHERE i.set_id = $1 AND i.graph_id = $2`, set.ID, secretItem.GraphID).Scan(&stored, &sealed))
		require.Nil(t, stored, "no plaintext at rest")
		require.NotContains(t, string(sealed), "sim-plaintext")
		var plainAnywhere int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads WHERE payload::text LIKE '%sim-plaintext%'`).Scan(&plainAnywhere))
		require.Zero(t, plainAnywhere)

		// An identical re-backup adds no payload rows.
		var payloadsBefore int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads`).Scan(&payloadsBefore))
		run2, set2 := b.backup(t)
		require.Equal(t, store.OutcomeSucceeded, outcome(run2))
		require.NotEqual(t, set.ID, set2.ID)
		require.Zero(t, set2.NewPayloads)
		require.Zero(t, set2.NewBytes)
		require.EqualValues(t, total, run2.Unchanged)
		var payloadsAfter int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads`).Scan(&payloadsAfter))
		require.Equal(t, payloadsBefore, payloadsAfter)
		d, err := b.svc.DiffBackups(ctx, b.admin, set.ID, set2.ID)
		require.NoError(t, err)
		require.Zero(t, d.Added+d.Removed+d.Changed)
		require.Equal(t, total, d.Unchanged)

		// Drift: an edit (field-level), a deletion and an addition.
		cfgs := b.simT.Policies(graph.FamilyDeviceConfigurations)
		edited := cfgs[0]["id"].(string)
		require.NoError(t, b.simT.UpdatePolicy(graph.FamilyDeviceConfigurations, edited, map[string]any{"passwordMinimumLength": 14}))
		require.NoError(t, b.simT.DeletePolicy(graph.FamilyDeviceConfigurations, cfgs[3]["id"].(string)))
		added, err := b.simT.AddPolicy(graph.FamilyDeviceConfigurations, map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Added"})
		require.NoError(t, err)
		_, set3 := b.backup(t, "deviceConfigurations")
		require.Equal(t, []string{"deviceConfigurations"}, set3.Families)
		d, err = b.svc.DiffBackups(ctx, b.admin, set2.ID, set3.ID)
		require.NoError(t, err)
		require.Equal(t, 1, d.Changed)
		require.Equal(t, 1, d.Added)
		require.Greater(t, d.Removed, 1, "families not in the later set count as removed")
		var changed engine.DriftItem
		for _, it := range d.Items {
			if it.Status == engine.DriftChanged {
				changed = it
			}
			if it.Status == engine.DriftAdded {
				require.Equal(t, added, it.GraphID)
			}
		}
		require.Equal(t, edited, changed.GraphID)
		require.Equal(t, []intune.FieldChange{{Path: "object.passwordMinimumLength", From: "8", To: "14"}}, changed.Changes,
			"volatile fields (lastModifiedDateTime, version) are ignored")

		// A set against the latest inventory.
		inv := b.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
		require.Equal(t, store.OutcomeSucceeded, outcome(inv))
		d, err = b.svc.DiffBackups(ctx, b.admin, set3.ID, 0)
		require.NoError(t, err)
		require.Equal(t, "inventory", d.To.Kind)
		require.Zero(t, d.Added+d.Removed+d.Changed, "%+v", d.Items)
		d, err = b.svc.DiffBackups(ctx, b.admin, set2.ID, 0)
		require.NoError(t, err)
		require.Equal(t, 1, d.Changed)
	})

	t.Run("MissingPermissionMidBackupBlocksAndKeepsEarlierSets", func(t *testing.T) {
		t.Parallel()
		b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 2})
		_, first := b.backup(t)
		require.Equal(t, store.BackupComplete, first.Status)
		// Scripts come after the configuration families: the backup fails part-way.
		b.simT.RemoveRoles("DeviceManagementScripts.Read.All", "DeviceManagementScripts.ReadWrite.All")
		run, failed := b.backup(t)
		require.Equal(t, store.OutcomeBlocked, outcome(run))
		require.Equal(t, "provider_permission_denied", *run.ReasonCode)
		require.Contains(t, *run.ReasonDetail, "DeviceManagementScripts.Read.All")
		require.Equal(t, store.BackupFailed, failed.Status)
		require.Positive(t, run.Succeeded, "families before the failure were read")
		again, err := b.svc.GetBackupSet(ctx, b.admin, first.ID)
		require.NoError(t, err)
		require.Equal(t, store.BackupComplete, again.Status)
		require.Equal(t, first.ItemCount, len(again.Items))
	})

	t.Run("RetentionPrunesSetsAndPayloads", func(t *testing.T) {
		t.Parallel()
		b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 1})
		keep := 2
		sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: b.tenantID, Name: "nightly", Cron: "0 3 * * *",
			Timezone: "Europe/Berlin", Families: []string{"deviceConfigurations"}, KeepCount: &keep})
		require.NoError(t, err)
		cfg := b.simT.Policies(graph.FamilyDeviceConfigurations)[0]["id"].(string)
		var sets []int64
		for i := range 4 {
			require.NoError(t, b.simT.UpdatePolicy(graph.FamilyDeviceConfigurations, cfg, map[string]any{"description": "rev " + string(rune('a'+i))}))
			fire := time.Date(2026, 1, 1+i, 2, 0, 0, 0, time.UTC)
			res, err := b.svc.Start(ctx, engine.ScheduleActor, engine.StartRequest{Type: engine.TypeBackupScheduled, TenantID: b.tenantID,
				ScheduleID: sch.ID, IntendedFireTime: fire, Params: map[string]any{"families": []any{"deviceConfigurations"}}})
			require.NoError(t, err)
			run := b.waitRun(t, res.Run.ID, completed)
			require.Equal(t, store.OutcomeSucceeded, outcome(run), "%v", run.ReasonDetail)
			sets = append(sets, int64(run.Result["backup_set_id"].(float64)))
		}
		left, err := b.svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{ScheduleID: sch.ID})
		require.NoError(t, err)
		require.Len(t, left, 2)
		require.Equal(t, sets[3], left[0].ID)
		require.Equal(t, sets[2], left[1].ID)
		var orphans int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads p
			WHERE NOT EXISTS (SELECT 1 FROM backup_items i WHERE i.payload_hash = p.hash)`).Scan(&orphans))
		require.Zero(t, orphans, "unreferenced payloads are pruned with the sets")
	})
}

// tenantManaged are the simulator's objects of a family a sync or backup keeps: without those the
// descriptor excludes (Microsoft's unassigned global managed apps, the peers' list filter).
func tenantManaged(t *graphsim.Tenant, f graph.Family) []map[string]any {
	var out []map[string]any
	d := intune.DescriptorOf(f)
	for _, o := range t.Policies(f) {
		if d == nil || !d.Skip(o) {
			out = append(out, o)
		}
	}
	return out
}
