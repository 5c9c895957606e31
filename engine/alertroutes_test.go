package engine_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// TestAlertPagerDutyEventShape checks the Events API v2 requests field by field against
// PagerDuty's "Send an Alert Event" reference: a trigger with routing_key, event_action, dedup_key
// and a payload with summary, source and severity; a resolve with only the three keys and the same
// dedup_key; an acknowledge between them likewise.
func TestAlertPagerDutyEventShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pd := newReceiver(t, "")
	b := setupAlerts(t, tlsTrusting(pd.srv))
	routingKey := "R0UT1NGKEY0123456789abcdefABCDEF" // 32 characters, like an integration key
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "pager", Kind: engine.RoutePagerDuty, URL: pd.srv.URL + "/v2/enqueue", Secret: routingKey})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "backup-failures", Condition: engine.ConditionRunFailed, Routes: []string{"pager"}})
	require.NoError(t, err)

	failed := b.runBackup(t, true)
	pd.waitMessages(1)
	inc := b.incidents(t)[0]
	_, err = b.svc.AcknowledgeIncident(ctx, b.admin, inc.ID)
	require.NoError(t, err)
	pd.waitMessages(2)
	b.runBackup(t, false)
	got := pd.waitMessages(3)
	var trigger, ack, resolve map[string]any
	require.NoError(t, json.Unmarshal(got[0].body, &trigger))
	require.NoError(t, json.Unmarshal(got[1].body, &ack))
	require.NoError(t, json.Unmarshal(got[2].body, &resolve))
	dedup := "tenantatlas:default:incident:" + strconv.FormatInt(inc.ID, 10)
	require.Equal(t, map[string]any{"routing_key": routingKey, "event_action": "acknowledge", "dedup_key": dedup}, ack)

	require.Equal(t, "application/json", got[0].header.Get("Content-Type"))
	require.Equal(t, routingKey, trigger["routing_key"])
	require.Equal(t, "trigger", trigger["event_action"])
	require.Equal(t, dedup, trigger["dedup_key"])
	require.LessOrEqual(t, len(dedup), 255)
	require.Equal(t, "TenantAtlas", trigger["client"])
	payload := trigger["payload"].(map[string]any)
	require.Equal(t, "[FIRING] backup-failures: Backup (manual) of "+b.tenant.Name+" ended failed (provider_unavailable)", payload["summary"])
	require.NotEmpty(t, payload["source"])
	require.Contains(t, []string{"critical", "error", "warning", "info"}, payload["severity"])
	ts, err := time.Parse(time.RFC3339, payload["timestamp"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute)
	require.Equal(t, b.tenant.Name, payload["component"])
	require.Equal(t, "default", payload["group"])
	require.Equal(t, engine.ConditionRunFailed, payload["class"])
	details := payload["custom_details"].(map[string]any)
	require.Equal(t, float64(failed.ID), details["run_id"])
	require.Equal(t, []any{"tenantatlas runs show " + strconv.FormatInt(failed.ID, 10),
		"ssh -p 2222 atlas.example.com runs show " + strconv.FormatInt(failed.ID, 10)}, details["commands"])

	require.Equal(t, map[string]any{"routing_key": routingKey, "event_action": "resolve", "dedup_key": dedup}, resolve,
		"a resolve carries only routing_key, event_action and dedup_key")
}

// TestAlertSlackAndTeamsMessages: a Slack incoming webhook gets text + blocks with mrkdwn escaped;
// a Teams workflow webhook gets a message with one Adaptive Card attachment.
func TestAlertSlackAndTeamsMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	slack, teams := newReceiver(t, ""), newReceiver(t, "")
	b := setupAlerts(t, tlsTrusting(slack.srv, teams.srv))
	_, err := b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "slack", Kind: engine.RouteSlack, URL: slack.srv.URL + "/services/T0/B0/secret"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "teams", Kind: engine.RouteTeams, URL: teams.srv.URL + "/workflows/abc/triggers/manual/paths/invoke?sig=secret"})
	require.NoError(t, err)
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "<fails> & more", Condition: engine.ConditionRunFailed, Routes: []string{"slack", "teams"}})
	require.ErrorIs(t, err, engine.ErrInvalid, "rule names are plain")
	_, err = b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fails", Condition: engine.ConditionRunFailed, Routes: []string{"slack", "teams"}})
	require.NoError(t, err)
	r := b.runBackup(t, true)

	var sl map[string]any
	require.NoError(t, json.Unmarshal(slack.waitMessages(1)[0].body, &sl))
	require.Contains(t, sl["text"], "[FIRING] fails: Backup (manual) of "+b.tenant.Name)
	blocks := sl["blocks"].([]any)
	require.Equal(t, "header", blocks[0].(map[string]any)["type"])
	require.Equal(t, "mrkdwn", blocks[1].(map[string]any)["text"].(map[string]any)["type"])
	require.Contains(t, blocks[3].(map[string]any)["text"].(map[string]any)["text"], "`tenantatlas runs show "+strconv.FormatInt(r.ID, 10)+"`")

	var card map[string]any
	require.NoError(t, json.Unmarshal(teams.waitMessages(1)[0].body, &card))
	require.Equal(t, "message", card["type"])
	att := card["attachments"].([]any)
	require.Len(t, att, 1)
	a := att[0].(map[string]any)
	require.Equal(t, "application/vnd.microsoft.card.adaptive", a["contentType"])
	content := a["content"].(map[string]any)
	require.Equal(t, "AdaptiveCard", content["type"])
	require.Equal(t, "http://adaptivecards.io/schemas/adaptive-card.json", content["$schema"])
	require.Equal(t, "1.4", content["version"])
	body := content["body"].([]any)
	require.Equal(t, "TextBlock", body[0].(map[string]any)["type"])
	require.Equal(t, "FactSet", body[2].(map[string]any)["type"])
}

// smtpServer is a local SMTP server (github.com/emersion/go-smtp) that requires STARTTLS and
// AUTH PLAIN as atlas / right-password, answering a wrong password 535 5.7.8 as Postfix does.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	mail []string
}

func newSMTPServer(t *testing.T, cert tls.Certificate) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.AllowInsecureAuth = false
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mail...)
}

type smtpSession struct {
	srv    *smtpServer
	authed bool
	from   string
	to     []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "atlas" || pass != "right-password" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.mail = append(s.srv.mail, "MAIL FROM:"+s.from+"\nRCPT TO:"+strings.Join(s.to, ",")+"\n"+string(b))
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// TestAlertEmailOverSMTP: with STARTTLS and the right password the message arrives; with a bad
// password the delivery fails at once (535 is permanent), the error is on the route, and the run
// is not held up.
func TestAlertEmailOverSMTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	certSrv := httptest.NewTLSServer(nil) // only for its certificate (127.0.0.1) and its authority
	t.Cleanup(certSrv.Close)
	mail := newSMTPServer(t, certSrv.TLS.Certificates[0])
	b := setupAlerts(t, tlsTrusting(certSrv))
	for _, r := range []engine.AlertRouteRequest{
		{Name: "oncall-mail", Kind: engine.RouteEmail, SMTPAddr: mail.addr, From: "atlas@example.com", To: []string{"oncall@example.com"}, Username: "atlas", Secret: "right-password"},
		{Name: "bad-mail", Kind: engine.RouteEmail, SMTPAddr: mail.addr, From: "atlas@example.com", To: []string{"oncall@example.com"}, Username: "atlas", Secret: "wrong-password"},
	} {
		_, err := b.svc.AddAlertRoute(ctx, b.admin, r)
		require.NoError(t, err)
	}
	_, err := b.svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fails", Condition: engine.ConditionRunFailed, Routes: []string{"oncall-mail", "bad-mail"}})
	require.NoError(t, err)

	r := b.runBackup(t, true)
	require.Equal(t, store.OutcomeFailed, outcome(r))
	require.Eventually(t, func() bool { return len(mail.messages()) == 1 }, 10*time.Second, 10*time.Millisecond)
	msg := mail.messages()[0]
	require.Contains(t, msg, "MAIL FROM:atlas@example.com\nRCPT TO:oncall@example.com\n")
	require.Contains(t, msg, "Subject: [FIRING] fails: Backup (manual) of "+b.tenant.Name)
	require.Contains(t, msg, "  tenantatlas runs show "+strconv.FormatInt(r.ID, 10))

	var bad engine.AlertRouteView
	require.Eventually(t, func() bool {
		routes, err := b.svc.ListAlertRoutes(ctx, b.admin)
		require.NoError(t, err)
		for _, rt := range routes {
			if rt.Name == "bad-mail" && rt.LastError != nil {
				bad = rt
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "SMTP authentication as atlas at "+mail.addr+" failed: 535 Authentication credentials invalid", *bad.LastError)
	detail, err := b.svc.Incident(ctx, b.admin, b.incidents(t)[0].ID)
	require.NoError(t, err)
	for _, d := range detail.Deliveries {
		if d.RouteName == "bad-mail" {
			require.Equal(t, store.DeliveryFailed, d.Status, "a refused password is not retried")
			require.Equal(t, 1, d.Attempts)
		}
	}
	require.NotContains(t, *bad.LastError, "wrong-password")
}

// The killed-engine test runs an engine in a child process (the test binary re-executed) whose
// delivery hangs at the receiver, SIGKILLs it there, and checks another engine delivers once.
const alertChildEnv = "TENANTATLAS_ALERT_CHILD_DSN"

func runAlertChild() int {
	ctx := context.Background()
	fail := func(err error) int {
		_, _ = os.Stdout.WriteString("error " + err.Error() + "\n")
		return 1
	}
	key, err := hex.DecodeString(os.Getenv(alertChildEnv + "_KEY"))
	if err != nil {
		return fail(err)
	}
	sealer, err := engine.NewSealer(key)
	if err != nil {
		return fail(err)
	}
	db, err := store.Open(ctx, os.Getenv(alertChildEnv), store.Options{})
	if err != nil {
		return fail(err)
	}
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer})
	if err != nil {
		return fail(err)
	}
	tlsConfig, err := tlsFromPEMFile(os.Getenv(alertChildEnv + "_CA"))
	if err != nil {
		return fail(err)
	}
	e, err := engine.NewEngine(svc, engine.Config{Name: "doomed", AlertTLS: tlsConfig, AlertDeliveryTimeout: time.Second,
		Executors: map[string]run.Executor{engine.TypeBackupRun: func(context.Context, *run.RunContext) (run.Result, error) {
			return run.Result{}, run.Failure("provider_unavailable", "Graph answered 503")
		}}})
	if err != nil || e.Start(ctx) != nil {
		return fail(err)
	}
	_, _ = os.Stdout.WriteString("ready\n")
	select {}
}

// TestAlertEngineKilledBetweenCommitAndDelivery: the run's finish and its delivery commit in the
// child engine, which is SIGKILLed while its request hangs at the receiver; another engine hands
// the delivery to a new job and the receiver gets it once.
func TestAlertEngineKilledBetweenCommitAndDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	db, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	key := make([]byte, 32)
	copy(key, "alert-crash-test-key-0123456789a")
	sealer, err := engine.NewSealer(key)
	require.NoError(t, err)
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer})
	require.NoError(t, err)
	b := &testBundle{db: db, svc: svc, sealer: sealer}
	b.admin, err = svc.ActorByName(ctx, "")
	require.NoError(t, err)
	tenant := b.addTenant(t)

	rcv := newReceiver(t, "k")
	rcv.hang.Store(true)
	_, err = svc.AddAlertRoute(ctx, b.admin, engine.AlertRouteRequest{Name: "hook", Kind: engine.RouteWebhook, URL: rcv.srv.URL, Secret: "k"})
	require.NoError(t, err)
	_, err = svc.AddAlertRule(ctx, b.admin, engine.AlertRuleRequest{Name: "fails", Condition: engine.ConditionRunFailed, Routes: []string{"hook"}})
	require.NoError(t, err)

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pemOf(rcv.srv), 0o600))
	child := startChild(t, alertChildEnv+"="+dsn, alertChildEnv+"_KEY="+hex.EncodeToString(key), alertChildEnv+"_CA="+caFile)

	res, err := svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: tenant.ID})
	require.NoError(t, err)
	r := b.waitRun(t, res.Run.ID, completed)
	require.Equal(t, store.OutcomeFailed, outcome(r))
	select {
	case <-rcv.arrived: // the child's request hangs at the receiver
	case <-time.After(20 * time.Second):
		t.Fatal("the child engine never sent the delivery")
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	rcv.hang.Store(false)

	b.startEngine(t, engine.Config{Name: "survivor", AlertDeliveryTimeout: time.Second, AlertWatchInterval: 100 * time.Millisecond,
		AlertTLS: tlsTrusting(rcv.srv)})
	rcv.waitMessages(1)
	time.Sleep(500 * time.Millisecond)
	require.Len(t, rcv.messages(), 1, "delivered once")
	var deliveries, pending int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM alert_deliveries`).Scan(&deliveries, &pending))
	require.Equal(t, 1, deliveries)
	require.Zero(t, pending)
	var jobs int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'alert_delivery'`).Scan(&jobs))
	require.Equal(t, 2, jobs, "the dead engine's job and the one the delivery was handed to")
}

func pemOf(s *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

func tlsFromPEMFile(path string) (*tls.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no certificate in " + path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
