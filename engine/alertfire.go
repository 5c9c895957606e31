package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/store"
)

// Incident lifecycle (docs/design.md#alerts): a condition that holds fires the (rule, subject)
// incident: the first firing opens it, later ones update it. A condition that clears resolves it,
// at once or after the rule's resolve_after (a firing meanwhile keeps the incident open). Every
// state change bumps the incident's version and queues one delivery per route, with its River job,
// in the transaction of the change: what committed is delivered, what rolled back is not, and a
// (incident, version, route) is queued at most once.

// QueueAlerts is the River queue of alert deliveries.
const QueueAlerts = "alerts"

// alertDeliveryMaxAttempts is how often a delivery is tried before it is marked failed: with the
// default backoff (5 s doubling, at most 10 min) about two and a half hours.
const alertDeliveryMaxAttempts = 20

// DeliveryArgs is the River job of one alert delivery; it carries only the delivery's id.
type DeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is the River job kind of alert deliveries.
func (DeliveryArgs) Kind() string { return "alert_delivery" }

// alertsOnRunFinished evaluates the conditions a finished run decides, in the transaction that
// finished it, under a savepoint: an alerting failure is logged and rolled back, never blocking
// the run's finish.
func (s *Service) alertsOnRunFinished(ctx context.Context, tx pgx.Tx, runID int64) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		s.logger.Warn("cannot evaluate alerts of a finished run", "run_id", runID, "error", err)
		return
	}
	if err := s.evaluateRun(ctx, sp, runID); err != nil {
		s.logger.Warn("cannot evaluate alerts of a finished run", "run_id", runID, "error", err)
		_ = sp.Rollback(ctx)
		return
	}
	if err := sp.Commit(ctx); err != nil {
		s.logger.Warn("cannot evaluate alerts of a finished run", "run_id", runID, "error", err)
	}
}

func (s *Service) evaluateRun(ctx context.Context, tx pgx.Tx, runID int64) error {
	r, err := store.GetRun(ctx, tx, runID)
	if err != nil {
		return err
	}
	rules, err := store.EnabledAlertRules(ctx, tx, r.WorkspaceID, AlertConditions)
	if err != nil || len(rules) == 0 {
		return err
	}
	op, _ := LookupOperation(r.Type)
	title := cmp(op.Title, r.Type)
	tenant := int64(0)
	if r.TenantID != nil {
		tenant = *r.TenantID
	}
	succeeded := r.EndedAs() == store.OutcomeSucceeded || r.EndedAs() == store.OutcomePartiallySucceeded
	for _, rule := range rules {
		// Every rule sees the run: one out of its scope clears as usual, and fire leaves it out.
		f := store.IncidentFiring{WorkspaceID: r.WorkspaceID, RuleID: rule.ID, TenantID: r.TenantID, RunID: &r.ID}
		switch rule.Condition {
		case ConditionRunFailed:
			if len(rule.RunTypes) > 0 && !slices.Contains(rule.RunTypes, r.Type) {
				continue
			}
			f.Subject = fmt.Sprintf("run:%s:tenant:%d", r.Type, tenant)
			matches := slices.Contains(rule.Outcomes, string(r.EndedAs())) &&
				(len(rule.ReasonCodes) == 0 || slices.Contains(rule.ReasonCodes, r.Reason()))
			switch {
			case matches:
				f.Summary = fmt.Sprintf("%s of %s ended %s (%s)", title, cmp(r.TenantName, "no tenant"), r.EndedAs(), r.Reason())
				f.Detail = deref(r.ReasonDetail)
				err = s.fire(ctx, tx, rule, f)
			case succeeded:
				err = s.clear(ctx, tx, rule, f.Subject)
			}
		case ConditionConnectionBlocked:
			if r.ProviderConnectionID == nil {
				continue
			}
			f.Subject = fmt.Sprintf("connection:%d", *r.ProviderConnectionID)
			err = s.evaluateConnection(ctx, tx, rule, r, f)
		case ConditionNoSuccess:
			if succeeded && slices.Contains(rule.RunTypes, r.Type) {
				err = s.clear(ctx, tx, rule, fmt.Sprintf("no_success:tenant:%d", tenant))
			}
		case ConditionDrift:
			if r.Type != TypeDriftCheck {
				continue
			}
			f.Subject = fmt.Sprintf("drift:tenant:%d", tenant)
			drifted := driftedCount(r)
			switch {
			case drifted > 0:
				f.Summary = fmt.Sprintf("%s drifted from its baseline: %d item(s)", cmp(r.TenantName, "tenant"), drifted)
				err = s.fire(ctx, tx, rule, f)
			case succeeded:
				err = s.clear(ctx, tx, rule, f.Subject)
			}
		case ConditionRunStuck:
			err = s.clear(ctx, tx, rule, fmt.Sprintf("stuck:run:%d", r.ID))
		}
		if err != nil {
			return fmt.Errorf("error evaluating alert rule %s: %w", rule.Name, err)
		}
	}
	return nil
}

// evaluateConnection fires when a verification found the connection blocked or missing a
// permission, or another run ended blocked by a provider reason; a verification that passes clears.
func (s *Service) evaluateConnection(ctx context.Context, tx pgx.Tx, rule store.AlertRule, r store.Run, f store.IncidentFiring) error {
	if r.Type != TypeProviderVerification {
		if r.EndedAs() == store.OutcomeBlocked && strings.HasPrefix(r.Reason(), "provider_") {
			f.Summary = fmt.Sprintf("connection of %s is blocked: %s", r.TenantName, r.Reason())
			f.Detail = deref(r.ReasonDetail)
			return s.fire(ctx, tx, rule, f)
		}
		return nil
	}
	c, err := store.GetConnection(ctx, tx, *r.ProviderConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case c.Status == "blocked" || len(c.MissingPermissions) > 0:
		f.Summary = fmt.Sprintf("connection of %s is blocked: %s", r.TenantName, cmp(deref(c.StatusReasonCode), r.Reason()))
		if len(c.MissingPermissions) > 0 {
			f.Summary = fmt.Sprintf("connection of %s lost permission(s): %s", r.TenantName, strings.Join(c.MissingPermissions, ", "))
		}
		f.Detail = deref(r.ReasonDetail)
		return s.fire(ctx, tx, rule, f)
	case c.Status == "ok":
		return s.clear(ctx, tx, rule, f.Subject)
	}
	return nil
}

// driftedCount reads the number of drifted items a drift.check recorded on its run.
func driftedCount(r store.Run) int {
	d, _ := r.Result["drift"].(map[string]any)
	n, _ := d["drifted"].(float64)
	return int(n)
}

// ruleCovers says whether the rule's scope takes in the tenant (nil: a run of no tenant), as it is
// now: every tenant of the workspace, its one tenant, or the tenants carrying its tag at this
// evaluation. It is the one check of a rule's scope: fire and fireOnce ask it, so every condition
// honours it. Clears do not ask: an incident open for a tenant that left the scope (untagged, or
// the rule edited to another tenant or tag) resolves when its condition clears, as any other.
func (s *Service) ruleCovers(ctx context.Context, tx pgx.Tx, rule store.AlertRule, tenantID *int64) (bool, error) {
	switch {
	case rule.TenantID != nil:
		return tenantID != nil && *tenantID == *rule.TenantID, nil
	case rule.Tag != "":
		if tenantID == nil {
			return false, nil
		}
		return store.TenantHasTag(ctx, tx, *tenantID, rule.Tag)
	}
	return true, nil
}

// fire opens or updates the incident and queues its deliveries, unless its tenant is out of the
// rule's scope, it is silenced, or it is an update of an acknowledged incident (someone is on it).
func (s *Service) fire(ctx context.Context, tx pgx.Tx, rule store.AlertRule, f store.IncidentFiring) error {
	if ok, err := s.ruleCovers(ctx, tx, rule, f.TenantID); err != nil || !ok {
		return err
	}
	return s.fireCovered(ctx, tx, rule, f)
}

// fireCovered is fire for a tenant already known to be in the rule's scope.
func (s *Service) fireCovered(ctx context.Context, tx pgx.Tx, rule store.AlertRule, f store.IncidentFiring) error {
	inc, opened, err := store.FireIncident(ctx, tx, f)
	if err != nil {
		return err
	}
	event := store.DeliveryTrigger
	if !opened {
		event = store.DeliveryUpdate
		if inc.AcknowledgedAt != nil {
			return nil
		}
	}
	if inc.Silenced(now()) {
		return nil
	}
	return s.queueDeliveries(ctx, tx, inc, event)
}

// clear notes that the (rule, subject) condition no longer holds: the open incident resolves now,
// or starts clearing when the rule waits resolve_after (the alert watch resolves it then).
func (s *Service) clear(ctx context.Context, tx pgx.Tx, rule store.AlertRule, subject string) error {
	inc, err := store.OpenIncident(ctx, tx, rule.ID, subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rule.ResolveAfter > 0 {
		return store.MarkIncidentClearing(ctx, tx, inc.ID)
	}
	return s.resolve(ctx, tx, inc)
}

func (s *Service) resolve(ctx context.Context, tx pgx.Tx, inc store.AlertIncident) error {
	out, ok, err := store.ResolveIncident(ctx, tx, inc.ID)
	if err != nil || !ok {
		return err
	}
	return s.queueDeliveries(ctx, tx, out, store.DeliveryResolve)
}

// queueDeliveries queues one delivery of the incident's current version per route of its rule,
// each with its River job in tx. An acknowledge or resolve goes only to the routes that were told
// of the incident (a silenced incident that was never sent is not resolved at its receivers).
func (s *Service) queueDeliveries(ctx context.Context, tx pgx.Tx, inc store.AlertIncident, event store.DeliveryEvent) error {
	routes, err := store.RuleRoutes(ctx, tx, inc.RuleID)
	if err != nil {
		return err
	}
	var told []int64
	if event == store.DeliveryResolve || event == store.DeliveryAcknowledge {
		if told, err = store.RoutesSentTo(ctx, tx, inc.ID); err != nil {
			return err
		}
	}
	for _, route := range routes {
		if told != nil && !slices.Contains(told, route.ID) || (event == store.DeliveryResolve || event == store.DeliveryAcknowledge) && len(told) == 0 {
			continue
		}
		id, inserted, err := store.InsertDelivery(ctx, tx, inc.ID, inc.Version, route.ID, event)
		if err != nil {
			return err
		}
		if !inserted {
			continue
		}
		if err := s.insertDeliveryJob(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

// insertDeliveryJob enqueues the River job of a delivery in tx and makes it the delivery's owner.
func (s *Service) insertDeliveryJob(ctx context.Context, tx pgx.Tx, deliveryID int64) error {
	job, err := s.river.InsertTx(ctx, tx, DeliveryArgs{DeliveryID: deliveryID},
		&river.InsertOpts{Queue: QueueAlerts, MaxAttempts: alertDeliveryMaxAttempts})
	if err != nil {
		return fmt.Errorf("error queueing delivery %d: %w", deliveryID, err)
	}
	return store.SetDeliveryJob(ctx, tx, deliveryID, job.Job.ID)
}

// requeueStaleDeliveries hands the deliveries whose engine died mid-send to a new job: the old
// job is cancelled and, should it ever run again, stands down (it no longer owns the delivery).
func (s *Service) requeueStaleDeliveries(ctx context.Context, tx pgx.Tx, after time.Duration) error {
	stale, err := store.StaleDeliveries(ctx, tx, after)
	if err != nil {
		return err
	}
	for _, d := range stale {
		if _, err := s.river.JobCancelTx(ctx, tx, *d.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("error cancelling the job of delivery %d: %w", d.ID, err)
		}
		if err := s.insertDeliveryJob(ctx, tx, d.ID); err != nil {
			return err
		}
		s.logger.Warn("re-queued an alert delivery whose engine stopped mid-send", "delivery_id", d.ID, "route", d.RouteName)
	}
	return nil
}

// now is the alerting clock (silences, resolve_after): the database's now() decides stored times.
func now() time.Time { return time.Now() }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
