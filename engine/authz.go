package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// Authorization (docs/architecture.md#authorization): every helper that decides whether an actor may see or do
// something lives in this file, reading the one capability table in engine/access. A non-member
// of a workspace gets ErrNotFound, as if the object did not exist; a member without the capability
// gets ErrForbidden.

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

// notFoundf is ErrNotFound naming what was not found.
func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotFound}, args...)...)
}

// authorizeTenant checks c on the tenant's workspace; other workspaces' tenants are not found.
func (s *Service) authorizeTenant(ctx context.Context, actor Actor, tenantID int64, c access.Capability) error {
	t, err := store.GetTenant(ctx, s.db.Pool, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return notFoundf("tenant %d", tenantID)
	}
	if err != nil {
		return err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, t.WorkspaceID, c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return notFoundf("tenant %d", tenantID)
		}
		return fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	return nil
}

// authorizeRunViewAs checks that actor, whose role in the run's workspace is roleName ("" when no
// member), may view run runID of runType: a non-member gets not found, a member without the
// operation's view capability forbidden. The role is read alongside the run (GetRun, RunEvents).
func (s *Service) authorizeRunViewAs(actor Actor, runID int64, runType, roleName string) error {
	op, err := LookupOperation(runType)
	if err != nil {
		return err
	}
	if !actor.isUser() {
		return nil
	}
	if _, err := roleAllows(actor, roleName, op.ViewCapability); err != nil {
		if errors.Is(err, ErrNotFound) {
			return notFoundf("run %d", runID)
		}
		return fmt.Errorf("run %d: %w", runID, err)
	}
	return nil
}

// tenantForView resolves a tenant the actor may view (tenant.view) by id or reference.
func (s *Service) tenantForView(ctx context.Context, actor Actor, id int64, ref string) (store.Tenant, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, id, ref)
	if err != nil {
		return t, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, t.WorkspaceID, access.TenantView); err != nil {
		return store.Tenant{}, err
	}
	return t, nil
}

func (s *Service) workspaceIDs(ctx context.Context, actor Actor) ([]int64, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(roles))
	for w := range roles {
		ids = append(ids, w)
	}
	return ids, nil
}

// workspacesWith returns the actor's workspaces where its role grants c.
func (s *Service) workspacesWith(ctx context.Context, actor Actor, c access.Capability) ([]int64, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for w, r := range roles {
		if r.Can(c) {
			ids = append(ids, w)
		}
	}
	return ids, nil
}

func requireAdmin(actor Actor, what string) error {
	if actor.isUser() && !actor.Admin {
		return fmt.Errorf("%w: only the administrator may %s", ErrForbidden, what)
	}
	return nil
}

// userForSelfOrAdmin looks up userName for an action a user may take on itself and only the
// administrator on others (SSH keys). Another user's name gets the same forbidden answer whether or
// not that user exists, so the answer does not tell which user names exist.
func (s *Service) userForSelfOrAdmin(ctx context.Context, actor Actor, userName, what string) (store.User, error) {
	if actor.isUser() && !actor.Admin && userName != actor.Name {
		return store.User{}, requireAdmin(actor, what)
	}
	u, err := store.GetUserByName(ctx, s.db.Pool, userName)
	if err != nil {
		return store.User{}, err
	}
	if actor.UserID != u.ID {
		if err := requireAdmin(actor, what); err != nil {
			return store.User{}, err
		}
	}
	return u, nil
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

// restoreSet loads a backup set for restore: another workspace's set is not found, a member
// without restore.execute is forbidden.
func (s *Service) restoreSet(ctx context.Context, actor Actor, id int64) (store.BackupSet, error) {
	set, err := store.GetBackupSet(ctx, s.db.Pool, id)
	if errors.Is(err, store.ErrNotFound) {
		return set, notFoundf("backup set %d", id)
	}
	if err != nil {
		return set, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, set.WorkspaceID, access.RestoreExecute); err != nil {
		if errors.Is(err, ErrNotFound) {
			return store.BackupSet{}, notFoundf("backup set %d", id)
		}
		return store.BackupSet{}, err
	}
	return set, nil
}

// authorize checks the actor's role in the run's workspace (read in the same round trip as the run id).
func (p startPlan) authorize(actor Actor, role string, op Operation) error {
	if !actor.isUser() {
		return nil
	}
	if _, err := roleAllows(actor, role, op.Capability); err != nil {
		if errors.Is(err, ErrNotFound) {
			return notFoundf("workspace %d", p.n.WorkspaceID)
		}
		return err
	}
	return nil
}

// typesViewableWith returns the operation types whose runs a role may view.
func typesViewableWith(role access.Role) []string {
	var out []string
	for _, op := range Operations() {
		if role.Can(op.ViewCapability) {
			out = append(out, op.Type)
		}
	}
	return out
}

// backupSet loads a backup set for viewing: another workspace's set is not found, a member
// without backup.run is forbidden.
func (s *Service) backupSet(ctx context.Context, actor Actor, id int64) (store.BackupSet, error) {
	set, err := store.GetBackupSet(ctx, s.db.Pool, id)
	if errors.Is(err, store.ErrNotFound) {
		return set, notFoundf("backup set %d", id)
	}
	if err != nil {
		return set, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, set.WorkspaceID, access.BackupRun); err != nil {
		if errors.Is(err, ErrNotFound) {
			return store.BackupSet{}, notFoundf("backup set %d", id)
		}
		return store.BackupSet{}, err
	}
	return set, nil
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
		if _, err := authorize(ctx, q, actor, t.WorkspaceID, access.TenantView); errors.Is(err, ErrNotFound) {
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
