package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Baseline is the backup set a tenant's drift checks compare with (BackupSetID nil: the latest
// complete set at the time of each check).
type Baseline struct {
	TenantID    int64     `json:"tenant_id"`
	BackupSetID *int64    `json:"backup_set_id"`
	SetBy       string    `json:"set_by"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// SetBaseline records a tenant's baseline.
func SetBaseline(ctx context.Context, q Querier, b Baseline) error {
	if _, err := q.Exec(ctx, `INSERT INTO tenant_baselines (tenant_id, backup_set_id, set_by) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET backup_set_id = EXCLUDED.backup_set_id, set_by = EXCLUDED.set_by, updated_at = now()`,
		b.TenantID, b.BackupSetID, b.SetBy); err != nil {
		return fmt.Errorf("error saving the baseline of tenant %d: %w", b.TenantID, err)
	}
	return nil
}

// GetBaseline loads a tenant's baseline; ErrNotFound when none was chosen.
func GetBaseline(ctx context.Context, q Querier, tenantID int64) (Baseline, error) {
	var b Baseline
	err := q.QueryRow(ctx, `SELECT tenant_id, backup_set_id, set_by, updated_at FROM tenant_baselines WHERE tenant_id = $1`, tenantID).
		Scan(&b.TenantID, &b.BackupSetID, &b.SetBy, &b.UpdatedAt)
	if err != nil {
		return b, notFound(err, fmt.Sprintf("baseline of tenant %d", tenantID))
	}
	return b, nil
}

// LatestCompleteSet returns the tenant's newest complete backup set.
func LatestCompleteSet(ctx context.Context, q Querier, tenantID int64) (BackupSet, error) {
	t, err := GetTenant(ctx, q, tenantID)
	if err != nil {
		return BackupSet{}, err
	}
	sets, err := ListBackupSets(ctx, q, BackupSetFilter{WorkspaceIDs: []int64{t.WorkspaceID}, TenantID: tenantID, Status: BackupComplete, Limit: 1})
	if err != nil {
		return BackupSet{}, err
	}
	if len(sets) == 0 {
		return BackupSet{}, fmt.Errorf("complete backup set of tenant %d: %w", tenantID, ErrNotFound)
	}
	return sets[0], nil
}

// TenantDrift is a tenant's baseline and what its latest drift check found.
type TenantDrift struct {
	TenantID    int64      `json:"tenant_id"`
	TenantName  string     `json:"tenant_name"`
	WorkspaceID int64      `json:"workspace_id"`
	BaselineSet *int64     `json:"baseline_set_id"`
	HasBaseline bool       `json:"has_baseline"`
	CheckRunID  *int64     `json:"check_run_id"`
	CheckedAt   *time.Time `json:"checked_at"`
	Drifted     int        `json:"drifted"`
}

// ListTenantDrift lists, per tenant of the workspaces, its baseline and its latest completed
// drift.check (Drifted is 0 without one). Latest is the highest id: a tenant's drift checks never
// overlap (IdentityDedupeTenant), so the newest started finished last, and operation_runs_tenant_type_idx
// finds it without reading the tenant's other checks (the home screen reads this on every load:
// ordered by finish time it sorted every drift check of the history, BenchmarkHistory).
func ListTenantDrift(ctx context.Context, q Querier, workspaceIDs []int64) ([]TenantDrift, error) {
	rows, err := q.Query(ctx, `SELECT t.id, t.name, t.workspace_id, b.backup_set_id, b.tenant_id IS NOT NULL, c.id, c.finished_at,
		coalesce((c.result->'drift'->>'drifted')::int, 0)
		FROM tenants t LEFT JOIN tenant_baselines b ON b.tenant_id = t.id
		LEFT JOIN LATERAL (SELECT r.id, r.finished_at, r.result FROM operation_runs r WHERE r.tenant_id = t.id AND r.type = 'drift.check'
			AND r.status = 'completed' AND r.outcome IN ('succeeded', 'partially_succeeded') ORDER BY r.id DESC LIMIT 1) c ON true
		WHERE t.workspace_id = ANY($1) ORDER BY t.name, t.id`, workspaceIDs)
	if err != nil {
		return nil, fmt.Errorf("error listing drift: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TenantDrift, error) {
		var d TenantDrift
		err := r.Scan(&d.TenantID, &d.TenantName, &d.WorkspaceID, &d.BaselineSet, &d.HasBaseline, &d.CheckRunID, &d.CheckedAt, &d.Drifted)
		return d, err
	})
}
