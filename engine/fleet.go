package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"

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
// Tag, or All the tenants of Workspace (the actor's only or default workspace when empty).
type FleetTarget struct {
	Tenant    string
	Tag       string
	All       bool
	Workspace string
}

// FleetTenants resolves a target to tenants the actor may view, by name. A tag that matches no
// tenant is an error naming the workspace, never an empty success.
func (s *Service) FleetTenants(ctx context.Context, actor Actor, target FleetTarget) ([]store.Tenant, error) {
	set := 0
	for _, b := range []bool{target.Tenant != "", target.Tag != "", target.All} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("%w: name one target: a tenant, --tag TAG or --all", ErrInvalid)
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
func (s *Service) StartFleet(ctx context.Context, actor Actor, target FleetTarget, req StartRequest) ([]FleetStart, error) {
	tenants, err := s.FleetTenants(ctx, actor, target)
	if err != nil {
		return nil, err
	}
	out := make([]FleetStart, 0, len(tenants))
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
	return out, nil
}
