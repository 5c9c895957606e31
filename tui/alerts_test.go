package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// seedIncident adds a rule alerting a webhook route and one open incident on contoso whose
// delivery failed once with the receiver's error.
func (b *testBundle) seedIncident(t *testing.T) store.AlertIncident {
	t.Helper()
	ctx := context.Background()
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "ops-hook", Kind: engine.RouteWebhook, URL: "https://hooks.example.com/atlas", Secret: "k"})
	require.NoError(t, err)
	rule, err := b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "backup-failures", Condition: engine.ConditionRunFailed, Routes: []string{"ops-hook"}})
	require.NoError(t, err)
	tenant := b.tenants["contoso"]
	inc, _, err := store.FireIncident(ctx, b.db.Pool, store.IncidentFiring{WorkspaceID: 1, RuleID: rule.ID, Subject: "run:backup_schedule.run:tenant:1",
		TenantID: &tenant, Summary: "Backup (manual) of contoso ended failed (provider_unavailable)"})
	require.NoError(t, err)
	id, _, err := store.InsertDelivery(ctx, b.db.Pool, inc.ID, inc.Version, rule.RouteIDs[0], store.DeliveryTrigger)
	require.NoError(t, err)
	d, err := store.GetDelivery(ctx, b.db.Pool, id)
	require.NoError(t, err)
	require.NoError(t, store.RecordDeliveryAttempt(ctx, b.db.Pool, d, "hooks.example.com answered 503 Service Unavailable: down", false))
	return inc
}

// TestHomeListsOpenIncidentsFirstAndAcknowledges: home's first section is the open incidents; a
// on one acknowledges it (on any other line a still adds a tenant); :alerts shows the incident's
// deliveries with the receiver's error.
func TestHomeListsOpenIncidentsFirstAndAcknowledges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	inc := b.seedIncident(t)
	m := New(b.context(160, 40), nil)
	drive(t, m, m.Init())
	view := screen(m)
	require.Contains(t, view, "OPEN INCIDENTS  a acknowledges · enter shows :alerts")
	require.Less(t, strings.Index(view, "OPEN INCIDENTS"), strings.Index(view, "NOW"), "open incidents come first")
	require.Contains(t, view, "backup-failures  Backup (manual) of contoso ended failed (provider_unavailable)")
	require.Contains(t, view, "a acknowledge")

	press(t, m, "a")
	got, err := b.svc.Incident(context.Background(), b.admin, inc.ID)
	require.NoError(t, err)
	require.Equal(t, "admin", deref(got.Incident.AcknowledgedBy))
	require.Contains(t, screen(m), "ack admin")

	press(t, m, "enter")
	view = screen(m)
	require.Contains(t, view, "1 open · 1 route(s) · ops-hook failing")
	require.Contains(t, view, "DELIVERIES OF #")
	require.Contains(t, view, "hooks.example.com answered 503 Service Unavailable: down")
	require.Contains(t, view, "acknowledged")
}

// TestAlertsScreenReadonly: a readonly member sees incidents on :alerts but is offered neither
// acknowledge nor silence.
func TestAlertsScreenReadonly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	b.seedIncident(t)
	_, err := b.svc.CreateUser(ctx, b.admin, "rita")
	require.NoError(t, err)
	_, err = b.svc.AddMember(ctx, b.admin, "default", "rita", "readonly")
	require.NoError(t, err)
	rita, err := b.svc.ActorByName(ctx, "rita")
	require.NoError(t, err)
	c := b.context(160, 40)
	c.Actor = rita
	m := New(c, nil)
	drive(t, m, m.Init())
	press(t, m, ":", "a", "l", "e", "r", "t", "s", "enter")
	view := screen(m)
	require.Contains(t, view, "backup-failures")
	require.NotContains(t, view, "acknowledge")
	require.NotContains(t, view, "silence 1h")
	press(t, m, "a")
	incs, err := b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{})
	require.NoError(t, err)
	require.Nil(t, incs[0].AcknowledgedAt)
}

// TestGoldenAlerts: :alerts and home with an open incident, at both sizes.
func TestGoldenAlerts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	inc := b.seedIncident(t)
	_, err := b.db.Pool.Exec(context.Background(), `UPDATE alert_incidents SET opened_at = $2 WHERE id = $1`, inc.ID, fixedNow.Add(-10*time.Minute))
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(context.Background(), `UPDATE alert_delivery_attempts SET at = $1`, fixedNow.Add(-9*time.Minute))
	require.NoError(t, err)
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{{"home_incident", nil}, {"alerts", []string{":", "a", "l", "e", "r", "t", "s", "enter"}}} {
			t.Run(tc.name+"_"+size.name, func(t *testing.T) {
				t.Parallel()
				m := New(b.context(size.w, size.h), nil)
				drive(t, m, m.Init())
				press(t, m, tc.keys...)
				view := m.Render()
				require.Equal(t, size.h, strings.Count(view, "\n")+1, "exactly the screen height")
				requireGolden(t, tc.name+"_"+size.name, view)
			})
		}
	}
}

// TestHomeListsDriftedTenants: a tenant whose latest drift check found drift is listed on home,
// and enter opens that check's run.
func TestHomeListsDriftedTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	tenant := b.tenants["fabrikam"]
	r := storetest.Run(ctx, t, b.db.Pool, &storetest.RunOpts{TenantID: &tenant, Type: engine.TypeDriftCheck, Outcome: store.OutcomeSucceeded,
		FinishedAt: ptr(fixedNow.Add(-5 * time.Minute))})
	_, err := b.db.Pool.Exec(ctx, `UPDATE operation_runs SET result = '{"drift": {"drifted": 3}}' WHERE id = $1`, r.ID)
	require.NoError(t, err)
	m := New(b.context(160, 48), nil)
	drive(t, m, m.Init())
	view := screen(m)
	require.Contains(t, view, "DRIFT FROM BASELINE")
	require.Contains(t, view, "fabrikam         3 drifted item(s) · checked 5m ago · run #"+idString(r.ID))
}
