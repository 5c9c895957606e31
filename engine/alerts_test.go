package engine_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// receiver is a real HTTPS receiver of alert messages. It verifies the webhook signature with its
// own HMAC (not the sender's code), answers 503 while down (until downUntil), and records what it
// accepted.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte // "" : no signature check (Slack, Teams, PagerDuty)
	// downUntil, when set, answers 503 until that time (Unix nanoseconds).
	downUntil atomic.Int64
	// hang, while set, holds requests without answering until the test ends.
	hang     atomic.Bool
	arrived  chan struct{}
	mu       sync.Mutex
	accepted []receivedMessage
}

type receivedMessage struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: []byte(secret), arrived: make(chan struct{}, 64)}
	done := make(chan struct{})
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.arrived <- struct{}{}
		if r.hang.Load() {
			select {
			case <-done:
			case <-req.Context().Done():
			}
			return
		}
		if time.Now().UnixNano() < r.downUntil.Load() {
			http.Error(w, "receiver is down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if len(r.secret) > 0 {
			ts := req.Header.Get("X-TenantAtlas-Timestamp")
			mac := hmac.New(sha256.New, r.secret)
			mac.Write([]byte(ts + "."))
			mac.Write(body)
			want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
			sec, err := strconv.ParseInt(ts, 10, 64)
			if err != nil || !hmac.Equal([]byte(want), []byte(req.Header.Get("X-TenantAtlas-Signature"))) || time.Since(time.Unix(sec, 0)) > time.Minute {
				t.Errorf("webhook signature does not verify: %q", req.Header.Get("X-TenantAtlas-Signature"))
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
		}
		r.mu.Lock()
		r.accepted = append(r.accepted, receivedMessage{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"success","message":"Event processed"}`))
	}))
	t.Cleanup(func() { close(done); r.srv.Close() })
	return r
}

func (r *receiver) messages() []receivedMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedMessage(nil), r.accepted...)
}

// waitMessages waits until the receiver accepted n messages.
func (r *receiver) waitMessages(n int) []receivedMessage {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := r.messages(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			r.t.Fatalf("receiver got %d message(s), want %d", len(r.messages()), n)
		}
	}
}

// tlsTrusting trusts the receivers' test certificate authority.
func tlsTrusting(srvs ...*httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	for _, s := range srvs {
		pool.AddCert(s.Certificate())
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// alertBundle is an engine whose backups succeed or fail on the test's command.
type alertBundle struct {
	*testBundle
	tenant engine.TenantView
	fail   atomic.Bool
	engine *engine.Engine
}

func setupAlerts(t *testing.T, tlsConfig *tls.Config) *alertBundle {
	t.Helper()
	b := &alertBundle{testBundle: setup(t)}
	b.tenant = b.addTenant(t)
	b.engine = b.startEngine(t, engine.Config{AlertTLS: tlsConfig, AlertRetryBackoff: 50 * time.Millisecond,
		AlertWatchInterval: 100 * time.Millisecond, SSHAddress: "atlas.example.com:2222",
		Executors: map[string]run.Executor{engine.TypeBackupRun: b.backup}})
	return b
}

func (b *alertBundle) backup(context.Context, *run.RunContext) (run.Result, error) {
	if b.fail.Load() {
		return run.Result{}, run.Failure(reason.ProviderUnavailable, "Graph answered 503")
	}
	return run.Result{}, nil
}

// runBackup runs one backup of the tenant to its end.
func (b *alertBundle) runBackup(t *testing.T, fail bool) store.Run {
	t.Helper()
	b.fail.Store(fail)
	res, err := b.svc.Start(context.Background(), b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: b.tenant.ID})
	require.NoError(t, err)
	return b.waitRun(t, res.Run.ID, completed)
}

func (b *alertBundle) incidents(t *testing.T) []store.AlertIncident {
	t.Helper()
	out, err := b.svc.Incidents(context.Background(), b.admin, engine.IncidentFilter{})
	require.NoError(t, err)
	return out
}

func webhookBody(t *testing.T, m receivedMessage) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(m.body, &out))
	return out
}

// TestAlertWebhookFlappingCondition: a backup that fails, fails again, succeeds, fails within the
// rule's resolve_after and then succeeds for good is one incident: one trigger, updates, one
// resolve, each signed, each with its own idempotency key and the same dedup key.
func TestAlertWebhookFlappingCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, "hook-secret")
	b := setupAlerts(t, tlsTrusting(rcv.srv))
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "ops-hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL + "/hook", Secret: "hook-secret"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "backups-fail", Condition: engine.ConditionRunFailed,
		RunTypes: []string{engine.TypeBackupRun}, ResolveAfter: 1500 * time.Millisecond, Routes: []string{"ops-hook"}})
	require.NoError(t, err)

	first := b.runBackup(t, true)
	rcv.waitMessages(1)
	b.runBackup(t, true)
	rcv.waitMessages(2)
	b.runBackup(t, false) // clear ...
	b.runBackup(t, true)  // ... and fire again within resolve_after: still the same incident
	rcv.waitMessages(3)
	b.runBackup(t, false)
	rcv.waitMessages(4)

	incs := b.incidents(t)
	require.Len(t, incs, 1, "one incident however often the condition flaps")
	require.Equal(t, store.IncidentResolved, incs[0].State)
	require.Equal(t, 2, incs[0].Updates)
	time.Sleep(300 * time.Millisecond) // nothing else may arrive
	got := rcv.messages()
	var events []string
	keys := map[string]bool{}
	for _, m := range got {
		body := webhookBody(t, m)
		events = append(events, body["event"].(string))
		require.Equal(t, "tenantatlas:default:incident:"+strconv.FormatInt(incs[0].ID, 10), body["dedup_key"])
		require.Equal(t, body["idempotency_key"], m.header.Get("Idempotency-Key"))
		require.False(t, keys[m.header.Get("Idempotency-Key")], "every state change has its own key")
		keys[m.header.Get("Idempotency-Key")] = true
	}
	require.Equal(t, []string{"trigger", "update", "update", "resolve"}, events)
	trigger := webhookBody(t, got[0])
	inc := trigger["incident"].(map[string]any)
	require.Equal(t, "backups-fail", inc["rule"])
	require.Equal(t, b.tenant.Name, inc["tenant"])
	require.Contains(t, inc["summary"], "ended failed (provider_unavailable)")
	require.Equal(t, []any{"tenantatlas runs show " + strconv.FormatInt(first.ID, 10),
		"ssh -p 2222 atlas.example.com runs show " + strconv.FormatInt(first.ID, 10)}, trigger["commands"])
}

// TestAlertReceiverDownThenDeliveredOnce: a receiver that is down for a while (two seconds here,
// against a 50 ms backoff doubling per attempt) gets the message once it is back, exactly once;
// each refused attempt is recorded with its error and shown on the route meanwhile, and the run it
// is about finished at once regardless.
func TestAlertReceiverDownThenDeliveredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, "k")
	b := setupAlerts(t, tlsTrusting(rcv.srv))
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL, Secret: "k"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fail", Condition: engine.ConditionRunFailed, Routes: []string{"hook"}})
	require.NoError(t, err)

	back := time.Now().Add(2 * time.Second)
	rcv.downUntil.Store(back.UnixNano())
	r := b.runBackup(t, true)
	require.Equal(t, store.OutcomeFailed, outcome(r), "the run ends however its alert fares")
	require.Less(t, time.Now(), back, "the run did not wait for the receiver")
	require.Eventually(t, func() bool {
		routes, err := b.svc.ListAlertRoutes(ctx, b.admin)
		require.NoError(t, err)
		return routes[0].LastError != nil
	}, 10*time.Second, 10*time.Millisecond, "the route shows the receiver's refusal")
	routes, err := b.svc.ListAlertRoutes(ctx, b.admin)
	require.NoError(t, err)
	require.Contains(t, *routes[0].LastError, "503 Service Unavailable: receiver is down for maintenance")

	rcv.waitMessages(1)
	require.False(t, time.Now().Before(back), "delivered only once the receiver was back")
	time.Sleep(300 * time.Millisecond)
	require.Len(t, rcv.messages(), 1, "delivered once")
	incs := b.incidents(t)
	detail, err := b.svc.Incident(ctx, b.admin, incs[0].ID)
	require.NoError(t, err)
	require.Len(t, detail.Deliveries, 1)
	d := detail.Deliveries[0]
	require.Equal(t, store.DeliveryDelivered, d.Status)
	require.GreaterOrEqual(t, d.Attempts, 4, "50 ms, 100 ms, 200 ms, … until the receiver is back")
	require.Len(t, detail.Attempts, d.Attempts)
	for _, a := range detail.Attempts[:d.Attempts-1] {
		require.False(t, a.OK)
		require.Contains(t, a.Error, "503")
	}
	require.True(t, detail.Attempts[d.Attempts-1].OK)
	routes, err = b.svc.ListAlertRoutes(ctx, b.admin)
	require.NoError(t, err)
	require.Nil(t, routes[0].LastError, "a success clears the route's error")
	require.NotNil(t, routes[0].LastDeliveredAt)
}

// TestAlertUnreachableRouteNeverBlocksARun: a route nobody listens on keeps its error on the
// route and its delivery pending for retries; runs are not held up, and a second route of the
// same rule is delivered all the same.
func TestAlertUnreachableRouteNeverBlocksARun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, "k")
	b := setupAlerts(t, tlsTrusting(rcv.srv))
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "nobody", Kind: engine.RouteWebhook, URL: "https://127.0.0.1:1/hook", Secret: "k"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL, Secret: "k"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "slack-down", Kind: engine.RouteSlack, URL: "https://127.0.0.1:1/services/T0/B0/SECRETPATH"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fail", Condition: engine.ConditionRunFailed, Routes: []string{"nobody", "hook", "slack-down"}})
	require.NoError(t, err)

	start := time.Now()
	r := b.runBackup(t, true)
	require.Equal(t, store.OutcomeFailed, outcome(r))
	require.Less(t, time.Since(start), 10*time.Second)
	rcv.waitMessages(1)
	require.Eventually(t, func() bool {
		routes, err := b.svc.ListAlertRoutes(ctx, b.admin)
		require.NoError(t, err)
		for _, rt := range routes {
			if rt.Name == "nobody" && rt.LastError != nil {
				require.Contains(t, *rt.LastError, "POST to 127.0.0.1:1 failed")
				require.Contains(t, *rt.LastError, "connection refused")
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		routes, err := b.svc.ListAlertRoutes(ctx, b.admin)
		require.NoError(t, err)
		for _, rt := range routes {
			if rt.Name == "slack-down" && rt.LastError != nil {
				require.NotContains(t, *rt.LastError, "SECRETPATH", "a Slack URL's path is the credential")
				require.Contains(t, *rt.LastError, "POST to 127.0.0.1:1 failed")
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	again := b.runBackup(t, false)
	require.Equal(t, store.OutcomeSucceeded, outcome(again))
}

// TestAlertAcknowledgeAndSilence: an acknowledged incident sends an acknowledge, then no updates,
// and still its resolve; a silenced one sends nothing while silenced.
func TestAlertAcknowledgeAndSilence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, "k")
	b := setupAlerts(t, tlsTrusting(rcv.srv))
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL, Secret: "k"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fail", Condition: engine.ConditionRunFailed, Routes: []string{"hook"}})
	require.NoError(t, err)

	b.runBackup(t, true)
	rcv.waitMessages(1)
	inc := b.incidents(t)[0]
	operator := b.addUser(t, "olga", "operator")
	_, err = b.svc.AcknowledgeIncident(ctx, operator, inc.ID)
	require.ErrorIs(t, err, engine.ErrForbidden)
	require.ErrorContains(t, err, "alert.manage")
	acked, err := b.svc.AcknowledgeIncident(ctx, b.admin, inc.ID)
	require.NoError(t, err)
	require.Equal(t, "admin", deref(acked.AcknowledgedBy))
	_, err = b.svc.AcknowledgeIncident(ctx, b.admin, inc.ID) // twice: nothing more is sent
	require.NoError(t, err)
	rcv.waitMessages(2)
	b.runBackup(t, true) // an update of an acknowledged incident is not sent
	b.runBackup(t, false)
	got := rcv.waitMessages(3)
	var events []string
	for _, m := range got {
		events = append(events, webhookBody(t, m)["event"].(string))
	}
	require.Equal(t, []string{"trigger", "acknowledge", "resolve"}, events)

	b.runBackup(t, true)
	rcv.waitMessages(4)
	second := b.incidents(t)[0]
	require.NotEqual(t, inc.ID, second.ID, "after a resolve the condition opens a new incident")
	_, err = b.svc.SilenceIncident(ctx, b.admin, second.ID, time.Hour)
	require.NoError(t, err)
	b.runBackup(t, true)
	time.Sleep(300 * time.Millisecond)
	require.Len(t, rcv.messages(), 4, "a silenced incident's update is held back")
	incs := b.incidents(t)
	require.Equal(t, 1, incs[0].Updates, "the incident still updates")
}

// TestAlertRuleValidationAndAuthorization: bad input gets a clear error and writes nothing;
// alert.manage is for owners and managers; readonly members see rules and routes, never secrets.
func TestAlertRuleValidationAndAuthorization(t *testing.T) { //nolint:tparallel // the subtests share a database whose emptiness is checked after them
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.addTenant(t)
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "slack", Kind: engine.RouteSlack, URL: "https://hooks.slack.com/services/T000/B000/XXXXSECRET"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		req  engine.AlertRuleRequest
		want string
	}{
		{"unknown condition", engine.AlertRuleRequest{Name: "r", Condition: "cpu_high"}, `unknown condition "cpu_high"`},
		{"no hours", engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionNoSuccess}, "needs --hours"},
		{"unknown type", engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionRunFailed, RunTypes: []string{"backup"}}, `unknown operation type "backup"`},
		{"unknown reason", engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionRunFailed, ReasonCodes: []string{"E403"}}, `unknown reason code "E403"`},
		{"bad outcome", engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionRunFailed, Outcomes: []string{"succeeded"}}, "watches failed or blocked"},
		{"unknown route", engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionRunFailed, Routes: []string{"pager"}}, `no alert route "pager"`},
		{"unknown tenant", engine.AlertRuleRequest{Name: "r", Condition: engine.ConditionDrift, Tenant: "fabrikam"}, "fabrikam"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.svc.AddAlertRule(ctx, b.admin, tc.req)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, tc := range []struct {
		name string
		req  engine.AlertRouteRequest
		want string
	}{
		{"http webhook", engine.AlertRouteRequest{Name: "h", Kind: engine.RouteWebhook, URL: "http://example.com/hook", Secret: "s"}, "must use https"},
		{"webhook without secret", engine.AlertRouteRequest{Name: "h", Kind: engine.RouteWebhook, URL: "https://example.com/hook"}, "needs --secret"},
		{"unknown kind", engine.AlertRouteRequest{Name: "h", Kind: "sms"}, `unknown route kind "sms"`},
		{"bad recipient", engine.AlertRouteRequest{Name: "h", Kind: engine.RouteEmail, SMTPAddr: "smtp.example.com:587", From: "atlas@example.com", To: []string{"not an address"}}, "is not an e-mail address"},
		{"pagerduty without key", engine.AlertRouteRequest{Name: "h", Kind: engine.RoutePagerDuty}, "routing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.svc.AddAlertRoute(ctx, b.admin, tc.req)
			require.ErrorIs(t, err, engine.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
	rules, err := b.svc.ListAlertRules(ctx, b.admin)
	require.NoError(t, err)
	require.Empty(t, rules, "nothing was written")
	routes, err := b.svc.ListAlertRoutes(ctx, b.admin)
	require.NoError(t, err)
	require.Len(t, routes, 1)
	require.Equal(t, "hooks.slack.com (URL sealed)", routes[0].Target, "the Slack URL is the credential: never shown")
	raw, err := json.Marshal(routes)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "XXXXSECRET")

	manager := b.addUser(t, "mona", "manager")
	_, err = b.svc.AddAlertRule(ctx, manager, engine.AlertRuleRequest{Name: "fails", Condition: engine.ConditionRunFailed, Routes: []string{"slack"}})
	require.NoError(t, err)
	for _, role := range []string{"operator", "readonly"} {
		actor := b.addUser(t, "u-"+role, role)
		_, err := b.svc.AddAlertRule(ctx, actor, engine.AlertRuleRequest{Name: "x", Condition: engine.ConditionRunFailed})
		require.ErrorIs(t, err, engine.ErrForbidden, role)
		require.ErrorIs(t, b.svc.RemoveAlertRule(ctx, actor, "", "fails"), engine.ErrForbidden, role)
		_, err = b.svc.AddAlertRoute(ctx, actor, engine.AlertRouteRequest{Name: "y", Kind: engine.RouteSlack, URL: "https://hooks.slack.com/x"})
		require.ErrorIs(t, err, engine.ErrForbidden, role)
		rules, err := b.svc.ListAlertRules(ctx, actor)
		require.NoError(t, err)
		require.Len(t, rules, 1, role)
	}
	stranger := b.addUser(t, "stan", "")
	rules, err = b.svc.ListAlertRules(ctx, stranger)
	require.NoError(t, err)
	require.Empty(t, rules)
}

// TestAlertNoSuccessAndStuckWatch: the watch opens "no successful backup for N hours" for a tenant
// that has had none, and a successful backup resolves it in its finish; a queued run nobody picks
// up is "stuck" until it is cancelled.
func TestAlertNoSuccessAndStuckWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	_, err := b.db.Pool.Exec(ctx, `UPDATE tenants SET created_at = now() - interval '3 hours' WHERE id = $1`, tenant.ID)
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "stale-backups", Condition: engine.ConditionNoSuccess, Threshold: 2})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "stuck", Condition: engine.ConditionRunStuck, Threshold: 1})
	require.NoError(t, err)

	queued, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: tenant.ID}) // no engine runs it
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE operation_runs SET created_at = now() - interval '5 minutes' WHERE id = $1`, queued.Run.ID)
	require.NoError(t, err)
	require.NoError(t, b.svc.EvaluateAlerts(ctx))
	require.NoError(t, b.svc.EvaluateAlerts(ctx)) // a second look is not news
	incs, err := b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, incs, 2)
	bySubject := map[string]store.AlertIncident{}
	for _, i := range incs {
		bySubject[i.RuleName] = i
		require.Equal(t, 1, i.Version, "evaluated twice, changed once")
	}
	require.Contains(t, bySubject["stale-backups"].Summary, "has had no successful backup for 2 hours")
	require.Contains(t, bySubject["stuck"].Summary, "is stuck: queued for over 1 minutes")

	_, err = b.svc.Cancel(ctx, b.admin, queued.Run.ID)
	require.NoError(t, err)
	e := b.startEngine(t, engine.Config{AlertWatchInterval: time.Hour,
		Executors: map[string]run.Executor{engine.TypeBackupRun: func(context.Context, *run.RunContext) (run.Result, error) { return run.Result{}, nil }}})
	_ = e
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: tenant.ID})
	require.NoError(t, err)
	b.waitRun(t, res.Run.ID, completed)
	incs, err = b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{OpenOnly: true})
	require.NoError(t, err)
	require.Empty(t, incs, "the cancel resolved the stuck run, the backup the stale one")
}

// TestAlertDisablingARuleResolvesItsIncidents: a disabled rule is evaluated no more, so its open
// incident resolves (and its routes are told) instead of staying open forever.
func TestAlertDisablingARuleResolvesItsIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, "k")
	b := setupAlerts(t, tlsTrusting(rcv.srv))
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL, Secret: "k"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fail", Condition: engine.ConditionRunFailed, Routes: []string{"hook"}})
	require.NoError(t, err)
	b.runBackup(t, true)
	rcv.waitMessages(1)
	off := false
	_, err = b.svc.EditAlertRule(ctx, b.admin, engine.AlertRuleEdit{Name: "fail", Enabled: &off})
	require.NoError(t, err)
	got := rcv.waitMessages(2)
	require.Equal(t, "resolve", webhookBody(t, got[1])["event"])
	require.Equal(t, store.IncidentResolved, b.incidents(t)[0].State)
	b.runBackup(t, true)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, rcv.messages(), 2, "a disabled rule fires no more")
}

// TestAlertConnectionLostPermission: a verification against graphsim of a tenant whose app lost a
// permission opens a connection_blocked incident naming it; once the permission is granted again
// the next verification resolves it.
func TestAlertConnectionLostPermission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSim(t, graphsim.TenantSpec{Groups: 5, Profile: graphsim.ProfileLostPermission})
	tenant, st := b.addSimTenant(t, 0, "contoso")
	_, err := b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "connections", Condition: engine.ConditionConnectionBlocked})
	require.NoError(t, err)
	blocked := b.runOnce(t, engine.TypeProviderVerification, tenant.ID)
	require.Equal(t, store.OutcomeBlocked, outcome(blocked))
	incs, err := b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.Equal(t, "connection of contoso lost permission(s): DeviceManagementConfiguration.Read.All", incs[0].Summary)
	require.Equal(t, blocked.ID, deref(incs[0].RunID))

	st.SetRoles(append(st.Roles(), "DeviceManagementConfiguration.Read.All"))
	require.Equal(t, store.OutcomeSucceeded, outcome(b.runOnce(t, engine.TypeProviderVerification, tenant.ID)))
	incs, err = b.svc.Incidents(ctx, b.admin, engine.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.Equal(t, store.IncidentResolved, incs[0].State)
}

// TestAlertRouteTestMessage: `routes test` sends a signed test message at once and records the
// success on the route; against a route nobody listens on it returns the error and records it.
func TestAlertRouteTestMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, "k")
	db := setup(t).db
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: newSealer(t), AlertTLS: tlsTrusting(rcv.srv)})
	require.NoError(t, err)
	admin, err := svc.ActorByName(ctx, "")
	require.NoError(t, err)
	_, err = svc.AddAlertRoute(ctx, admin, engine.AlertRouteRequest{Name: "hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL, Secret: "k"})
	require.NoError(t, err)
	_, err = svc.AddAlertRoute(ctx, admin, engine.AlertRouteRequest{Name: "nobody", Kind: engine.RouteWebhook, URL: "https://127.0.0.1:1/", Secret: "k"})
	require.NoError(t, err)

	require.NoError(t, svc.TestAlertRoute(ctx, admin, "", "hook"))
	got := rcv.waitMessages(1)
	require.Contains(t, webhookBody(t, got[0])["title"], "Test message from TenantAtlas (admin)")
	err = svc.TestAlertRoute(ctx, admin, "", "nobody")
	require.ErrorContains(t, err, "route nobody: POST to 127.0.0.1:1 failed")
	routes, err := svc.ListAlertRoutes(ctx, admin)
	require.NoError(t, err)
	for _, r := range routes {
		switch r.Name {
		case "hook":
			require.Nil(t, r.LastError)
			require.NotNil(t, r.LastDeliveredAt)
		case "nobody":
			require.Contains(t, deref(r.LastError), "connection refused")
		}
	}
}
