package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantatlas/tenantatlas/store"
)

// ActorKind says who is acting: a user, the scheduler, or the engine itself. It is stored as a run's
// initiator_kind and an audit event's actor_kind.
type ActorKind string

// Actor kinds.
const (
	ActorUser     ActorKind = "user"
	ActorSchedule ActorKind = "schedule"
	ActorSystem   ActorKind = "system"
)

// Actor is who is acting: a user (from --as locally, or the SSH key that authenticated), the
// scheduler, or the engine itself.
type Actor struct {
	Kind   ActorKind
	UserID int64
	Name   string
	// Admin is the bootstrap administrator, who may create workspaces and users.
	Admin bool
}

// SystemActor is the engine acting on its own (crash recovery, shutdown).
var SystemActor = Actor{Kind: ActorSystem, Name: "system"}

// ScheduleActor is the scheduler firing a schedule.
var ScheduleActor = Actor{Kind: ActorSchedule, Name: "scheduler"}

func (a Actor) isUser() bool { return a.Kind == ActorUser }

func (a Actor) userIDPtr() *int64 {
	if a.isUser() {
		return &a.UserID
	}
	return nil
}

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
	return Actor{Kind: ActorUser, UserID: u.ID, Name: u.Name, Admin: u.IsBootstrap}
}
