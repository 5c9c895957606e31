package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/internal/startstop"
	"github.com/tenantatlas/tenantatlas/store"
)

// AlertWatch evaluates what no single state change decides (docs/design.md#alerts): no successful
// run of a tenant for N hours, runs stuck in the queue or without a heartbeat, and incidents whose
// condition has been clear for their rule's resolve_after. Every engine runs one; a
// transaction-scoped advisory lock lets one evaluate at a time, and the incidents' unique index
// keeps a race from opening two.
type AlertWatch struct {
	svc    *Service
	logger *slog.Logger
	// Interval between evaluations. Default 30 s.
	Interval time.Duration
	// staleDeliveryAfter is how long a delivery's job may run before it is handed to a new job.
	staleDeliveryAfter time.Duration
	lifecycle          startstop.Base
}

// NewAlertWatch returns a watch on svc's database.
func NewAlertWatch(svc *Service, logger *slog.Logger, interval time.Duration) *AlertWatch {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	return &AlertWatch{svc: svc, logger: logger.With("component", "alert_watch"), Interval: interval}
}

// Start evaluates at once and then every Interval until ctx ends or Stop is called.
func (w *AlertWatch) Start(ctx context.Context) error {
	ctx, stopped, err := w.lifecycle.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("alert watch %w", err)
	}
	go func() {
		defer stopped()
		ticker := time.NewTicker(w.Interval)
		defer ticker.Stop()
		for {
			if err := w.svc.evaluateAlerts(ctx, w.staleDeliveryAfter); err != nil && ctx.Err() == nil {
				w.logger.Warn("alert evaluation failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return nil
}

// Stop stops the watch; it tolerates never-started and double-stop.
func (w *AlertWatch) Stop() { w.lifecycle.Stop() }

// EvaluateAlerts runs one evaluation of the time-based conditions, in one transaction with their
// deliveries. It does nothing while another engine is evaluating.
func (s *Service) EvaluateAlerts(ctx context.Context) error { return s.evaluateAlerts(ctx, 0) }

// evaluateAlerts is EvaluateAlerts, also re-queueing deliveries stale for staleAfter (0: not).
func (s *Service) evaluateAlerts(ctx context.Context, staleAfter time.Duration) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		ok, err := store.TryAlertWatchLock(ctx, tx)
		if err != nil || !ok {
			return err
		}
		if staleAfter > 0 {
			if err := s.requeueStaleDeliveries(ctx, tx, staleAfter); err != nil {
				return err
			}
		}
		due, err := store.DueClearingIncidents(ctx, tx)
		if err != nil {
			return err
		}
		for _, inc := range due {
			if err := s.resolve(ctx, tx, inc); err != nil {
				return err
			}
		}
		rules, err := store.EnabledAlertRules(ctx, tx, 0, []string{ConditionNoSuccess, ConditionRunStuck})
		if err != nil {
			return err
		}
		for _, rule := range rules {
			switch rule.Condition {
			case ConditionNoSuccess:
				err = s.watchNoSuccess(ctx, tx, rule)
			case ConditionRunStuck:
				err = s.watchStuck(ctx, tx, rule)
			}
			if err != nil {
				return fmt.Errorf("error evaluating alert rule %s: %w", rule.Name, err)
			}
		}
		return nil
	})
}

// watchNoSuccess fires for each tenant in scope whose last successful run of the rule's types is
// older than Threshold hours (a tenant that never had one counts from its creation), and clears
// the others: every tenant of the workspace is looked at, so one that left the scope clears too.
func (s *Service) watchNoSuccess(ctx context.Context, tx pgx.Tx, rule store.AlertRule) error {
	last, err := store.LastSuccessByTenant(ctx, tx, rule.WorkspaceID, rule.RunTypes)
	if err != nil {
		return err
	}
	limit := time.Duration(rule.Threshold) * time.Hour
	for _, t := range last {
		subject := fmt.Sprintf("no_success:tenant:%d", t.TenantID)
		since := t.CreatedAt
		if t.LastSuccess != nil {
			since = *t.LastSuccess
		}
		if time.Since(since) < limit {
			if err := s.clear(ctx, tx, rule, subject); err != nil {
				return err
			}
			continue
		}
		summary := fmt.Sprintf("%s has had no successful %s for %d hours", t.TenantName, runTypesLabel(rule.RunTypes), rule.Threshold)
		detail := "never succeeded since the tenant was added"
		if t.LastSuccess != nil {
			detail = "last success " + t.LastSuccess.UTC().Format(time.RFC3339)
		}
		if err := s.fireOnce(ctx, tx, rule, store.IncidentFiring{WorkspaceID: rule.WorkspaceID, RuleID: rule.ID, Subject: subject,
			TenantID: &t.TenantID, Summary: summary, Detail: detail}); err != nil {
			return err
		}
	}
	return nil
}

// watchStuck fires per stuck run in scope and clears the incidents of runs no longer stuck. It
// lists the stuck runs of the whole workspace (up to stuckWatchLimit), so a run whose tenant left
// the scope keeps its incident until it is no longer stuck.
func (s *Service) watchStuck(ctx context.Context, tx pgx.Tx, rule store.AlertRule) error {
	f := store.RunFilter{WorkspaceIDs: []int64{rule.WorkspaceID}, Limit: stuckWatchLimit}
	after := time.Duration(rule.Threshold) * time.Minute
	stuck, err := store.StuckRuns(ctx, tx, f, after, after)
	if err != nil {
		return err
	}
	var subjects []string
	for _, r := range stuck {
		subject := fmt.Sprintf("stuck:run:%d", r.ID)
		subjects = append(subjects, subject)
		what := "queued"
		if r.Status == store.StatusRunning {
			what = "running without a heartbeat"
		}
		if err := s.fireOnce(ctx, tx, rule, store.IncidentFiring{WorkspaceID: rule.WorkspaceID, RuleID: rule.ID, Subject: subject,
			TenantID: r.TenantID, RunID: &r.ID, Summary: fmt.Sprintf("run %d (%s, %s) is stuck: %s for over %d minutes",
				r.ID, r.Type, cmp(r.TenantName, "no tenant"), what, rule.Threshold)}); err != nil {
			return err
		}
	}
	open, err := store.OpenIncidentsOfRule(ctx, tx, rule.ID)
	if err != nil {
		return err
	}
	for _, inc := range open {
		if !slices.Contains(subjects, inc.Subject) {
			if err := s.clear(ctx, tx, rule, inc.Subject); err != nil {
				return err
			}
		}
	}
	return nil
}

// stuckWatchLimit is how many stuck runs of a workspace the watch looks at per rule, newest first.
const stuckWatchLimit = 1000

// fireOnce fires a condition that is re-evaluated on a timer: an incident already open and not
// clearing is left as it is (the watch seeing it again is not news), so only the first firing (or
// a firing after it began clearing) changes state. A tenant out of the rule's scope fires nothing.
func (s *Service) fireOnce(ctx context.Context, tx pgx.Tx, rule store.AlertRule, f store.IncidentFiring) error {
	if ok, err := s.ruleCovers(ctx, tx, rule, f.TenantID); err != nil || !ok {
		return err
	}
	inc, err := store.OpenIncident(ctx, tx, rule.ID, f.Subject)
	if err == nil && inc.ClearSince == nil {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.fireCovered(ctx, tx, rule, f)
}

func runTypesLabel(types []string) string {
	if slices.Equal(types, []string{TypeBackupRun, TypeBackupScheduled}) {
		return "backup"
	}
	var titles []string
	for _, t := range types {
		op, _ := LookupOperation(t)
		titles = append(titles, cmp(op.Title, t))
	}
	return fmt.Sprint(titles)
}
