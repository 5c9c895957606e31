package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status is where a run is in its lifecycle (docs/architecture.md#run-lifecycle): queued, then running, then completed.
type Status string

// Run statuses.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
)

// Outcome is how a completed run ended (docs/architecture.md#run-lifecycle).
type Outcome string

// Run outcomes.
const (
	OutcomeSucceeded          Outcome = "succeeded"
	OutcomePartiallySucceeded Outcome = "partially_succeeded"
	OutcomeFailed             Outcome = "failed"
	OutcomeBlocked            Outcome = "blocked"
	OutcomeCancelled          Outcome = "cancelled"
)

// Statuses and Outcomes list every run status and outcome, in lifecycle order.
var (
	Statuses = []Status{StatusQueued, StatusRunning, StatusCompleted}
	Outcomes = []Outcome{OutcomeSucceeded, OutcomePartiallySucceeded, OutcomeFailed, OutcomeBlocked, OutcomeCancelled}
)

// Run is one operation run: the canonical record of an execution. JSON names match the columns.
type Run struct {
	ID                   int64          `json:"id"`
	WorkspaceID          int64          `json:"workspace_id"`
	TenantID             *int64         `json:"tenant_id"`
	ProviderConnectionID *int64         `json:"provider_connection_id"`
	Type                 string         `json:"type"`
	Status               Status         `json:"status"`
	Outcome              *Outcome       `json:"outcome"`
	IdentityKey          *string        `json:"identity_key"`
	InitiatorKind        string         `json:"initiator_kind"`
	InitiatorUserID      *int64         `json:"initiator_user_id"`
	ScheduleID           *int64         `json:"schedule_id"`
	IntendedFireTime     *time.Time     `json:"intended_fire_time"`
	IsLate               bool           `json:"is_late"`
	Params               map[string]any `json:"params"`
	ProgressProcessed    int64          `json:"progress_processed"`
	ProgressTotal        *int64         `json:"progress_total"`
	Counts
	ReasonCode        *string        `json:"reason_code"`
	ReasonDetail      *string        `json:"reason_detail"`
	Result            map[string]any `json:"result"`
	RetryOfRunID      *int64         `json:"retry_of_run_id"`
	RiverJobID        *int64         `json:"river_job_id"`
	Attempt           int            `json:"attempt"`
	CancelRequestedAt *time.Time     `json:"cancel_requested_at"`
	CancelRequestedBy *int64         `json:"cancel_requested_by"`
	HeartbeatAt       *time.Time     `json:"heartbeat_at"`
	CreatedAt         time.Time      `json:"created_at"`
	StartedAt         *time.Time     `json:"started_at"`
	FinishedAt        *time.Time     `json:"finished_at"`
	UpdatedAt         time.Time      `json:"updated_at"`

	// Joined for display; not columns of operation_runs.
	TenantName    string `json:"tenant_name,omitempty"`
	InitiatorName string `json:"initiator_name,omitempty"`
}

// Counts are a run's summary counts.
type Counts struct {
	Succeeded int64 `json:"count_succeeded"`
	Failed    int64 `json:"count_failed"`
	Skipped   int64 `json:"count_skipped"`
	Created   int64 `json:"count_created"`
	Updated   int64 `json:"count_updated"`
	Deleted   int64 `json:"count_deleted"`
	Unchanged int64 `json:"count_unchanged"`
}

// Active reports whether the run is queued or running.
func (r *Run) Active() bool { return r.Status != StatusCompleted }

// EndedAs is how the run ended: its outcome, "" while it has none (queued or running).
func (r *Run) EndedAs() Outcome {
	if r.Outcome == nil {
		return ""
	}
	return *r.Outcome
}

// Reason is the run's primary reason code, "" when it has none.
func (r *Run) Reason() string {
	if r.ReasonCode == nil {
		return ""
	}
	return *r.ReasonCode
}

// Elapsed is how long the run ran, or has been running at now; 0 before it started.
func (r *Run) Elapsed(now time.Time) time.Duration {
	if r.StartedAt == nil {
		return 0
	}
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(*r.StartedAt)
}

const runColumns = `r.id, r.workspace_id, r.tenant_id, r.provider_connection_id, r.type, r.status, r.outcome, r.identity_key,
	r.initiator_kind, r.initiator_user_id, r.schedule_id, r.intended_fire_time, r.is_late, r.params, r.progress_processed,
	r.progress_total, r.count_succeeded, r.count_failed, r.count_skipped, r.count_created, r.count_updated, r.count_deleted,
	r.count_unchanged, r.reason_code, r.reason_detail, r.result, r.retry_of_run_id, r.river_job_id, r.attempt,
	r.cancel_requested_at, r.cancel_requested_by, r.heartbeat_at, r.created_at, r.started_at, r.finished_at, r.updated_at,
	coalesce(t.name, r.removed_tenant_name, ''), coalesce(u.name, '')`

const runFrom = ` FROM operation_runs r LEFT JOIN tenants t ON t.id = r.tenant_id LEFT JOIN users u ON u.id = r.initiator_user_id`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.TenantID, &r.ProviderConnectionID, &r.Type, &r.Status, &r.Outcome, &r.IdentityKey,
		&r.InitiatorKind, &r.InitiatorUserID, &r.ScheduleID, &r.IntendedFireTime, &r.IsLate, &r.Params, &r.ProgressProcessed,
		&r.ProgressTotal, &r.Succeeded, &r.Failed, &r.Skipped, &r.Created, &r.Updated, &r.Deleted,
		&r.Unchanged, &r.ReasonCode, &r.ReasonDetail, &r.Result, &r.RetryOfRunID, &r.RiverJobID, &r.Attempt,
		&r.CancelRequestedAt, &r.CancelRequestedBy, &r.HeartbeatAt, &r.CreatedAt, &r.StartedAt, &r.FinishedAt, &r.UpdatedAt,
		&r.TenantName, &r.InitiatorName)
	return r, err
}

func collectRuns(rows pgx.Rows, err error) ([]Run, error) {
	if err != nil {
		return nil, fmt.Errorf("error listing runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) { return scanRun(r) })
}

// NewRun is what Start inserts.
type NewRun struct {
	WorkspaceID          int64
	TenantID             *int64
	ProviderConnectionID *int64
	Type                 string
	IdentityKey          *string
	InitiatorKind        string
	InitiatorUserID      *int64
	ScheduleID           *int64
	IntendedFireTime     *time.Time
	IsLate               bool
	Params               map[string]any
	RetryOfRunID         *int64
}

// Identity index names, for callers that race on them.
const (
	IndexActiveIdentity = "operation_runs_active_identity_idx"
	IndexScheduleFire   = "operation_runs_schedule_fire_idx"
)

// InsertRun inserts a queued run. A clash with an identity index comes back as an error for which
// IsUniqueViolation(err, IndexActiveIdentity or IndexScheduleFire) is true.
func InsertRun(ctx context.Context, q Querier, n NewRun) (Run, error) {
	if n.Params == nil {
		n.Params = map[string]any{}
	}
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO operation_runs (workspace_id, tenant_id, provider_connection_id, type, identity_key,
		initiator_kind, initiator_user_id, schedule_id, intended_fire_time, is_late, params, retry_of_run_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		n.WorkspaceID, n.TenantID, n.ProviderConnectionID, n.Type, n.IdentityKey, n.InitiatorKind, n.InitiatorUserID,
		n.ScheduleID, n.IntendedFireTime, n.IsLate, n.Params, n.RetryOfRunID).Scan(&id)
	if err != nil {
		return Run{}, fmt.Errorf("error inserting %s run: %w", n.Type, err)
	}
	return GetRun(ctx, q, id)
}

func GetRun(ctx context.Context, q Querier, id int64) (Run, error) {
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+runFrom+` WHERE r.id = $1`, id))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("run %d", id))
	}
	return r, nil
}

// GetRunWithRoles reads run id and the roles of userIDs in its workspace in one round trip (a user
// who is no member has no role in the map): what authorizing each of them to view it needs.
// ErrNotFound when the run does not exist.
func GetRunWithRoles(ctx context.Context, db *DB, id int64, userIDs []int64) (Run, map[int64]string, error) {
	b := &pgx.Batch{}
	var run Run
	b.Queue(`SELECT `+runColumns+runFrom+` WHERE r.id = $1`, id).QueryRow(func(row pgx.Row) error {
		var err error
		if run, err = scanRun(row); err != nil {
			return notFound(err, fmt.Sprintf("run %d", id))
		}
		return nil
	})
	roles := map[int64]string{}
	b.Queue(`SELECT m.user_id, m.role FROM memberships m JOIN operation_runs r ON r.workspace_id = m.workspace_id
		WHERE r.id = $1 AND m.user_id = ANY($2)`, id, userIDs).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var user int64
			var role string
			if err := rows.Scan(&user, &role); err != nil {
				return err
			}
			roles[user] = role
		}
		return rows.Err()
	})
	if err := db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return Run{}, nil, err
	}
	return run, roles, nil
}

// GetRunForUpdate loads a run and locks its row until the transaction ends.
func GetRunForUpdate(ctx context.Context, tx pgx.Tx, id int64) (Run, error) {
	r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+runFrom+` WHERE r.id = $1 FOR UPDATE OF r`, id))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("run %d", id))
	}
	return r, nil
}

// FindActiveRunByIdentity returns the queued or running run holding identity key, if any.
func FindActiveRunByIdentity(ctx context.Context, q Querier, key string) (Run, error) {
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+runFrom+`
		WHERE r.identity_key = $1 AND r.status IN ('queued', 'running')`, key))
	if err != nil {
		return r, notFound(err, "active run "+key)
	}
	return r, nil
}

// FindScheduledRun returns the run of (schedule, tenant, intended fire time), if any: the strict
// identity (docs/architecture.md#identity-rules).
func FindScheduledRun(ctx context.Context, q Querier, scheduleID, tenantID int64, fireTime time.Time) (Run, error) {
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+runFrom+`
		WHERE r.schedule_id = $1 AND r.tenant_id = $2 AND r.intended_fire_time = $3`, scheduleID, tenantID, fireTime))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("run of schedule %d for tenant %d at %s", scheduleID, tenantID, fireTime.Format(time.RFC3339)))
	}
	return r, nil
}

// RunFilter selects runs for lists. Empty fields do not filter. Lists are newest first; pass the last
// id of a page as BeforeID for the next one (keyset pagination).
type RunFilter struct {
	WorkspaceIDs []int64
	// Scopes, when set, replace WorkspaceIDs: runs of each workspace limited to the types its
	// viewer's role may see.
	Scopes     []RunScope
	TenantID   int64
	Types      []string // runs of these types only; nil means all
	Statuses   []Status
	Outcomes   []Outcome
	ReasonCode string
	Search     string // substring of type, tenant name or reason code
	BeforeID   int64
	Limit      int
}

// ListRuns returns one page of runs matching f.
func ListRuns(ctx context.Context, q Querier, f RunFilter) ([]Run, error) {
	where, args := f.where()
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	args = append(args, limit)
	return collectRuns(q.Query(ctx, `SELECT `+runColumns+runFrom+where+fmt.Sprintf(` ORDER BY r.id DESC LIMIT $%d`, len(args)), args...))
}

// CountRuns counts runs matching f by status and outcome: keys are "queued", "running", and the
// outcomes. f's statuses, outcomes and paging are ignored. What it reads depends on the filter:
//
//   - scope, tenant and type (the operations screen's tabs, with or without a tenant): finished
//     runs from the run totals (migration 00027), one row per workspace, tenant, type and outcome,
//     so the cost grows with the fleet, never with the history kept; the active runs from the runs;
//   - with a reason code: finished runs from the runs-per-hour rollup, all of that reason's hours;
//   - with a search: over the runs themselves (no total knows a substring).
//
// Each is exact, and each reads in one statement (one snapshot).
func CountRuns(ctx context.Context, q Querier, f RunFilter) (map[string]int64, error) {
	f.Statuses, f.Outcomes, f.BeforeID = nil, nil, 0
	where, args := f.where()
	query := `SELECT coalesce(r.outcome, r.status), count(*)` + runFrom + where + ` GROUP BY 1`
	if f.Search == "" {
		// The few active runs from the runs, the finished ones from a table that does not grow with them.
		finished := totalsFrom
		if f.ReasonCode != "" {
			finished = hoursFrom
		}
		hoursWhere, hoursArgs := f.hoursFilter(nil)
		query = `SELECT r.status, count(*) FROM operation_runs r` + where + ` AND r.status IN ('queued', 'running') GROUP BY 1
			UNION ALL SELECT r.outcome, sum(r.runs)::bigint` + finished + renumber(hoursWhere, len(args)) + ` GROUP BY 1`
		args = append(args, hoursArgs...)
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("error counting runs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var key string
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		out[key] = n
	}
	return out, rows.Err()
}

// CountRunsWithStatus counts the runs of every workspace in one status: the queue depth the
// metrics report on scrape.
func CountRunsWithStatus(ctx context.Context, q Querier, status Status) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE status = $1`, status).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting %s runs: %w", status, err)
	}
	return n, nil
}

// RunScope is one workspace and the run types visible in it (nil: all).
type RunScope struct {
	WorkspaceID int64
	Types       []string
}

func (f RunFilter) where() (string, []any) {
	var conds []string
	var args []any
	placeholder := func(arg any) string {
		args = append(args, arg)
		return fmt.Sprintf("$%d", len(args))
	}
	add := func(cond string, arg any) {
		conds = append(conds, strings.ReplaceAll(cond, "$?", placeholder(arg)))
	}
	if len(f.Scopes) > 0 {
		var ors []string
		for _, sc := range f.Scopes {
			cond := "(r.workspace_id = " + placeholder(sc.WorkspaceID)
			if sc.Types != nil {
				cond += " AND r.type = ANY(" + placeholder(sc.Types) + ")"
			}
			ors = append(ors, cond+")")
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	} else {
		add("r.workspace_id = ANY($?)", f.WorkspaceIDs)
	}
	if f.TenantID != 0 {
		add("r.tenant_id = $?", f.TenantID)
	}
	// One value is compared with =, not = ANY: an index on (…, the column, id DESC) then returns
	// the runs newest first and the page stops after Limit of them. With = ANY PostgreSQL 15 cannot
	// use that order and reads every match of the whole history to sort it (`runs list --status
	// failed`: every failed run of two years for a page of 50).
	in := func(col string, vals []string) {
		if len(vals) == 1 {
			add(col+" = $?", vals[0])
		} else {
			add(col+" = ANY($?)", vals)
		}
	}
	if f.Types != nil {
		in("r.type", f.Types)
	}
	if len(f.Statuses) > 0 {
		in("r.status", texts(f.Statuses))
	}
	if len(f.Outcomes) > 0 {
		in("r.outcome", texts(f.Outcomes))
	}
	if f.ReasonCode != "" {
		add("r.reason_code = $?", f.ReasonCode)
	}
	if f.Search != "" {
		// The tenant match goes through a subquery (tenants are few) so the planner keeps walking the
		// newest runs by id instead of sorting every match.
		add("(r.type ILIKE $? OR r.tenant_id IN (SELECT id FROM tenants WHERE name ILIKE $?) OR coalesce(r.reason_code, '') ILIKE $?)", "%"+escapeLike(f.Search)+"%")
	}
	if f.BeforeID > 0 {
		add("r.id < $?", f.BeforeID)
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// renumber shifts the $N placeholders of a WHERE clause by offset, so that two clauses built apart
// can share one argument list.
func renumber(where string, offset int) string {
	return placeholderRE.ReplaceAllStringFunc(where, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(n+offset)
	})
}

var placeholderRE = regexp.MustCompile(`\$[0-9]+`)

// escapeLike makes s match literally inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// MarkRunRunning moves a queued (or resumed running) run to running and counts the attempt.
func MarkRunRunning(ctx context.Context, q Querier, id int64) error {
	return MarkRunRunningOn(ctx, q, id, 0)
}

// MarkRunRunningOn is MarkRunRunning that also records the registered engine running it (0: none).
func MarkRunRunningOn(ctx context.Context, q Querier, id, engineID int64) error {
	_, err := q.Exec(ctx, `UPDATE operation_runs SET status = 'running', started_at = coalesce(started_at, now()),
		heartbeat_at = now(), attempt = attempt + 1, updated_at = now(), engine_id = coalesce(nullif($2, 0), engine_id)
		WHERE id = $1 AND status <> 'completed'`, id, engineID)
	if err != nil {
		return fmt.Errorf("error starting run %d: %w", id, err)
	}
	return nil
}

// Progress is a running run's progress and counts so far.
type Progress struct {
	Processed int64
	Total     *int64
	Counts
}

// UpdateRunProgress writes progress, counts and the heartbeat of a running run.
func UpdateRunProgress(ctx context.Context, q Querier, id int64, p Progress) error {
	_, err := q.Exec(ctx, `UPDATE operation_runs SET progress_processed = $2, progress_total = $3,
		count_succeeded = $4, count_failed = $5, count_skipped = $6, count_created = $7, count_updated = $8,
		count_deleted = $9, count_unchanged = $10, heartbeat_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'running'`,
		id, p.Processed, p.Total, p.Succeeded, p.Failed, p.Skipped, p.Created, p.Updated, p.Deleted, p.Unchanged)
	if err != nil {
		return fmt.Errorf("error saving progress of run %d: %w", id, err)
	}
	return nil
}

// HeartbeatRun records that the run's worker is alive. It returns the cancel request time, if any.
func HeartbeatRun(ctx context.Context, q Querier, id int64) (*time.Time, error) {
	var cancelAt *time.Time
	err := q.QueryRow(ctx, `UPDATE operation_runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'
		RETURNING cancel_requested_at`, id).Scan(&cancelAt)
	if err != nil && err != pgx.ErrNoRows {
		return nil, fmt.Errorf("error heartbeating run %d: %w", id, err)
	}
	return cancelAt, nil
}

// Finish is how a run ends.
type Finish struct {
	Outcome      Outcome
	ReasonCode   *string
	ReasonDetail *string
	Progress     *Progress      // final progress and counts; nil keeps what was written
	Result       map[string]any // merged into the run's result; nil keeps it
}

// FinishRunWithEvent completes an active run and appends its closing timeline event; run it in a
// transaction so both commit or neither does (a run must never end without saying how). It reports
// false, writing nothing, when the run had already completed.
func FinishRunWithEvent(ctx context.Context, q Querier, id int64, f Finish, e RunEvent) (bool, error) {
	done, err := FinishRun(ctx, q, id, f)
	if err != nil || !done {
		return done, err
	}
	e.RunID = id
	_, err = InsertRunEvent(ctx, q, e)
	return true, err
}

// FinishRun completes an active run. It returns false when the run was already completed (another
// worker or a cancel got there first), in which case nothing changes.
func FinishRun(ctx context.Context, q Querier, id int64, f Finish) (bool, error) {
	var processed, succeeded, failed, skipped, created, updated, deleted, unchanged *int64
	var total *int64
	if p := f.Progress; p != nil {
		processed, total = &p.Processed, p.Total
		succeeded, failed, skipped, created = &p.Succeeded, &p.Failed, &p.Skipped, &p.Created
		updated, deleted, unchanged = &p.Updated, &p.Deleted, &p.Unchanged
	}
	if f.Result == nil {
		f.Result = map[string]any{}
	}
	tag, err := q.Exec(ctx, `UPDATE operation_runs SET status = 'completed', outcome = $2, reason_code = $3, reason_detail = $4,
		progress_processed = coalesce($5, progress_processed), progress_total = CASE WHEN $5::bigint IS NULL THEN progress_total ELSE $6 END,
		count_succeeded = coalesce($7, count_succeeded), count_failed = coalesce($8, count_failed),
		count_skipped = coalesce($9, count_skipped), count_created = coalesce($10, count_created),
		count_updated = coalesce($11, count_updated), count_deleted = coalesce($12, count_deleted),
		count_unchanged = coalesce($13, count_unchanged), result = result || $14,
		finished_at = now(), updated_at = now()
		WHERE id = $1 AND status <> 'completed'`,
		id, f.Outcome, f.ReasonCode, f.ReasonDetail, processed, total, succeeded, failed, skipped, created, updated,
		deleted, unchanged, f.Result)
	if err != nil {
		return false, fmt.Errorf("error finishing run %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RequestRunCancel records a cancel request on an active run. It returns false when the run is
// already completed.
func RequestRunCancel(ctx context.Context, q Querier, id, userID int64) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE operation_runs SET cancel_requested_at = coalesce(cancel_requested_at, now()),
		cancel_requested_by = coalesce(cancel_requested_by, $2), updated_at = now() WHERE id = $1 AND status <> 'completed'`, id, userID)
	if err != nil {
		return false, fmt.Errorf("error requesting cancel of run %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RequeueRun puts a running run back to queued (its engine is handing it back), optionally under a
// new River job.
func RequeueRun(ctx context.Context, q Querier, id int64) error {
	_, err := q.Exec(ctx, `UPDATE operation_runs SET status = 'queued', heartbeat_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'running'`, id)
	if err != nil {
		return fmt.Errorf("error re-queueing run %d: %w", id, err)
	}
	return nil
}

// RequeueRunWithJob re-queues a stale running run (or a queued run whose job was orphaned) under a new
// River job.
func RequeueRunWithJob(ctx context.Context, q Querier, id, jobID int64) error {
	_, err := q.Exec(ctx, `UPDATE operation_runs SET status = 'queued', river_job_id = $2, heartbeat_at = now(), updated_at = now()
		WHERE id = $1 AND status IN ('running', 'queued')`, id, jobID)
	if err != nil {
		return fmt.Errorf("error re-queueing run %d: %w", id, err)
	}
	return nil
}

// LockStaleRuns locks running runs whose heartbeat is older than olderThan, and queued runs whose
// River job was fetched (state running) longer ago than that — their engine died between fetching
// the job and marking the run running, and River alone would rescue the job only after an hour.
// Rows another engine is already handling are skipped.
func LockStaleRuns(ctx context.Context, tx pgx.Tx, olderThan time.Duration, limit int) ([]Run, error) {
	return collectRuns(tx.Query(ctx, `SELECT `+runColumns+runFrom+`
		WHERE (r.status = 'running' AND r.heartbeat_at < now() - make_interval(secs => $1))
			OR (r.status = 'queued' AND EXISTS (SELECT 1 FROM river_job j WHERE j.id = r.river_job_id AND j.state = 'running'
				AND j.attempted_at < now() - make_interval(secs => $1)))
		ORDER BY r.heartbeat_at NULLS FIRST LIMIT $2 FOR UPDATE OF r SKIP LOCKED`, olderThan.Seconds(), limit))
}

// ErrRunIdentityTaken means a run with the same identity (dedupe key, or schedule and fire time)
// already exists: a concurrent Start won between our look-up and our insert.
var ErrRunIdentityTaken = errors.New("a run with this identity already exists")

// runWithAuditSQL inserts a queued run under a reserved id with its River job, its first timeline event
// and its audit event, in ONE statement (Start's hot path). A clash with an identity index fails the
// statement after the competing insert commits (the unique check waits for it), so a COMMIT pipelined
// behind it never runs.
const runWithAuditSQL = `WITH r AS (
		INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, identity_key, initiator_kind,
			initiator_user_id, schedule_id, intended_fire_time, is_late, params, retry_of_run_id, river_job_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id, workspace_id
	), e AS (
		INSERT INTO run_events (run_id, kind, level, message) SELECT id, 'timeline', 'info', $15 FROM r
	)
	INSERT INTO audit_events (workspace_id, actor_kind, actor_user_id, actor_name, action, target_kind, target_id, details)
	SELECT workspace_id, $16, $17, $18, $19, 'run', id::text, $20 FROM r`

func runWithAuditArgs(id, jobID int64, n NewRun, event RunEvent, audit AuditEvent) []any {
	if n.Params == nil {
		n.Params = map[string]any{}
	}
	if audit.Details == nil {
		audit.Details = map[string]any{}
	}
	return []any{id, n.WorkspaceID, n.TenantID, n.ProviderConnectionID, n.Type, n.IdentityKey, n.InitiatorKind, n.InitiatorUserID,
		n.ScheduleID, n.IntendedFireTime, n.IsLate, n.Params, n.RetryOfRunID, jobID,
		event.Message, audit.ActorKind, audit.ActorUserID, audit.ActorName, audit.Action, audit.Details}
}

func runInsertError(err error, typ string) error {
	if isUniqueViolation(err, IndexActiveIdentity) || isUniqueViolation(err, IndexScheduleFire) {
		return ErrRunIdentityTaken
	}
	return fmt.Errorf("error inserting %s run: %w", typ, err)
}

// InsertRunWithAudit inserts a queued run under a reserved id with its River job, its first timeline
// event and its audit event, in one statement. A clash with an identity index is ErrRunIdentityTaken
// and leaves the transaction aborted.
func InsertRunWithAudit(ctx context.Context, q Querier, id, jobID int64, n NewRun, event RunEvent, audit AuditEvent) error {
	if _, err := q.Exec(ctx, runWithAuditSQL, runWithAuditArgs(id, jobID, n, event, audit)...); err != nil {
		return runInsertError(err, n.Type)
	}
	return nil
}

// CommitRunWithAudit is InsertRunWithAudit and COMMIT in one round trip. On any error, an identity
// clash (ErrRunIdentityTaken) included, nothing is committed and the transaction is closed.
func CommitRunWithAudit(ctx context.Context, tx *PipeTx, id, jobID int64, n NewRun, event RunEvent, audit AuditEvent) error {
	if err := tx.CommitWith(ctx, runWithAuditSQL, runWithAuditArgs(id, jobID, n, event, audit)...); err != nil {
		return runInsertError(err, n.Type)
	}
	return nil
}

const roleAndNextRunIDSQL = `SELECT (SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2),
	nextval('operation_runs_id_seq')`

// RoleAndNextRunID returns userID's role in workspaceID ("" for a non-member or userID 0) and reserves
// a run id, so the River job carrying it can be inserted before the run row.
func RoleAndNextRunID(ctx context.Context, q Querier, workspaceID, userID int64) (string, int64, error) {
	var role *string
	var id int64
	if err := q.QueryRow(ctx, roleAndNextRunIDSQL, workspaceID, userID).Scan(&role, &id); err != nil {
		return "", 0, fmt.Errorf("error reserving a run id: %w", err)
	}
	return deref(role), id, nil
}

// BeginRunStart opens Start's transaction: BEGIN, userID's role in workspaceID and a reserved run id
// travel in one round trip. The transaction ends with CommitRunWithAudit, or a Rollback.
func BeginRunStart(ctx context.Context, db *DB, workspaceID, userID int64) (*PipeTx, string, int64, error) {
	var role *string
	var id int64
	tx, err := db.BeginWith(ctx, func(row pgx.Row) error { return row.Scan(&role, &id) }, roleAndNextRunIDSQL, workspaceID, userID)
	if err != nil {
		return nil, "", 0, fmt.Errorf("error reserving a run id: %w", err)
	}
	return tx, deref(role), id, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// texts turns a list of named string values (statuses, outcomes, event kinds) into the text[]
// parameter PostgreSQL compares them with; nil stays nil (SQL NULL: no filter).
func texts[S ~string](list []S) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// EngineAlive reports whether any engine process is running against the database: River's leader
// lease, which a running engine renews every few seconds, has not expired.
func EngineAlive(ctx context.Context, q Querier) (bool, error) {
	var alive bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_leader WHERE expires_at > now())`).Scan(&alive)
	if err != nil {
		return false, fmt.Errorf("error reading the engines' lease: %w", err)
	}
	return alive, nil
}
