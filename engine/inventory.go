package engine

import (
	"context"
	"slices"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/store"
)

// InventoryQuery filters ListInventory.
type InventoryQuery struct {
	Family         string
	PolicyType     string
	Search         string
	IncludeDeleted bool
	BeforeID       int64
	Limit          int
}

// ListInventory returns one page of a tenant's inventory (inventory.sync).
func (s *Service) ListInventory(ctx context.Context, actor Actor, tenantID int64, q InventoryQuery) ([]store.InventoryItem, error) {
	if err := checkText("search", q.Search, "family", q.Family, "policy type", q.PolicyType); err != nil {
		return nil, err
	}
	if err := s.authorizeTenant(ctx, actor, tenantID, access.InventorySync); err != nil {
		return nil, err
	}
	items, err := store.ListInventory(ctx, s.db.Pool, store.InventoryFilter{TenantID: tenantID, Family: q.Family, PolicyType: q.PolicyType,
		Search: q.Search, IncludeDeleted: q.IncludeDeleted, BeforeID: q.BeforeID, Limit: q.Limit})
	if q.Family == "" {
		// The reference families (mobile apps, notification templates) are synced only to map
		// references on restore: listed when asked for by family, not among the policies.
		items = slices.DeleteFunc(items, func(it store.InventoryItem) bool { return isReferenceFamily(it.Family) })
	}
	if items == nil {
		items = []store.InventoryItem{}
	}
	return items, err
}

func isReferenceFamily(f string) bool {
	fi, ok := graph.FamilyOf(graph.Family(f))
	return ok && fi.Reference
}

// InventorySummary counts a tenant's inventory per family and policy type (inventory.sync).
func (s *Service) InventorySummary(ctx context.Context, actor Actor, tenantID int64) ([]store.InventoryTypeCount, error) {
	if err := s.authorizeTenant(ctx, actor, tenantID, access.InventorySync); err != nil {
		return nil, err
	}
	counts, err := store.CountInventory(ctx, s.db.Pool, tenantID)
	// Like ListInventory: the reference families are synced for restore mapping, not policies.
	return slices.DeleteFunc(counts, func(c store.InventoryTypeCount) bool { return isReferenceFamily(c.Family) }), err
}
