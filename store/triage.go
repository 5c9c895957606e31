package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReasonGroup is a count of problem runs sharing a reason code.
type ReasonGroup struct {
	ReasonCode  string    `json:"reason_code"`
	Outcome     Outcome   `json:"outcome"`
	Count       int64     `json:"count"`
	Tenants     int64     `json:"tenants"`
	LatestRunID int64     `json:"latest_run_id"`
	LatestAt    time.Time `json:"latest_at"`
}

// ProblemRunsByReason groups failed, blocked and partially succeeded runs finished since `since` by
// reason code, most frequent first.
func ProblemRunsByReason(ctx context.Context, q Querier, f RunFilter, since time.Time) ([]ReasonGroup, error) {
	f.Statuses, f.Outcomes = nil, []Outcome{OutcomeFailed, OutcomeBlocked, OutcomePartiallySucceeded}
	where, args := f.where()
	args = append(args, since)
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT coalesce(r.reason_code, 'unknown'), r.outcome, count(*), count(DISTINCT r.tenant_id),
		max(r.id), max(coalesce(r.finished_at, r.created_at))`+runFrom+where+` AND r.finished_at >= $%d
		GROUP BY 1, 2 ORDER BY 3 DESC, 5 DESC LIMIT 20`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("error grouping problem runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReasonGroup, error) {
		var g ReasonGroup
		return g, r.Scan(&g.ReasonCode, &g.Outcome, &g.Count, &g.Tenants, &g.LatestRunID, &g.LatestAt)
	})
}

// StuckRuns lists running runs without a heartbeat for longer than heartbeatAge, and queued runs
// waiting longer than queuedAge (no engine is picking them up).
func StuckRuns(ctx context.Context, q Querier, f RunFilter, heartbeatAge, queuedAge time.Duration) ([]Run, error) {
	f.Statuses, f.Outcomes = nil, nil
	where, args := f.where()
	args = append(args, heartbeatAge.Seconds(), queuedAge.Seconds())
	n := len(args)
	return collectRuns(q.Query(ctx, `SELECT `+runColumns+runFrom+where+fmt.Sprintf(`
		AND ((r.status = 'running' AND r.heartbeat_at < now() - make_interval(secs => $%d))
		  OR (r.status = 'queued' AND r.created_at < now() - make_interval(secs => $%d)))
		ORDER BY r.id DESC LIMIT 20`, n-1, n), args...))
}

// HourlyCount is the number of runs finished in an hour with an outcome.
type HourlyCount struct {
	Hour    time.Time `json:"hour"`
	Outcome Outcome   `json:"outcome"`
	Count   int64     `json:"count"`
}

// HourlyOutcomes counts runs finished since `since`, per hour and outcome.
func HourlyOutcomes(ctx context.Context, q Querier, f RunFilter, since time.Time) ([]HourlyCount, error) {
	f.Statuses, f.Outcomes = nil, nil
	where, args := f.where()
	args = append(args, since)
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT date_trunc('hour', r.finished_at), r.outcome, count(*)`+runFrom+where+`
		AND r.finished_at >= $%d GROUP BY 1, 2 ORDER BY 1`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("error counting runs per hour: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (HourlyCount, error) {
		var h HourlyCount
		return h, r.Scan(&h.Hour, &h.Outcome, &h.Count)
	})
}

// ConnectionProblem is a tenant whose default connection is not healthy.
type ConnectionProblem struct {
	TenantID           int64      `json:"tenant_id"`
	TenantName         string     `json:"tenant_name"`
	Status             string     `json:"status"`
	ReasonCode         *string    `json:"reason_code"`
	MissingPermissions []string   `json:"missing_permissions"`
	LastVerifiedAt     *time.Time `json:"last_verified_at"`
}

// ConnectionProblems lists tenants of the workspaces whose connection is blocked, failing, missing
// or never verified.
func ConnectionProblems(ctx context.Context, q Querier, workspaceIDs []int64) ([]ConnectionProblem, error) {
	rows, err := q.Query(ctx, `SELECT t.id, t.name, coalesce(c.status, 'none'), c.status_reason_code,
		coalesce(c.missing_permissions, '{}'), c.last_verified_at
		FROM tenants t LEFT JOIN provider_connections c ON c.tenant_id = t.id AND c.is_default
		WHERE t.workspace_id = ANY($1) AND (c.id IS NULL OR c.status IN ('blocked', 'error', 'unverified'))
		ORDER BY (c.status = 'blocked') DESC NULLS LAST, t.name`, workspaceIDs)
	if err != nil {
		return nil, fmt.Errorf("error listing connection problems: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConnectionProblem, error) {
		var p ConnectionProblem
		return p, r.Scan(&p.TenantID, &p.TenantName, &p.Status, &p.ReasonCode, &p.MissingPermissions, &p.LastVerifiedAt)
	})
}
