package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// AddMember gives a user a role in a workspace (member.manage).
func (s *Service) AddMember(ctx context.Context, actor Actor, workspaceName, userName, roleName string) (store.Membership, error) {
	role, err := access.ParseRole(roleName)
	if err != nil {
		return store.Membership{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	w, err := s.workspaceForManage(ctx, actor, workspaceName)
	if err != nil {
		return store.Membership{}, err
	}
	u, err := store.GetUserByName(ctx, s.db.Pool, userName)
	if err != nil {
		return store.Membership{}, err
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpsertMembership(ctx, tx, w.ID, u.ID, string(role)); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &w.ID, "member.add", "user", u.Name, map[string]any{"role": role})
	})
	return store.Membership{WorkspaceID: w.ID, WorkspaceName: w.Name, UserID: u.ID, UserName: u.Name, Role: string(role)}, err
}

// RemoveMember removes a user from a workspace (member.manage). The last owner cannot be removed.
func (s *Service) RemoveMember(ctx context.Context, actor Actor, workspaceName, userName string) error {
	w, err := s.workspaceForManage(ctx, actor, workspaceName)
	if err != nil {
		return err
	}
	u, err := store.GetUserByName(ctx, s.db.Pool, userName)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		members, err := store.ListMemberships(ctx, tx, w.ID)
		if err != nil {
			return err
		}
		owners, target := 0, ""
		for _, m := range members {
			if m.Role == string(access.RoleOwner) {
				owners++
			}
			if m.UserID == u.ID {
				target = m.Role
			}
		}
		if target == string(access.RoleOwner) && owners == 1 {
			return fmt.Errorf("%w: %s is the last owner of %s; add another owner first", ErrInvalid, u.Name, w.Name)
		}
		if err := store.DeleteMembership(ctx, tx, w.ID, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &w.ID, "member.remove", "user", u.Name, nil)
	})
}

// ListMembers lists a workspace's members (tenant.view).
func (s *Service) ListMembers(ctx context.Context, actor Actor, workspaceName string) ([]store.Membership, error) {
	w, err := store.GetWorkspaceByName(ctx, s.db.Pool, workspaceName)
	if err != nil {
		return nil, notFoundf("workspace %q", workspaceName)
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.TenantView); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, notFoundf("workspace %q", workspaceName)
		}
		return nil, err
	}
	return store.ListMemberships(ctx, s.db.Pool, w.ID)
}
