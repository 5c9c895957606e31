package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// Restore (issue #7): a backup set, or some of its items, restored into a tenant of the same
// workspace, previewed first (a dry run: no Graph call at all, the target's current objects come
// from its inventory and the mapping from its caches) and executed as a restore.execute run. Both
// need restore.execute in the backup's workspace.

// PreviewItem is what restoring one item would do.
type PreviewItem struct {
	BackupItemID  int64                `json:"backup_item_id"`
	Family        string               `json:"family"`
	PolicyType    string               `json:"policy_type"`
	SourceGraphID string               `json:"source_graph_id"`
	DisplayName   string               `json:"display_name"`
	IsDefault     bool                 `json:"is_default"`
	Sensitive     bool                 `json:"sensitive"`
	Action        string               `json:"action"` // create, update or skip
	TargetName    string               `json:"target_name"`
	TargetGraphID string               `json:"target_graph_id,omitempty"`
	Changes       []intune.FieldChange `json:"changes"`
	Truncated     bool                 `json:"truncated,omitempty"`
	Assignments   int                  `json:"assignments"`
	Mapping       []MappingEntry       `json:"mapping"`
	Unresolved    int                  `json:"unresolved"`
	Notes         []string             `json:"notes,omitempty"`
	// Error says why the item cannot be restored (its action is then skip).
	Error string `json:"error,omitempty"`
}

// Preview is the dry run of a restore.
type Preview struct {
	BackupSetID    int64         `json:"backup_set_id"`
	SourceTenantID int64         `json:"source_tenant_id"`
	SourceTenant   string        `json:"source_tenant"`
	TargetTenantID int64         `json:"target_tenant_id"`
	TargetTenant   string        `json:"target_tenant"`
	Mode           string        `json:"mode"`
	CAState        string        `json:"ca_state"`
	NameSuffix     string        `json:"name_suffix"`
	Creates        int           `json:"creates"`
	Updates        int           `json:"updates"`
	Skips          int           `json:"skips"`
	Unresolved     int           `json:"unresolved"`
	Permissions    []string      `json:"permissions"`
	Warnings       []string      `json:"warnings"`
	Items          []PreviewItem `json:"items"`
}

// Request is a restore the service has validated and authorized: the set, the target tenant (in
// the set's workspace), the selected items in the set's order and the mode.
type Request struct {
	Set    store.BackupSet
	Target store.Tenant
	Items  []store.BackupItem
	// Mode is store.RestoreCreateCopy or store.RestoreOverwrite.
	Mode string
	// Now dates the copies' name suffix.
	Now time.Time
	// CAState is CAStateReportOnly (default) or CAStateOriginal: the state Conditional Access
	// policies are restored in (plan_ca.go).
	CAState string
}

// NameSuffix is what create_copy appends to the names of copies made on day.
func NameSuffix(day time.Time) string {
	return " (restored " + day.UTC().Format("2006-01-02") + ")"
}

// Plan is the dry run: per item, create or update, the field-level diff against the target's
// current object (from its inventory) and the assignment mapping, unresolved references listed.
// It makes no Graph call. It returns the preview and the ledger rows a restore of it records.
func Plan(ctx context.Context, q store.Querier, req Request) (Preview, []store.RestoreItem, error) {
	set, target, items := req.Set, req.Target, req.Items
	payloads, decodeErr, err := loadPayloads(ctx, q, items)
	if err != nil {
		return Preview{}, nil, err
	}
	resolver, err := newRestoreResolver(ctx, q, set.TenantID, target.ID, payloads)
	if err != nil {
		return Preview{}, nil, err
	}
	current, families, err := currentObjects(ctx, q, target.ID, items)
	if err != nil {
		return Preview{}, nil, err
	}
	suffix := ""
	if req.Mode == store.RestoreCreateCopy {
		suffix = NameSuffix(req.Now)
	}
	resolver.planDependencies(items, suffix)
	pv := Preview{BackupSetID: set.ID, SourceTenantID: set.TenantID, SourceTenant: set.TenantName, TargetTenantID: target.ID,
		TargetTenant: target.Name, Mode: req.Mode, CAState: req.CAState, NameSuffix: suffix, Warnings: append([]string{}, resolver.warnings...),
		Permissions: graph.RequiredWritePermissions(families...), Items: []PreviewItem{}}
	if len(families) == 0 {
		pv.Permissions = []string{}
	}
	if set.Status == store.BackupFailed {
		pv.Warnings = append(pv.Warnings, fmt.Sprintf("backup set %d is incomplete (its run failed): only the items it holds can be restored", set.ID))
	}
	pv.Warnings = append(pv.Warnings, connectionWarnings(ctx, q, target, pv.Permissions)...)
	var pending []store.RestoreItem
	for _, it := range items {
		pending = append(pending, store.RestoreItem{Family: it.Family, SourceGraphID: it.GraphID, DisplayName: it.DisplayName})
	}
	resolver.setCA(req.CAState, pending)
	rows := make([]store.RestoreItem, 0, len(items))
	for i, it := range items {
		row := store.RestoreItem{BackupItemID: &items[i].ID, Family: it.Family, PolicyType: it.PolicyType, IsDefault: it.IsDefault,
			SourceGraphID: it.GraphID, DisplayName: it.DisplayName, ODataType: it.ODataType, PayloadHash: it.PayloadHash, Sensitive: it.Sensitive}
		pi := PreviewItem{BackupItemID: it.ID, Family: it.Family, PolicyType: it.PolicyType, SourceGraphID: it.GraphID,
			DisplayName: it.DisplayName, IsDefault: it.IsDefault, Sensitive: it.Sensitive, Changes: []intune.FieldChange{}, Mapping: []MappingEntry{}}
		err := decodeErr[i]
		var p *itemPlan
		if err == nil {
			p, err = planItem(row, payloads[i], req.Mode, suffix, target.TenantGUID, resolver)
		}
		if err != nil {
			pi.Action, pi.Error = store.RestoreActionSkip, err.Error()
			row.Action, row.Detail = store.RestoreActionSkip, &pi.Error
			pv.Skips++
		} else {
			previewItem(&pi, p, current[it.Family])
			switch pi.Action {
			case store.RestoreActionCreate:
				pv.Creates++
			case store.RestoreActionUpdate:
				pv.Updates++
			}
			pv.Unresolved += pi.Unresolved
			if p.ca != nil && p.ca.lockout != "" {
				pv.Warnings = append(pv.Warnings, p.ca.lockout)
			}
			row.Action, row.TargetName = p.action, p.targetName
			if p.targetID != "" {
				row.TargetGraphID = new(p.targetID)
			}
		}
		pv.Items = append(pv.Items, pi)
		rows = append(rows, row)
	}
	return pv, rows, nil
}

// loadPayloads decodes the items' payloads; an item whose payload is gone or unreadable gets an
// error in the second list (it is then skipped).
func loadPayloads(ctx context.Context, q store.Querier, items []store.BackupItem) ([]intune.Payload, []error, error) {
	hashes := make([]string, 0, len(items))
	for _, it := range items {
		hashes = append(hashes, it.PayloadHash)
	}
	raw, err := store.BackupPayloads(ctx, q, hashes)
	if err != nil {
		return nil, nil, err
	}
	payloads := make([]intune.Payload, len(items))
	decodeErr := make([]error, len(items))
	for i, it := range items {
		if r, ok := raw[it.PayloadHash]; ok {
			payloads[i], decodeErr[i] = intune.DecodePayload(r)
		} else {
			decodeErr[i] = fmt.Errorf("its payload is gone (pruned by retention)")
		}
	}
	return payloads, decodeErr, nil
}

// currentObjects reads the target's inventory of the items' families (family → graph id → current
// object) and lists those families in the items' order.
func currentObjects(ctx context.Context, q store.Querier, targetID int64, items []store.BackupItem) (map[string]map[string]store.InventoryItem, []graph.Family, error) {
	current := map[string]map[string]store.InventoryItem{}
	var families []graph.Family
	for _, it := range items {
		if _, ok := current[it.Family]; ok {
			continue
		}
		families = append(families, graph.Family(it.Family))
		inv, err := store.ListInventory(ctx, q, store.InventoryFilter{TenantID: targetID, Family: it.Family, WithPayload: true, Limit: 1_000_000})
		if err != nil {
			return nil, nil, err
		}
		byID := map[string]store.InventoryItem{}
		for _, x := range inv {
			byID[x.GraphID] = x
		}
		current[it.Family] = byID
	}
	return current, families, nil
}

// previewItem fills what restoring the planned item would do, diffed against the target's current
// object of its family (from the inventory).
func previewItem(pi *PreviewItem, p *itemPlan, current map[string]store.InventoryItem) {
	pi.Action, pi.TargetName, pi.TargetGraphID = p.action, p.targetName, p.targetID
	pi.Mapping, pi.Unresolved, pi.Notes, pi.Assignments = p.mapping, p.unresolved, p.notes, len(p.assignments)
	if pi.Mapping == nil {
		pi.Mapping = []MappingEntry{}
	}
	var currentObj map[string]any
	if p.action == store.RestoreActionUpdate {
		cur, ok := current[p.targetID]
		switch {
		case ok && cur.DeletedAt == nil:
			if v, err := intune.DecodeJSON(cur.Payload); err == nil {
				currentObj, _ = v.(map[string]any)
			}
		case p.isDefault:
			pi.Notes = append(pi.Notes, "the target's default is not in its inventory: the run reads it first")
		default:
			// Gone from the target (as far as its inventory knows): the run recreates it under its
			// own name if the pre-flight GET does not find it either.
			pi.Action, pi.TargetGraphID = store.RestoreActionCreate, ""
			pi.Notes = append(pi.Notes, "not in the target's inventory: recreated if the pre-flight read does not find it")
		}
	}
	pi.Changes, pi.Truncated = objectDiff(currentObj, p.desired, p.contracts.put, pi.Sensitive)
	if pi.Unresolved > 0 && p.contracts.assign != "" && !p.isDefault {
		pi.Notes = append(pi.Notes, fmt.Sprintf("%d unresolved reference(s): assignments are not applied", pi.Unresolved))
	}
	unnamed := map[reason.Code]int{}
	for _, m := range p.mapping {
		if m.Unnamed != "" && m.Status != MappingResolved {
			unnamed[m.Unnamed]++
		}
	}
	for _, code := range slices.Sorted(maps.Keys(unnamed)) {
		pi.Notes = append(pi.Notes, fmt.Sprintf("%d group(s) unresolved because %s", unnamed[code], unnamedGroupNote(code)))
	}
}

// connectionWarnings says, from the target connection's last verification, what would block the run.
func connectionWarnings(ctx context.Context, q store.Querier, target store.Tenant, need []string) []string {
	conn, err := store.GetDefaultConnection(ctx, q, target.ID)
	if errors.Is(err, store.ErrNotFound) {
		return []string{fmt.Sprintf("tenant %s has no provider connection: the run will end blocked", target.Name)}
	}
	if err != nil || conn.LastVerifiedAt == nil || len(conn.GrantedPermissions) == 0 {
		return nil
	}
	if missing := graph.MissingPermissions(conn.GrantedPermissions, need); len(missing) > 0 {
		return []string{fmt.Sprintf("the last verification of %s found no %s: the run will end blocked before any write unless it was granted since",
			target.Name, strings.Join(missing, ", "))}
	}
	return nil
}

// planDependencies names, for a preview, the objects the restore writes before the items that
// refer to them (scope tags, filters, compliance scripts; restoreOrder), so the preview maps those
// references as the run will: to what the restore writes ("restore"), not to a same-named object.
func (r *restoreResolver) planDependencies(items []store.BackupItem, suffix string) {
	for _, it := range items {
		f := graph.Family(it.Family)
		_, referenced := referencedKind(f)
		if f != graph.FamilyRoleScopeTags && f != graph.FamilyAssignmentFilters && !referenced {
			continue
		}
		if f == graph.FamilyRoleScopeTags && it.GraphID == "0" {
			continue // the built-in Default tag is never restored
		}
		if r.planned == nil {
			r.planned = map[string]string{}
		}
		if d := intune.DescriptorOf(f); d != nil && d.MatchExisting {
			if r.appPlanned(d, it) {
				r.planned[it.Family+"/"+it.GraphID] = it.DisplayName // matched or created under its own name, never copied
			}
			continue
		}
		r.planned[it.Family+"/"+it.GraphID] = it.DisplayName + suffix
	}
}
