package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

func policy(id, name, ssid string) map[string]any {
	return map[string]any{"id": id, "displayName": name, "ssid": ssid, "@odata.type": "#microsoft.graph.windowsWifiConfiguration"}
}

func backupRow(t *testing.T, obj map[string]any) store.BackupItemRow {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"object": obj})
	require.NoError(t, err)
	_, hash, err := intune.HashCanonical(map[string]any{"object": obj})
	require.NoError(t, err)
	return store.BackupItemRow{Family: "deviceConfigurations", GraphID: obj["id"].(string), PolicyType: "windowsWifiConfiguration",
		DisplayName: obj["displayName"].(string), PayloadHash: hash, Payload: payload}
}

func inventoryRow(t *testing.T, obj map[string]any) store.InventoryRow {
	t.Helper()
	payload, hash, err := intune.HashCanonical(obj)
	require.NoError(t, err)
	return store.InventoryRow{Family: "deviceConfigurations", GraphID: obj["id"].(string), PolicyType: "windowsWifiConfiguration",
		DisplayName: obj["displayName"].(string), PayloadHash: hash, Payload: payload}
}

// TestDriftCheckAgainstBaseline: drift.check compares the latest inventory with the baseline (the
// latest complete set, or the one chosen), records the drifted items on the run, dedupes per
// tenant, and drives the drift alert: it fires on drift and resolves once a check finds none.
func TestDriftCheckAgainstBaseline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	b.startEngine(t, engine.Config{})
	_, err := b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "drift", Condition: engine.ConditionDrift, Tenant: tenant.Name})
	require.NoError(t, err)

	check := func() store.Run {
		t.Helper()
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDriftCheck, TenantID: tenant.ID})
		require.NoError(t, err)
		again, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDriftCheck, TenantID: tenant.ID})
		require.NoError(t, err)
		if again.Created {
			require.NotEqual(t, res.Run.ID, again.Run.ID, "a second check starts only after the first ended")
		} else {
			require.Equal(t, res.Run.ID, again.Run.ID, "dedupe per tenant")
		}
		b.waitRun(t, again.Run.ID, completed)
		return b.waitRun(t, res.Run.ID, completed)
	}

	none := check()
	require.Equal(t, store.OutcomeBlocked, outcome(none))
	require.Equal(t, "baseline_missing", none.Reason())

	wifi, vpn := policy("a", "Corp Wi-Fi", "corp"), policy("b", "VPN", "vpn")
	storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: tenant.ID, Families: []string{"deviceConfigurations"},
		Items: []store.BackupItemRow{backupRow(t, wifi), backupRow(t, vpn)}})
	changed, added := policy("a", "Corp Wi-Fi", "guest"), policy("c", "Kiosk", "kiosk")
	storetest.Inventory(ctx, t, b.db.Pool, &storetest.InventoryOpts{TenantID: tenant.ID,
		Rows: []store.InventoryRow{inventoryRow(t, changed), inventoryRow(t, vpn), inventoryRow(t, added)}})

	r := check()
	require.Equal(t, store.OutcomeSucceeded, outcome(r), deref(r.ReasonDetail))
	drift := r.Result["drift"].(map[string]any)
	require.Equal(t, float64(2), drift["drifted"])
	require.Equal(t, float64(1), drift["changed"])
	require.Equal(t, float64(1), drift["added"])
	require.Equal(t, float64(1), drift["unchanged"])
	items := drift["items"].([]any)
	require.Equal(t, "changed", items[0].(map[string]any)["status"])
	require.Equal(t, []any{"ssid"}, items[0].(map[string]any)["fields"])
	require.Equal(t, "Kiosk", items[1].(map[string]any)["display_name"])
	incs, err := b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.Equal(t, tenant.Name+" drifted from its baseline: 2 item(s)", incs[0].Summary)
	drifts, err := b.svc.TenantDrift(ctx, b.admin)
	require.NoError(t, err)
	require.Equal(t, 2, drifts[0].Drifted)
	require.False(t, drifts[0].HasBaseline, "no baseline chosen: the latest complete set")

	// Accept today's state as the new baseline: the next check finds nothing and resolves.
	accepted := storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: tenant.ID, Families: []string{"deviceConfigurations"},
		Items: []store.BackupItemRow{backupRow(t, changed), backupRow(t, vpn), backupRow(t, added)}})
	operator := b.addUser(t, "opal", "operator")
	_, err = b.svc.SetBaseline(ctx, operator, tenant.Name, accepted.ID)
	require.ErrorIs(t, err, engine.ErrForbidden)
	_, err = b.svc.SetBaseline(ctx, b.admin, tenant.Name, 999999)
	require.ErrorIs(t, err, engine.ErrNotFound)
	bl, err := b.svc.SetBaseline(ctx, b.admin, tenant.Name, accepted.ID)
	require.NoError(t, err)
	require.Equal(t, accepted.ID, deref(bl.BackupSetID))
	r = check()
	require.Equal(t, float64(0), r.Result["drift"].(map[string]any)["drifted"])
	incs, err = b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.Equal(t, store.IncidentResolved, incs[0].State)
}

// TestScheduledDriftCheckOncePerFireTime: a drift_check schedule fires drift.check runs from two
// engines sharing a fake clock, exactly one per fire time (a fire while a check is active joins
// it); families and retention are refused.
func TestScheduledDriftCheckOncePerFireTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	keep := 3
	_, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "bad", Cron: "* * * * * *",
		Operation: store.ScheduleDriftCheck, KeepCount: &keep})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, "a drift_check schedule has no families or retention")
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "drift-watch",
		Cron: "* * * * * *", Operation: store.ScheduleDriftCheck})
	require.NoError(t, err)
	require.Equal(t, store.ScheduleDriftCheck, sch.Operation)
	clock := clockwork.NewFakeClockAt(sch.FireFrom)
	opts := engine.Config{SchedulePollInterval: 300 * time.Millisecond, Clock: clock,
		Executors: map[string]run.Executor{engine.TypeDriftCheck: noopBackup}}
	b.startEngine(t, opts)
	second := opts
	second.Name = "second-engine"
	b.startEngine(t, second)
	const fires = 5
	for range fires {
		advance(t, clock, time.Second, 2)
		b.waitScheduledRun(t, sch.ID, clock.Now().Truncate(time.Second))
		// A fire while a check of the tenant is active joins it (dedupe per tenant): let it end.
		require.Eventually(t, func() bool {
			var active int
			require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE schedule_id = $1 AND status <> 'completed'`, sch.ID).Scan(&active))
			return active == 0
		}, 10*time.Second, 10*time.Millisecond)
	}
	_, err = b.svc.PauseSchedule(ctx, b.admin, sch.Name)
	require.NoError(t, err)
	var runs, fireTimes int
	var types []string
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT intended_fire_time), array_agg(DISTINCT type)
		FROM operation_runs WHERE schedule_id = $1`, sch.ID).Scan(&runs, &fireTimes, &types))
	require.Equal(t, runs, fireTimes, "one run per fire time")
	require.GreaterOrEqual(t, runs, fires)
	require.Equal(t, []string{engine.TypeDriftCheck}, types)
}
