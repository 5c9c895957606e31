package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// RunOpts are the options of Run and UpdateRun. The first group says what the run is and is only
// read by Run; the second forces its state and times, and UpdateRun applies it to an existing run.
type RunOpts struct {
	WorkspaceID      int64  // default: the tenant's workspace, else the default workspace
	TenantID         *int64 // default: none (a workspace-wide run)
	Type             string // default: "system.noop"
	InitiatorKind    string // default: "system"
	InitiatorUserID  *int64
	IdentityKey      *string
	ScheduleID       *int64
	IntendedFireTime *time.Time
	RetryOfRunID     *int64
	Params           map[string]any

	// Status defaults to "completed" when Outcome is set and to "queued" otherwise; a completed run
	// without an Outcome succeeded.
	Status       store.Status
	Outcome      store.Outcome
	ReasonCode   *string
	ReasonDetail *string
	Progress     *store.Progress
	Attempt      *int
	RiverJobID   *int64
	Result       map[string]any // what the run's executor recorded (a drift check's {"drift": {...}})
	// Times default as the product sets them: started_at when the run leaves queued, heartbeat_at
	// while it runs, finished_at when it completes.
	CreatedAt   *time.Time
	StartedAt   *time.Time
	HeartbeatAt *time.Time
	FinishedAt  *time.Time
}

// Run creates an operation run in the state opts give. No River job is inserted: tests that need
// the engine to work the run start it through engine.Service.Start instead.
func Run(ctx context.Context, tb testing.TB, q store.Querier, opts *RunOpts) store.Run {
	tb.Helper()
	opts = orZero(opts)
	workspaceID := opts.WorkspaceID
	if workspaceID == 0 && opts.TenantID != nil {
		v, err := store.GetTenant(ctx, q, *opts.TenantID)
		must(tb, err)
		workspaceID = v.WorkspaceID
	}
	r, err := store.InsertRun(ctx, q, store.NewRun{WorkspaceID: workspaceOr(ctx, tb, q, workspaceID), TenantID: opts.TenantID,
		Type: or(opts.Type, "system.noop"), IdentityKey: opts.IdentityKey, InitiatorKind: or(opts.InitiatorKind, "system"),
		InitiatorUserID: opts.InitiatorUserID, ScheduleID: opts.ScheduleID, IntendedFireTime: opts.IntendedFireTime,
		Params: opts.Params, RetryOfRunID: opts.RetryOfRunID})
	must(tb, err)
	return UpdateRun(ctx, tb, q, r.ID, opts)
}

// UpdateRun forces the state and time options of opts on an existing run (typically one a test
// started through the service and now backdates). Options left zero keep the run's values, except
// that a new status fills the times the product would set with now.
func UpdateRun(ctx context.Context, tb testing.TB, q store.Querier, id int64, opts *RunOpts) store.Run {
	tb.Helper()
	opts = orZero(opts)
	var u update
	status := opts.Status
	if status == "" && opts.Outcome != "" {
		status = store.StatusCompleted
	}
	if status != "" {
		outcome := opts.Outcome
		if status == store.StatusCompleted && outcome == "" {
			outcome = store.OutcomeSucceeded
		}
		u.set("status", status)
		u.set("outcome", nilIfEmpty(string(outcome)))
		if status != store.StatusQueued {
			u.setSQL("started_at", "coalesce(started_at, now())")
			u.setSQL("attempt", "greatest(attempt, 1)")
		}
		if status == store.StatusRunning {
			u.setSQL("heartbeat_at", "coalesce(heartbeat_at, now())")
		}
		if status == store.StatusCompleted {
			u.setSQL("finished_at", "coalesce(finished_at, now())")
		} else {
			u.set("finished_at", nil)
		}
	}
	if opts.ReasonCode != nil {
		u.set("reason_code", *opts.ReasonCode)
	}
	if opts.ReasonDetail != nil {
		u.set("reason_detail", *opts.ReasonDetail)
	}
	if p := opts.Progress; p != nil {
		u.set("progress_processed", p.Processed)
		u.set("progress_total", p.Total)
		u.set("count_succeeded", p.Succeeded)
		u.set("count_failed", p.Failed)
		u.set("count_skipped", p.Skipped)
		u.set("count_created", p.Created)
		u.set("count_updated", p.Updated)
		u.set("count_deleted", p.Deleted)
		u.set("count_unchanged", p.Unchanged)
	}
	if opts.Attempt != nil {
		u.set("attempt", *opts.Attempt)
	}
	if opts.RiverJobID != nil {
		u.set("river_job_id", *opts.RiverJobID)
	}
	if opts.Result != nil {
		u.set("result", opts.Result)
	}
	for _, c := range []struct {
		col string
		at  *time.Time
	}{{"created_at", opts.CreatedAt}, {"started_at", opts.StartedAt}, {"heartbeat_at", opts.HeartbeatAt}, {"finished_at", opts.FinishedAt}} {
		if c.at != nil {
			u.set(c.col, *c.at)
		}
	}
	u.apply(ctx, tb, q, "operation_runs", id)
	r, err := store.GetRun(ctx, q, id)
	must(tb, err)
	return r
}

// RunEventOpts are the options of RunEvent.
type RunEventOpts struct {
	RunID      int64           // required
	Kind       store.EventKind // default: "log"
	Level      store.Level     // default: "info"
	Message    string          // default: unique "event N"
	ReasonCode *string
	ItemRef    *string
	Details    map[string]any
	At         *time.Time // default: now
}

// RunEvent appends an event to a run.
func RunEvent(ctx context.Context, tb testing.TB, q store.Querier, opts *RunEventOpts) store.RunEvent {
	tb.Helper()
	opts = orZero(opts)
	e, err := store.InsertRunEvent(ctx, q, store.RunEvent{RunID: opts.RunID, Kind: opts.Kind, Level: opts.Level,
		Message: or(opts.Message, fmt.Sprintf("event %d", next())), ReasonCode: opts.ReasonCode, ItemRef: opts.ItemRef, Details: opts.Details})
	must(tb, err)
	if opts.At != nil {
		exec(ctx, tb, q, `UPDATE run_events SET at = $2 WHERE id = $1`, e.ID, *opts.At)
		e.At = *opts.At
	}
	return e
}

// RetimeRunEvents moves a run's events to from, one second apart by id modulo 100: a fixed,
// ordered timeline for runs whose events the service wrote at the wall-clock time.
func RetimeRunEvents(ctx context.Context, tb testing.TB, q store.Querier, runID int64, from time.Time) {
	tb.Helper()
	exec(ctx, tb, q, `UPDATE run_events SET at = $2::timestamptz + (id % 100) * interval '1 second' WHERE run_id = $1`, runID, from)
}

// ManyRunsOpts are the options of ManyRuns.
type ManyRunsOpts struct {
	WorkspaceID int64   // default: the default workspace
	TenantIDs   []int64 // required: the runs go to each in turn
	Count       int
}

// ManyRuns writes opts.Count completed runs in one statement, for benchmarks at scale: the tenants
// and five operation types in turn, every tenth run failed (throttled), every seventeenth blocked,
// one a second up to now. The change trigger is paused meanwhile, so that subscribers are not sent
// a notification per row; the table is analyzed afterwards, as it would be by then in production.
func ManyRuns(ctx context.Context, tb testing.TB, q store.Querier, opts *ManyRunsOpts) {
	tb.Helper()
	opts = orZero(opts)
	if len(opts.TenantIDs) == 0 {
		tb.Fatalf("storetest: ManyRuns needs TenantIDs")
	}
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		// Row triggers would cost a notification and a rollup update per run: the rollups are rebuilt once after.
		{sql: `ALTER TABLE operation_runs DISABLE TRIGGER operation_runs_notify`},
		{sql: `ALTER TABLE operation_runs DISABLE TRIGGER operation_runs_hours_insert`},
		{sql: `ALTER TABLE operation_runs DISABLE TRIGGER operation_runs_latest`},
		{sql: `INSERT INTO operation_runs (workspace_id, tenant_id, type, status, outcome, reason_code, initiator_kind,
			progress_processed, created_at, started_at, finished_at, heartbeat_at)
			SELECT $1, ($2::bigint[])[1 + g % cardinality($2::bigint[])],
				(ARRAY['directory_groups.sync','directory_role_definitions.sync','inventory.sync','provider.verification','backup_schedule.run'])[1 + g % 5],
				'completed',
				CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 17 = 0 THEN 'blocked' ELSE 'succeeded' END,
				CASE WHEN g % 10 = 0 THEN 'provider_throttled' WHEN g % 17 = 0 THEN 'provider_permission_denied' END,
				'system', g % 1000,
				now() - make_interval(secs => $3::int - g), now() - make_interval(secs => $3::int - g), now() - make_interval(secs => $3::int - g - 1), now()
			FROM generate_series(1, $3::int) g`, args: []any{workspaceOr(ctx, tb, q, opts.WorkspaceID), opts.TenantIDs, opts.Count}},
		{sql: `ALTER TABLE operation_runs ENABLE TRIGGER operation_runs_notify`},
		{sql: `ALTER TABLE operation_runs ENABLE TRIGGER operation_runs_hours_insert`},
		{sql: `ALTER TABLE operation_runs ENABLE TRIGGER operation_runs_latest`},
		{sql: `ANALYZE operation_runs`},
	} {
		_, err := q.Exec(ctx, stmt.sql, stmt.args...)
		must(tb, err)
	}
	must(tb, store.RebuildRunHours(ctx, q))
	must(tb, store.RebuildTenantRunLatest(ctx, q))
}
