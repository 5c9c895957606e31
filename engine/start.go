package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// RunArgs is the River job of an operation run: it carries only the run id (DESIGN §3 rule 1).
type RunArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind is River's job kind.
func (RunArgs) Kind() string { return "operation_run" }

// StartRequest asks for a run.
type StartRequest struct {
	Type string
	// TenantRef names the tenant (name, numeric id or Entra tenant id) among the actor's workspaces.
	TenantRef string
	// TenantID identifies the tenant directly (the scheduler and dashboard use it).
	TenantID int64
	// WorkspaceID is needed only for operations without a tenant (system.noop).
	WorkspaceID int64
	// ScheduleID and IntendedFireTime identify a scheduled run (strict identity).
	ScheduleID       int64
	IntendedFireTime time.Time
	// IsLate marks a catch-up run for a fire time missed while every engine was down.
	IsLate bool
	Params map[string]any
	// RetryOf links a retry to the run it repeats.
	RetryOf int64
}

// StartResult is the run Start created or found. Created is false when an identity rule returned
// an existing run.
type StartResult struct {
	Run     store.Run `json:"run"`
	Created bool      `json:"created"`
}

// errIdentityRaced means a concurrent Start won the identity between our look-up and insert.
var errIdentityRaced = errors.New("identity raced")

// Start is the only way a run comes to exist (DESIGN §3 rule 1). In ONE transaction it authorizes
// the actor, applies the operation's identity rule, inserts the run, enqueues its River job and
// writes the audit event.
func (s *Service) Start(ctx context.Context, actor Actor, req StartRequest) (StartResult, error) {
	op, err := LookupOperation(req.Type)
	if err != nil {
		return StartResult{}, err
	}
	if op.SystemOnly && actor.Kind != "schedule" {
		return StartResult{}, fmt.Errorf("%w: %s runs are started only by the scheduler (start %s for a manual backup)", ErrInvalid, op.Type, TypeBackupRun)
	}
	if op.Identity == IdentityStrictSchedule && (req.ScheduleID == 0 || req.IntendedFireTime.IsZero()) {
		return StartResult{}, fmt.Errorf("%w: %s needs a schedule and an intended fire time", ErrInvalid, op.Type)
	}
	for range 10 {
		var res StartResult
		err := s.db.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			res, err = s.startTx(ctx, tx, actor, op, req)
			return err
		})
		if errors.Is(err, errIdentityRaced) {
			continue
		}
		if err != nil {
			return StartResult{}, err
		}
		if res.Created && s.metrics != nil {
			s.metrics.runStarted(op.Type)
		}
		return res, nil
	}
	return StartResult{}, fmt.Errorf("error starting %s: identity contention did not settle", op.Type)
}

func (s *Service) startTx(ctx context.Context, tx pgx.Tx, actor Actor, op Operation, req StartRequest) (StartResult, error) {
	n := store.NewRun{Type: op.Type, InitiatorKind: actor.Kind, InitiatorUserID: actor.userIDPtr(),
		Params: req.Params, IsLate: req.IsLate}
	var tenant *store.Tenant
	if req.TenantID != 0 || req.TenantRef != "" {
		t, err := s.resolveTenant(ctx, tx, actor, req.TenantID, req.TenantRef)
		if err != nil {
			return StartResult{}, err
		}
		tenant = &t
		n.WorkspaceID, n.TenantID = t.WorkspaceID, &t.ID
	} else if op.NeedsTenant {
		return StartResult{}, fmt.Errorf("%w: %s needs a tenant (--tenant NAME)", ErrInvalid, op.Type)
	} else {
		n.WorkspaceID = req.WorkspaceID
		if n.WorkspaceID == 0 {
			return StartResult{}, fmt.Errorf("%w: %s needs a workspace (--workspace NAME) or a tenant", ErrInvalid, op.Type)
		}
	}
	// Authorization and the run id come in one round trip: Start is the hot path.
	var id int64
	var err error
	if actor.isUser() {
		var roleName string
		if roleName, id, err = store.RoleAndNextRunID(ctx, tx, n.WorkspaceID, actor.UserID); err != nil {
			return StartResult{}, err
		}
		if _, err := roleAllows(actor, roleName, op.Capability); err != nil {
			if errors.Is(err, ErrNotFound) {
				return StartResult{}, notFoundf("workspace %d", n.WorkspaceID)
			}
			return StartResult{}, err
		}
	} else if id, err = store.NextRunID(ctx, tx); err != nil {
		return StartResult{}, err
	}
	if tenant != nil && op.NeedsTenant {
		conn, err := store.GetDefaultConnection(ctx, tx, tenant.ID)
		switch {
		case err == nil:
			n.ProviderConnectionID = &conn.ID
		case errors.Is(err, store.ErrNotFound) && op.Identity == IdentityDedupeConnection:
			return StartResult{}, fmt.Errorf("%w: tenant %s has no provider connection to verify (%s)", ErrInvalid, tenant.Name, reason.Hint(reason.ProviderConnectionMissing))
		case errors.Is(err, store.ErrNotFound):
			// The run is created and ends blocked with provider_connection_missing: visible, not silent.
		default:
			return StartResult{}, err
		}
	}
	switch op.Identity {
	case IdentityDedupeTenant:
		key := fmt.Sprintf("%s:tenant:%d", op.Type, *n.TenantID)
		n.IdentityKey = &key
	case IdentityDedupeConnection:
		key := fmt.Sprintf("%s:connection:%d", op.Type, *n.ProviderConnectionID)
		n.IdentityKey = &key
	case IdentityStrictSchedule:
		fire := req.IntendedFireTime.UTC().Truncate(time.Second)
		n.ScheduleID, n.IntendedFireTime = &req.ScheduleID, &fire
	}
	if req.RetryOf != 0 {
		n.RetryOfRunID = &req.RetryOf
	}
	if n.IdentityKey != nil {
		if existing, err := store.FindActiveRunByIdentity(ctx, tx, *n.IdentityKey); err == nil {
			return StartResult{Run: existing, Created: false}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return StartResult{}, err
		}
	}
	if n.ScheduleID != nil {
		if existing, err := store.FindScheduledRun(ctx, tx, *n.ScheduleID, *n.IntendedFireTime); err == nil {
			return StartResult{Run: existing, Created: false}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return StartResult{}, err
		}
	}
	job, err := s.river.InsertTx(ctx, tx, RunArgs{RunID: id}, &river.InsertOpts{Queue: op.Queue, MaxAttempts: op.MaxAttempts})
	if err != nil {
		return StartResult{}, fmt.Errorf("error enqueueing run %d: %w", id, err)
	}
	details := map[string]any{"type": op.Type}
	if tenant != nil {
		details["tenant"] = tenant.Name
	}
	if n.IntendedFireTime != nil {
		details["intended_fire_time"] = n.IntendedFireTime.Format(time.RFC3339)
		details["late"] = req.IsLate
	}
	if req.RetryOf != 0 {
		details["retry_of"] = req.RetryOf
	}
	inserted, err := store.InsertRunWithAudit(ctx, tx, id, job.Job.ID, n,
		store.RunEvent{Message: "queued by " + actor.Name},
		store.AuditEvent{ActorKind: actor.Kind, ActorUserID: actor.userIDPtr(), ActorName: actor.Name, Action: "run.start", Details: details})
	if err != nil {
		return StartResult{}, err
	}
	if !inserted {
		return StartResult{}, errIdentityRaced
	}
	run := newRunRecord(id, job.Job.ID, n, actor, tenant)
	return StartResult{Run: run, Created: true}, nil
}

// resolveTenant finds a tenant the actor can see. Tenants of other workspaces are "not found".
func (s *Service) resolveTenant(ctx context.Context, q store.Querier, actor Actor, id int64, ref string) (store.Tenant, error) {
	if err := checkText("tenant", ref); err != nil {
		return store.Tenant{}, err
	}
	if id != 0 {
		t, err := store.GetTenant(ctx, q, id)
		if err != nil {
			return t, err
		}
		if _, err := authorize(ctx, q, actor, t.WorkspaceID, CapTenantView); errors.Is(err, ErrNotFound) {
			return store.Tenant{}, notFoundf("tenant %d", id)
		}
		return t, nil
	}
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return store.Tenant{}, err
	}
	ids := make([]int64, 0, len(roles))
	for w := range roles {
		ids = append(ids, w)
	}
	found, err := store.FindTenants(ctx, q, ids, ref)
	if err != nil {
		return store.Tenant{}, err
	}
	switch len(found) {
	case 0:
		return store.Tenant{}, notFoundf("tenant %q (see `tenantatlas tenants list`)", ref)
	case 1:
		return found[0], nil
	default:
		return store.Tenant{}, fmt.Errorf("%w: %d tenants are named %q in your workspaces: use the numeric id from `tenantatlas tenants list`", ErrInvalid, len(found), ref)
	}
}

// Cancel cancels a run: a queued run ends cancelled at once; a running one as soon as its worker
// sees its context cancelled (DESIGN §3 rule 7). Cancelling needs the start capability.
func (s *Service) Cancel(ctx context.Context, actor Actor, runID int64) (store.Run, error) {
	var out store.Run
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		run, err := store.GetRunForUpdate(ctx, tx, runID)
		if err != nil {
			return notFoundf("run %d", runID)
		}
		op, err := LookupOperation(run.Type)
		if err != nil {
			return err
		}
		if _, err := authorize(ctx, tx, actor, run.WorkspaceID, op.ViewCapability); err != nil {
			if errors.Is(err, ErrNotFound) {
				return notFoundf("run %d", runID)
			}
			return err
		}
		if _, err := authorize(ctx, tx, actor, run.WorkspaceID, op.Capability); err != nil {
			return err
		}
		if !run.Active() {
			return fmt.Errorf("%w: run %d already completed (%s)", ErrInvalid, runID, deref(run.Outcome))
		}
		if _, err := store.RequestRunCancel(ctx, tx, runID, actor.UserID); err != nil {
			return err
		}
		if run.Status == store.StatusQueued {
			code := string(reason.RunCancelled)
			detail := "cancelled by " + actor.Name + " before it started"
			if _, err := store.FinishRun(ctx, tx, runID, store.Finish{Outcome: store.OutcomeCancelled, ReasonCode: &code, ReasonDetail: &detail}); err != nil {
				return err
			}
		}
		if run.RiverJobID != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, *run.RiverJobID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return fmt.Errorf("error cancelling job of run %d: %w", runID, err)
			}
		}
		if _, err := store.InsertRunEvent(ctx, tx, store.RunEvent{RunID: runID, Kind: "timeline", Level: "warn",
			Message: "cancel requested by " + actor.Name}); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, &run.WorkspaceID, "run.cancel", "run", fmt.Sprint(runID), map[string]any{"type": run.Type, "status": run.Status}); err != nil {
			return err
		}
		out, err = store.GetRun(ctx, tx, runID)
		return err
	})
	if err == nil && out.Status == store.StatusCompleted && s.metrics != nil {
		s.metrics.runFinished(out)
	}
	return out, err
}

// Retry starts the operation of a completed run again with the same parameters, under the same
// identity rule (a dedupe type returns the active run if one exists). A scheduled backup is retried
// as a manual one.
func (s *Service) Retry(ctx context.Context, actor Actor, runID int64) (StartResult, error) {
	run, err := s.GetRun(ctx, actor, runID)
	if err != nil {
		return StartResult{}, err
	}
	if run.Active() {
		return StartResult{}, fmt.Errorf("%w: run %d is still %s", ErrInvalid, runID, run.Status)
	}
	typ := run.Type
	if typ == TypeBackupScheduled {
		typ = TypeBackupRun
	}
	req := StartRequest{Type: typ, WorkspaceID: run.WorkspaceID, Params: run.Params, RetryOf: runID}
	if run.TenantID != nil {
		req.TenantID = *run.TenantID
	}
	return s.Start(ctx, actor, req)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// newRunRecord is the run Start just inserted, built without reading it back.
func newRunRecord(id, jobID int64, n store.NewRun, actor Actor, tenant *store.Tenant) store.Run {
	now := time.Now()
	r := store.Run{ID: id, WorkspaceID: n.WorkspaceID, TenantID: n.TenantID, ProviderConnectionID: n.ProviderConnectionID,
		Type: n.Type, Status: store.StatusQueued, IdentityKey: n.IdentityKey, InitiatorKind: n.InitiatorKind,
		InitiatorUserID: n.InitiatorUserID, ScheduleID: n.ScheduleID, IntendedFireTime: n.IntendedFireTime, IsLate: n.IsLate,
		Params: n.Params, Result: map[string]any{}, RetryOfRunID: n.RetryOfRunID, RiverJobID: &jobID,
		CreatedAt: now, UpdatedAt: now, InitiatorName: actor.Name}
	if r.Params == nil {
		r.Params = map[string]any{}
	}
	if tenant != nil {
		r.TenantName = tenant.Name
	}
	if !actor.isUser() {
		r.InitiatorName = ""
	}
	return r
}
