package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/notify"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// Alert conditions (docs/design.md#alerts).
const (
	// ConditionRunFailed: a run ended failed or blocked (optionally only some types, outcomes and
	// reason codes); clears when the next run of that type on that tenant succeeds.
	ConditionRunFailed = "run_failed"
	// ConditionConnectionBlocked: a provider connection's verification found it blocked or missing
	// a permission, or a run ended blocked by a provider reason; clears when it verifies.
	ConditionConnectionBlocked = "connection_blocked"
	// ConditionNoSuccess: no successful run of the types (default: backups) for Threshold hours.
	ConditionNoSuccess = "no_success"
	// ConditionDrift: a drift.check found items differing from the tenant's baseline; clears when
	// a check finds none.
	ConditionDrift = "drift"
	// ConditionRunStuck: a run queued, or running without a heartbeat, for Threshold minutes.
	ConditionRunStuck = "run_stuck"
)

// AlertConditions lists the conditions in the order of docs/design.md#alerts.
var AlertConditions = []string{ConditionRunFailed, ConditionConnectionBlocked, ConditionNoSuccess, ConditionDrift, ConditionRunStuck}

// Alert route kinds.
const (
	RouteWebhook   = "webhook"
	RouteSlack     = "slack"
	RouteTeams     = "teams"
	RoutePagerDuty = "pagerduty"
	RouteEmail     = "email"
)

// RouteKinds lists every route kind.
var RouteKinds = []string{RouteWebhook, RouteSlack, RouteTeams, RoutePagerDuty, RouteEmail}

// PagerDutyEventsURL is the Events API v2 endpoint a pagerduty route posts to unless told otherwise.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// AlertRouteRequest adds or edits a route. Which fields apply depends on Kind; on edit, empty
// fields keep what is stored.
type AlertRouteRequest struct {
	Workspace string
	Name      string
	Kind      string
	// URL: the webhook's target; the Slack or Teams webhook URL (sealed: its path is the
	// credential); PagerDuty's endpoint (default PagerDutyEventsURL).
	URL string
	// Secret: the webhook's HMAC-SHA256 key, PagerDuty's routing key, the SMTP password. Sealed.
	Secret string
	// E-mail over SMTP with STARTTLS (always required).
	SMTPAddr string // host:port
	From     string
	To       []string
	Username string
}

// AlertRouteView is a route as the dashboard and CLI show it: never its secret.
type AlertRouteView struct {
	store.AlertRoute
	// Target says where it sends, with credentials left out (a Slack URL shows its host only).
	Target    string `json:"target"`
	HasSecret bool   `json:"has_secret"`
}

func routeView(r store.AlertRoute) AlertRouteView {
	v := AlertRouteView{AlertRoute: r, HasSecret: len(r.SecretCiphertext) > 0}
	str := func(k string) string { s, _ := r.Config[k].(string); return s }
	switch r.Kind {
	case RouteWebhook:
		v.Target = str("url")
	case RouteSlack, RouteTeams:
		v.Target = str("host") + " (URL sealed)"
	case RoutePagerDuty:
		v.Target = str("url")
	case RouteEmail:
		to, _ := r.Config["to"].([]any)
		var names []string
		for _, t := range to {
			names = append(names, fmt.Sprint(t))
		}
		v.Target = fmt.Sprintf("smtp://%s -> %s", str("smtp_addr"), strings.Join(names, ", "))
	}
	return v
}

// routeSecretAD binds a route's sealed secret to its workspace and name: copied to another row, it
// does not open.
func routeSecretAD(workspaceID int64, name string) []byte {
	return fmt.Appendf(nil, "alert_route:%d:%s", workspaceID, name)
}

// AddAlertRoute creates a route (alert.manage).
func (s *Service) AddAlertRoute(ctx context.Context, actor Actor, req AlertRouteRequest) (AlertRouteView, error) {
	w, err := s.ResolveWorkspace(ctx, actor, req.Workspace)
	if err != nil {
		return AlertRouteView{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.AlertManage); err != nil {
		return AlertRouteView{}, err
	}
	if err := validName("route", req.Name); err != nil {
		return AlertRouteView{}, err
	}
	r := store.AlertRoute{WorkspaceID: w.ID, Name: req.Name, Kind: req.Kind}
	if err := s.applyRouteRequest(&r, req, true); err != nil {
		return AlertRouteView{}, err
	}
	var out store.AlertRoute
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = store.InsertAlertRoute(ctx, tx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &w.ID, "alert_route.add", "alert_route", fmt.Sprint(out.ID), map[string]any{"name": r.Name, "kind": r.Kind})
	})
	return routeView(out), err
}

// EditAlertRoute changes a route's settings or secret (alert.manage); its kind stays.
func (s *Service) EditAlertRoute(ctx context.Context, actor Actor, req AlertRouteRequest) (AlertRouteView, error) {
	r, err := s.routeForManage(ctx, actor, req.Workspace, req.Name)
	if err != nil {
		return AlertRouteView{}, err
	}
	if req.Kind != "" && req.Kind != r.Kind {
		return AlertRouteView{}, fmt.Errorf("%w: route %s is a %s route; remove it and add a %s route instead", ErrInvalid, r.Name, r.Kind, req.Kind)
	}
	if err := s.applyRouteRequest(&r, req, false); err != nil {
		return AlertRouteView{}, err
	}
	var out store.AlertRoute
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = store.UpdateAlertRoute(ctx, tx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &r.WorkspaceID, "alert_route.edit", "alert_route", fmt.Sprint(r.ID), map[string]any{"name": r.Name})
	})
	return routeView(out), err
}

// RemoveAlertRoute deletes a route and its deliveries (alert.manage).
func (s *Service) RemoveAlertRoute(ctx context.Context, actor Actor, workspace, name string) error {
	r, err := s.routeForManage(ctx, actor, workspace, name)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.DeleteAlertRoute(ctx, tx, r.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &r.WorkspaceID, "alert_route.remove", "alert_route", fmt.Sprint(r.ID), map[string]any{"name": r.Name})
	})
}

// ListAlertRoutes lists the routes of the actor's workspaces (tenant.view), with their last error.
func (s *Service) ListAlertRoutes(ctx context.Context, actor Actor) ([]AlertRouteView, error) {
	ids, err := s.viewableWorkspaces(ctx, actor)
	if err != nil {
		return nil, err
	}
	rs, err := store.ListAlertRoutes(ctx, s.db.Pool, ids)
	if err != nil {
		return nil, err
	}
	out := make([]AlertRouteView, len(rs))
	for i, r := range rs {
		out[i] = routeView(r)
	}
	return out, nil
}

func (s *Service) routeForManage(ctx context.Context, actor Actor, workspace, name string) (store.AlertRoute, error) {
	w, err := s.ResolveWorkspace(ctx, actor, workspace)
	if err != nil {
		return store.AlertRoute{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.AlertManage); err != nil {
		return store.AlertRoute{}, err
	}
	return store.FindAlertRoute(ctx, s.db.Pool, w.ID, name)
}

// viewableWorkspaces are the actor's workspaces where it holds tenant.view.
func (s *Service) viewableWorkspaces(ctx context.Context, actor Actor) ([]int64, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for id, role := range roles {
		if role.Can(access.TenantView) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// applyRouteRequest validates req for r's kind and writes its settings and sealed secret into r.
func (s *Service) applyRouteRequest(r *store.AlertRoute, req AlertRouteRequest, adding bool) error {
	if !slices.Contains(RouteKinds, r.Kind) {
		return fmt.Errorf("%w: unknown route kind %q (expected one of %s)", ErrInvalid, r.Kind, strings.Join(RouteKinds, ", "))
	}
	if err := checkText("URL", req.URL, "secret", req.Secret, "SMTP address", req.SMTPAddr, "sender", req.From, "user name", req.Username); err != nil {
		return err
	}
	if r.Config == nil {
		r.Config = map[string]any{}
	}
	secret := req.Secret
	switch r.Kind {
	case RouteWebhook:
		if req.URL != "" || adding {
			if err := checkAlertURL(req.URL, "webhook URL"); err != nil {
				return err
			}
			r.Config["url"] = req.URL
		}
		if adding && secret == "" {
			return fmt.Errorf("%w: a webhook route needs --secret: the key its messages are signed with (HMAC-SHA256)", ErrInvalid)
		}
	case RouteSlack, RouteTeams:
		if req.URL != "" || adding {
			if err := checkAlertURL(req.URL, r.Kind+" webhook URL"); err != nil {
				return err
			}
			u, _ := url.Parse(req.URL)
			r.Config["host"] = u.Host
			secret = req.URL // the URL is the credential
		}
	case RoutePagerDuty:
		if req.URL != "" || adding {
			target := cmp(req.URL, PagerDutyEventsURL)
			if err := checkAlertURL(target, "PagerDuty events URL"); err != nil {
				return err
			}
			r.Config["url"] = target
		}
		if adding && secret == "" {
			return fmt.Errorf("%w: a pagerduty route needs --secret: the integration's routing key", ErrInvalid)
		}
	case RouteEmail:
		if req.SMTPAddr != "" || adding {
			if _, _, err := net.SplitHostPort(req.SMTPAddr); err != nil {
				return fmt.Errorf("%w: --smtp-addr must be host:port, e.g. smtp.example.com:587", ErrInvalid)
			}
			r.Config["smtp_addr"] = req.SMTPAddr
		}
		if req.From != "" || adding {
			if _, err := mail.ParseAddress(req.From); err != nil {
				return fmt.Errorf("%w: --from %q is not an e-mail address", ErrInvalid, req.From)
			}
			r.Config["from"] = req.From
		}
		if len(req.To) > 0 || adding {
			if len(req.To) == 0 {
				return fmt.Errorf("%w: an email route needs at least one --to address", ErrInvalid)
			}
			to := make([]any, len(req.To))
			for i, a := range req.To {
				if _, err := mail.ParseAddress(a); err != nil {
					return fmt.Errorf("%w: --to %q is not an e-mail address", ErrInvalid, a)
				}
				to[i] = a
			}
			r.Config["to"] = to
		}
		if req.Username != "" {
			r.Config["username"] = req.Username
		}
		if adding && (req.Username == "") != (secret == "") {
			return fmt.Errorf("%w: SMTP authentication needs both --username and --secret (the password), or neither", ErrInvalid)
		}
	}
	if secret != "" {
		if s.sealer == nil {
			return errors.New("no secret key configured: cannot seal the route's secret")
		}
		sealed, err := s.sealer.SealWith([]byte(secret), routeSecretAD(r.WorkspaceID, r.Name))
		if err != nil {
			return err
		}
		r.SecretCiphertext, r.SecretKeyID = sealed, s.sealer.KeyID()
	}
	return nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkAlertURL accepts https URLs, and http only to a loopback address (a local relay).
func checkAlertURL(raw, what string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%w: the %s must be an https URL, got %q", ErrInvalid, what, raw)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%w: the %s must use https (http only to a loopback address), got %q", ErrInvalid, what, raw)
		}
	}
	return nil
}

// AlertRuleRequest adds a rule. Its scope is Tenant (one tenant) or Tag (the tenants carrying the
// tag when a condition is evaluated), not both; neither watches every tenant of the workspace.
type AlertRuleRequest struct {
	Workspace   string
	Name        string
	Condition   string
	Tenant      string
	Tag         string
	RunTypes    []string
	Outcomes    []string
	ReasonCodes []string
	// Threshold: hours for no_success (required), minutes for run_stuck (default 30).
	Threshold int
	// ResolveAfter is how long the condition must stay clear before the incident resolves: a
	// condition that flaps within it keeps one incident. Default 0 (resolve at once).
	ResolveAfter time.Duration
	Routes       []string
	Disabled     bool
}

// AlertRuleEdit changes a rule; nil fields keep what is stored. Tenant or Tag (not both) replaces
// the rule's scope: a tenant rule given a tag becomes a tag rule, and "" watches every tenant.
type AlertRuleEdit struct {
	Workspace    string
	Name         string
	Tenant       *string
	Tag          *string
	RunTypes     *[]string
	Outcomes     *[]string
	ReasonCodes  *[]string
	Threshold    *int
	ResolveAfter *time.Duration
	Routes       *[]string
	Enabled      *bool
}

// AddAlertRule creates a rule (alert.manage).
func (s *Service) AddAlertRule(ctx context.Context, actor Actor, req AlertRuleRequest) (store.AlertRule, error) {
	w, err := s.ResolveWorkspace(ctx, actor, req.Workspace)
	if err != nil {
		return store.AlertRule{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.AlertManage); err != nil {
		return store.AlertRule{}, err
	}
	if err := validName("rule", req.Name); err != nil {
		return store.AlertRule{}, err
	}
	r := store.AlertRule{WorkspaceID: w.ID, Name: req.Name, Condition: req.Condition, RunTypes: req.RunTypes, Outcomes: req.Outcomes,
		ReasonCodes: req.ReasonCodes, Threshold: req.Threshold, ResolveAfter: req.ResolveAfter, Enabled: !req.Disabled}
	if err := s.completeRule(ctx, actor, &r, &req.Tenant, &req.Tag, req.Routes); err != nil {
		return store.AlertRule{}, err
	}
	return s.saveRule(ctx, actor, r, "alert_rule.add")
}

// EditAlertRule changes a rule (alert.manage). Open incidents of the rule stay open and are
// judged by the new settings at their next evaluation; one whose tenant left the rule's scope
// fires no more and resolves when its condition clears. Disabling the rule resolves them.
func (s *Service) EditAlertRule(ctx context.Context, actor Actor, e AlertRuleEdit) (store.AlertRule, error) {
	r, err := s.ruleForManage(ctx, actor, e.Workspace, e.Name)
	if err != nil {
		return store.AlertRule{}, err
	}
	for _, f := range []struct {
		src *[]string
		dst *[]string
	}{{e.RunTypes, &r.RunTypes}, {e.Outcomes, &r.Outcomes}, {e.ReasonCodes, &r.ReasonCodes}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if e.Threshold != nil {
		r.Threshold = *e.Threshold
	}
	if e.ResolveAfter != nil {
		r.ResolveAfter = *e.ResolveAfter
	}
	if e.Enabled != nil {
		r.Enabled = *e.Enabled
	}
	routes := r.RouteNames
	if e.Routes != nil {
		routes = *e.Routes
	}
	if err := s.completeRule(ctx, actor, &r, e.Tenant, e.Tag, routes); err != nil {
		return store.AlertRule{}, err
	}
	out, err := s.saveRule(ctx, actor, r, "alert_rule.edit")
	if err != nil || out.Enabled {
		return out, err
	}
	// A disabled rule is evaluated no more: its open incidents resolve now, so none stays open forever.
	return out, s.db.InTx(ctx, func(tx pgx.Tx) error {
		open, err := store.OpenIncidentsOfRule(ctx, tx, out.ID)
		if err != nil {
			return err
		}
		for _, inc := range open {
			if err := s.resolve(ctx, tx, inc); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveAlertRule deletes a rule with its incidents (alert.manage).
func (s *Service) RemoveAlertRule(ctx context.Context, actor Actor, workspace, name string) error {
	r, err := s.ruleForManage(ctx, actor, workspace, name)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.DeleteAlertRule(ctx, tx, r.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &r.WorkspaceID, "alert_rule.remove", "alert_rule", fmt.Sprint(r.ID), map[string]any{"name": r.Name})
	})
}

// ListAlertRules lists the rules of the actor's workspaces (tenant.view).
func (s *Service) ListAlertRules(ctx context.Context, actor Actor) ([]store.AlertRule, error) {
	ids, err := s.viewableWorkspaces(ctx, actor)
	if err != nil {
		return nil, err
	}
	return store.ListAlertRules(ctx, s.db.Pool, ids)
}

func (s *Service) ruleForManage(ctx context.Context, actor Actor, workspace, name string) (store.AlertRule, error) {
	w, err := s.ResolveWorkspace(ctx, actor, workspace)
	if err != nil {
		return store.AlertRule{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.AlertManage); err != nil {
		return store.AlertRule{}, err
	}
	return store.FindAlertRule(ctx, s.db.Pool, w.ID, name)
}

func (s *Service) saveRule(ctx context.Context, actor Actor, r store.AlertRule, action string) (store.AlertRule, error) {
	var out store.AlertRule
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = store.SaveAlertRule(ctx, tx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &r.WorkspaceID, action, "alert_rule", fmt.Sprint(out.ID),
			map[string]any{"name": r.Name, "condition": r.Condition, "tenant_id": r.TenantID, "tag": r.Tag, "routes": out.RouteNames})
	})
	return out, err
}

// completeRule validates a rule, fills in its defaults and resolves its scope (tenant and tag nil:
// keep; either given replaces the scope) and routes by name.
func (s *Service) completeRule(ctx context.Context, actor Actor, r *store.AlertRule, tenant, tag *string, routes []string) error {
	if !slices.Contains(AlertConditions, r.Condition) {
		return fmt.Errorf("%w: unknown condition %q (expected one of %s)", ErrInvalid, r.Condition, strings.Join(AlertConditions, ", "))
	}
	if tenant != nil && *tenant != "" && tag != nil && *tag != "" {
		return fmt.Errorf("%w: a rule watches one tenant (--tenant) or the tenants of a tag (--tag), not both", ErrInvalid)
	}
	if tenant != nil || tag != nil {
		// A scope flag given replaces the whole scope.
		r.TenantID, r.Tag = nil, ""
	}
	if tag != nil && *tag != "" {
		if err := CheckTag(*tag); err != nil {
			return err
		}
		r.Tag = *tag
	}
	if tenant != nil && *tenant != "" {
		t, err := s.resolveTenant(ctx, s.db.Pool, actor, 0, *tenant)
		if err != nil {
			return err
		}
		if t.WorkspaceID != r.WorkspaceID {
			return notFoundf("tenant %q in this workspace", *tenant)
		}
		r.TenantID = &t.ID
	}
	for _, typ := range r.RunTypes {
		if _, err := LookupOperation(typ); err != nil {
			return err
		}
	}
	for _, o := range r.Outcomes {
		if o != string(store.OutcomeFailed) && o != string(store.OutcomeBlocked) {
			return fmt.Errorf("%w: --outcome %q: a run_failed rule watches failed or blocked", ErrInvalid, o)
		}
	}
	for _, c := range r.ReasonCodes {
		if !reason.Known(reason.Code(c)) {
			return fmt.Errorf("%w: unknown reason code %q (see `tenantatlas reasons`)", ErrInvalid, c)
		}
	}
	if r.ResolveAfter < 0 {
		return fmt.Errorf("%w: --resolve-after must not be negative", ErrInvalid)
	}
	switch r.Condition {
	case ConditionRunFailed:
		if len(r.Outcomes) == 0 {
			r.Outcomes = []string{string(store.OutcomeFailed), string(store.OutcomeBlocked)}
		}
	case ConditionNoSuccess:
		if r.Threshold <= 0 {
			return fmt.Errorf("%w: a no_success rule needs --hours (how long without a successful run)", ErrInvalid)
		}
		if len(r.RunTypes) == 0 {
			r.RunTypes = []string{TypeBackupRun, TypeBackupScheduled}
		}
	case ConditionRunStuck:
		if r.Threshold <= 0 {
			r.Threshold = 30
		}
	}
	if (len(r.Outcomes) > 0 || len(r.ReasonCodes) > 0) && r.Condition != ConditionRunFailed {
		return fmt.Errorf("%w: --outcome and --reason apply to run_failed rules only", ErrInvalid)
	}
	r.RouteIDs = r.RouteIDs[:0]
	for _, name := range routes {
		route, err := store.FindAlertRoute(ctx, s.db.Pool, r.WorkspaceID, name)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no alert route %q in this workspace (add it with `tenantatlas alerts routes add`)", ErrNotFound, name)
			}
			return err
		}
		r.RouteIDs = append(r.RouteIDs, route.ID)
	}
	return nil
}

// IncidentFilter narrows Incidents.
type IncidentFilter struct {
	OpenOnly bool
	Limit    int
}

// Incidents lists the incidents of the actor's workspaces (tenant.view), open ones first.
func (s *Service) Incidents(ctx context.Context, actor Actor, f IncidentFilter) ([]store.AlertIncident, error) {
	ids, err := s.viewableWorkspaces(ctx, actor)
	if err != nil {
		return nil, err
	}
	return store.ListIncidents(ctx, s.db.Pool, store.IncidentFilter{WorkspaceIDs: ids, OpenOnly: f.OpenOnly, Limit: f.Limit})
}

// IncidentDetail is an incident with its deliveries and their attempts.
type IncidentDetail struct {
	Incident   store.AlertIncident     `json:"incident"`
	Deliveries []store.AlertDelivery   `json:"deliveries"`
	Attempts   []store.DeliveryAttempt `json:"attempts"`
}

// Incident loads an incident with its delivery history (tenant.view).
func (s *Service) Incident(ctx context.Context, actor Actor, id int64) (IncidentDetail, error) {
	inc, err := s.incidentFor(ctx, actor, id, access.TenantView)
	if err != nil {
		return IncidentDetail{}, err
	}
	d := IncidentDetail{Incident: inc}
	if d.Deliveries, err = store.DeliveriesOfIncident(ctx, s.db.Pool, id); err != nil {
		return d, err
	}
	d.Attempts, err = store.AttemptsOfIncident(ctx, s.db.Pool, id)
	return d, err
}

func (s *Service) incidentFor(ctx context.Context, actor Actor, id int64, c access.Capability) (store.AlertIncident, error) {
	inc, err := store.GetIncident(ctx, s.db.Pool, id)
	if err != nil {
		return inc, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, inc.WorkspaceID, c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return inc, notFoundf("incident %d", id)
		}
		return inc, fmt.Errorf("incident %d: %w", id, err)
	}
	return inc, nil
}

// AcknowledgeIncident records that the actor is on it (alert.manage): its routes get an
// acknowledge message (PagerDuty acknowledges its incident) and no updates until it resolves.
func (s *Service) AcknowledgeIncident(ctx context.Context, actor Actor, id int64) (store.AlertIncident, error) {
	if _, err := s.incidentFor(ctx, actor, id, access.AlertManage); err != nil {
		return store.AlertIncident{}, err
	}
	var out store.AlertIncident
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		ok, err := store.AcknowledgeIncident(ctx, tx, id, actor.Name)
		if err != nil {
			return err
		}
		if out, err = store.GetIncident(ctx, tx, id); err != nil {
			return err
		}
		if !ok {
			if out.State != store.IncidentOpen {
				return fmt.Errorf("%w: incident %d is resolved", ErrInvalid, id)
			}
			return nil // already acknowledged: nothing changes, nothing is sent again
		}
		if err := s.queueDeliveries(ctx, tx, out, store.DeliveryAcknowledge); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &out.WorkspaceID, "alert_incident.acknowledge", "alert_incident", fmt.Sprint(id), nil)
	})
	return out, err
}

// SilenceIncident holds back the incident's messages for d (alert.manage); d 0 lifts the silence.
// The incident still updates and resolves; a resolve is always sent.
func (s *Service) SilenceIncident(ctx context.Context, actor Actor, id int64, d time.Duration) (store.AlertIncident, error) {
	if _, err := s.incidentFor(ctx, actor, id, access.AlertManage); err != nil {
		return store.AlertIncident{}, err
	}
	if d < 0 {
		return store.AlertIncident{}, fmt.Errorf("%w: a silence must not be negative", ErrInvalid)
	}
	var until *time.Time
	if d > 0 {
		u := time.Now().Add(d)
		until = &u
	}
	var out store.AlertIncident
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.SilenceIncident(ctx, tx, id, until); err != nil {
			return err
		}
		var err error
		if out, err = store.GetIncident(ctx, tx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &out.WorkspaceID, "alert_incident.silence", "alert_incident", fmt.Sprint(id), map[string]any{"for": d.String()})
	})
	return out, err
}

// AlertHistory is what the dashboard's :alerts screen shows: incidents, open first, with their
// deliveries and the recent failed attempts, the routes with their last error, and whether the
// actor may acknowledge and silence (alert.manage) in each workspace.
type AlertHistory struct {
	Incidents  []store.AlertIncident
	Deliveries map[int64][]store.AlertDelivery // by incident
	Failures   map[int64][]store.DeliveryAttempt
	Routes     []AlertRouteView
	CanManage  map[int64]bool // by workspace
}

// AlertHistory loads the :alerts screen (tenant.view; lists leave out other workspaces).
func (s *Service) AlertHistory(ctx context.Context, actor Actor, limit int) (AlertHistory, error) {
	h := AlertHistory{Deliveries: map[int64][]store.AlertDelivery{}, Failures: map[int64][]store.DeliveryAttempt{}, CanManage: map[int64]bool{}}
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return h, err
	}
	for id, role := range roles {
		h.CanManage[id] = role.Can(access.AlertManage)
	}
	if h.Incidents, err = s.Incidents(ctx, actor, IncidentFilter{Limit: limit}); err != nil {
		return h, err
	}
	if h.Routes, err = s.ListAlertRoutes(ctx, actor); err != nil {
		return h, err
	}
	ids := make([]int64, len(h.Incidents))
	for i, inc := range h.Incidents {
		ids[i] = inc.ID
	}
	ds, err := store.DeliveriesOfIncidents(ctx, s.db.Pool, ids)
	if err != nil {
		return h, err
	}
	incidentOf := map[int64]int64{}
	for _, d := range ds {
		h.Deliveries[d.IncidentID] = append(h.Deliveries[d.IncidentID], d)
		incidentOf[d.ID] = d.IncidentID
	}
	fails, err := store.FailedAttemptsOfIncidents(ctx, s.db.Pool, ids, 500)
	if err != nil {
		return h, err
	}
	for _, a := range fails {
		h.Failures[incidentOf[a.DeliveryID]] = append(h.Failures[incidentOf[a.DeliveryID]], a)
	}
	return h, nil
}

// TestAlertRoute sends a test message through a route now (alert.manage) and records the result
// on the route: the error a receiver gave, or the success, which it also returns. A PagerDuty test
// opens a PagerDuty alert (a trigger with its own dedup_key) to be resolved there.
func (s *Service) TestAlertRoute(ctx context.Context, actor Actor, workspace, name string) error {
	r, err := s.routeForManage(ctx, actor, workspace, name)
	if err != nil {
		return err
	}
	w, err := store.GetWorkspace(ctx, s.db.Pool, r.WorkspaceID)
	if err != nil {
		return err
	}
	route := notify.Route{Kind: r.Kind, Name: r.Name, Config: r.Config}
	if len(r.SecretCiphertext) > 0 {
		if s.sealer == nil {
			return errors.New("no secret key configured: cannot open the route's secret")
		}
		if route.Secret, err = s.sealer.OpenWith(r.SecretCiphertext, routeSecretAD(r.WorkspaceID, r.Name)); err != nil {
			return fmt.Errorf("route %s: %w", r.Name, err)
		}
	}
	now := time.Now()
	key := fmt.Sprintf("tenantatlas:%s:test:%d:%d", w.Name, r.ID, now.UnixNano())
	m := notify.Message{Event: notify.EventTrigger, IdempotencyKey: key, DedupKey: key, Rule: "test", Condition: "test",
		Workspace: w.Name, Summary: "Test message from TenantAtlas (" + actor.Name + "): this route works", State: "test",
		OpenedAt: now, At: now, Source: "tenantatlas", Commands: []string{"tenantatlas alerts routes list"}}
	sendErr := s.sender.Send(ctx, route, m)
	errText := ""
	if sendErr != nil {
		errText = sendErr.Error()
	}
	if err := store.RecordRouteResult(context.WithoutCancel(ctx), s.db.Pool, r.ID, errText); err != nil {
		return err
	}
	if sendErr != nil {
		return fmt.Errorf("route %s: %w", r.Name, sendErr)
	}
	return nil
}
