package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// BackupSchedule is a cron schedule of backups. It targets exactly one of: one tenant (TenantID),
// the tenants of its workspace carrying TargetTag, or every tenant of its workspace (TargetAll);
// docs/design.md#fleet.
type BackupSchedule struct {
	ID          int64 `json:"id"`
	WorkspaceID int64 `json:"workspace_id"`
	// TenantID is 0 for a fleet schedule (tag or all).
	TenantID  int64    `json:"tenant_id"`
	TargetTag string   `json:"target_tag,omitempty"`
	TargetAll bool     `json:"target_all,omitempty"`
	Name      string   `json:"name"`
	Cron      string   `json:"cron"`
	Timezone  string   `json:"timezone"`
	Families  []string `json:"families"`
	KeepCount *int     `json:"keep_count"`
	KeepDays  *int     `json:"keep_days"`
	Paused    bool     `json:"paused"`
	// Operation is what the schedule fires: ScheduleBackup (default) or ScheduleDriftCheck.
	Operation string    `json:"operation"`
	FireFrom  time.Time `json:"fire_from"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// LastFireNote is what the last firing could not do (a tag matching no tenant, tenants
	// refused); empty when it started a run for every tenant.
	LastFireNote string `json:"last_fire_note,omitempty"`

	// Joined for display.
	TenantName string `json:"tenant_name,omitempty"`
}

// IsFleet is true for a schedule of a tag or of every tenant.
func (s BackupSchedule) IsFleet() bool { return s.TenantID == 0 }

// Schedule operations.
const (
	ScheduleBackup     = "backup"
	ScheduleDriftCheck = "drift_check"
)

// Target names what the schedule backs up: the tenant's name, "tag:TAG" or "all tenants".
func (s BackupSchedule) Target() string {
	switch {
	case s.TargetAll:
		return "all tenants"
	case s.TargetTag != "":
		return "tag:" + s.TargetTag
	}
	return s.TenantName
}

const scheduleColumns = `s.operation, s.id, s.workspace_id, coalesce(s.tenant_id, 0), coalesce(s.target_tag, ''), s.target_all, s.name, s.cron,
	s.timezone, s.families, s.keep_count, s.keep_days, s.paused, s.fire_from, s.created_by, s.created_at, s.updated_at,
	coalesce(s.last_fire_note, ''), coalesce(t.name, '')`

// scheduleFrom joins the tenant of a one-tenant schedule; fleet schedules have none.
const scheduleFrom = ` FROM backup_schedules s LEFT JOIN tenants t ON t.id = s.tenant_id`

func scanSchedule(row pgx.Row) (BackupSchedule, error) {
	var s BackupSchedule
	err := row.Scan(&s.Operation, &s.ID, &s.WorkspaceID, &s.TenantID, &s.TargetTag, &s.TargetAll, &s.Name, &s.Cron, &s.Timezone, &s.Families,
		&s.KeepCount, &s.KeepDays, &s.Paused, &s.FireFrom, &s.CreatedBy, &s.CreatedAt, &s.UpdatedAt, &s.LastFireNote, &s.TenantName)
	if s.Families == nil {
		s.Families = []string{}
	}
	return s, err
}

// scheduleNameScope says where a schedule's name must be unique, for conflict messages.
func scheduleNameScope(s BackupSchedule) string {
	if s.IsFleet() {
		return "among the tag and all-tenant schedules of this workspace"
	}
	return "of this tenant"
}

// InsertSchedule creates a schedule: TenantID, or TargetTag, or TargetAll. A duplicate name (per
// tenant; per workspace among fleet schedules) is ErrConflict.
func InsertSchedule(ctx context.Context, q Querier, s BackupSchedule) (BackupSchedule, error) {
	if s.Families == nil {
		s.Families = []string{}
	}
	var id int64
	if s.Operation == "" {
		s.Operation = ScheduleBackup
	}
	err := q.QueryRow(ctx, `INSERT INTO backup_schedules (workspace_id, tenant_id, target_tag, target_all, name, cron, timezone, families,
			keep_count, keep_days, paused, created_by, operation)
		VALUES ($1, NULLIF($2, 0), NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		s.WorkspaceID, s.TenantID, s.TargetTag, s.TargetAll, s.Name, s.Cron, s.Timezone, s.Families, s.KeepCount, s.KeepDays,
		s.Paused, s.CreatedBy, s.Operation).Scan(&id)
	if isUniqueViolation(err, "") {
		return s, fmt.Errorf("schedule %q %s: %w", s.Name, scheduleNameScope(s), ErrConflict)
	}
	if err != nil {
		return s, fmt.Errorf("error creating schedule %q: %w", s.Name, err)
	}
	return GetSchedule(ctx, q, id)
}

// UpdateSchedule writes every editable field of s. resetFireFrom moves fire_from to now (a changed
// cron or a resume: earlier fire times never count as missed).
func UpdateSchedule(ctx context.Context, q Querier, s BackupSchedule, resetFireFrom bool) (BackupSchedule, error) {
	if s.Families == nil {
		s.Families = []string{}
	}
	_, err := q.Exec(ctx, `UPDATE backup_schedules SET name = $2, cron = $3, timezone = $4, families = $5, keep_count = $6, keep_days = $7,
		paused = $8, fire_from = CASE WHEN $9 THEN now() ELSE fire_from END, updated_at = clock_timestamp() WHERE id = $1`,
		s.ID, s.Name, s.Cron, s.Timezone, s.Families, s.KeepCount, s.KeepDays, s.Paused, resetFireFrom)
	if isUniqueViolation(err, "") {
		return s, fmt.Errorf("schedule %q %s: %w", s.Name, scheduleNameScope(s), ErrConflict)
	}
	if err != nil {
		return s, fmt.Errorf("error updating schedule %d: %w", s.ID, err)
	}
	return GetSchedule(ctx, q, s.ID)
}

func GetSchedule(ctx context.Context, q Querier, id int64) (BackupSchedule, error) {
	s, err := scanSchedule(q.QueryRow(ctx, `SELECT `+scheduleColumns+scheduleFrom+` WHERE s.id = $1`, id))
	if err != nil {
		return s, notFound(err, fmt.Sprintf("schedule %d", id))
	}
	return s, nil
}

// ScheduleFilter selects schedules. Zero fields do not filter.
type ScheduleFilter struct {
	WorkspaceIDs []int64 // nil: every workspace (the scheduler)
	// TenantID selects the schedules that back the tenant up: its own, and the fleet schedules of
	// its workspace whose target includes it (all tenants, or a tag it carries now).
	TenantID int64
	Name     string
}

// ListSchedules returns schedules, newest first.
func ListSchedules(ctx context.Context, q Querier, f ScheduleFilter) ([]BackupSchedule, error) {
	rows, err := q.Query(ctx, `SELECT `+scheduleColumns+scheduleFrom+`
		WHERE ($1::bigint[] IS NULL OR s.workspace_id = ANY($1)) AND ($2 = 0 OR s.tenant_id = $2
			OR (s.tenant_id IS NULL AND EXISTS (SELECT 1 FROM tenants x WHERE x.id = $2 AND x.workspace_id = s.workspace_id
				AND (s.target_all OR s.target_tag = ANY(x.tags))))) AND ($3 = '' OR s.name = $3)
		ORDER BY s.id DESC`, f.WorkspaceIDs, f.TenantID, f.Name)
	if err != nil {
		return nil, fmt.Errorf("error listing schedules: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (BackupSchedule, error) { return scanSchedule(r) })
}

// ScheduleVersion is a cheap fingerprint of the schedules table: the scheduler reloads when it moves.
func ScheduleVersion(ctx context.Context, q Querier) (string, error) {
	var n int64
	var latest *time.Time
	if err := q.QueryRow(ctx, `SELECT count(*), max(updated_at) FROM backup_schedules`).Scan(&n, &latest); err != nil {
		return "", fmt.Errorf("error reading schedule version: %w", err)
	}
	v := fmt.Sprint(n)
	if latest != nil {
		v += "@" + latest.UTC().Format(time.RFC3339Nano)
	}
	return v, nil
}

// SetScheduleFireNote records what the schedule's last firing could not do ("" clears it). It
// leaves updated_at alone: a note is not a change of the schedule's definition.
func SetScheduleFireNote(ctx context.Context, q Querier, scheduleID int64, note string) error {
	_, err := q.Exec(ctx, `UPDATE backup_schedules SET last_fire_note = NULLIF($2, '')
		WHERE id = $1 AND last_fire_note IS DISTINCT FROM NULLIF($2, '')`, scheduleID, note)
	if err != nil {
		return fmt.Errorf("error recording the last firing of schedule %d: %w", scheduleID, err)
	}
	return nil
}

// LatestScheduledFireTime is the latest intended fire time of any run of the schedule, whatever
// its tenant (nil: none).
func LatestScheduledFireTime(ctx context.Context, q Querier, scheduleID int64) (*time.Time, error) {
	var t *time.Time
	if err := q.QueryRow(ctx, `SELECT max(intended_fire_time) FROM operation_runs WHERE schedule_id = $1`, scheduleID).Scan(&t); err != nil {
		return nil, fmt.Errorf("error reading the last fire time of schedule %d: %w", scheduleID, err)
	}
	return t, nil
}

// LatestRunOfSchedule returns the schedule's run with the latest intended fire time.
func LatestRunOfSchedule(ctx context.Context, q Querier, scheduleID int64) (Run, error) {
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+runFrom+`
		WHERE r.schedule_id = $1 ORDER BY r.intended_fire_time DESC LIMIT 1`, scheduleID))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("last run of schedule %d", scheduleID))
	}
	return r, nil
}
