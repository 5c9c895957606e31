// Package storetest writes test fixtures: one function per kind of row (Tenant, Run, BackupSet, …),
// each taking an options struct whose zero value gives a valid row with a unique name.
//
// It is modelled on River's testfactory. Rows are created through the store's own functions where
// one exists, so a fixture goes through the same code the product does; SQL here is only for the
// columns a test forces and no store function sets (a backdated created_at, a run stopped half-way).
// Tests outside this package do not write fixture rows with SQL; the exceptions are tests that fake
// corruption or a crash on purpose, and they say so.
//
//	tenant := storetest.Tenant(ctx, t, db.Pool, nil)
//	run := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{TenantID: &tenant.ID, Outcome: store.OutcomeFailed,
//		CreatedAt: new(time.Now().Add(-time.Hour))})
//
// Every function fails the test on error, so callers never check one.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/store"
)

// seq makes default names unique across the tests of a process, which may share a database.
var seq atomic.Int64

func next() int64 { return seq.Add(1) }

// DefaultWorkspace returns the workspace the migrations create (named "default"), where fixtures
// go unless a WorkspaceID says otherwise.
func DefaultWorkspace(ctx context.Context, tb testing.TB, q store.Querier) store.Workspace {
	tb.Helper()
	w, err := store.GetWorkspaceByName(ctx, q, "default")
	must(tb, err)
	return w
}

// WorkspaceOpts are the options of Workspace.
type WorkspaceOpts struct {
	Name string // default: unique "workspace-N"
}

// Workspace creates a workspace.
func Workspace(ctx context.Context, tb testing.TB, q store.Querier, opts *WorkspaceOpts) store.Workspace {
	tb.Helper()
	opts = orZero(opts)
	w, err := store.InsertWorkspace(ctx, q, or(opts.Name, fmt.Sprintf("workspace-%d", next())))
	must(tb, err)
	return w
}

// UserOpts are the options of User.
type UserOpts struct {
	Name string // default: unique "user-N"
	// Role, when set, makes the user a member of WorkspaceID (default: the default workspace) with it.
	Role        string
	WorkspaceID int64
}

// User creates a user, and its membership when opts.Role is set.
func User(ctx context.Context, tb testing.TB, q store.Querier, opts *UserOpts) store.User {
	tb.Helper()
	opts = orZero(opts)
	u, err := store.InsertUser(ctx, q, or(opts.Name, fmt.Sprintf("user-%d", next())))
	must(tb, err)
	if opts.Role != "" {
		must(tb, store.UpsertMembership(ctx, q, workspaceOr(ctx, tb, q, opts.WorkspaceID), u.ID, opts.Role))
	}
	return u
}

// SSHKeyOpts are the options of SSHKey.
type SSHKeyOpts struct {
	UserID      int64  // required
	Fingerprint string // default: unique "SHA256:storetest-N"
	PublicKey   string // default: a placeholder; tests that authenticate pass the real key
	Comment     string
}

// SSHKey registers a key for a user.
func SSHKey(ctx context.Context, tb testing.TB, q store.Querier, opts *SSHKeyOpts) store.SSHKey {
	tb.Helper()
	opts = orZero(opts)
	n := next()
	k, err := store.InsertSSHKey(ctx, q, store.SSHKey{UserID: opts.UserID, Fingerprint: or(opts.Fingerprint, fmt.Sprintf("SHA256:storetest-%d", n)),
		PublicKey: or(opts.PublicKey, fmt.Sprintf("ssh-ed25519 storetest-%d", n)), Comment: opts.Comment})
	must(tb, err)
	return k
}

// TenantOpts are the options of Tenant.
type TenantOpts struct {
	WorkspaceID int64  // default: the default workspace
	Name        string // default: unique "tenant-N"
	TenantGUID  string // default: a unique GUID
	DisplayName string
	CreatedAt   *time.Time // default: now
}

// Tenant creates a tenant, without a provider connection (see Connection).
func Tenant(ctx context.Context, tb testing.TB, q store.Querier, opts *TenantOpts) store.Tenant {
	tb.Helper()
	opts = orZero(opts)
	n := next()
	v, err := store.InsertTenant(ctx, q, store.Tenant{WorkspaceID: workspaceOr(ctx, tb, q, opts.WorkspaceID),
		Name: or(opts.Name, fmt.Sprintf("tenant-%d", n)), TenantGUID: or(opts.TenantGUID, fmt.Sprintf("00000000-0000-4000-8000-%012d", n)),
		DisplayName: opts.DisplayName})
	must(tb, err)
	if opts.CreatedAt != nil {
		exec(ctx, tb, q, `UPDATE tenants SET created_at = $2, updated_at = $2 WHERE id = $1`, v.ID, *opts.CreatedAt)
		v, err = store.GetTenant(ctx, q, v.ID)
		must(tb, err)
	}
	return v
}

// ConnectionOpts are the options of Connection and UpdateConnection. The first group is only read
// by Connection; UpdateConnection applies the second to an existing connection. Setting Status
// records a verification as store.UpdateConnectionVerification does.
type ConnectionOpts struct {
	TenantID int64  // default: a new tenant in the default workspace
	ClientID string // default: a fixed GUID
	// CredentialCiphertext is stored as given: tests that decrypt it seal a real secret first.
	CredentialCiphertext []byte
	CredentialKeyID      string

	Status             string // default: "unverified" (as created)
	ReasonCode         *string
	MissingPermissions []string
	Verification       map[string]any
	LastVerifiedAt     *time.Time // default when Status is set: now
}

// Connection creates a tenant's default provider connection (secret auth).
func Connection(ctx context.Context, tb testing.TB, q store.Querier, opts *ConnectionOpts) store.ProviderConnection {
	tb.Helper()
	opts = orZero(opts)
	tenantID := opts.TenantID
	if tenantID == 0 {
		tenantID = Tenant(ctx, tb, q, nil).ID
	}
	c, err := store.InsertProviderConnection(ctx, q, store.ProviderConnection{TenantID: tenantID, IsDefault: true,
		ClientID: or(opts.ClientID, "3f2a0000-0000-4000-8000-000000000002"), AuthKind: "secret",
		CredentialCiphertext: orBytes(opts.CredentialCiphertext, []byte("storetest")), CredentialKeyID: or(opts.CredentialKeyID, "storetest")})
	must(tb, err)
	return UpdateConnection(ctx, tb, q, c.ID, opts)
}

// UpdateConnection forces a verification state on an existing connection (typically the one
// engine.Service.AddTenant created).
func UpdateConnection(ctx context.Context, tb testing.TB, q store.Querier, id int64, opts *ConnectionOpts) store.ProviderConnection {
	tb.Helper()
	opts = orZero(opts)
	if opts.Status != "" {
		must(tb, store.UpdateConnectionVerification(ctx, q, id, store.ConnectionVerification{Status: opts.Status,
			ReasonCode: opts.ReasonCode, MissingPermissions: opts.MissingPermissions, Result: opts.Verification}))
	}
	if opts.LastVerifiedAt != nil {
		exec(ctx, tb, q, `UPDATE provider_connections SET last_verified_at = $2 WHERE id = $1`, id, *opts.LastVerifiedAt)
	}
	var tenantID int64
	must(tb, q.QueryRow(ctx, `SELECT tenant_id FROM provider_connections WHERE id = $1`, id).Scan(&tenantID))
	c, err := store.GetDefaultConnection(ctx, q, tenantID)
	must(tb, err)
	return c
}

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
	Status       string
	Outcome      string
	ReasonCode   *string
	ReasonDetail *string
	Progress     *store.Progress
	Attempt      *int
	RiverJobID   *int64
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
		u.set("outcome", nilIfEmpty(outcome))
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
	RunID      int64  // required
	Kind       string // default: "log"
	Level      string // default: "info"
	Message    string // default: unique "event N"
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

// BackupSetOpts are the options of BackupSet.
type BackupSetOpts struct {
	TenantID    int64 // required
	WorkspaceID int64 // default: the tenant's
	RunID       *int64
	ScheduleID  *int64
	Families    []string
	Items       []store.BackupItemRow
	Status      string     // default: complete; "running" leaves the set open
	CreatedAt   *time.Time // default: now
	CompletedAt *time.Time // default: now when the set is finished
}

// BackupSet creates a backup set with its items (payloads stored once per hash, as a backup does).
func BackupSet(ctx context.Context, tb testing.TB, q store.Querier, opts *BackupSetOpts) store.BackupSet {
	tb.Helper()
	opts = orZero(opts)
	workspaceID := opts.WorkspaceID
	if workspaceID == 0 {
		v, err := store.GetTenant(ctx, q, opts.TenantID)
		must(tb, err)
		workspaceID = v.WorkspaceID
	}
	set, err := store.StartBackupSet(ctx, q, store.BackupSet{WorkspaceID: workspaceID, TenantID: opts.TenantID, RunID: opts.RunID,
		ScheduleID: opts.ScheduleID, Families: opts.Families})
	must(tb, err)
	inTx(ctx, tb, q, func(tx pgx.Tx) error {
		_, _, err := store.AddBackupItems(ctx, tx, set.ID, opts.Items)
		return err
	})
	if status := or(opts.Status, store.BackupComplete); status != store.BackupRunning {
		_, err = store.FinishBackupSet(ctx, q, set.ID, status)
		must(tb, err)
	}
	var u update
	if opts.CreatedAt != nil {
		u.set("created_at", *opts.CreatedAt)
	}
	if opts.CompletedAt != nil {
		u.set("completed_at", *opts.CompletedAt)
	}
	u.apply(ctx, tb, q, "backup_sets", set.ID)
	set, err = store.GetBackupSet(ctx, q, set.ID)
	must(tb, err)
	return set
}

// ScheduleOpts are the options of Schedule.
type ScheduleOpts struct {
	TenantID    int64  // required
	WorkspaceID int64  // default: the tenant's
	Name        string // default: unique "schedule-N"
	Cron        string // default: "0 3 * * *"
	Timezone    string // default: "UTC"
	Families    []string
	KeepCount   *int
	KeepDays    *int
	Paused      bool
	CreatedBy   *int64
	FireFrom    *time.Time // default: now (fire times before it never count as missed)
}

// Schedule creates a backup schedule.
func Schedule(ctx context.Context, tb testing.TB, q store.Querier, opts *ScheduleOpts) store.BackupSchedule {
	tb.Helper()
	opts = orZero(opts)
	workspaceID := opts.WorkspaceID
	if workspaceID == 0 {
		v, err := store.GetTenant(ctx, q, opts.TenantID)
		must(tb, err)
		workspaceID = v.WorkspaceID
	}
	s, err := store.InsertSchedule(ctx, q, store.BackupSchedule{WorkspaceID: workspaceID, TenantID: opts.TenantID,
		Name: or(opts.Name, fmt.Sprintf("schedule-%d", next())), Cron: or(opts.Cron, "0 3 * * *"), Timezone: or(opts.Timezone, "UTC"),
		Families: opts.Families, KeepCount: opts.KeepCount, KeepDays: opts.KeepDays, Paused: opts.Paused, CreatedBy: opts.CreatedBy})
	must(tb, err)
	if opts.FireFrom != nil {
		exec(ctx, tb, q, `UPDATE backup_schedules SET fire_from = $2 WHERE id = $1`, s.ID, *opts.FireFrom)
		s, err = store.GetSchedule(ctx, q, s.ID)
		must(tb, err)
	}
	return s
}

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

// InventoryOpts are the options of Inventory.
type InventoryOpts struct {
	TenantID int64 // required
	RunID    int64 // the sync that saw the rows; 0 for none
	Rows     []store.InventoryRow
}

// Inventory merges rows into a tenant's inventory as a sync does and returns what the merge did. A
// row without a PayloadHash gets one derived from its GraphID, and one without a Payload gets {}.
func Inventory(ctx context.Context, tb testing.TB, q store.Querier, opts *InventoryOpts) store.MergeCounts {
	tb.Helper()
	opts = orZero(opts)
	rows := make([]store.InventoryRow, len(opts.Rows))
	for i, r := range opts.Rows {
		r.PayloadHash = or(r.PayloadHash, "hash-"+r.GraphID)
		r.Payload = orBytes(r.Payload, []byte(`{}`))
		rows[i] = r
	}
	var counts store.MergeCounts
	inTx(ctx, tb, q, func(tx pgx.Tx) error {
		var err error
		counts, err = store.MergeInventory(ctx, tx, opts.TenantID, opts.RunID, rows)
		return err
	})
	return counts
}

// DirectoryOpts are the options of Groups and RoleDefinitions.
type DirectoryOpts struct {
	TenantID int64      // required
	SyncedAt *time.Time // default: now
}

// Groups caches groups for a tenant as a full group sync does, and records the sync.
func Groups(ctx context.Context, tb testing.TB, db *store.DB, opts *DirectoryOpts, groups []store.Group) {
	tb.Helper()
	directory(ctx, tb, db, orZero(opts), store.CollectionGroups, func(w *store.DirectoryWriter) error {
		_, err := w.WriteGroups(ctx, groups)
		return err
	})
}

// RoleDefinitions caches role definitions for a tenant as a full sync does, and records the sync.
func RoleDefinitions(ctx context.Context, tb testing.TB, db *store.DB, opts *DirectoryOpts, defs []store.RoleDefinition) {
	tb.Helper()
	directory(ctx, tb, db, orZero(opts), store.CollectionRoleDefinitions, func(w *store.DirectoryWriter) error {
		_, err := w.WriteRoleDefinitions(ctx, defs)
		return err
	})
}

func directory(ctx context.Context, tb testing.TB, db *store.DB, opts *DirectoryOpts, collection string, write func(*store.DirectoryWriter) error) {
	tb.Helper()
	w, err := store.BeginDirectorySync(ctx, db, opts.TenantID, collection, true)
	must(tb, err)
	defer w.Rollback(ctx)
	must(tb, write(w))
	_, err = w.Finish(ctx, nil, 0)
	must(tb, err)
	must(tb, w.Commit(ctx))
	if opts.SyncedAt != nil {
		exec(ctx, tb, db.Pool, `UPDATE directory_sync_state SET synced_at = $3 WHERE tenant_id = $1 AND collection = $2`,
			opts.TenantID, collection, *opts.SyncedAt)
	}
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
		{sql: `ALTER TABLE operation_runs DISABLE TRIGGER operation_runs_notify`},
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
		{sql: `ANALYZE operation_runs`},
	} {
		_, err := q.Exec(ctx, stmt.sql, stmt.args...)
		must(tb, err)
	}
}

// ManyGroups caches opts.Count groups ("Group 1", …) for a tenant in one statement, for benchmarks
// at scale, and analyzes the table. No sync state is recorded.
func ManyGroups(ctx context.Context, tb testing.TB, q store.Querier, tenantID int64, count int) {
	tb.Helper()
	_, err := q.Exec(ctx, `INSERT INTO directory_groups (tenant_id, graph_id, display_name, content_hash)
		SELECT $1, 'g-' || g, 'Group ' || g, '\x00'::bytea FROM generate_series(1, $2::int) g`, tenantID, count)
	must(tb, err)
	_, err = q.Exec(ctx, `ANALYZE directory_groups`)
	must(tb, err)
}

// update collects the columns a fixture forces, for one UPDATE of one row. Setting a column
// again replaces the earlier value, so defaults can be set first and explicit options after.
type update struct {
	cols  []string
	exprs map[string]string // column → SQL expression, with $n placeholders into args
	args  []any
}

func (u *update) set(col string, v any) {
	u.args = append(u.args, v)
	u.setSQL(col, fmt.Sprintf("$%d", len(u.args)+1)) // $1 is the row's id
}

func (u *update) setSQL(col, expr string) {
	if u.exprs == nil {
		u.exprs = map[string]string{}
	}
	if _, ok := u.exprs[col]; !ok {
		u.cols = append(u.cols, col)
	}
	u.exprs[col] = expr
}

func (u *update) apply(ctx context.Context, tb testing.TB, q store.Querier, table string, id int64) {
	tb.Helper()
	if len(u.cols) == 0 {
		return
	}
	sets := make([]string, len(u.cols))
	for i, col := range u.cols {
		sets[i] = col + " = " + u.exprs[col]
	}
	exec(ctx, tb, q, "UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id = $1", append([]any{id}, u.args...)...)
}

func exec(ctx context.Context, tb testing.TB, q store.Querier, sql string, args ...any) {
	tb.Helper()
	tag, err := q.Exec(ctx, sql, args...)
	must(tb, err)
	if tag.RowsAffected() == 0 {
		tb.Fatalf("storetest: %s changed no row (args %v)", sql, args)
	}
}

// inTx runs fn in a transaction on q (a savepoint when q is already one), for store functions that
// need a pgx.Tx.
func inTx(ctx context.Context, tb testing.TB, q store.Querier, fn func(pgx.Tx) error) {
	tb.Helper()
	b, ok := q.(interface {
		Begin(context.Context) (pgx.Tx, error)
	})
	if !ok {
		tb.Fatalf("storetest: %T cannot begin a transaction", q)
	}
	must(tb, pgx.BeginFunc(ctx, b, fn))
}

func workspaceOr(ctx context.Context, tb testing.TB, q store.Querier, id int64) int64 {
	tb.Helper()
	if id != 0 {
		return id
	}
	return DefaultWorkspace(ctx, tb, q).ID
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
}

func orZero[T any](opts *T) *T {
	if opts == nil {
		return new(T)
	}
	return opts
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orBytes(v, def []byte) []byte {
	if v == nil {
		return def
	}
	return v
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
