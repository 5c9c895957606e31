package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Legacy sources: the older per-family run trackers whose history can be imported.
const (
	LegacyInventorySync  = "inventory_sync"
	LegacyGroupSync      = "group_sync"
	LegacyBackupSchedule = "backup_schedule"
)

// LegacyRun is one imported row of the read-only legacy run history.
type LegacyRun struct {
	ID           int64           `json:"id"`
	WorkspaceID  int64           `json:"workspace_id"`
	Source       string          `json:"source"`
	LegacyID     string          `json:"legacy_id"`
	TenantRef    string          `json:"tenant_ref"`
	TenantID     *int64          `json:"tenant_id"`
	TenantName   string          `json:"tenant_name,omitempty"`
	Status       string          `json:"status"`
	Outcome      *Outcome        `json:"outcome"`
	LegacyReason string          `json:"legacy_reason"`
	ReasonCode   *string         `json:"reason_code"`
	ItemsTotal   *int64          `json:"items_total"`
	ItemsFailed  *int64          `json:"items_failed"`
	StartedAt    *time.Time      `json:"started_at"`
	FinishedAt   *time.Time      `json:"finished_at"`
	Details      json.RawMessage `json:"details"`
	ImportedAt   time.Time       `json:"imported_at"`
}

// ImportLegacyRuns inserts legacy rows into the read-only history. Rows already imported (same
// workspace, source and legacy id) are skipped, so an import can be repeated. Tenants are matched by
// name or Entra tenant id within the workspace. It is the only writer of legacy_runs.
func ImportLegacyRuns(ctx context.Context, tx pgx.Tx, workspaceID int64, rows []LegacyRun) (inserted int64, err error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE tmp_legacy (source text, legacy_id text, tenant_ref text, status text,
		outcome text, legacy_reason text, reason_code text, items_total bigint, items_failed bigint, started_at timestamptz,
		finished_at timestamptz, details jsonb) ON COMMIT DROP`); err != nil {
		return 0, fmt.Errorf("error preparing the import: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"tmp_legacy"}, []string{"source", "legacy_id", "tenant_ref", "status", "outcome",
		"legacy_reason", "reason_code", "items_total", "items_failed", "started_at", "finished_at", "details"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			details := r.Details
			if len(details) == 0 {
				details = json.RawMessage("{}")
			}
			return []any{r.Source, r.LegacyID, r.TenantRef, r.Status, r.Outcome, r.LegacyReason, r.ReasonCode, r.ItemsTotal,
				r.ItemsFailed, r.StartedAt, r.FinishedAt, string(details)}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("error copying legacy rows: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO legacy_runs (workspace_id, source, legacy_id, tenant_ref, tenant_id, status, outcome,
		legacy_reason, reason_code, items_total, items_failed, started_at, finished_at, details)
		SELECT $1, l.source, l.legacy_id, l.tenant_ref,
			(SELECT t.id FROM tenants t WHERE t.workspace_id = $1 AND l.tenant_ref <> ''
				AND (t.name = l.tenant_ref OR lower(t.tenant_guid) = lower(l.tenant_ref)) ORDER BY t.id LIMIT 1),
			l.status, l.outcome, l.legacy_reason, l.reason_code, l.items_total, l.items_failed, l.started_at, l.finished_at, l.details
		FROM tmp_legacy l
		ON CONFLICT (workspace_id, source, legacy_id) DO NOTHING`, workspaceID)
	if err != nil {
		return 0, fmt.Errorf("error importing legacy rows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// LegacyFilter selects legacy rows, newest first (keyset on id).
type LegacyFilter struct {
	WorkspaceIDs []int64
	Source       string
	TenantID     int64
	Search       string
	BeforeID     int64
	Limit        int
}

// ListLegacyRuns returns legacy history rows.
func ListLegacyRuns(ctx context.Context, q Querier, f LegacyFilter) ([]LegacyRun, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	rows, err := q.Query(ctx, `SELECT l.id, l.workspace_id, l.source, l.legacy_id, l.tenant_ref, l.tenant_id, coalesce(t.name, ''),
		l.status, l.outcome, l.legacy_reason, l.reason_code, l.items_total, l.items_failed, l.started_at, l.finished_at, l.details, l.imported_at
		FROM legacy_runs l LEFT JOIN tenants t ON t.id = l.tenant_id
		WHERE l.workspace_id = ANY($1) AND ($2 = '' OR l.source = $2) AND ($3 = 0 OR l.tenant_id = $3)
		AND ($4 = '' OR l.tenant_ref ILIKE '%' || $4 || '%' OR l.legacy_reason ILIKE '%' || $4 || '%'
			OR coalesce(l.reason_code, '') ILIKE '%' || $4 || '%' OR l.source ILIKE '%' || $4 || '%')
		AND ($5 = 0 OR l.id < $5)
		ORDER BY l.id DESC LIMIT $6`, f.WorkspaceIDs, f.Source, f.TenantID, escapeLike(f.Search), f.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing legacy runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LegacyRun, error) {
		var l LegacyRun
		return l, r.Scan(&l.ID, &l.WorkspaceID, &l.Source, &l.LegacyID, &l.TenantRef, &l.TenantID, &l.TenantName, &l.Status, &l.Outcome,
			&l.LegacyReason, &l.ReasonCode, &l.ItemsTotal, &l.ItemsFailed, &l.StartedAt, &l.FinishedAt, &l.Details, &l.ImportedAt)
	})
}
