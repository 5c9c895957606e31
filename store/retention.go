package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Retention is how long a workspace keeps its history (docs/operations.md#retention).
type Retention struct {
	// Runs: completed runs older than this go with their events, except the runs kept by rule
	// (KeptRunsRule).
	Runs time.Duration `json:"runs"`
	// RunEvents: the routine events (debug and info log and item lines) of completed runs older
	// than this go; timeline events, warnings and errors stay as long as their run.
	RunEvents time.Duration `json:"run_events"`
	// Audit: audit events older than this go; zero keeps the audit trail forever (the default).
	Audit time.Duration `json:"audit,omitempty"`
}

// The defaults of migration 00016, and the bounds its check constraint enforces.
const (
	DefaultRunRetention      = 400 * 24 * time.Hour
	DefaultRunEventRetention = 90 * 24 * time.Hour
	MinRunRetention          = 7 * 24 * time.Hour
	MinRunEventRetention     = 24 * time.Hour
	MinAuditRetention        = 30 * 24 * time.Hour
)

// KeptRunsRule says, for people, which runs outlive the run retention; keepRunSQL is the same rule
// for the database.
const KeptRunsRule = "runs still queued or running; the run that made a backup set or a restore that still exists; " +
	"the newest completed and the newest successful run of each type per tenant; the newest run of each schedule for each of its tenants"

// keepRunSQL is true for a run (alias r) that retention must keep although it is old enough to go.
// The newest run of a schedule for each tenant is kept because the scheduler's catch-up looks for
// the run of the latest fire time: without it, that fire time would count as missed and fire again
// (a fleet schedule re-fires its latest fire time for the tenants that have no run of it).
// "The newest of its type per tenant" is written twice, for a tenant's runs and for runs without
// one, rather than with IS NOT DISTINCT FROM: an equality walks operation_runs_tenant_type_idx to
// the tenant's next run, where IS NOT DISTINCT FROM walked the workspace's runs of the type and
// filtered out every other tenant's (BenchmarkHistory: most of a prune's time at 10M runs).
const keepRunSQL = `(
	EXISTS (SELECT 1 FROM backup_sets b WHERE b.run_id = r.id)
	OR EXISTS (SELECT 1 FROM restores x WHERE x.run_id = r.id)
	OR (r.tenant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM operation_runs n WHERE n.tenant_id = r.tenant_id AND n.type = r.type
		AND n.workspace_id = r.workspace_id AND n.status = 'completed' AND n.id > r.id))
	OR (r.tenant_id IS NULL AND NOT EXISTS (SELECT 1 FROM operation_runs n WHERE n.workspace_id = r.workspace_id AND n.type = r.type
		AND n.tenant_id IS NULL AND n.status = 'completed' AND n.id > r.id))
	OR (r.outcome = 'succeeded' AND r.tenant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM operation_runs n WHERE n.tenant_id = r.tenant_id
		AND n.type = r.type AND n.workspace_id = r.workspace_id AND n.outcome = 'succeeded' AND n.id > r.id))
	OR (r.outcome = 'succeeded' AND r.tenant_id IS NULL AND NOT EXISTS (SELECT 1 FROM operation_runs n WHERE n.workspace_id = r.workspace_id
		AND n.type = r.type AND n.tenant_id IS NULL AND n.outcome = 'succeeded' AND n.id > r.id))
	OR (r.schedule_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM operation_runs n WHERE n.schedule_id = r.schedule_id
		AND n.tenant_id IS NOT DISTINCT FROM r.tenant_id AND n.id > r.id))
)`

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// GetRetention reads a workspace's retention.
func GetRetention(ctx context.Context, q Querier, workspaceID int64) (Retention, error) {
	var runs, events int64
	var audit *int64
	err := q.QueryRow(ctx, `SELECT extract(epoch FROM run_retention)::bigint, extract(epoch FROM run_event_retention)::bigint,
		extract(epoch FROM audit_retention)::bigint FROM workspaces WHERE id = $1`, workspaceID).Scan(&runs, &events, &audit)
	if err != nil {
		return Retention{}, notFound(err, fmt.Sprintf("workspace %d", workspaceID))
	}
	r := Retention{Runs: time.Duration(runs) * time.Second, RunEvents: time.Duration(events) * time.Second}
	if audit != nil {
		r.Audit = time.Duration(*audit) * time.Second
	}
	return r, nil
}

// SetRetention writes a workspace's retention. The database refuses values outside the bounds.
func SetRetention(ctx context.Context, q Querier, workspaceID int64, r Retention) error {
	var audit *int64
	if r.Audit > 0 {
		s := seconds(r.Audit)
		audit = &s
	}
	tag, err := q.Exec(ctx, `UPDATE workspaces SET run_retention = make_interval(secs => $2), run_event_retention = make_interval(secs => $3),
		audit_retention = make_interval(secs => $4) WHERE id = $1`, workspaceID, seconds(r.Runs), seconds(r.RunEvents), audit)
	if err != nil {
		return fmt.Errorf("error setting the retention of workspace %d: %w", workspaceID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("workspace %d: %w", workspaceID, ErrNotFound)
	}
	return nil
}

// Pruned counts what one retention pass removed from a workspace.
type Pruned struct {
	Runs        int64 `json:"runs"`
	RunEvents   int64 `json:"run_events"`   // with the runs that went, and trimmed from runs that stay
	AuditEvents int64 `json:"audit_events"` // only when the workspace has an audit retention
	Incidents   int64 `json:"incidents"`    // resolved alert incidents, with their deliveries
}

// Total is every row the pass removed.
func (p Pruned) Total() int64 { return p.Runs + p.RunEvents + p.AuditEvents + p.Incidents }

// Batch sizes of a retention pass: each statement touches at most this many rows, so no lock is
// held for long and an engine that stops mid-pass loses nothing (the next pass continues).
const (
	pruneRunBatch   = 500
	pruneEventBatch = 5000
)

// PruneRuns deletes a workspace's completed runs older than its run retention, with their events,
// except the runs KeptRunsRule keeps. It walks the old runs once, oldest first, a batch at a time:
// each batch deletes the events of its doomed runs in chunks and then the runs, every statement its
// own short transaction.
func PruneRuns(ctx context.Context, db *DB, workspaceID int64) (Pruned, error) {
	var p Pruned
	var afterAt time.Time
	var afterID int64
	for {
		type candidate struct {
			id         int64
			finishedAt time.Time
			keep       bool
		}
		rows, err := db.Pool.Query(ctx, `SELECT r.id, r.finished_at, `+keepRunSQL+` FROM operation_runs r, workspaces w
			WHERE w.id = $1 AND r.workspace_id = w.id AND r.status = 'completed'
			AND r.finished_at < now() - w.run_retention AND (r.finished_at, r.id) > ($2, $3)
			ORDER BY r.finished_at, r.id LIMIT $4`, workspaceID, afterAt, afterID, pruneRunBatch)
		if err != nil {
			return p, fmt.Errorf("error finding old runs of workspace %d: %w", workspaceID, err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
			var c candidate
			return c, r.Scan(&c.id, &c.finishedAt, &c.keep)
		})
		if err != nil {
			return p, fmt.Errorf("error finding old runs of workspace %d: %w", workspaceID, err)
		}
		if len(batch) == 0 {
			return p, nil
		}
		last := batch[len(batch)-1]
		afterAt, afterID = last.finishedAt, last.id
		var doomed []int64
		for _, c := range batch {
			if !c.keep {
				doomed = append(doomed, c.id)
			}
		}
		if len(doomed) == 0 {
			continue
		}
		for {
			tag, err := db.Pool.Exec(ctx, `DELETE FROM run_events WHERE id IN (
				SELECT id FROM run_events WHERE run_id = ANY($1) LIMIT $2)`, doomed, pruneEventBatch)
			if err != nil {
				return p, fmt.Errorf("error deleting the events of old runs of workspace %d: %w", workspaceID, err)
			}
			p.RunEvents += tag.RowsAffected()
			if tag.RowsAffected() < pruneEventBatch {
				break
			}
		}
		// The rule again, in the statement that deletes: a run that became worth keeping since the
		// batch was read (a newer run of its kind was deleted meanwhile, say) stays.
		tag, err := db.Pool.Exec(ctx, `DELETE FROM operation_runs r WHERE r.id = ANY($1) AND r.status = 'completed' AND NOT `+keepRunSQL, doomed)
		if err != nil {
			return p, fmt.Errorf("error deleting old runs of workspace %d: %w", workspaceID, err)
		}
		p.Runs += tag.RowsAffected()
	}
}

// TrimRunEvents deletes the routine events (debug and info, log and item kinds) of a workspace's
// completed runs older than its run-event retention. It walks the runs that finished between the
// last trim's cutoff and this one's, a batch of runs at a time and their events in small chunks,
// then moves the workspace's watermark to this cutoff (so an interrupted trim is walked again).
func TrimRunEvents(ctx context.Context, db *DB, workspaceID int64) (int64, error) {
	var from *time.Time
	var cutoff time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT run_events_trimmed_until, now() - run_event_retention FROM workspaces WHERE id = $1`,
		workspaceID).Scan(&from, &cutoff); err != nil {
		return 0, notFound(err, fmt.Sprintf("workspace %d", workspaceID))
	}
	var total int64
	var afterAt time.Time // before the first trim: from the beginning
	if from != nil {
		afterAt = *from
	}
	afterID := int64(0)
	for {
		type run struct {
			id         int64
			finishedAt time.Time
		}
		rows, err := db.Pool.Query(ctx, `SELECT id, finished_at FROM operation_runs WHERE workspace_id = $1 AND status = 'completed'
			AND finished_at < $2 AND (finished_at, id) > ($3, $4) ORDER BY finished_at, id LIMIT $5`,
			workspaceID, cutoff, afterAt, afterID, pruneRunBatch)
		if err != nil {
			return total, fmt.Errorf("error finding runs to trim in workspace %d: %w", workspaceID, err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (run, error) {
			var x run
			return x, r.Scan(&x.id, &x.finishedAt)
		})
		if err != nil {
			return total, fmt.Errorf("error finding runs to trim in workspace %d: %w", workspaceID, err)
		}
		if len(batch) == 0 {
			break
		}
		afterAt, afterID = batch[len(batch)-1].finishedAt, batch[len(batch)-1].id
		ids := make([]int64, len(batch))
		for i, x := range batch {
			ids[i] = x.id
		}
		for {
			tag, err := db.Pool.Exec(ctx, `DELETE FROM run_events WHERE id IN (SELECT id FROM run_events
				WHERE run_id = ANY($1) AND kind IN ('log', 'item') AND level IN ('debug', 'info') LIMIT $2)`, ids, pruneEventBatch)
			if err != nil {
				return total, fmt.Errorf("error trimming run events in workspace %d: %w", workspaceID, err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < pruneEventBatch {
				break
			}
		}
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE workspaces SET run_events_trimmed_until = $2 WHERE id = $1`, workspaceID, cutoff); err != nil {
		return total, fmt.Errorf("error recording the event trim of workspace %d: %w", workspaceID, err)
	}
	return total, nil
}

// PruneAudit deletes a workspace's audit events older than its audit retention (none when it has
// none), through prune_audit_events: the only way an audit row can go (migration 00016).
func PruneAudit(ctx context.Context, db *DB, workspaceID int64) (int64, error) {
	var total int64
	for {
		var n int64
		if err := db.Pool.QueryRow(ctx, `SELECT prune_audit_events($1, $2)`, workspaceID, pruneEventBatch).Scan(&n); err != nil {
			return total, fmt.Errorf("error pruning the audit events of workspace %d: %w", workspaceID, err)
		}
		total += n
		if n < pruneEventBatch {
			return total, nil
		}
	}
}

// retentionLockID makes retention passes exclusive across engines (a pg_advisory_lock key).
const retentionLockID = 0x7461_7265_7465_6e74 // "taretent"; advisory locks are per database, as the engines share one

// WithRetentionLock runs fn while holding the cluster-wide retention lock, so that of many engines
// only one prunes at a time. ran is false, and fn not called, when another process holds the lock.
// The lock is a session lock on a connection of its own: it goes with the connection if the
// process dies, so a dead engine never blocks retention.
func WithRetentionLock(ctx context.Context, db *DB, fn func() error) (ran bool, err error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("error acquiring a connection for the retention lock: %w", err)
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(retentionLockID)).Scan(&ran); err != nil {
		return false, fmt.Errorf("error taking the retention lock: %w", err)
	}
	if !ran {
		return false, nil
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(retentionLockID)); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx)) // never back to the pool still holding the lock
		}
	}()
	return true, fn()
}

// PruneIncidents deletes a workspace's resolved alert incidents that resolved longer ago than its
// run retention, with their deliveries and delivery attempts, 500 at a time. An incident with a
// delivery still pending stays until it is delivered or has failed for good.
func PruneIncidents(ctx context.Context, db *DB, workspaceID int64) (int64, error) {
	var total int64
	for {
		tag, err := db.Pool.Exec(ctx, `DELETE FROM alert_incidents WHERE id IN (
			SELECT i.id FROM alert_incidents i, workspaces w WHERE w.id = $1 AND i.workspace_id = w.id AND i.state = 'resolved'
				AND i.resolved_at < now() - w.run_retention
				AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.incident_id = i.id AND d.status = 'pending')
			ORDER BY i.id LIMIT $2)`, workspaceID, pruneRunBatch)
		if err != nil {
			return total, fmt.Errorf("error pruning the alert incidents of workspace %d: %w", workspaceID, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneRunBatch {
			return total, nil
		}
	}
}
