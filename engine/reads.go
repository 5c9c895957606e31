package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// GetRun returns a run the actor may view. A run of another workspace is ErrNotFound; one whose type
// the actor's role may not view is ErrForbidden.
func (s *Service) GetRun(ctx context.Context, actor Actor, runID int64) (store.Run, error) {
	run, err := store.GetRun(ctx, s.db.Pool, runID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, notFoundf("run %d", runID)
	}
	if err != nil {
		return store.Run{}, err
	}
	if err := s.authorizeRunView(ctx, actor, run); err != nil {
		return store.Run{}, err
	}
	return run, nil
}

func (s *Service) authorizeRunView(ctx context.Context, actor Actor, run store.Run) error {
	op, err := LookupOperation(run.Type)
	if err != nil {
		return err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, run.WorkspaceID, op.ViewCapability); err != nil {
		if errors.Is(err, ErrNotFound) {
			return notFoundf("run %d", run.ID)
		}
		return fmt.Errorf("run %d: %w", run.ID, err)
	}
	return nil
}

// RunQuery filters ListRuns and CountRuns. Zero fields do not filter.
type RunQuery struct {
	WorkspaceID int64
	TenantID    int64
	Types       []string
	Statuses    []string
	Outcomes    []string
	ReasonCode  string
	Search      string
	BeforeID    int64
	Limit       int
}

// runFilter turns q into a store filter limited to what the actor may view: its workspaces, and in
// each only the run types its role may view.
func (s *Service) runFilter(ctx context.Context, actor Actor, q RunQuery) (store.RunFilter, bool, error) {
	if err := checkText("search", q.Search, "reason code", q.ReasonCode, "type", strings.Join(q.Types, ","),
		"status", strings.Join(q.Statuses, ","), "outcome", strings.Join(q.Outcomes, ",")); err != nil {
		return store.RunFilter{}, false, err
	}
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return store.RunFilter{}, false, err
	}
	f := store.RunFilter{TenantID: q.TenantID, Types: q.Types, Statuses: q.Statuses, Outcomes: q.Outcomes,
		ReasonCode: q.ReasonCode, Search: q.Search, BeforeID: q.BeforeID, Limit: q.Limit}
	ids := make([]int64, 0, len(roles))
	for w := range roles {
		ids = append(ids, w)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, w := range ids {
		if q.WorkspaceID != 0 && q.WorkspaceID != w {
			continue
		}
		types := typesViewableWith(roles[w])
		if len(types) == 0 {
			continue
		}
		f.Scopes = append(f.Scopes, store.RunScope{WorkspaceID: w, Types: types})
	}
	return f, len(f.Scopes) > 0, nil
}

// ListRuns returns one page of the runs the actor may view, newest first.
func (s *Service) ListRuns(ctx context.Context, actor Actor, q RunQuery) ([]store.Run, error) {
	f, any, err := s.runFilter(ctx, actor, q)
	if err != nil || !any {
		return nil, err
	}
	return store.ListRuns(ctx, s.db.Pool, f)
}

// CountRuns counts the runs the actor may view by status and outcome ("queued", "running",
// "succeeded", "failed", …), ignoring q's status and outcome filters: the operations screen's tabs.
func (s *Service) CountRuns(ctx context.Context, actor Actor, q RunQuery) (map[string]int64, error) {
	f, any, err := s.runFilter(ctx, actor, q)
	if err != nil || !any {
		return map[string]int64{}, err
	}
	return store.CountRuns(ctx, s.db.Pool, f)
}

// RunEvents returns a run's timeline and log after afterID, oldest first.
func (s *Service) RunEvents(ctx context.Context, actor Actor, f store.EventFilter) ([]store.RunEvent, error) {
	if err := checkText("search", f.Search); err != nil {
		return nil, err
	}
	if _, err := s.GetRun(ctx, actor, f.RunID); err != nil {
		return nil, err
	}
	return store.ListRunEvents(ctx, s.db.Pool, f)
}

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
	if err != nil {
		return "", notFoundf("workspace %d", workspaceID)
	}
	return access.Role(r), nil
}

// Can reports whether the actor holds capability in workspaceID: what views use to offer actions.
// The commands themselves check again.
func (s *Service) Can(ctx context.Context, actor Actor, workspaceID int64, c access.Capability) bool {
	r, err := s.Role(ctx, actor, workspaceID)
	return err == nil && r.Can(c)
}

// ListAudit returns audit events of workspaces where the actor may manage members or tenants.
func (s *Service) ListAudit(ctx context.Context, actor Actor, f store.AuditFilter) ([]store.AuditEvent, error) {
	if err := checkText("action", f.Action, "target kind", f.TargetKind, "target", f.TargetID); err != nil {
		return nil, err
	}
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	f.WorkspaceIDs = nil
	for w, r := range roles {
		if r.Can(access.TenantManage) {
			f.WorkspaceIDs = append(f.WorkspaceIDs, w)
		}
	}
	if len(f.WorkspaceIDs) == 0 {
		return nil, nil
	}
	return store.ListAudit(ctx, s.db.Pool, f)
}
