package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

func requireAdmin(actor Actor, what string) error {
	if actor.isUser() && !actor.Admin {
		return fmt.Errorf("%w: only the administrator may %s", ErrForbidden, what)
	}
	return nil
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

// CreateUser creates a user (administrator only).
func (s *Service) CreateUser(ctx context.Context, actor Actor, name string) (store.User, error) {
	if err := requireAdmin(actor, "create users"); err != nil {
		return store.User{}, err
	}
	if err := validName("user", name); err != nil {
		return store.User{}, err
	}
	var u store.User
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = store.InsertUser(ctx, tx, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, nil, "user.create", "user", name, nil)
	})
	return u, err
}

// ListUsers lists users (administrator only).
func (s *Service) ListUsers(ctx context.Context, actor Actor) ([]store.User, error) {
	if err := requireAdmin(actor, "list users"); err != nil {
		return nil, err
	}
	return store.ListUsers(ctx, s.db.Pool)
}

// AddKey registers an OpenSSH public key (an authorized_keys line) for a user (administrator, or
// the user for itself).
func (s *Service) AddKey(ctx context.Context, actor Actor, userName, authorizedKey string) (store.SSHKey, error) {
	u, err := store.GetUserByName(ctx, s.db.Pool, userName)
	if err != nil {
		return store.SSHKey{}, err
	}
	if actor.UserID != u.ID {
		if err := requireAdmin(actor, "add keys for other users"); err != nil {
			return store.SSHKey{}, err
		}
	}
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(authorizedKey)))
	if err != nil {
		return store.SSHKey{}, fmt.Errorf("%w: not an OpenSSH public key (expected a line like \"ssh-ed25519 AAAA… comment\", e.g. the contents of ~/.ssh/id_ed25519.pub): %v", ErrInvalid, err)
	}
	k := store.SSHKey{UserID: u.ID, UserName: u.Name, Fingerprint: ssh.FingerprintSHA256(pub),
		PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), Comment: comment}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if k, err = store.InsertSSHKey(ctx, tx, k); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, nil, "key.add", "user", u.Name, map[string]any{"fingerprint": k.Fingerprint})
	})
	return k, err
}

// RemoveKey removes a user's key by fingerprint.
func (s *Service) RemoveKey(ctx context.Context, actor Actor, userName, fingerprint string) error {
	u, err := store.GetUserByName(ctx, s.db.Pool, userName)
	if err != nil {
		return err
	}
	if actor.UserID != u.ID {
		if err := requireAdmin(actor, "remove keys of other users"); err != nil {
			return err
		}
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.DeleteSSHKey(ctx, tx, u.ID, fingerprint); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, nil, "key.remove", "user", u.Name, map[string]any{"fingerprint": fingerprint})
	})
}

// ListKeys lists a user's keys.
func (s *Service) ListKeys(ctx context.Context, actor Actor, userName string) ([]store.SSHKey, error) {
	u, err := store.GetUserByName(ctx, s.db.Pool, userName)
	if err != nil {
		return nil, err
	}
	if actor.UserID != u.ID {
		if err := requireAdmin(actor, "list keys of other users"); err != nil {
			return nil, err
		}
	}
	return store.ListSSHKeys(ctx, s.db.Pool, u.ID)
}

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

func (s *Service) workspaceForManage(ctx context.Context, actor Actor, name string) (store.Workspace, error) {
	w, err := store.GetWorkspaceByName(ctx, s.db.Pool, name)
	if err != nil {
		return w, notFoundf("workspace %q", name)
	}
	if actor.Admin {
		return w, nil
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.MemberManage); err != nil {
		if errors.Is(err, ErrNotFound) {
			return w, notFoundf("workspace %q", name)
		}
		return w, err
	}
	return w, nil
}

func validName(what, name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%w: a %s name must be 1 to 63 characters", ErrInvalid, what)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && strings.ContainsRune("._-@", r))
		if !ok {
			return fmt.Errorf("%w: %s name %q may hold only letters, digits and . _ - (starting with a letter or digit)", ErrInvalid, what, name)
		}
	}
	return nil
}
