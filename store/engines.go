package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EngineStaleAfter is how long an engine may go without a heartbeat before the registry calls it
// stale: dead without having deregistered (killed, its machine gone, cut off from the database).
// Engines heartbeat every EngineHeartbeatInterval.
const (
	EngineHeartbeatInterval = 5 * time.Second
	EngineStaleAfter        = 30 * time.Second
)

// EngineRecord is one row of the engines registry.
type EngineRecord struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	Host          string     `json:"host"`
	PID           int        `json:"pid"`
	Version       string     `json:"version"`
	SchemaVersion int64      `json:"schema_version"`
	Queues        []string   `json:"queues"`
	JobsRunning   int        `json:"jobs_running"`
	StartedAt     time.Time  `json:"started_at"`
	HeartbeatAt   time.Time  `json:"heartbeat_at"`
	StoppedAt     *time.Time `json:"stopped_at,omitempty"`
	// State is "alive", "stale" or "stopped", judged by the database's clock.
	State string `json:"state"`
}

// Alive reports whether the engine heartbeats and has not stopped.
func (e EngineRecord) Alive() bool { return e.State == "alive" }

// NewEngineRecord is what an engine registers.
type NewEngineRecord struct {
	Name, Host, Version string
	PID                 int
	SchemaVersion       int64
	Queues              []string
	// KeyIDs are the ids of the secret keys the engine holds, primary first (none: no key).
	KeyIDs []string
}

// RegisterEngine adds a starting engine to the registry and returns its id.
func RegisterEngine(ctx context.Context, q Querier, n NewEngineRecord) (int64, error) {
	var id int64
	if n.Queues == nil {
		n.Queues = []string{}
	}
	if n.KeyIDs == nil {
		n.KeyIDs = []string{}
	}
	err := q.QueryRow(ctx, `INSERT INTO engines (name, host, pid, version, schema_version, queues, key_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, n.Name, n.Host, n.PID, n.Version, n.SchemaVersion, n.Queues, n.KeyIDs).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("error registering engine %s: %w", n.Name, err)
	}
	return id, nil
}

// HeartbeatEngine records that engine id is alive with jobs running. A stopped engine stays stopped.
func HeartbeatEngine(ctx context.Context, q Querier, id int64, jobs int) error {
	if _, err := q.Exec(ctx, `UPDATE engines SET heartbeat_at = now(), jobs_running = $2 WHERE id = $1 AND stopped_at IS NULL`, id, jobs); err != nil {
		return fmt.Errorf("error recording engine %d's heartbeat: %w", id, err)
	}
	return nil
}

// DeregisterEngine marks engine id stopped (its row stays so runs keep naming it) and prunes engines
// stopped or stale for more than a week.
func DeregisterEngine(ctx context.Context, q Querier, id int64) error {
	if _, err := q.Exec(ctx, `UPDATE engines SET stopped_at = now(), jobs_running = 0 WHERE id = $1 AND stopped_at IS NULL`, id); err != nil {
		return fmt.Errorf("error deregistering engine %d: %w", id, err)
	}
	_, err := q.Exec(ctx, `DELETE FROM engines WHERE coalesce(stopped_at, heartbeat_at) < now() - interval '7 days'`)
	return err
}

const engineColumns = `id, name, host, pid, version, schema_version, queues, jobs_running, started_at, heartbeat_at, stopped_at,
	CASE WHEN stopped_at IS NOT NULL THEN 'stopped' WHEN heartbeat_at < now() - $1::interval THEN 'stale' ELSE 'alive' END`

func scanEngine(row pgx.Row) (EngineRecord, error) {
	var e EngineRecord
	err := row.Scan(&e.ID, &e.Name, &e.Host, &e.PID, &e.Version, &e.SchemaVersion, &e.Queues, &e.JobsRunning,
		&e.StartedAt, &e.HeartbeatAt, &e.StoppedAt, &e.State)
	return e, err
}

func staleInterval() string { return fmt.Sprintf("%d seconds", int(EngineStaleAfter.Seconds())) }

// ListEngines lists the registry, alive engines first, newest first. With all false stopped engines
// and those stale for more than a day are left out.
func ListEngines(ctx context.Context, q Querier, all bool) ([]EngineRecord, error) {
	where := ``
	if !all {
		where = ` WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '1 day'`
	}
	rows, err := q.Query(ctx, `SELECT `+engineColumns+` FROM engines`+where+`
		ORDER BY stopped_at IS NOT NULL, heartbeat_at < now() - $1::interval, started_at DESC, id DESC`, staleInterval())
	if err != nil {
		return nil, fmt.Errorf("error listing engines: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EngineRecord, error) { return scanEngine(r) })
	if err != nil {
		return nil, fmt.Errorf("error listing engines: %w", err)
	}
	return out, nil
}

// EngineKeys is an alive engine with the ids of the secret keys it registered (nil: an engine of
// a release before 00013, which does not say).
type EngineKeys struct {
	EngineRecord
	KeyIDs []string
}

// AliveEngineKeys lists the alive engines with their key ids, for `rekey`. Kept apart from
// ListEngines, which `migrate` also reads before 00013 has added the column.
func AliveEngineKeys(ctx context.Context, q Querier) ([]EngineKeys, error) {
	rows, err := q.Query(ctx, `SELECT `+engineColumns+`, key_ids FROM engines
		WHERE stopped_at IS NULL AND heartbeat_at >= now() - $1::interval ORDER BY id`, staleInterval())
	if err != nil {
		return nil, fmt.Errorf("error listing engines: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EngineKeys, error) {
		var e EngineKeys
		err := r.Scan(&e.ID, &e.Name, &e.Host, &e.PID, &e.Version, &e.SchemaVersion, &e.Queues, &e.JobsRunning,
			&e.StartedAt, &e.HeartbeatAt, &e.StoppedAt, &e.State, &e.KeyIDs)
		return e, err
	})
}

// GetEngine loads one registry row.
func GetEngine(ctx context.Context, q Querier, id int64) (EngineRecord, error) {
	e, err := scanEngine(q.QueryRow(ctx, `SELECT `+engineColumns+` FROM engines WHERE id = $2`, staleInterval(), id))
	if err != nil {
		return e, notFound(err, fmt.Sprintf("engine %d", id))
	}
	return e, nil
}

// RunEngine is the registered engine that last ran run runID, in one read; ok is false when none
// did (queued, run by an engine older than the registry, or the engine's row was pruned).
func RunEngine(ctx context.Context, q Querier, runID int64) (e EngineRecord, ok bool, err error) {
	e, err = scanEngine(q.QueryRow(ctx, `SELECT `+engineColumns+` FROM engines
		WHERE id = (SELECT engine_id FROM operation_runs WHERE id = $2)`, staleInterval(), runID))
	if errors.Is(err, pgx.ErrNoRows) {
		return EngineRecord{}, false, nil
	}
	if err != nil {
		return EngineRecord{}, false, fmt.Errorf("error loading the engine of run %d: %w", runID, err)
	}
	return e, true, nil
}

// QueueDepth is how many River jobs of one queue wait (available, scheduled or retryable) and run.
type QueueDepth struct {
	Queue   string `json:"queue"`
	Waiting int64  `json:"waiting"`
	Running int64  `json:"running"`
}

// QueueDepths counts River's jobs per queue.
func QueueDepths(ctx context.Context, q Querier) ([]QueueDepth, error) {
	rows, err := q.Query(ctx, `SELECT queue,
		count(*) FILTER (WHERE state IN ('available', 'scheduled', 'retryable', 'pending')),
		count(*) FILTER (WHERE state = 'running')
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')
		GROUP BY queue ORDER BY queue`)
	if err != nil {
		return nil, fmt.Errorf("error counting queued jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueueDepth, error) {
		var d QueueDepth
		return d, r.Scan(&d.Queue, &d.Waiting, &d.Running)
	})
	if err != nil {
		return nil, fmt.Errorf("error counting queued jobs: %w", err)
	}
	return out, nil
}

// Pulse is the whole fleet at a glance: `:engines` and `tenantatlas engines` show it.
type Pulse struct {
	Queues []QueueDepth `json:"queues"`
	// RunsPerMinute is runs finished per minute over the last five minutes.
	RunsPerMinute float64 `json:"runs_per_minute"`
	// QueuedRuns is how many runs wait for an engine.
	QueuedRuns int64 `json:"queued_runs"`
	// ThrottledTenants are the tenants with a run that ended provider_throttled in the last 15
	// minutes, or that Graph holds back right now (a Retry-After every engine waits out).
	ThrottledTenants []string `json:"throttled_tenants"`
}

// EnginePulse reads queue depths, the finish rate and the throttled tenants.
func EnginePulse(ctx context.Context, q Querier) (Pulse, error) {
	var p Pulse
	var err error
	if p.Queues, err = QueueDepths(ctx, q); err != nil {
		return p, err
	}
	var finished int64
	if err := q.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM operation_runs WHERE finished_at > now() - interval '5 minutes'),
		(SELECT count(*) FROM operation_runs WHERE status = 'queued')`).Scan(&finished, &p.QueuedRuns); err != nil {
		return p, fmt.Errorf("error counting runs: %w", err)
	}
	p.RunsPerMinute = float64(finished) / 5
	rows, err := q.Query(ctx, `SELECT t.name FROM tenants t WHERE EXISTS (SELECT 1 FROM operation_runs r WHERE r.tenant_id = t.id
			AND r.reason_code = 'provider_throttled' AND r.finished_at > now() - interval '15 minutes')
		OR EXISTS (SELECT 1 FROM graph_holds h WHERE h.tenant = lower(t.tenant_guid) AND h.held_until > clock_timestamp())
		ORDER BY t.name`)
	if err != nil {
		return p, fmt.Errorf("error listing throttled tenants: %w", err)
	}
	p.ThrottledTenants, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return p, fmt.Errorf("error listing throttled tenants: %w", err)
	}
	if p.ThrottledTenants == nil {
		p.ThrottledTenants = []string{}
	}
	return p, nil
}

// SchemaVersion is the database's TenantAtlas schema version (0 before the first migration).
func SchemaVersion(ctx context.Context, q Querier) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("error reading the schema version: %w", err)
	}
	return v, nil
}
