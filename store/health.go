package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FleetHealth is what the tenants screen shows of a tenant beside its connection: its newest
// complete backup, the operation types it is failing, and what its newest drift check found.
type FleetHealth struct {
	TenantID int64 `json:"tenant_id"`
	// LastBackupAt is when the tenant's newest complete backup set completed; nil: none.
	LastBackupAt *time.Time `json:"last_backup_at"`
	// FailingTypes counts the operation types whose latest run finished in the window ended failed or
	// blocked: a failure followed by a success of the same type is not failing any more, and a
	// cancelled run proves nothing either way (it is left out).
	FailingTypes int `json:"failing_types"`
	// Drifted is the drifted-item count of the newest drift.check that succeeded (fully or partly);
	// nil: none did.
	Drifted        *int       `json:"drifted"`
	DriftCheckedAt *time.Time `json:"drift_checked_at"`
}

// FleetHealths reads the health of every tenant of the workspaces in one query, keyed by tenant.
// The failing types come from the latest finished run of each tenant and type (tenant_run_latest,
// migration 00021: a row per tenant and type, whatever the history holds), counted when it failed
// or was blocked and finished since since. The newest backup set is one index probe per tenant
// (backup_sets_tenant_idx); the newest drift check one more for the tenants that had one
// (operation_runs_tenant_type_idx), which tenant_run_latest says without a probe.
func FleetHealths(ctx context.Context, q Querier, workspaceIDs []int64, since time.Time) (map[int64]FleetHealth, error) {
	rows, err := q.Query(ctx, FleetHealthsSQL, workspaceIDs, since)
	if err != nil {
		return nil, fmt.Errorf("error reading tenant health: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FleetHealth, error) {
		var h FleetHealth
		return h, r.Scan(&h.TenantID, &h.LastBackupAt, &h.FailingTypes, &h.Drifted, &h.DriftCheckedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("error reading tenant health: %w", err)
	}
	out := make(map[int64]FleetHealth, len(list))
	for _, h := range list {
		out[h.TenantID] = h
	}
	return out, nil
}

// FleetHealthsSQL is FleetHealths' query ($1 the workspaces, $2 the window's start), exported for
// its benchmark's EXPLAIN.
const FleetHealthsSQL = `WITH failing AS (
		SELECT l.tenant_id, count(*) AS types FROM tenant_run_latest l JOIN tenants t ON t.id = l.tenant_id
		WHERE t.workspace_id = ANY($1) AND l.outcome IN ('failed', 'blocked') AND l.finished_at >= date_trunc('hour', $2::timestamptz, 'UTC')
		GROUP BY l.tenant_id)
	SELECT t.id, b.completed_at, coalesce(f.types, 0), d.drifted, d.finished_at
	FROM tenants t
	LEFT JOIN failing f ON f.tenant_id = t.id
	LEFT JOIN LATERAL (SELECT s.completed_at FROM backup_sets s WHERE s.tenant_id = t.id AND s.status = 'complete'
		ORDER BY s.id DESC LIMIT 1) b ON true
	LEFT JOIN tenant_run_latest dl ON dl.tenant_id = t.id AND dl.type = 'drift.check'
	LEFT JOIN LATERAL (SELECT coalesce((r.result->'drift'->>'drifted')::int, 0) AS drifted, r.finished_at FROM operation_runs r
		WHERE dl.run_id IS NOT NULL AND r.tenant_id = t.id AND r.type = 'drift.check' AND r.status = 'completed'
		  AND r.outcome IN ('succeeded', 'partially_succeeded') AND r.id <= dl.run_id
		ORDER BY r.id DESC LIMIT 1) d ON true
	WHERE t.workspace_id = ANY($1)`

// RebuildTenantRunLatest records the latest finished run of each tenant and type again from the
// runs. The trigger keeps it exact; a bulk load that disables it (the benchmarks' seed) calls this.
func RebuildTenantRunLatest(ctx context.Context, q Querier) error {
	_, err := q.Exec(ctx, `DELETE FROM tenant_run_latest;
		INSERT INTO tenant_run_latest (tenant_id, type, run_id, outcome, finished_at)
		SELECT DISTINCT ON (tenant_id, type) tenant_id, type, id, outcome, coalesce(finished_at, created_at)
		FROM operation_runs WHERE status = 'completed' AND tenant_id IS NOT NULL AND outcome IS DISTINCT FROM 'cancelled'
		  AND tenant_id IN (SELECT id FROM tenants)
		ORDER BY tenant_id, type, id DESC`)
	if err != nil {
		return fmt.Errorf("error rebuilding the latest runs per tenant: %w", err)
	}
	return nil
}
