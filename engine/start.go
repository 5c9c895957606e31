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

// RunArgs is the River job of an operation run: it carries only the run id (docs/architecture.md#start).
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

// Start is the only way a run comes to exist (docs/architecture.md#start). In ONE transaction it authorizes
// the actor, applies the operation's identity rule, inserts the run, enqueues its River job and
// writes the audit event. It is the hot path: BEGIN travels with the role check and the run id, and
// COMMIT with the run's insert, so a Start costs the round trips of a bare River insert plus the
// look-ups its identity rule needs.
func (s *Service) Start(ctx context.Context, actor Actor, req StartRequest) (StartResult, error) {
	op, err := LookupOperation(req.Type)
	if err != nil {
		return StartResult{}, err
	}
	if op.SystemOnly && actor.Kind != ActorSchedule {
		return StartResult{}, fmt.Errorf("%w: %s runs are started only by the scheduler (start %s for a manual backup)", ErrInvalid, op.Type, TypeBackupRun)
	}
	if op.Identity == IdentityStrictSchedule && (req.ScheduleID == 0 || req.IntendedFireTime.IsZero()) {
		return StartResult{}, fmt.Errorf("%w: %s needs a schedule and an intended fire time", ErrInvalid, op.Type)
	}
	// The tenant is resolved before the transaction: a tenant deleted in between fails the run's
	// foreign key, and nothing is written.
	p, err := s.planStart(ctx, s.db.Pool, actor, op, req)
	if err != nil {
		return StartResult{}, err
	}
	// A concurrent Start may win the identity between our look-up and our insert: the next attempt
	// finds its run.
	for range 10 {
		res, err := s.startOnce(ctx, actor, op, req, p)
		if errors.Is(err, store.ErrRunIdentityTaken) {
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

func (s *Service) startOnce(ctx context.Context, actor Actor, op Operation, req StartRequest, p startPlan) (StartResult, error) {
	tx, role, id, err := store.BeginRunStart(ctx, s.db, p.n.WorkspaceID, actor.UserID)
	if err != nil {
		return StartResult{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // closed already after a commit
	return s.startIn(ctx, tx, actor, op, req, p, role, id, func(r pendingRun) error {
		return store.CommitRunWithAudit(ctx, tx, r.id, r.jobID, r.n, r.event, r.audit)
	})
}

// startTx is Start inside a caller's transaction (a restore writes its ledger in the same one). An
// identity clash is an error here: the caller's transaction is aborted.
func (s *Service) startTx(ctx context.Context, tx pgx.Tx, actor Actor, op Operation, req StartRequest) (StartResult, error) {
	p, err := s.planStart(ctx, tx, actor, op, req)
	if err != nil {
		return StartResult{}, err
	}
	role, id, err := store.RoleAndNextRunID(ctx, tx, p.n.WorkspaceID, actor.UserID)
	if err != nil {
		return StartResult{}, err
	}
	return s.startIn(ctx, tx, actor, op, req, p, role, id, func(r pendingRun) error {
		return store.InsertRunWithAudit(ctx, tx, r.id, r.jobID, r.n, r.event, r.audit)
	})
}

// startIn authorizes the actor's role, applies the identity rule, enqueues the River job of run id
// in tx and has write insert the run, its first event and its audit event.
func (s *Service) startIn(ctx context.Context, tx pgx.Tx, actor Actor, op Operation, req StartRequest, p startPlan,
	role string, id int64, write func(pendingRun) error) (StartResult, error) {
	if err := p.authorize(actor, role, op); err != nil {
		return StartResult{}, err
	}
	ins, existing, err := s.enqueueRun(ctx, tx, actor, op, req, p, id)
	if err != nil {
		return StartResult{}, err
	}
	if existing != nil {
		return *existing, nil
	}
	if err := write(ins); err != nil {
		return StartResult{}, err
	}
	return ins.result(actor, p.tenant), nil
}

// startPlan is a run as far as it is known before Start's transaction: where it belongs.
type startPlan struct {
	n      store.NewRun
	tenant *store.Tenant
}

// planStart resolves the tenant (or workspace) a run belongs to.
func (s *Service) planStart(ctx context.Context, q store.Querier, actor Actor, op Operation, req StartRequest) (startPlan, error) {
	p := startPlan{n: store.NewRun{Type: op.Type, InitiatorKind: string(actor.Kind), InitiatorUserID: actor.userIDPtr(),
		Params: req.Params, IsLate: req.IsLate}}
	switch {
	case req.TenantID != 0 || req.TenantRef != "":
		t, err := s.resolveTenant(ctx, q, actor, req.TenantID, req.TenantRef)
		if err != nil {
			return p, err
		}
		p.tenant = &t
		p.n.WorkspaceID, p.n.TenantID = t.WorkspaceID, &t.ID
	case op.NeedsTenant:
		return p, fmt.Errorf("%w: %s needs a tenant (--tenant NAME)", ErrInvalid, op.Type)
	default:
		p.n.WorkspaceID = req.WorkspaceID
		if p.n.WorkspaceID == 0 {
			return p, fmt.Errorf("%w: %s needs a workspace (--workspace NAME) or a tenant", ErrInvalid, op.Type)
		}
	}
	return p, nil
}

// pendingRun is a run whose River job is enqueued and whose row is yet to be inserted.
type pendingRun struct {
	id, jobID int64
	n         store.NewRun
	event     store.RunEvent
	audit     store.AuditEvent
}

// result is the run as inserted, built without reading it back.
func (r pendingRun) result(actor Actor, tenant *store.Tenant) StartResult {
	return StartResult{Run: newRunRecord(r.id, r.jobID, r.n, actor, tenant), Created: true}
}

// enqueueRun applies the operation's identity rule — an existing run is returned instead — and
// enqueues the River job of run id.
func (s *Service) enqueueRun(ctx context.Context, tx pgx.Tx, actor Actor, op Operation, req StartRequest, p startPlan, id int64) (pendingRun, *StartResult, error) {
	n, tenant := p.n, p.tenant
	if tenant != nil && op.NeedsTenant {
		conn, err := store.GetDefaultConnection(ctx, tx, tenant.ID)
		switch {
		case err == nil:
			n.ProviderConnectionID = &conn.ID
		case errors.Is(err, store.ErrNotFound) && op.Identity == IdentityDedupeConnection:
			return pendingRun{}, nil, fmt.Errorf("%w: tenant %s has no provider connection to verify (%s)", ErrInvalid, tenant.Name, reason.Hint(reason.ProviderConnectionMissing))
		case errors.Is(err, store.ErrNotFound):
			// The run is created and ends blocked with provider_connection_missing: visible, not silent.
		default:
			return pendingRun{}, nil, err
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
	if req.ScheduleID != 0 && n.ScheduleID == nil && actor.Kind == ActorSchedule {
		// A scheduled run of a dedupe type (drift.check) is also once per (schedule, fire time):
		// the schedule index holds it however many engines fire.
		fire := req.IntendedFireTime.UTC().Truncate(time.Second)
		n.ScheduleID, n.IntendedFireTime = &req.ScheduleID, &fire
	}
	if req.RetryOf != 0 {
		n.RetryOfRunID = &req.RetryOf
	}
	if n.IdentityKey != nil {
		if existing, err := store.FindActiveRunByIdentity(ctx, tx, *n.IdentityKey); err == nil {
			return pendingRun{}, &StartResult{Run: existing, Created: false}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return pendingRun{}, nil, err
		}
	}
	if n.ScheduleID != nil {
		if existing, err := store.FindScheduledRun(ctx, tx, *n.ScheduleID, *n.TenantID, *n.IntendedFireTime); err == nil {
			return pendingRun{}, &StartResult{Run: existing, Created: false}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return pendingRun{}, nil, err
		}
	}
	job, err := s.river.InsertTx(ctx, tx, RunArgs{RunID: id}, &river.InsertOpts{Queue: op.Queue, MaxAttempts: op.MaxAttempts})
	if err != nil {
		return pendingRun{}, nil, fmt.Errorf("error enqueueing run %d: %w", id, err)
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
	return pendingRun{id: id, jobID: job.Job.ID, n: n,
		event: store.RunEvent{Message: "queued by " + actor.Name},
		audit: store.AuditEvent{ActorKind: string(actor.Kind), ActorUserID: actor.userIDPtr(), ActorName: actor.Name, Action: "run.start", Details: details},
	}, nil, nil
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
