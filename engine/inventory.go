package engine

import (
	"context"

	"github.com/tenantatlas/tenantatlas/engine/access"
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
	if items == nil {
		items = []store.InventoryItem{}
	}
	return items, err
}

// InventorySummary counts a tenant's inventory per family and policy type (inventory.sync).
func (s *Service) InventorySummary(ctx context.Context, actor Actor, tenantID int64) ([]store.InventoryTypeCount, error) {
	if err := s.authorizeTenant(ctx, actor, tenantID, access.InventorySync); err != nil {
		return nil, err
	}
	return store.CountInventory(ctx, s.db.Pool, tenantID)
}
