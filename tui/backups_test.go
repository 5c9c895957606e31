package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// seedIntune adds a tenant with an inventory, a schedule and three backup sets (the last one
// sensitive and drifted) at fixed times.
func (b *testBundle) seedIntune(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	v, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: "woodgrove", TenantGUID: "6e0c1a2b-0000-4000-8000-000000000009",
		ClientID: "3f2a0000-0000-4000-8000-000000000002", ClientSecret: []byte("secret")})
	require.NoError(t, err)
	b.tenants["woodgrove"] = v.ID
	keep := 14
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: v.ID, Name: "nightly", Cron: "0 3 * * *",
		Timezone: "Europe/Berlin", KeepCount: &keep})
	require.NoError(t, err)
	_, err = b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: v.ID, Name: "configs", Cron: "30 0 */6 * * *",
		Timezone: "America/New_York", Families: []string{"deviceConfigurations"}})
	require.NoError(t, err)
	_, err = b.svc.PauseSchedule(ctx, b.admin, "configs")
	require.NoError(t, err)

	mod := fixedNow.Add(-72 * time.Hour)
	inv := []store.InventoryRow{
		{Family: "deviceConfigurations", GraphID: "dc-1", PolicyType: "deviceConfiguration", DisplayName: "Baseline Windows", ODataType: "#microsoft.graph.windows10GeneralConfiguration", PayloadHash: "h1", Payload: []byte(`{"passwordMinimumLength":14}`), LastModified: &mod},
		{Family: "deviceEnrollmentConfigurations", GraphID: "t_DefaultLimit", PolicyType: "enrollmentDeviceLimit", IsDefault: true, DisplayName: "All users and all devices", ODataType: "#microsoft.graph.deviceEnrollmentLimitConfiguration", PayloadHash: "h2", Payload: []byte(`{"limit":5}`)},
		{Family: "deviceEnrollmentConfigurations", GraphID: "esp-1", PolicyType: "enrollmentStatusPage", DisplayName: "Kiosk ESP", ODataType: "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration", PayloadHash: "h3", Payload: []byte(`{}`), LastModified: &mod},
		{Family: "deviceEnrollmentConfigurations", GraphID: "x-1", PolicyType: "unknown", DisplayName: "From the future", ODataType: "#microsoft.graph.deviceEnrollmentFutureConfiguration", PayloadHash: "h4", Payload: []byte(`{}`)},
		// The families of issue #18 item 4 show like the others.
		{Family: "mobileApps", GraphID: "app-1", PolicyType: "mobileApp", DisplayName: "Contoso VPN", ODataType: "#microsoft.graph.win32LobApp", PayloadHash: "h5", Payload: []byte(`{"displayVersion":"4.2.1"}`), LastModified: &mod},
		{Family: "roleAssignments", GraphID: "ra-1", PolicyType: "roleAssignments", DisplayName: "Help desk (EMEA)", ODataType: "#microsoft.graph.deviceAndAppManagementRoleAssignment", PayloadHash: "h6", Payload: []byte(`{"scopeType":"resourceScope"}`), LastModified: &mod},
	}
	storetest.Inventory(ctx, t, b.db.Pool, &storetest.InventoryOpts{TenantID: v.ID, Rows: inv})

	item := func(id, name, payload string, sensitive bool) store.BackupItemRow {
		return store.BackupItemRow{Family: "deviceConfigurations", GraphID: id, PolicyType: "deviceConfiguration", DisplayName: name,
			ODataType: "#microsoft.graph.windows10GeneralConfiguration", PayloadHash: "hash-" + payload, Payload: []byte(payload), Sensitive: sensitive}
	}
	sets := [][]store.BackupItemRow{
		{item("dc-1", "Baseline Windows", `{"object":{"passwordMinimumLength":8}}`, false), item("dc-2", "Kiosk lockdown", `{"object":{"kiosk":true}}`, false)},
		{item("dc-1", "Baseline Windows", `{"object":{"passwordMinimumLength":8}}`, false), item("dc-2", "Kiosk lockdown", `{"object":{"kiosk":true}}`, false)},
		{item("dc-1", "Baseline Windows", `{"object":{"passwordMinimumLength":14}}`, false), item("dc-3", "Wi-Fi profile", `{"object":{"omaSettings":[{"value":"s3cret"}]}}`, true)},
	}
	for i, rows := range sets {
		var schedID *int64
		if i > 0 {
			schedID = &sch.ID
		}
		at := fixedNow.Add(-time.Duration(3-i) * 24 * time.Hour)
		storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: v.ID, ScheduleID: schedID,
			Families: []string{"deviceConfigurations"}, Items: rows, CreatedAt: &at, CompletedAt: &at})
	}
}

func typeKeys(t *testing.T, m *Model, s string) {
	t.Helper()
	for _, r := range s {
		k := string(r)
		if k == " " {
			k = "space"
		}
		press(t, m, k)
	}
}

//nolint:tparallel // the subtests drive dashboards on one seeded database, one after another
func TestGoldenIntuneViews(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedIntune(t)
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		for _, tc := range []struct {
			name    string
			command string
			keys    []string
		}{
			{"backups", "backups", nil},
			{"backups_drift", "backups", []string{"enter"}},
			{"backups_drift_inventory", "backups", []string{"j", "j", "i"}},
			{"schedules", "schedules", nil},
			{"inventory", "inventory woodgrove", nil},
		} {
			t.Run(tc.name+"_"+size.name, func(t *testing.T) {
				m := New(b.context(size.w, size.h), nil)
				drive(t, m, m.Init())
				press(t, m, ":")
				typeKeys(t, m, tc.command)
				press(t, m, "enter")
				for _, k := range tc.keys {
					press(t, m, k)
				}
				view := m.Render()
				require.Equal(t, size.h, strings.Count(view, "\n")+1, "exactly the screen height")
				plain := ansi.Strip(view)
				for _, line := range strings.Split(plain, "\n") {
					require.LessOrEqual(t, len([]rune(line)), size.w, "line wider than the screen: %q", line)
				}
				require.NotContains(t, plain, "s3cret", "sensitive values never reach a view")
				requireGolden(t, "intune_"+tc.name+"_"+size.name, view)
			})
		}
	}
}

// TestDriftAgainstACancelledSet: a backup cancelled part way shows cancelled in the list, and its
// drift says on top that the set is incomplete and never counts what it lacks as removed.
func TestDriftAgainstACancelledSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seedIntune(t)
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: b.tenants["woodgrove"]})
	require.NoError(t, err)
	storetest.UpdateRun(ctx, t, b.db.Pool, res.Run.ID, &storetest.RunOpts{Status: store.StatusCompleted, Outcome: store.OutcomeCancelled,
		FinishedAt: new(fixedNow)})
	at := fixedNow.Add(-time.Hour)
	storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: b.tenants["woodgrove"], RunID: &res.Run.ID, Status: store.BackupFailed,
		Families: []string{"deviceConfigurations"}, CreatedAt: &at, CompletedAt: &at,
		Items: []store.BackupItemRow{{Family: "deviceConfigurations", GraphID: "dc-1", PolicyType: "deviceConfiguration", DisplayName: "Baseline Windows",
			ODataType: "#microsoft.graph.windows10GeneralConfiguration", PayloadHash: "hash-x", Payload: []byte(`{"object":{"passwordMinimumLength":14}}`)}}})

	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	press(t, m, ":")
	typeKeys(t, m, "backups")
	press(t, m, "enter")
	require.Contains(t, screen(m), "cancelled", "a cancelled backup's set shows cancelled, not failed")
	press(t, m, "enter")
	view := screen(m)
	require.Contains(t, view, "is incomplete (cancelled)")
	require.Contains(t, view, "- 0 removed", "what the cancelled set lacks is not removed")
	require.Contains(t, view, "? 1 not captured")
	require.NotContains(t, view, "- Wi-Fi profile")
}
