package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// Retention (docs/operations.md#retention): how long a workspace keeps its history, and the pass
// that applies it. Every engine runs the pass every Config.RetentionInterval; a cluster-wide lock
// lets one engine at a time do it. Each pass deletes in small batches (store.PruneRuns), so it
// holds no long lock and an interrupted pass loses nothing: the next one continues.

// Retention returns a workspace's retention; any member may read it.
func (s *Service) Retention(ctx context.Context, actor Actor, workspaceID int64) (store.Retention, error) {
	if _, err := authorize(ctx, s.db.Pool, actor, workspaceID, access.TenantView); err != nil {
		if errors.Is(err, ErrNotFound) {
			return store.Retention{}, notFoundf("workspace %d", workspaceID)
		}
		return store.Retention{}, err
	}
	return store.GetRetention(ctx, s.db.Pool, workspaceID)
}

// SetRetention changes a workspace's retention (retention.manage), audited with the old and new
// values. Values outside the bounds are refused with the bound.
func (s *Service) SetRetention(ctx context.Context, actor Actor, workspaceID int64, r store.Retention) (store.Retention, error) {
	if err := validRetention(r); err != nil {
		return store.Retention{}, err
	}
	var before store.Retention
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := authorize(ctx, tx, actor, workspaceID, access.RetentionManage); err != nil {
			if errors.Is(err, ErrNotFound) {
				return notFoundf("workspace %d", workspaceID)
			}
			return err
		}
		var err error
		if before, err = store.GetRetention(ctx, tx, workspaceID); err != nil {
			return err
		}
		if err := store.SetRetention(ctx, tx, workspaceID, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &workspaceID, "workspace.retention", "workspace", fmt.Sprint(workspaceID), map[string]any{
			"before": retentionDetails(before), "after": retentionDetails(r)})
	})
	return r, err
}

func validRetention(r store.Retention) error {
	switch {
	case r.Runs < store.MinRunRetention:
		return fmt.Errorf("%w: runs are kept at least %s (a schedule's catch-up and a week of triage need them), not %s",
			ErrInvalid, FormatRetention(store.MinRunRetention), FormatRetention(r.Runs))
	case r.RunEvents < store.MinRunEventRetention:
		return fmt.Errorf("%w: run events are kept at least %s, not %s", ErrInvalid, FormatRetention(store.MinRunEventRetention), FormatRetention(r.RunEvents))
	case r.RunEvents > r.Runs:
		return fmt.Errorf("%w: run events (%s) cannot be kept longer than their runs (%s)", ErrInvalid, FormatRetention(r.RunEvents), FormatRetention(r.Runs))
	case r.Audit != 0 && r.Audit < store.MinAuditRetention:
		return fmt.Errorf("%w: audit events are kept at least %s when a retention is set (or forever), not %s",
			ErrInvalid, FormatRetention(store.MinAuditRetention), FormatRetention(r.Audit))
	}
	return nil
}

func retentionDetails(r store.Retention) map[string]any {
	audit := "forever"
	if r.Audit > 0 {
		audit = FormatRetention(r.Audit)
	}
	return map[string]any{"runs": FormatRetention(r.Runs), "run_events": FormatRetention(r.RunEvents), "audit": audit}
}

// FormatRetention writes a retention the way ParseRetention reads it: whole days as "400d", else a
// Go duration.
func FormatRetention(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// ParseRetention reads "400d", "12w", "2y" (365 days each) or a Go duration ("36h"). "forever"
// (for the audit trail only) is zero.
func ParseRetention(s string) (time.Duration, error) {
	if s == "forever" {
		return 0, nil
	}
	units := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if n := len(s); n > 1 {
		if unit, ok := units[s[n-1]]; ok {
			var count int64
			if _, err := fmt.Sscanf(s[:n-1], "%d", &count); err == nil && fmt.Sprint(count) == s[:n-1] && count > 0 && count < 1000*365 {
				return time.Duration(count) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: retention %q: want a count of days, weeks or years (400d, 12w, 2y) or a duration (36h)", ErrInvalid, s)
	}
	return d, nil
}

// PruneResult is what a retention pass removed from one workspace.
type PruneResult struct {
	WorkspaceID int64  `json:"workspace_id"`
	Workspace   string `json:"workspace"`
	store.Pruned
}

// ErrRetentionBusy means another process is applying retention right now.
var ErrRetentionBusy = errors.New("another engine is applying retention right now; try again in a minute")

// Prune applies a workspace's retention now (retention.manage), as the engines do every hour.
func (s *Service) Prune(ctx context.Context, actor Actor, workspaceID int64) (PruneResult, error) {
	if _, err := authorize(ctx, s.db.Pool, actor, workspaceID, access.RetentionManage); err != nil {
		if errors.Is(err, ErrNotFound) {
			return PruneResult{}, notFoundf("workspace %d", workspaceID)
		}
		return PruneResult{}, err
	}
	w, err := store.GetWorkspace(ctx, s.db.Pool, workspaceID)
	if err != nil {
		return PruneResult{}, err
	}
	var res PruneResult
	ran, err := store.WithRetentionLock(ctx, s.db, func() error {
		var err error
		res, err = s.pruneWorkspace(ctx, actor, w)
		return err
	})
	if err == nil && !ran {
		err = ErrRetentionBusy
	}
	return res, err
}

// pruneAll is the engines' periodic pass over every workspace; ran is false when another engine
// holds the lock.
func (s *Service) pruneAll(ctx context.Context) (results []PruneResult, ran bool, err error) {
	ran, err = store.WithRetentionLock(ctx, s.db, func() error {
		ws, err := store.ListAllWorkspaces(ctx, s.db.Pool)
		if err != nil {
			return err
		}
		var errs []error
		for _, w := range ws {
			res, err := s.pruneWorkspace(ctx, SystemActor, w)
			if err != nil {
				errs = append(errs, err)
			}
			if res.Total() > 0 || err != nil {
				results = append(results, res)
			}
		}
		return errors.Join(errs...)
	})
	return results, ran, err
}

// pruneWorkspace deletes what the workspace's retention says has expired, and audits what went.
// What was deleted before an error is still audited.
func (s *Service) pruneWorkspace(ctx context.Context, actor Actor, w store.Workspace) (PruneResult, error) {
	res := PruneResult{WorkspaceID: w.ID, Workspace: w.Name}
	var errs []error
	var err error
	if res.Runs, res.RunEvents, err = splitPruned(store.PruneRuns(ctx, s.db, w.ID)); err != nil {
		errs = append(errs, err)
	}
	trimmed, err := store.TrimRunEvents(ctx, s.db, w.ID)
	res.RunEvents += trimmed
	if err != nil {
		errs = append(errs, err)
	}
	if res.AuditEvents, err = store.PruneAudit(ctx, s.db, w.ID); err != nil {
		errs = append(errs, err)
	}
	if res.Incidents, err = store.PruneIncidents(ctx, s.db, w.ID); err != nil {
		errs = append(errs, err)
	}
	if res.Total() > 0 {
		details := map[string]any{"runs": res.Runs, "run_events": res.RunEvents, "audit_events": res.AuditEvents, "incidents": res.Incidents}
		if err := s.audit(context.WithoutCancel(ctx), s.db.Pool, actor, &w.ID, "retention.prune", "workspace", fmt.Sprint(w.ID), details); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("retention of workspace %s: %w", w.Name, err)
	}
	return res, nil
}

func splitPruned(p store.Pruned, err error) (int64, int64, error) { return p.Runs, p.RunEvents, err }

// retentionLoop runs the retention pass shortly after start and then every RetentionInterval.
func (e *Engine) retentionLoop(ctx context.Context) {
	if e.opts.RetentionInterval < 0 {
		return
	}
	timer := time.NewTimer(min(time.Minute, e.opts.RetentionInterval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		results, ran, err := e.svc.pruneAll(ctx)
		for _, r := range results {
			e.logger.Info("retention applied", "workspace", r.Workspace, "runs", r.Runs, "run_events", r.RunEvents,
				"audit_events", r.AuditEvents, "incidents", r.Incidents)
		}
		if err != nil && ctx.Err() == nil {
			e.logger.Warn("retention pass failed; the next pass continues where it stopped", "error", err)
		} else if !ran {
			e.logger.Debug("retention pass skipped: another engine holds the lock")
		}
		timer.Reset(e.opts.RetentionInterval)
	}
}
