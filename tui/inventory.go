package tui

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

var inventoryKeys = struct{ Deleted key.Binding }{
	Deleted: binding("x", "show deleted"),
}

// inventoryList lists a tenant's Intune objects with their classification; beside them it loads the
// count per policy type.
type inventoryList = listScreen[store.InventoryItem, []store.InventoryTypeCount]

func newInventory(env *Env, tenantID int64, name string) *inventoryList {
	return newList(env, listSpec[store.InventoryItem, []store.InventoryTypeCount]{
		title: "Inventory of " + name,
		relevant: func(n store.Notification) bool {
			return n.Table == store.TableRuns && n.TenantID == tenantID && n.Type == engine.TypeInventorySync && n.Status == string(store.StatusCompleted)
		},
		fetch: func(ctx context.Context, env *Env, q listQuery[store.InventoryItem]) ([]store.InventoryItem, []store.InventoryTypeCount, error) {
			rows, err := env.Svc.ListInventory(ctx, env.Actor, tenantID, engine.InventoryQuery{IncludeDeleted: q.deleted, Limit: 5000})
			if err != nil {
				return nil, nil, err
			}
			counts, err := env.Svc.InventorySummary(ctx, env.Actor, tenantID)
			return rows, counts, err
		},
		columns: func(int) []column {
			return []column{{title: "NAME", width: 16, flex: true, weight: 2}, {title: "TYPE", flex: true, weight: 2}, {title: "FAMILY", flex: true},
				{title: "MODIFIED", width: 10}, {title: "STATE", width: 8}}
		},
		row: func(env *Env, _ time.Time, it store.InventoryItem) []string {
			state := "live"
			switch {
			case it.DeletedAt != nil:
				state = "deleted"
			case it.IsDefault:
				state = "default"
			}
			mod := "-"
			if it.LastModified != nil {
				mod = it.LastModified.UTC().Format("2006-01-02")
			}
			pt := it.PolicyType
			if pt == intune.PolicyTypeUnknown {
				pt = env.Tone("warn", pt)
			}
			return []string{dashIfEmpty(it.DisplayName), pt, it.Family, mod, state}
		},
		match: func(it store.InventoryItem) string {
			return it.DisplayName + " " + it.Family + " " + it.PolicyType + " " + it.ODataType
		},
		head: func(l *inventoryList) string {
			var live, unknown int64
			types := 0
			for _, c := range l.side {
				live += c.Count
				if c.PolicyType == intune.PolicyTypeUnknown {
					unknown += c.Count
				}
				if c.Count > 0 {
					types++
				}
			}
			head := l.env.Theme.Header.Render(fmt.Sprintf("%d object(s) in %d policy types", live, types))
			if unknown > 0 {
				head += "  " + l.env.Tone("warn", fmt.Sprintf("%d of unknown type", unknown))
			}
			return withFilter(l, head)
		},
		empty: func(*inventoryList) string {
			return "  Nothing synced yet: press i on the tenant or run `tenantatlas sync inventory " + name + "`."
		},
		describe: func(_ *Env, it store.InventoryItem) [][2]string {
			out := [][2]string{{"name", dashIfEmpty(it.DisplayName)}, {"id", it.GraphID}, {"type", it.PolicyType},
				{"family", it.Family}, {"odata type", it.ODataType}}
			if it.LastModified != nil {
				out = append(out, [2]string{"modified", it.LastModified.UTC().Format("2006-01-02 15:04")})
			}
			if it.IsDefault {
				out = append(out, [2]string{"default", "yes (a tenant default: restored in place)"})
			}
			if it.DeletedAt != nil {
				out = append(out, [2]string{"deleted", it.DeletedAt.UTC().Format("2006-01-02 15:04")})
			}
			return out
		},
		actions: []listAction[store.InventoryItem, []store.InventoryTypeCount]{
			filterAction[store.InventoryItem, []store.InventoryTypeCount]("filter"),
			deletedAction[store.InventoryItem, []store.InventoryTypeCount](inventoryKeys.Deleted, "hide deleted"),
		},
	})
}
