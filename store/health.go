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
// The failing types come from the runs-per-hour rollup (migration 00009) for the hours since the
// hour of since, not from the runs: per tenant and type, the newest failed or blocked run counted
// there against the newest run that succeeded. The newest backup set and the newest drift check are
// one index probe each per tenant (backup_sets_tenant_idx, operation_runs_tenant_type_idx), so a
// fleet of 2,000 tenants costs 4,000 probes whatever the history holds.
func FleetHealths(ctx context.Context, q Querier, workspaceIDs []int64, since time.Time) (map[int64]FleetHealth, error) {
	rows, err := q.Query(ctx, `WITH latest AS (
			SELECT h.tenant_id,
				max(h.last_run_id) FILTER (WHERE h.outcome IN ('failed', 'blocked')) AS bad,
				max(h.last_run_id) FILTER (WHERE h.outcome IN ('succeeded', 'partially_succeeded')) AS good
			FROM operation_run_hours h
			WHERE h.workspace_id = ANY($1) AND h.tenant_id IS NOT NULL AND h.hour >= date_trunc('hour', $2::timestamptz, 'UTC')
			GROUP BY h.tenant_id, h.type),
		failing AS (SELECT tenant_id, count(*) AS types FROM latest WHERE bad > coalesce(good, 0) GROUP BY tenant_id)
		SELECT t.id, b.completed_at, coalesce(f.types, 0), d.drifted, d.finished_at
		FROM tenants t
		LEFT JOIN failing f ON f.tenant_id = t.id
		LEFT JOIN LATERAL (SELECT s.completed_at FROM backup_sets s WHERE s.tenant_id = t.id AND s.status = 'complete'
			ORDER BY s.id DESC LIMIT 1) b ON true
		LEFT JOIN LATERAL (SELECT coalesce((r.result->'drift'->>'drifted')::int, 0) AS drifted, r.finished_at FROM operation_runs r
			WHERE r.tenant_id = t.id AND r.type = 'drift.check' AND r.status = 'completed' AND r.outcome IN ('succeeded', 'partially_succeeded')
			ORDER BY r.id DESC LIMIT 1) d ON true
		WHERE t.workspace_id = ANY($1)`, workspaceIDs, since)
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
