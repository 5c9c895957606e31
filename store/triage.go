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

// ProblemRunsByReason groups failed, blocked and partially succeeded runs finished since the hour
// of `since` by reason code, most frequent first. It reads the runs-per-hour rollup (migration
// 00009), not the runs: f filters by scope, tenant and type only (its search, states and paging are
// ignored).
func ProblemRunsByReason(ctx context.Context, q Querier, f RunFilter, since time.Time) ([]ReasonGroup, error) {
	where, args := f.hoursFilter([]Outcome{OutcomeFailed, OutcomeBlocked, OutcomePartiallySucceeded})
	args = append(args, since)
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT coalesce(r.reason_code, 'unknown'), r.outcome, sum(r.runs)::bigint,
		count(DISTINCT r.tenant_id), max(r.last_run_id), max(r.last_at)`+hoursFrom+where+
		` AND r.hour >= date_trunc('hour', $%d::timestamptz, 'UTC') GROUP BY 1, 2 ORDER BY 3 DESC, 5 DESC LIMIT 20`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("error grouping problem runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReasonGroup, error) {
		var g ReasonGroup
		return g, r.Scan(&g.ReasonCode, &g.Outcome, &g.Count, &g.Tenants, &g.LatestRunID, &g.LatestAt)
	})
}

// StuckRuns lists running runs without a heartbeat for longer than heartbeatAge, and queued runs
// waiting longer than queuedAge (no engine is picking them up), newest first: f.Limit of them
// (default 20).
func StuckRuns(ctx context.Context, q Querier, f RunFilter, heartbeatAge, queuedAge time.Duration) ([]Run, error) {
	f.Statuses, f.Outcomes = nil, nil
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	where, args := f.where()
	args = append(args, heartbeatAge.Seconds(), queuedAge.Seconds(), limit)
	n := len(args)
	return collectRuns(q.Query(ctx, `SELECT `+runColumns+runFrom+where+fmt.Sprintf(`
		AND ((r.status = 'running' AND r.heartbeat_at < now() - make_interval(secs => $%d))
		  OR (r.status = 'queued' AND r.created_at < now() - make_interval(secs => $%d)))
		ORDER BY r.id DESC LIMIT $%d`, n-2, n-1, n), args...))
}

// HourlyCount is the number of runs finished in an hour with an outcome.
type HourlyCount struct {
	Hour    time.Time `json:"hour"`
	Outcome Outcome   `json:"outcome"`
	Count   int64     `json:"count"`
}

// HourlyOutcomes counts runs finished since the hour of `since`, per hour and outcome, from the
// runs-per-hour rollup (f filters as in ProblemRunsByReason).
func HourlyOutcomes(ctx context.Context, q Querier, f RunFilter, since time.Time) ([]HourlyCount, error) {
	where, args := f.hoursFilter(nil)
	args = append(args, since)
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT r.hour, r.outcome, sum(r.runs)::bigint`+hoursFrom+where+`
		AND r.hour >= date_trunc('hour', $%d::timestamptz, 'UTC') GROUP BY 1, 2 ORDER BY 1`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("error counting runs per hour: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (HourlyCount, error) {
		var h HourlyCount
		return h, r.Scan(&h.Hour, &h.Outcome, &h.Count)
	})
}

// hoursFrom is the runs-per-hour rollup under the alias the run filters use: it has the runs'
// workspace_id, tenant_id, type, outcome and reason_code columns.
const hoursFrom = ` FROM operation_run_hours r`

// hoursFilter is f's WHERE clause for the rollup: scope, tenant, type and reason code, and outcomes
// when given. What the rollup cannot filter on (search, statuses, paging) is left out.
func (f RunFilter) hoursFilter(outcomes []Outcome) (string, []any) {
	f.Statuses, f.Outcomes, f.Search, f.BeforeID = nil, outcomes, "", 0
	return f.where()
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

// RebuildRunHours counts the runs-per-hour rollup and the run totals (migrations 00009, 00027) again
// from the runs. Triggers keep them exact; a bulk load that disables them for speed (the benchmarks'
// seed of a million runs) calls this after.
// The rows are written hour by hour, as the triggers write them while runs finish: the home's last
// 24 hours then sit on a few adjacent pages whatever the history holds. Written in the grouping's
// order instead, they were spread over the whole table (at 1M runs over two years, the triage read
// 1,324 pages of the rollup for 1,297 rows, against 46 with the same day in a 73-day history).
func RebuildRunHours(ctx context.Context, q Querier) error {
	// Without arguments pgx sends the statements as one simple query: one implicit transaction, so no
	// reader sees the rollup or the totals empty, or the one counted again and not the other.
	_, err := q.Exec(ctx, `DELETE FROM operation_run_hours;
		INSERT INTO operation_run_hours (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
		SELECT workspace_id, date_trunc('hour', coalesce(finished_at, created_at), 'UTC'), tenant_id, type, outcome, reason_code,
		       count(*), max(id), max(coalesce(finished_at, created_at))
		FROM operation_runs WHERE status = 'completed'
		GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 2, 1;
		DELETE FROM operation_run_totals;
		INSERT INTO operation_run_totals (workspace_id, tenant_id, type, outcome, runs)
		SELECT workspace_id, tenant_id, type, outcome, sum(runs) FROM operation_run_hours GROUP BY 1, 2, 3, 4`)
	if err != nil {
		return fmt.Errorf("error rebuilding the runs per hour: %w", err)
	}
	return nil
}

// totalsFrom is the run totals (migration 00027) under the alias the run filters use: finished runs
// counted per workspace, tenant, type and outcome, over all the history kept. hoursFilter's clause
// applies to it when the filter has no reason code.
const totalsFrom = ` FROM operation_run_totals r`
