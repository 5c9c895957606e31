package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// seedRestore adds a backup set of contoso (set 1) with a device configuration whose assignments
// reference a cached group and a deleted one, an enrollment default that drifted in the inventory,
// and a settings-catalog policy.
func (b *testBundle) seedRestore(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	tid := b.tenants["contoso"]
	inv := []store.InventoryRow{
		{Family: "deviceEnrollmentConfigurations", GraphID: "6e0c1a2b-0000-4000-8000-000000000001_DefaultLimit", PolicyType: "enrollmentDeviceLimit",
			IsDefault: true, DisplayName: "All users and all devices", ODataType: "#microsoft.graph.deviceEnrollmentLimitConfiguration", PayloadHash: "inv-limit",
			Payload: []byte(`{"@odata.type":"#microsoft.graph.deviceEnrollmentLimitConfiguration","displayName":"All users and all devices","limit":15,"priority":0,"roleScopeTagIds":[]}`)},
	}
	storetest.Inventory(ctx, t, b.db.Pool, &storetest.InventoryOpts{TenantID: tid, Rows: inv})
	rows := []store.BackupItemRow{
		{Family: "deviceConfigurations", GraphID: "dc-1", PolicyType: "deviceConfiguration", DisplayName: "Baseline Windows",
			ODataType: "#microsoft.graph.windows10GeneralConfiguration", PayloadHash: "rs-1", Payload: []byte(`{"object":{
			"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"Baseline Windows","passwordMinimumLength":14,
			"roleScopeTagIds":["0"]},"assignments":[
			{"source":"direct","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"00000001-aaaa-4bbb-8ccc-000000000001"}},
			{"source":"direct","target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"0dead000-aaaa-4bbb-8ccc-000000000009"}}],
			"references":{"groups":{"00000001-aaaa-4bbb-8ccc-000000000001":"Sales Team","0dead000-aaaa-4bbb-8ccc-000000000009":"Contractors"},
			"scopeTags":{"0":"Default"}}}`)},
		{Family: "deviceEnrollmentConfigurations", GraphID: "6e0c1a2b-0000-4000-8000-000000000001_DefaultLimit", PolicyType: "enrollmentDeviceLimit",
			IsDefault: true, DisplayName: "All users and all devices", ODataType: "#microsoft.graph.deviceEnrollmentLimitConfiguration",
			PayloadHash: "rs-2", Payload: []byte(`{"object":{"@odata.type":"#microsoft.graph.deviceEnrollmentLimitConfiguration",
			"displayName":"All users and all devices","limit":5,"priority":0,"roleScopeTagIds":[]}}`)},
		{Family: "configurationPolicies", GraphID: "cp-1", PolicyType: "settingsCatalog", DisplayName: "Edge hardening",
			ODataType: "#microsoft.graph.deviceManagementConfigurationPolicy", PayloadHash: "rs-3", Payload: []byte(`{"object":{
			"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"Edge hardening","platforms":"windows10",
			"technologies":"mdm","roleScopeTagIds":["0"]},"settings":[{"id":"0","settingInstance":{"settingDefinitionId":"edge_smartscreen"}}]}`)},
	}
	return storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: tid,
		Families: []string{"deviceConfigurations", "deviceEnrollmentConfigurations", "configurationPolicies"}, Items: rows}).ID
}

func keysOf(s string) []string {
	var out []string
	for _, r := range s {
		if r == ' ' {
			out = append(out, "space")
			continue
		}
		out = append(out, string(r))
	}
	return out
}

//nolint:tparallel // the subtests drive dashboards on one seeded database, one after another
func TestRestoreGoldenViews(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	set := b.seedRestore(t)
	open := append([]string{":"}, append(keysOf("restore "+idString(set)), "enter")...)
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"restore_preview", open},
			{"restore_confirm", append(append([]string{}, open...), "s", "c", "o", "n", "t")},
		} {
			t.Run(tc.name+"_"+size.name, func(t *testing.T) {
				m := New(b.context(size.w, size.h), nil)
				drive(t, m, m.Init())
				press(t, m, tc.keys...)
				view := m.Render()
				require.Equal(t, size.h, strings.Count(view, "\n")+1, "exactly the screen height")
				for _, line := range strings.Split(ansi.Strip(view), "\n") {
					require.LessOrEqual(t, len([]rune(line)), size.w, "line wider than the screen: %q", line)
				}
				requireGolden(t, tc.name+"_"+size.name, view)
			})
		}
	}
}

// TestRestoreTypedConfirmation: enter does nothing until the tenant's name is typed exactly; then
// the restore starts and the run detail opens.
func TestRestoreTypedConfirmation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	set := b.seedRestore(t)
	m := New(b.context(120, 40), nil)
	drive(t, m, m.Init())
	press(t, m, append([]string{":"}, append(keysOf("restore "+idString(set)), "enter")...)...)
	press(t, m, "s")
	press(t, m, keysOf("contos")...)
	press(t, m, "enter")
	restores, err := b.svc.ListRestores(context.Background(), b.admin, set, 10)
	require.NoError(t, err)
	require.Empty(t, restores, "a partial name does not start it")
	require.Contains(t, ansi.Strip(m.Render()), "enter disabled")

	press(t, m, "o", "enter")
	restores, err = b.svc.ListRestores(context.Background(), b.admin, set, 10)
	require.NoError(t, err)
	require.Len(t, restores, 1)
	require.Equal(t, "contoso", restores[0].TargetTenantName)
	require.Equal(t, store.RestoreCreateCopy, restores[0].Mode)
	require.Contains(t, ansi.Strip(m.Render()), engine.TypeRestoreExecute, "the run detail of the restore opened")
}

// TestRestoreSaysWhenNothingDiffers: an overwrite whose updates change no field says so on top and
// counts them as identical, not as updates; the typed confirmation restates mode and counts.
func TestRestoreSaysWhenNothingDiffers(t *testing.T) {
	t.Parallel()
	env := &Env{Theme: ThemeNamed("dark"), Width: 100, Height: 30, Now: func() time.Time { return fixedNow }}
	s := newRestore(env, 7, "")
	pv := engine.RestorePreview{BackupSetID: 7, SourceTenant: "contoso", TargetTenant: "contoso", Mode: store.RestoreOverwrite,
		Updates: 3, Permissions: []string{"DeviceManagementConfiguration.ReadWrite.All"}}
	for _, name := range []string{"a", "b", "c"} {
		pv.Items = append(pv.Items, engine.RestorePreviewItem{Action: store.RestoreActionUpdate, DisplayName: name, Family: "deviceConfigurations"})
	}
	s.show(pv)
	view := ansi.Strip(s.View(100, 27))
	require.Contains(t, view, "~ 0 update  = 3 identical")
	require.Contains(t, view, "nothing differs: all 3 object(s) already match the target's inventory")
	require.Contains(t, view, "requires DeviceManagementConfiguration.ReadWrite.All")
	s.Update(keyMsg("s"))
	view = ansi.Strip(s.View(100, 27))
	require.Contains(t, view, "restore in overwrite mode: 0 create, 0 update, 3 identical into contoso")
	require.Contains(t, view, `type "contoso" to restore`)
}

// TestRestoreSaysWhyAGroupIsUnresolved: a group the backup could not name (its app lacked the
// permission) is shown unresolved with why, not as if it had been deleted.
func TestRestoreSaysWhyAGroupIsUnresolved(t *testing.T) {
	t.Parallel()
	env := &Env{Theme: ThemeNamed("dark"), Width: 160, Height: 30, Now: func() time.Time { return fixedNow }}
	s := newRestore(env, 7, "")
	note := "the backup could not name this group: its app lacked Group.Read.All"
	pv := engine.RestorePreview{BackupSetID: 7, SourceTenant: "contoso", TargetTenant: "fabrikam", Mode: store.RestoreCreateCopy, Creates: 1,
		Items: []engine.RestorePreviewItem{{Action: store.RestoreActionCreate, DisplayName: "Wi-Fi", Family: "deviceConfigurations",
			Mapping: []engine.MappingEntry{
				{Kind: "group", SourceID: "g-1", Status: engine.MappingUnresolved, Unnamed: reason.ProviderPermissionDenied, Note: note},
				{Kind: "group", SourceID: "g-2", SourceName: "Pilot", Status: engine.MappingUnresolved},
			}}}}
	s.show(pv)
	view := ansi.Strip(s.View(160, 27))
	require.Contains(t, view, `✖ group "-" (g-1) UNRESOLVED — `+note)
	require.Regexp(t, `✖ group "Pilot" \(g-2\) UNRESOLVED\s*\n`, view, "a group that was named has no note")
}
