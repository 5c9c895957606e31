package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEvent is an append-only record of a mutation: who, what, target, when.
type AuditEvent struct {
	ID          int64          `json:"id"`
	WorkspaceID *int64         `json:"workspace_id"`
	ActorKind   string         `json:"actor_kind"` // user, schedule, system
	ActorUserID *int64         `json:"actor_user_id"`
	ActorName   string         `json:"actor_name"`
	Action      string         `json:"action"` // e.g. run.start, run.cancel, tenant.add
	TargetKind  string         `json:"target_kind"`
	TargetID    string         `json:"target_id"`
	Details     map[string]any `json:"details"`
	At          time.Time      `json:"at"`
}

// InsertAudit appends an audit event. Audit rows can never be changed or deleted (a trigger refuses).
func InsertAudit(ctx context.Context, q Querier, e AuditEvent) error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_events (workspace_id, actor_kind, actor_user_id, actor_name, action, target_kind, target_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.WorkspaceID, e.ActorKind, e.ActorUserID, e.ActorName, e.Action, e.TargetKind, e.TargetID, e.Details)
	if err != nil {
		return fmt.Errorf("error writing audit event %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter selects audit events, newest first, keyset-paginated by BeforeID.
type AuditFilter struct {
	WorkspaceIDs []int64
	Action       string
	TargetKind   string
	TargetID     string
	BeforeID     int64
	Limit        int
}

func ListAudit(ctx context.Context, q Querier, f AuditFilter) ([]AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.Query(ctx, `SELECT id, workspace_id, actor_kind, actor_user_id, actor_name, action, target_kind, target_id, details, at
		FROM audit_events WHERE workspace_id = ANY($1) AND ($2 = '' OR action = $2) AND ($3 = '' OR target_kind = $3)
		AND ($4 = '' OR target_id = $4) AND ($5 = 0 OR id < $5) ORDER BY id DESC LIMIT $6`,
		f.WorkspaceIDs, f.Action, f.TargetKind, f.TargetID, f.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing audit events: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEvent, error) {
		var e AuditEvent
		return e, r.Scan(&e.ID, &e.WorkspaceID, &e.ActorKind, &e.ActorUserID, &e.ActorName, &e.Action, &e.TargetKind, &e.TargetID, &e.Details, &e.At)
	})
}
