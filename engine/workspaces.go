package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// Workspaces lists the actor's workspaces with its role in each.
func (s *Service) Workspaces(ctx context.Context, actor Actor) ([]store.Membership, error) {
	if !actor.isUser() {
		return nil, nil
	}
	return store.ListWorkspacesOfUser(ctx, s.db.Pool, actor.UserID)
}

// ResolveWorkspace finds a workspace by name among the actor's; empty name means the actor's only
// workspace (or "default" when it has several and is a member of it).
func (s *Service) ResolveWorkspace(ctx context.Context, actor Actor, name string) (store.Workspace, error) {
	ms, err := s.Workspaces(ctx, actor)
	if err != nil {
		return store.Workspace{}, err
	}
	for _, m := range ms {
		if m.WorkspaceName == name || (name == "" && (len(ms) == 1 || m.WorkspaceName == "default")) {
			return store.GetWorkspace(ctx, s.db.Pool, m.WorkspaceID)
		}
	}
	if name == "" {
		if len(ms) == 0 {
			return store.Workspace{}, notFoundf("workspace: %s is not a member of any workspace (ask an owner to run `tenantatlas members add`)", actor.Name)
		}
		return store.Workspace{}, fmt.Errorf("%w: %s belongs to several workspaces: choose one with --workspace", ErrInvalid, actor.Name)
	}
	return store.Workspace{}, notFoundf("workspace %q", name)
}

// Role returns the actor's role in a workspace, or ErrNotFound.
func (s *Service) Role(ctx context.Context, actor Actor, workspaceID int64) (access.Role, error) {
	if !actor.isUser() {
		return access.RoleOwner, nil
	}
	r, err := store.GetRole(ctx, s.db.Pool, workspaceID, actor.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return "", notFoundf("workspace %d", workspaceID)
	}
	if err != nil {
		return "", fmt.Errorf("error reading the role in workspace %d: %w", workspaceID, err)
	}
	return access.Role(r), nil
}

// Can reports whether the actor holds capability in workspaceID: what views use to offer actions.
// The commands themselves check again.
func (s *Service) Can(ctx context.Context, actor Actor, workspaceID int64, c access.Capability) bool {
	r, err := s.Role(ctx, actor, workspaceID)
	return err == nil && r.Can(c)
}

// CreateWorkspace creates a workspace owned by the actor (administrator only).
func (s *Service) CreateWorkspace(ctx context.Context, actor Actor, name string) (store.Workspace, error) {
	if err := requireAdmin(actor, "create workspaces"); err != nil {
		return store.Workspace{}, err
	}
	if err := validName("workspace", name); err != nil {
		return store.Workspace{}, err
	}
	var w store.Workspace
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if w, err = store.InsertWorkspace(ctx, tx, name); err != nil {
			return err
		}
		if actor.isUser() {
			if err := store.UpsertMembership(ctx, tx, w.ID, actor.UserID, string(access.RoleOwner)); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, actor, &w.ID, "workspace.create", "workspace", name, nil)
	})
	return w, err
}
