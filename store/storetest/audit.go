package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// AuditEventOpts are the options of AuditEvent.
type AuditEventOpts struct {
	WorkspaceID *int64 // default: the default workspace
	ActorKind   string // default: "system"
	ActorUserID *int64
	ActorName   string
	Action      string // default: "test.write"
	TargetKind  string
	TargetID    string
	Details     map[string]any
	At          *time.Time // default: now
}

// AuditEvent appends an audit event. The table is append-only (a trigger refuses updates), so a
// backdated event is inserted with its time rather than rewritten afterwards.
func AuditEvent(ctx context.Context, tb testing.TB, q store.Querier, opts *AuditEventOpts) store.AuditEvent {
	tb.Helper()
	opts = orZero(opts)
	workspaceID := opts.WorkspaceID
	if workspaceID == nil {
		workspaceID = new(DefaultWorkspace(ctx, tb, q).ID)
	}
	details := opts.Details
	if details == nil {
		details = map[string]any{}
	}
	e := store.AuditEvent{WorkspaceID: workspaceID, ActorKind: or(opts.ActorKind, "system"), ActorUserID: opts.ActorUserID,
		ActorName: opts.ActorName, Action: or(opts.Action, "test.write"), TargetKind: opts.TargetKind, TargetID: opts.TargetID, Details: details}
	err := q.QueryRow(ctx, `INSERT INTO audit_events (workspace_id, actor_kind, actor_user_id, actor_name, action, target_kind, target_id, details, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now())) RETURNING id, at`,
		e.WorkspaceID, e.ActorKind, e.ActorUserID, e.ActorName, e.Action, e.TargetKind, e.TargetID, e.Details, opts.At).Scan(&e.ID, &e.At)
	must(tb, err)
	return e
}
