// Package engine is TenantAtlas's domain service and job engine: the one Start through which every
// operation run is created (DESIGN §3), authorization, the operation and capability registries,
// River workers, the scheduler and crash recovery.
//
// The dashboard, the CLI and the SSH server all call Service; none of them writes runs themselves.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var (
	// ErrNotFound: the object does not exist, or the actor is not a member of its workspace (the two
	// are indistinguishable on purpose, DESIGN §3 rule 3).
	ErrNotFound = store.ErrNotFound
	// ErrForbidden: the actor is a member but lacks the capability.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: the request itself is wrong (unknown type, bad parameter).
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: the object already exists.
	ErrConflict = store.ErrConflict
)

// Actor is who is acting: a user (from --as locally, or the SSH key that authenticated), the
// scheduler, or the engine itself.
type Actor struct {
	Kind   string // "user", "schedule" or "system"
	UserID int64
	Name   string
	// Admin is the bootstrap administrator, who may create workspaces and users.
	Admin bool
}

// SystemActor is the engine acting on its own (crash recovery, shutdown).
var SystemActor = Actor{Kind: "system", Name: "system"}

// ScheduleActor is the scheduler firing a schedule.
var ScheduleActor = Actor{Kind: "schedule", Name: "scheduler"}

func (a Actor) isUser() bool { return a.Kind == "user" }

func (a Actor) userIDPtr() *int64 {
	if a.isUser() {
		return &a.UserID
	}
	return nil
}

// Options configure a Service.
type Options struct {
	Logger *slog.Logger
	// Sealer encrypts provider credentials. Required for commands that store or use credentials.
	Sealer *Sealer
	// Metrics, when set, count runs started and finished.
	Metrics *Metrics
}

// Service is the API of the engine used by the dashboard, CLI and SSH server. Reads are DB-only.
type Service struct {
	db      *store.DB
	river   *river.Client[pgx.Tx]
	sealer  *Sealer
	logger  *slog.Logger
	metrics *Metrics
}

// NewService returns a Service. It inserts jobs through an insert-only River client, so it works
// whether or not this process also runs workers.
func NewService(db *store.DB, opts Options) (*Service, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		FetchCooldown:     time.Millisecond, // also paces insert notifications (stack.md §3)
		FetchPollInterval: 100 * time.Millisecond,
		Logger:            logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("error creating job client: %w", err)
	}
	return &Service{db: db, river: client, sealer: opts.Sealer, logger: logger, metrics: opts.Metrics}, nil
}

// DB exposes the pool to wiring code that needs it (the hub, the engine).
func (s *Service) DB() *store.DB { return s.db }

// ActorByName resolves a local user (--as / TENANTATLAS_USER); empty means the bootstrap admin.
func (s *Service) ActorByName(ctx context.Context, name string) (Actor, error) {
	if err := checkText("user name", name); err != nil {
		return Actor{}, err
	}
	var u store.User
	var err error
	if name == "" {
		u, err = store.GetBootstrapUser(ctx, s.db.Pool)
	} else {
		u, err = store.GetUserByName(ctx, s.db.Pool, name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fmt.Errorf("%w: user %q does not exist (create it with `tenantatlas users add %s`)", ErrNotFound, name, name)
	}
	if err != nil {
		return Actor{}, err
	}
	return userActor(u), nil
}

// ActorByKeyFingerprint resolves the user owning an SSH key. Call it only with the fingerprint of
// the key that actually authenticated the session.
func (s *Service) ActorByKeyFingerprint(ctx context.Context, fingerprint string) (Actor, error) {
	k, err := store.GetSSHKeyByFingerprint(ctx, s.db.Pool, fingerprint)
	if err != nil {
		return Actor{}, err
	}
	u, err := store.GetUser(ctx, s.db.Pool, k.UserID)
	if err != nil {
		return Actor{}, err
	}
	return userActor(u), nil
}

func userActor(u store.User) Actor {
	return Actor{Kind: "user", UserID: u.ID, Name: u.Name, Admin: u.IsBootstrap}
}

// authorize checks that actor holds capability in workspaceID. A non-member gets ErrNotFound (the
// caller names what was not found), a member without the capability ErrForbidden.
func authorize(ctx context.Context, q store.Querier, actor Actor, workspaceID int64, capability access.Capability) (access.Role, error) {
	if !actor.isUser() {
		return access.RoleOwner, nil // the engine and scheduler act for the workspace itself
	}
	roleName, err := store.GetRole(ctx, q, workspaceID, actor.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return roleAllows(actor, roleName, capability)
}

// roleAllows checks a member's role (roleName "" means not a member) against a capability.
func roleAllows(actor Actor, roleName string, capability access.Capability) (access.Role, error) {
	if roleName == "" {
		return "", ErrNotFound
	}
	role := access.Role(roleName)
	if !role.Can(capability) {
		return role, fmt.Errorf("%w: %s needs %s, which the %s role does not have", ErrForbidden, actor.Name, capability, role)
	}
	return role, nil
}

// memberRoles returns the actor's role in every workspace it belongs to.
func (s *Service) memberRoles(ctx context.Context, actor Actor) (map[int64]access.Role, error) {
	if !actor.isUser() {
		ws, err := store.ListAllWorkspaces(ctx, s.db.Pool)
		if err != nil {
			return nil, err
		}
		out := map[int64]access.Role{}
		for _, w := range ws {
			out[w.ID] = access.RoleOwner
		}
		return out, nil
	}
	ms, err := store.ListWorkspacesOfUser(ctx, s.db.Pool, actor.UserID)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]access.Role, len(ms))
	for _, m := range ms {
		out[m.WorkspaceID] = access.Role(m.Role)
	}
	return out, nil
}

func (s *Service) audit(ctx context.Context, q store.Querier, actor Actor, workspaceID *int64, action, targetKind, targetID string, details map[string]any) error {
	return store.InsertAudit(ctx, q, store.AuditEvent{WorkspaceID: workspaceID, ActorKind: actor.Kind, ActorUserID: actor.userIDPtr(),
		ActorName: actor.Name, Action: action, TargetKind: targetKind, TargetID: targetID, Details: details})
}

func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotFound}, args...)...)
}
