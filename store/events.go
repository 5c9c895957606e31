package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventKind says what a run event is: a step of the run's lifecycle (timeline), a line of its log,
// or the result of one item it processed.
type EventKind string

// Event kinds.
const (
	EventTimeline EventKind = "timeline"
	EventLog      EventKind = "log"
	EventItem     EventKind = "item"
)

// Level is a run event's severity.
type Level string

// Event levels, least severe first.
const (
	LevelDebug Level = "debug"
	LevelInfo  Level = "info"
	LevelWarn  Level = "warn"
	LevelError Level = "error"
)

// RunEvent is one line of a run's timeline or log.
type RunEvent struct {
	ID         int64          `json:"id"`
	RunID      int64          `json:"run_id"`
	At         time.Time      `json:"at"`
	Kind       EventKind      `json:"kind"`
	Level      Level          `json:"level"`
	Message    string         `json:"message"`
	ReasonCode *string        `json:"reason_code"`
	ItemRef    *string        `json:"item_ref"`
	Details    map[string]any `json:"details"`
}

// InsertRunEvent appends an event to a run.
func InsertRunEvent(ctx context.Context, q Querier, e RunEvent) (RunEvent, error) {
	if e.Kind == "" {
		e.Kind = EventLog
	}
	if e.Level == "" {
		e.Level = LevelInfo
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	err := q.QueryRow(ctx, `INSERT INTO run_events (run_id, kind, level, message, reason_code, item_ref, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, at`,
		e.RunID, e.Kind, e.Level, e.Message, e.ReasonCode, e.ItemRef, e.Details).Scan(&e.ID, &e.At)
	if err != nil {
		return e, fmt.Errorf("error recording event of run %d: %w", e.RunID, err)
	}
	return e, nil
}

// EventFilter selects a run's events, oldest first, after AfterID (for follow mode).
type EventFilter struct {
	RunID     int64
	AfterID   int64
	Kinds     []EventKind
	MinLevels []Level // levels to include; nil means all
	Search    string
	Limit     int
}

// ListRunEvents returns a run's events in order.
func ListRunEvents(ctx context.Context, q Querier, f EventFilter) ([]RunEvent, error) {
	sql, args := f.query()
	return collectEvents(f.RunID)(q.Query(ctx, sql, args...))
}

// query is the SELECT of the events f asks for, with its arguments.
func (f EventFilter) query() (string, []any) {
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	return `SELECT id, run_id, at, kind, level, message, reason_code, item_ref, details FROM run_events
		WHERE run_id = $1 AND id > $2 AND ($3::text[] IS NULL OR kind = ANY($3)) AND ($4::text[] IS NULL OR level = ANY($4))
		AND ($5 = '' OR message ILIKE '%' || $5 || '%' OR coalesce(item_ref, '') ILIKE '%' || $5 || '%' OR coalesce(reason_code, '') ILIKE '%' || $5 || '%')
		ORDER BY id LIMIT $6`, []any{f.RunID, f.AfterID, texts(f.Kinds), texts(f.MinLevels), escapeLike(f.Search), limit}
}

func collectEvents(runID int64) func(pgx.Rows, error) ([]RunEvent, error) {
	return func(rows pgx.Rows, err error) ([]RunEvent, error) {
		if err != nil {
			return nil, fmt.Errorf("error listing events of run %d: %w", runID, err)
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunEvent, error) {
			var e RunEvent
			return e, r.Scan(&e.ID, &e.RunID, &e.At, &e.Kind, &e.Level, &e.Message, &e.ReasonCode, &e.ItemRef, &e.Details)
		})
	}
}

// RunAccess is what authorizing a read of one run needs: its workspace and type, and each reader's
// role in that workspace (a reader who is no member has none).
type RunAccess struct {
	WorkspaceID int64
	Type        string
	Roles       map[int64]string // user id -> role
}

// queueRunAccess queues the read of runID's access for userIDs into b, kept in *acc. ErrNotFound
// when the run does not exist.
func queueRunAccess(b *pgx.Batch, runID int64, userIDs []int64, acc *RunAccess) {
	b.Queue(`SELECT r.workspace_id, r.type, m.user_id, m.role FROM operation_runs r
		LEFT JOIN memberships m ON m.workspace_id = r.workspace_id AND m.user_id = ANY($2) WHERE r.id = $1`, runID, userIDs).
		Query(func(rows pgx.Rows) error {
			defer rows.Close()
			found := false
			acc.Roles = map[int64]string{}
			for rows.Next() {
				var user *int64
				var role *string
				if err := rows.Scan(&acc.WorkspaceID, &acc.Type, &user, &role); err != nil {
					return err
				}
				found = true
				if user != nil && role != nil {
					acc.Roles[*user] = *role
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if !found {
				return notFound(pgx.ErrNoRows, fmt.Sprintf("run %d", runID))
			}
			return nil
		})
}

// RunEventsWithAccess reads, in one round trip, what authorizing userIDs to read f.RunID needs and
// the events f asks for: the caller checks each reader's access before it hands the events on. A
// run's live log is read by every dashboard watching it at each new line; the engine shares one such
// read between the dashboards that ask at once, whoever they are. ErrNotFound when the run does not
// exist.
func RunEventsWithAccess(ctx context.Context, db *DB, userIDs []int64, f EventFilter) (RunAccess, []RunEvent, error) {
	b := &pgx.Batch{}
	var acc RunAccess
	queueRunAccess(b, f.RunID, userIDs, &acc)
	var events []RunEvent
	sql, args := f.query()
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		events, err = collectEvents(f.RunID)(rows, nil)
		return err
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return acc, nil, err
	}
	return acc, events, nil
}
