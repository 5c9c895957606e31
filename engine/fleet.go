package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// Fleet actions (docs/design.md#fleet): tenants carry tags, and a start can target one tenant, every
// tenant with a tag, or every tenant of a workspace. A fleet start is one Start per tenant, each
// with its own authorization, identity rule and audit event: one tenant's refusal does not stop
// the others, and each refusal is reported on its own.

// tagPattern is a tag: lower case letters, digits, '.', '_' and '-', up to 40 characters (the
// database checks the same in tenant_tags_valid, migration 00018).
var tagPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,39}$`)

// MaxTags is how many tags a tenant can carry.
const MaxTags = 32

// CheckTag says what is wrong with a tag, if anything.
func CheckTag(tag string) error {
	if !tagPattern.MatchString(tag) {
		return fmt.Errorf("%w: tag %q: use lower case letters, digits, '.', '_' or '-', starting with a letter or digit, up to 40 characters", ErrInvalid, tag)
	}
	return nil
}

// TagTenant adds and removes tags of a tenant (tenant.manage), audited with the tags before and
// after. Adding a tag it has, or removing one it has not, changes nothing.
func (s *Service) TagTenant(ctx context.Context, actor Actor, ref string, add, remove []string) (TenantView, error) {
	for _, tag := range slices.Concat(add, remove) {
		if err := CheckTag(tag); err != nil {
			return TenantView{}, err
		}
	}
	var out TenantView
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		t, err := s.resolveTenant(ctx, tx, actor, 0, ref)
		if err != nil {
			return err
		}
		if _, err := authorize(ctx, tx, actor, t.WorkspaceID, access.TenantManage); err != nil {
			return err
		}
		tags := slices.DeleteFunc(slices.Concat(t.Tags, add), func(tag string) bool { return slices.Contains(remove, tag) })
		slices.Sort(tags)
		tags = slices.Compact(tags)
		if len(tags) > MaxTags {
			return fmt.Errorf("%w: tenant %s would carry %d tags; at most %d", ErrInvalid, t.Name, len(tags), MaxTags)
		}
		if slices.Equal(tags, t.Tags) {
			out, err = s.tenantView(ctx, t, map[int64]string{})
			return err
		}
		before := t.Tags
		if t, err = store.SetTenantTags(ctx, tx, t.ID, tags); err != nil {
			return err
		}
		if out, err = s.tenantView(ctx, t, map[int64]string{}); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, &t.WorkspaceID, "tenant.tag", "tenant", t.Name, map[string]any{"before": before, "after": tags})
	})
	return out, err
}

// FleetTarget says which tenants a fleet start is for: one tenant (Tenant), the tenants carrying
// Tag, All the tenants of Workspace (the actor's only or default workspace when empty), or the
// tenants of TenantIDs (the dashboard's marked tenants, in any of the actor's workspaces).
type FleetTarget struct {
	Tenant    string
	Tag       string
	All       bool
	Workspace string
	TenantIDs []int64
}

// FleetTenants resolves a target to tenants the actor may view, by name. A tag that matches no
// tenant is an error naming the workspace, never an empty success.
func (s *Service) FleetTenants(ctx context.Context, actor Actor, target FleetTarget) ([]store.Tenant, error) {
	set := 0
	for _, b := range []bool{target.Tenant != "", target.Tag != "", target.All, len(target.TenantIDs) > 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("%w: name one target: a tenant, --tag TAG or --all", ErrInvalid)
	}
	if len(target.TenantIDs) > 0 {
		tenants, _, err := s.tenantsByID(ctx, actor, target.TenantIDs)
		return tenants, err
	}
	if target.Tenant != "" {
		t, err := s.resolveTenant(ctx, s.db.Pool, actor, 0, target.Tenant)
		if err != nil {
			return nil, err
		}
		return []store.Tenant{t}, nil
	}
	w, err := s.ResolveWorkspace(ctx, actor, target.Workspace)
	if err != nil {
		return nil, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.TenantView); err != nil {
		return nil, err
	}
	var tenants []store.Tenant
	if target.All {
		tenants, err = store.ListTenants(ctx, s.db.Pool, []int64{w.ID})
	} else {
		if err := CheckTag(target.Tag); err != nil {
			return nil, err
		}
		tenants, err = store.ListTenantsTagged(ctx, s.db.Pool, []int64{w.ID}, target.Tag)
	}
	if err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		if target.All {
			return nil, notFoundf("tenants: workspace %s has none (add one with `tenantatlas tenants add`)", w.Name)
		}
		return nil, notFoundf("tenants: tag %q matches no tenant in workspace %s (see `tenantatlas tenants list`)", target.Tag, w.Name)
	}
	return tenants, nil
}

// FleetStart is what a fleet start did for one tenant: the run it started or found, or why it
// was refused.
type FleetStart struct {
	Tenant string       `json:"tenant"`
	Result *StartResult `json:"result,omitempty"`
	Err    error        `json:"-"`
	Error  string       `json:"error,omitempty"`
}

// StartFleet starts req for every tenant of target, one Start each (req's tenant fields are
// replaced). It returns one entry per tenant in name order; err is only for a target that cannot
// be resolved.
//
// With TenantIDs, an id that is no tenant the actor may view (removed since it was marked) is
// refused on its own entry, after the others, and each id is started at most once.
func (s *Service) StartFleet(ctx context.Context, actor Actor, target FleetTarget, req StartRequest) ([]FleetStart, error) {
	var tenants []store.Tenant
	var gone []int64
	var err error
	if len(target.TenantIDs) > 0 && target.Tenant == "" && target.Tag == "" && !target.All {
		tenants, gone, err = s.tenantsByID(ctx, actor, target.TenantIDs)
	} else {
		tenants, err = s.FleetTenants(ctx, actor, target)
	}
	if err != nil {
		return nil, err
	}
	out := make([]FleetStart, 0, len(tenants)+len(gone))
	for _, t := range tenants {
		r := req
		r.TenantRef, r.TenantID, r.WorkspaceID = "", t.ID, 0
		res, err := s.Start(ctx, actor, r)
		fs := FleetStart{Tenant: t.Name}
		if err != nil {
			fs.Err, fs.Error = err, err.Error()
			if errors.Is(err, context.Canceled) {
				return append(out, fs), err
			}
		} else {
			fs.Result = &res
		}
		out = append(out, fs)
	}
	for _, id := range gone {
		err := notFoundf("tenant %d (removed, or not in your workspaces)", id)
		out = append(out, FleetStart{Tenant: fmt.Sprintf("tenant %d", id), Err: err, Error: err.Error()})
	}
	return out, nil
}

// tenantsByID resolves ids to the tenants the actor may view, by name, once each; gone are the ids
// that are not (any more) such a tenant.
func (s *Service) tenantsByID(ctx context.Context, actor Actor, ids []int64) (tenants []store.Tenant, gone []int64, err error) {
	workspaces, err := s.viewableWorkspaces(ctx, actor)
	if err != nil {
		return nil, nil, err
	}
	tenants, err = store.TenantsByID(ctx, s.db.Pool, workspaces, ids)
	if err != nil {
		return nil, nil, err
	}
	found := make(map[int64]bool, len(tenants))
	for _, t := range tenants {
		found[t.ID] = true
	}
	for _, id := range ids {
		if !found[id] {
			found[id] = true // reported once
			gone = append(gone, id)
		}
	}
	return tenants, gone, nil
}

// FailingWindow is how far back the tenants screen's FAILING column looks: the operation types
// whose latest run finished in the last 24 hours (whole hours, the current one included) failed.
const FailingWindow = 24 * time.Hour

// FleetHealth reads the health columns of every tenant the actor may view, in one query: the
// newest complete backup, the types failing within FailingWindow before now (whole hours, as home
// counts them), the newest drift check's result.
func (s *Service) FleetHealth(ctx context.Context, actor Actor, now time.Time) (map[int64]store.FleetHealth, error) {
	workspaces, err := s.viewableWorkspaces(ctx, actor)
	if err != nil {
		return nil, err
	}
	return store.FleetHealths(ctx, s.db.Pool, workspaces, now.UTC().Truncate(time.Hour).Add(-FailingWindow+time.Hour))
}
