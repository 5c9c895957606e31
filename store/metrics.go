package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TenantHealth is one tenant's state as the Prometheus metrics expose it.
type TenantHealth struct {
	Workspace        string
	Tenant           string
	ConnectionStatus string // ok, blocked, unverified…; "none" without a default connection
	LastBackupAt     *time.Time
	Drifted          int
	OpenIncidents    int
	// LastSuccess is the finish time of the latest succeeded or partially succeeded run, by type.
	LastSuccess map[string]time.Time
}

// TenantHealthAll reads every tenant's health in two queries (metrics scrapes call it).
func TenantHealthAll(ctx context.Context, q Querier) ([]TenantHealth, error) {
	rows, err := q.Query(ctx, `SELECT t.id, w.name, t.name, coalesce(c.status, 'none'),
		(SELECT max(b.completed_at) FROM backup_sets b WHERE b.tenant_id = t.id AND b.status = 'complete'),
		coalesce((SELECT (r.result->'drift'->>'drifted')::int FROM operation_runs r WHERE r.tenant_id = t.id AND r.type = 'drift.check'
			AND r.status = 'completed' AND r.outcome IN ('succeeded', 'partially_succeeded') ORDER BY r.finished_at DESC LIMIT 1), 0),
		(SELECT count(*) FROM alert_incidents i WHERE i.tenant_id = t.id AND i.state = 'open')
		FROM tenants t JOIN workspaces w ON w.id = t.workspace_id
		LEFT JOIN provider_connections c ON c.tenant_id = t.id AND c.is_default ORDER BY t.id`)
	if err != nil {
		return nil, fmt.Errorf("error reading tenant health: %w", err)
	}
	byID := map[int64]int{}
	var out []TenantHealth
	for rows.Next() {
		var id int64
		h := TenantHealth{LastSuccess: map[string]time.Time{}}
		if err := rows.Scan(&id, &h.Workspace, &h.Tenant, &h.ConnectionStatus, &h.LastBackupAt, &h.Drifted, &h.OpenIncidents); err != nil {
			rows.Close()
			return nil, err
		}
		byID[id] = len(out)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT tenant_id, type, max(finished_at) FROM operation_runs
		WHERE tenant_id IS NOT NULL AND outcome IN ('succeeded', 'partially_succeeded') GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("error reading last successful runs: %w", err)
	}
	var id int64
	var typ string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &typ, &at}, func() error {
		if i, ok := byID[id]; ok {
			out[i].LastSuccess[typ] = at
		}
		return nil
	})
	return out, err
}

// CountAliveEngines counts the engines whose heartbeat is younger than EngineStaleAfter.
func CountAliveEngines(ctx context.Context, q Querier) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM engines WHERE stopped_at IS NULL AND heartbeat_at > now() - $1::interval`, EngineStaleAfter).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("error counting alive engines: %w", err)
	}
	return n, nil
}
