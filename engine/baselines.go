package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// Baselines and drift watch (docs/design.md#baselines-and-drift-watch): a tenant's baseline is a
// chosen backup set, or its latest complete set; drift.check compares the tenant's latest
// inventory with it (Service.DiffBackups, the one drift comparison) and records the drifted items
// on the run. The drift alert condition reads the run's result.

// driftItemsRecorded is how many drifted items a drift.check run keeps in its result; the counts
// are always whole.
const driftItemsRecorded = 500

// SetBaseline chooses a tenant's baseline (schedule.manage): backup set setID, which must be a
// complete set of that tenant, or the latest complete set at each check when setID is 0.
func (s *Service) SetBaseline(ctx context.Context, actor Actor, tenantRef string, setID int64) (store.Baseline, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, 0, tenantRef)
	if err != nil {
		return store.Baseline{}, err
	}
	if err := s.authorizeTenant(ctx, actor, t.ID, access.ScheduleManage); err != nil {
		return store.Baseline{}, err
	}
	b := store.Baseline{TenantID: t.ID, SetBy: actor.Name}
	if setID != 0 {
		set, err := s.backupSet(ctx, actor, setID)
		if err != nil {
			return b, err
		}
		if set.TenantID != t.ID {
			return b, fmt.Errorf("%w: backup set %d belongs to tenant %s, not %s", ErrInvalid, setID, set.TenantName, t.Name)
		}
		if set.State() != store.BackupComplete {
			return b, fmt.Errorf("%w: backup set %d is %s; a baseline must be a complete set", ErrInvalid, setID, set.State())
		}
		b.BackupSetID = &set.ID
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.SetBaseline(ctx, tx, b); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &t.WorkspaceID, "baseline.set", "tenant", fmt.Sprint(t.ID), map[string]any{"backup_set_id": b.BackupSetID})
	})
	if err != nil {
		return b, err
	}
	return store.GetBaseline(ctx, s.db.Pool, t.ID)
}

// TenantDrift lists the tenants the actor may back up with their baseline and the latest drift
// check's drifted count (backup.run; other tenants are left out).
func (s *Service) TenantDrift(ctx context.Context, actor Actor) ([]store.TenantDrift, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for id, role := range roles {
		if role.Can(access.BackupRun) {
			ids = append(ids, id)
		}
	}
	return store.ListTenantDrift(ctx, s.db.Pool, ids)
}

// driftCheck is drift.check's executor. It lives in engine, not engine/op, because the comparison
// it runs is Service.DiffBackups: one place for the drift rules (volatile fields, incomplete sets,
// sensitive values).
func (e *Engine) driftCheck(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	setID, err := e.baselineSet(ctx, rc.Tenant.ID)
	if err != nil {
		return run.Result{}, err
	}
	rc.Logf(ctx, store.LevelInfo, "comparing the latest inventory of %s with baseline backup set %d", rc.Tenant.Name, setID)
	d, err := e.svc.DiffBackups(ctx, SystemActor, setID, 0)
	if err != nil {
		return run.Result{}, err
	}
	drifted := d.Added + d.Removed + d.Changed
	rc.SetTotal(ctx, int64(drifted+d.Unchanged))
	rc.Update(ctx, func(p *store.Progress) {
		p.Processed = int64(drifted + d.Unchanged)
		p.Created, p.Deleted, p.Updated, p.Unchanged = int64(d.Added), int64(d.Removed), int64(d.Changed), int64(d.Unchanged)
	})
	items := make([]map[string]any, 0, min(len(d.Items), driftItemsRecorded))
	for i, it := range d.Items {
		if i == driftItemsRecorded {
			break
		}
		var fields []string
		for _, c := range it.Changes {
			fields = append(fields, c.Path)
		}
		items = append(items, map[string]any{"status": it.Status, "family": it.Family, "graph_id": it.GraphID,
			"display_name": it.DisplayName, "fields": fields})
		msg := fmt.Sprintf("%s: %s %q", it.Status, it.Family, it.DisplayName)
		if len(fields) > 0 {
			msg += " (" + strings.Join(fields, ", ") + ")"
		}
		ref := it.Family + "/" + it.GraphID
		rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, Message: msg, ItemRef: &ref})
	}
	rc.Logf(ctx, store.LevelInfo, "%d drifted (%d changed, %d added, %d removed), %d unchanged", drifted, d.Changed, d.Added, d.Removed, d.Unchanged)
	return run.Result{Data: map[string]any{"drift": map[string]any{"baseline_set_id": setID, "drifted": drifted, "changed": d.Changed,
		"added": d.Added, "removed": d.Removed, "unchanged": d.Unchanged, "not_captured": d.NotCaptured, "items": items,
		"items_truncated": len(d.Items) > driftItemsRecorded}}}, nil
}

// baselineSet is the set a tenant's drift check compares with: its chosen baseline, or its latest
// complete set.
func (e *Engine) baselineSet(ctx context.Context, tenantID int64) (int64, error) {
	b, err := store.GetBaseline(ctx, e.svc.db.Pool, tenantID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if err == nil && b.BackupSetID != nil {
		return *b.BackupSetID, nil
	}
	set, err := store.LatestCompleteSet(ctx, e.svc.db.Pool, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, run.Failure(reason.BaselineMissing, "the tenant has no complete backup set to compare with")
	}
	return set.ID, err
}
