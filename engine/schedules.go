package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// ScheduleRequest creates a backup schedule. It targets exactly one of: a tenant (TenantRef or
// TenantID), the tenants carrying Tag, or All the tenants of Workspace (docs/design.md#fleet).
type ScheduleRequest struct {
	// TenantRef names the tenant (name, id or Entra tenant id); TenantID identifies it directly.
	TenantRef string
	TenantID  int64
	// Tag and All make a fleet schedule of Workspace (the actor's only or default workspace when
	// empty). The tenants are resolved at each firing: tags added later count.
	Tag       string
	All       bool
	Workspace string
	Name      string
	// Cron has 5 fields, or 6 with a leading seconds field; Timezone is an IANA zone (default UTC).
	Cron     string
	Timezone string
	// Families to back up (empty: every Intune family).
	Families []string
	// KeepCount and KeepDays are the retention (nil: unlimited).
	KeepCount *int
	KeepDays  *int
	// Operation is what the schedule fires: "backup" (default) or "drift_check" (a drift.check
	// of the tenant against its baseline; families and retention do not apply).
	Operation string
}

// ScheduleUpdate changes a schedule; nil fields stay as they are. ClearKeepCount/ClearKeepDays
// remove a retention limit.
type ScheduleUpdate struct {
	Name           *string
	Cron           *string
	Timezone       *string
	Families       *[]string
	KeepCount      *int
	KeepDays       *int
	ClearKeepCount bool
	ClearKeepDays  bool
}

// ScheduleView is a schedule with its next fire times (computed from cron + zone, not stored).
type ScheduleView struct {
	store.BackupSchedule
	NextFireTimes []time.Time `json:"next_fire_times"`
	// LastRun is the schedule's latest run, if any.
	LastRun *store.Run `json:"last_run"`
}

var scheduleNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ -]{0,62}$`)

func validateSchedule(s *store.BackupSchedule) error {
	if !scheduleNamePattern.MatchString(s.Name) {
		return fmt.Errorf("%w: schedule name %q: use 1-63 letters, digits, spaces, '.', '_' or '-'", ErrInvalid, s.Name)
	}
	if _, err := ParseCronSpec(s.Cron, s.Timezone); err != nil {
		return err
	}
	fs, err := ParseFamilies(s.Families)
	if err != nil {
		return err
	}
	if len(s.Families) > 0 {
		s.Families = s.Families[:0]
		for _, f := range fs {
			s.Families = append(s.Families, string(f))
		}
	}
	if s.KeepCount != nil && *s.KeepCount < 1 {
		return fmt.Errorf("%w: --keep %d: keep at least 1 backup", ErrInvalid, *s.KeepCount)
	}
	if s.KeepDays != nil && *s.KeepDays < 1 {
		return fmt.Errorf("%w: --keep-days %d: keep at least 1 day", ErrInvalid, *s.KeepDays)
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	switch s.Operation {
	case "":
		s.Operation = store.ScheduleBackup
	case store.ScheduleBackup:
	case store.ScheduleDriftCheck:
		if len(s.Families) > 0 || s.KeepCount != nil || s.KeepDays != nil {
			return fmt.Errorf("%w: a drift_check schedule has no families or retention (it compares the whole inventory with the baseline)", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: unknown schedule operation %q (expected backup or drift_check)", ErrInvalid, s.Operation)
	}
	return nil
}

// CreateSchedule adds a backup schedule (schedule.manage), audited.
func (s *Service) CreateSchedule(ctx context.Context, actor Actor, req ScheduleRequest) (ScheduleView, error) {
	sch := store.BackupSchedule{Name: req.Name, Cron: req.Cron, Timezone: req.Timezone, Families: req.Families,
		KeepCount: req.KeepCount, KeepDays: req.KeepDays, CreatedBy: actor.userIDPtr(), Operation: req.Operation}
	if err := validateSchedule(&sch); err != nil {
		return ScheduleView{}, err
	}
	targets := 0
	for _, set := range []bool{req.TenantRef != "" || req.TenantID != 0, req.Tag != "", req.All} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return ScheduleView{}, fmt.Errorf("%w: a schedule targets one of: a tenant (--tenant T), a tag (--tag TAG) or every tenant (--all)", ErrInvalid)
	}
	if req.Tag != "" {
		if err := CheckTag(req.Tag); err != nil {
			return ScheduleView{}, err
		}
	}
	var workspaceID int64
	if req.Tag != "" || req.All {
		w, err := s.ResolveWorkspace(ctx, actor, req.Workspace)
		if err != nil {
			return ScheduleView{}, err
		}
		workspaceID = w.ID
	}
	var out store.BackupSchedule
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if workspaceID != 0 {
			sch.WorkspaceID, sch.TargetTag, sch.TargetAll = workspaceID, req.Tag, req.All
		} else {
			t, err := s.resolveTenant(ctx, tx, actor, req.TenantID, req.TenantRef)
			if err != nil {
				return err
			}
			sch.WorkspaceID, sch.TenantID = t.WorkspaceID, t.ID
		}
		if _, err := authorize(ctx, tx, actor, sch.WorkspaceID, access.ScheduleManage); err != nil {
			return err
		}
		var err error
		out, err = store.InsertSchedule(ctx, tx, sch)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &sch.WorkspaceID, "schedule.create", "schedule", fmt.Sprint(out.ID), scheduleDetails(out))
	})
	if err != nil {
		return ScheduleView{}, err
	}
	return s.scheduleView(ctx, out), nil
}

func scheduleDetails(s store.BackupSchedule) map[string]any {
	return map[string]any{"name": s.Name, "target": s.Target(), "operation": s.Operation, "tenant": s.TenantName, "cron": s.Cron, "timezone": s.Timezone, "families": s.Families,
		"keep_count": s.KeepCount, "keep_days": s.KeepDays, "paused": s.Paused}
}

// UpdateSchedule edits a schedule (schedule.manage), audited. A changed cron or zone counts fire
// times from now on (no catch-up for the old definition).
func (s *Service) UpdateSchedule(ctx context.Context, actor Actor, ref string, u ScheduleUpdate) (ScheduleView, error) {
	return s.mutateSchedule(ctx, actor, ref, "schedule.update", func(sch *store.BackupSchedule) (bool, error) {
		reset := false
		if u.Name != nil {
			sch.Name = *u.Name
		}
		if u.Cron != nil && *u.Cron != sch.Cron {
			sch.Cron, reset = *u.Cron, true
		}
		if u.Timezone != nil && *u.Timezone != sch.Timezone {
			sch.Timezone, reset = *u.Timezone, true
		}
		if u.Families != nil {
			sch.Families = *u.Families
		}
		if u.KeepCount != nil {
			sch.KeepCount = u.KeepCount
		}
		if u.KeepDays != nil {
			sch.KeepDays = u.KeepDays
		}
		if u.ClearKeepCount {
			sch.KeepCount = nil
		}
		if u.ClearKeepDays {
			sch.KeepDays = nil
		}
		return reset, validateSchedule(sch)
	})
}

// PauseSchedule stops a schedule from firing (schedule.manage), audited.
func (s *Service) PauseSchedule(ctx context.Context, actor Actor, ref string) (ScheduleView, error) {
	return s.mutateSchedule(ctx, actor, ref, "schedule.pause", func(sch *store.BackupSchedule) (bool, error) {
		sch.Paused = true
		return false, nil
	})
}

// ResumeSchedule lets a paused schedule fire again from now on: fire times missed while paused
// are not caught up.
func (s *Service) ResumeSchedule(ctx context.Context, actor Actor, ref string) (ScheduleView, error) {
	return s.mutateSchedule(ctx, actor, ref, "schedule.resume", func(sch *store.BackupSchedule) (bool, error) {
		wasPaused := sch.Paused
		sch.Paused = false
		return wasPaused, nil
	})
}

func (s *Service) mutateSchedule(ctx context.Context, actor Actor, ref, action string, change func(*store.BackupSchedule) (bool, error)) (ScheduleView, error) {
	var out store.BackupSchedule
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		sch, err := s.findSchedule(ctx, tx, actor, ref)
		if err != nil {
			return err
		}
		if _, err := authorize(ctx, tx, actor, sch.WorkspaceID, access.ScheduleManage); err != nil {
			return err
		}
		reset, err := change(&sch)
		if err != nil {
			return err
		}
		out, err = store.UpdateSchedule(ctx, tx, sch, reset)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &sch.WorkspaceID, action, "schedule", fmt.Sprint(sch.ID), scheduleDetails(out))
	})
	if err != nil {
		return ScheduleView{}, err
	}
	return s.scheduleView(ctx, out), nil
}

// findSchedule resolves a schedule by numeric id or by name among the actor's visible schedules.
// Schedules of other workspaces are "not found".
func (s *Service) findSchedule(ctx context.Context, q store.Querier, actor Actor, ref string) (store.BackupSchedule, error) {
	if err := checkText("schedule", ref); err != nil {
		return store.BackupSchedule{}, err
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		sch, err := store.GetSchedule(ctx, q, id)
		if errors.Is(err, store.ErrNotFound) {
			return sch, notFoundf("schedule %d", id)
		}
		if err != nil {
			return sch, err
		}
		if _, err := authorize(ctx, q, actor, sch.WorkspaceID, access.TenantView); errors.Is(err, ErrNotFound) {
			return store.BackupSchedule{}, notFoundf("schedule %d", id)
		}
		return sch, nil
	}
	ids, err := s.workspaceIDs(ctx, actor)
	if err != nil {
		return store.BackupSchedule{}, err
	}
	found, err := store.ListSchedules(ctx, q, store.ScheduleFilter{WorkspaceIDs: ids, Name: ref})
	if err != nil {
		return store.BackupSchedule{}, err
	}
	switch len(found) {
	case 0:
		return store.BackupSchedule{}, notFoundf("schedule %q (see `tenantatlas schedules list`)", ref)
	case 1:
		return found[0], nil
	}
	return store.BackupSchedule{}, fmt.Errorf("%w: %d schedules are named %q: use the numeric id from `tenantatlas schedules list`", ErrInvalid, len(found), ref)
}

// GetSchedule returns one schedule the actor may view (backup.run).
func (s *Service) GetSchedule(ctx context.Context, actor Actor, ref string) (ScheduleView, error) {
	sch, err := s.findSchedule(ctx, s.db.Pool, actor, ref)
	if err != nil {
		return ScheduleView{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, sch.WorkspaceID, access.BackupRun); err != nil {
		return ScheduleView{}, err
	}
	return s.scheduleView(ctx, sch), nil
}

// ListSchedules lists the schedules of the workspaces where the actor may browse backups
// (backup.run), optionally those that back up one tenant (its own and the fleet schedules that
// include it).
func (s *Service) ListSchedules(ctx context.Context, actor Actor, tenantID int64) ([]ScheduleView, error) {
	ids, err := s.workspacesWith(ctx, actor, access.BackupRun)
	if err != nil {
		return nil, err
	}
	list, err := store.ListSchedules(ctx, s.db.Pool, store.ScheduleFilter{WorkspaceIDs: ids, TenantID: tenantID})
	if err != nil {
		return nil, err
	}
	out := make([]ScheduleView, 0, len(list))
	for _, sch := range list {
		out = append(out, s.scheduleView(ctx, sch))
	}
	return out, nil
}

func (s *Service) scheduleView(ctx context.Context, sch store.BackupSchedule) ScheduleView {
	v := ScheduleView{BackupSchedule: sch, NextFireTimes: []time.Time{}}
	if spec, err := ParseCronSpec(sch.Cron, sch.Timezone); err == nil && !sch.Paused {
		v.NextFireTimes = spec.NextN(time.Now(), 3)
	}
	if r, err := store.LatestRunOfSchedule(ctx, s.db.Pool, sch.ID); err == nil {
		v.LastRun = &r
	}
	return v
}
