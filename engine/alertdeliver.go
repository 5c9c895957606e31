package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/engine/notify"
	"github.com/tenantatlas/tenantatlas/store"
)

// deliveryWorker sends one alert delivery per job. A job whose delivery is gone (its rule or route
// was removed) or already settled does nothing, so a job run twice never sends twice; a receiver
// that is down is retried with backoff (NextRetry) until alertDeliveryMaxAttempts, then the
// delivery is marked failed. Every attempt is recorded with its error, on the delivery and on its
// route. An engine that dies mid-send leaves the job running: the alert watch hands the delivery
// to a new job once the old one has run for twice the delivery timeout; if the dead engine's
// request had reached the receiver, it sees the message again with the same Idempotency-Key
// (PagerDuty: the same dedup_key, which it deduplicates).
type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	engine *Engine
}

// Timeout bounds one attempt (connect, TLS, send, answer): Config.AlertDeliveryTimeout.
func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return w.engine.opts.AlertDeliveryTimeout
}

// NextRetry doubles the engine's AlertRetryBackoff per attempt, up to 10 minutes.
func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	d := w.engine.opts.AlertRetryBackoff
	for i := 1; i < job.Attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, 10*time.Minute))
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	e := w.engine
	d, err := store.GetDelivery(ctx, e.svc.db.Pool, job.Args.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Status != store.DeliveryPending || (d.JobID != nil && *d.JobID != job.ID) {
		return nil // settled, or handed to another job after this one's engine stalled
	}
	route, msg, err := e.deliveryMessage(ctx, d)
	if err != nil {
		return err
	}
	sendErr := e.sender.Send(ctx, route, msg)
	final := sendErr != nil && (notify.IsPermanent(sendErr) || job.Attempt >= job.MaxAttempts)
	errText := ""
	if sendErr != nil {
		errText = sendErr.Error()
	}
	ctx = context.WithoutCancel(ctx)
	if err := store.RecordDeliveryAttempt(ctx, e.svc.db.Pool, d, errText, final); err != nil {
		e.logger.Error("cannot record an alert delivery attempt", "delivery_id", d.ID, "error", err)
		if sendErr == nil {
			return nil // delivered: retrying would send it again
		}
	}
	if e.svc.metrics != nil {
		e.svc.metrics.delivered(d.RouteName, d.RouteKind, sendErr, final)
	}
	switch {
	case sendErr == nil:
		e.logger.Info("alert delivered", "delivery_id", d.ID, "route", d.RouteName, "event", d.Event)
		return nil
	case final:
		e.logger.Warn("alert delivery failed for good", "delivery_id", d.ID, "route", d.RouteName, "error", sendErr)
		return nil
	}
	e.logger.Warn("alert delivery failed; will retry", "delivery_id", d.ID, "route", d.RouteName, "attempt", job.Attempt, "error", sendErr)
	return sendErr
}

// deliveryMessage opens the delivery's route and renders its incident as a message.
func (e *Engine) deliveryMessage(ctx context.Context, d store.AlertDelivery) (notify.Route, notify.Message, error) {
	db := e.svc.db.Pool
	r, err := store.GetAlertRoute(ctx, db, d.RouteID)
	if err != nil {
		return notify.Route{}, notify.Message{}, err
	}
	inc, err := store.GetIncident(ctx, db, d.IncidentID)
	if err != nil {
		return notify.Route{}, notify.Message{}, err
	}
	w, err := store.GetWorkspace(ctx, db, inc.WorkspaceID)
	if err != nil {
		return notify.Route{}, notify.Message{}, err
	}
	route := notify.Route{Kind: r.Kind, Name: r.Name, Config: r.Config}
	if len(r.SecretCiphertext) > 0 {
		if e.svc.sealer == nil {
			return route, notify.Message{}, errors.New("no secret key configured: cannot open the route's secret")
		}
		if route.Secret, err = e.svc.sealer.OpenWith(r.SecretCiphertext, routeSecretAD(r.WorkspaceID, r.Name)); err != nil {
			return route, notify.Message{}, fmt.Errorf("route %s: %w", r.Name, err)
		}
	}
	m := notify.Message{Event: notify.Event(d.Event), IncidentID: inc.ID, Version: d.Version, Rule: inc.RuleName,
		Condition: inc.RuleCondition, Workspace: w.Name, Tenant: inc.TenantName, Summary: inc.Summary, Detail: inc.Detail,
		State: string(inc.State), Updates: inc.Updates, AcknowledgedBy: deref(inc.AcknowledgedBy), OpenedAt: inc.OpenedAt,
		At: d.CreatedAt, Source: e.name,
		DedupKey:       fmt.Sprintf("tenantatlas:%s:incident:%d", w.Name, inc.ID),
		IdempotencyKey: fmt.Sprintf("tenantatlas:%s:incident:%d:v%d:route:%d", w.Name, inc.ID, d.Version, d.RouteID)}
	if d.Event == store.DeliveryAcknowledge || d.Event == store.DeliveryResolve {
		m.State = map[store.DeliveryEvent]string{store.DeliveryAcknowledge: "acknowledged", store.DeliveryResolve: "resolved"}[d.Event]
	}
	if inc.RunID != nil {
		m.RunID = *inc.RunID
		m.Commands = e.openCommands("runs show", *inc.RunID)
	} else if inc.TenantID != nil {
		m.Commands = e.openCommands("tenants show", *inc.TenantID)
	}
	return route, m, nil
}

// openCommands are the commands that open a run or tenant: locally, and over SSH when the engine
// knows the SSH address users reach (Config.SSHAddress).
func (e *Engine) openCommands(verb string, id int64) []string {
	out := []string{fmt.Sprintf("tenantatlas %s %d", verb, id)}
	if addr := e.opts.SSHAddress; addr != "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			host, port = addr, "22"
		}
		if port == "22" {
			out = append(out, fmt.Sprintf("ssh %s %s %d", host, verb, id))
		} else {
			out = append(out, fmt.Sprintf("ssh -p %s %s %s %d", port, host, verb, id))
		}
	}
	return out
}
