package engine

import (
	"context"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

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
