package engine

import (
	"context"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// FamilyConditionalAccessPolicies names the Conditional Access policy family for the dashboard
// (which does not import engine/graph).
const FamilyConditionalAccessPolicies = string(graph.FamilyConditionalAccessPolicies)

// CAStateCounts counts a tenant's Conditional Access policies by state, from its inventory
// (docs:v1 conditionalaccesspolicy state): On = enabled, ReportOnly =
// enabledForReportingButNotEnforced, Off = disabled. Inventoried is false when no inventory sync
// has listed the family (never synced, or the app is not consented for it).
type CAStateCounts struct {
	On          int  `json:"on"`
	ReportOnly  int  `json:"report_only"`
	Off         int  `json:"off"`
	Inventoried bool `json:"inventoried"`
}

// ConditionalAccessStates counts the tenant's CA policies by state (inventory.sync, like the
// inventory it reads).
func (s *Service) ConditionalAccessStates(ctx context.Context, actor Actor, tenantID int64) (CAStateCounts, error) {
	var out CAStateCounts
	if err := s.authorizeTenant(ctx, actor, tenantID, access.InventorySync); err != nil {
		return out, err
	}
	items, err := store.ListInventory(ctx, s.db.Pool, store.InventoryFilter{TenantID: tenantID,
		Family: string(graph.FamilyConditionalAccessPolicies), WithPayload: true, Limit: 100_000})
	if err != nil {
		return out, err
	}
	out.Inventoried = len(items) > 0
	for _, it := range items {
		v, err := intune.DecodeJSON(it.Payload)
		if err != nil {
			continue
		}
		m, _ := v.(map[string]any)
		switch m["state"] {
		case intune.CAStateEnabled:
			out.On++
		case intune.CAStateReportOnly:
			out.ReportOnly++
		case intune.CAStateDisabled:
			out.Off++
		}
	}
	return out, nil
}
