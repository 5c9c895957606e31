package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/store"
)

// Restore (issue #7): a backup set, or some of its items, restored into a tenant of the same
// workspace, previewed first (a dry run: no Graph call at all, the target's current objects come
// from its inventory and the mapping from its caches) and executed as a restore.execute run. Both
// need restore.execute in the backup's workspace.

// RestoreRequest names what to restore where.
type RestoreRequest struct {
	BackupSetID int64
	// TenantRef or TenantID name the target tenant (default: the backup's own tenant).
	TenantRef string
	TenantID  int64
	// Items selects items by Graph id, "family/graph id" or backup item id (empty: all of them).
	Items []string
	// Mode is store.RestoreCreateCopy (default) or store.RestoreOverwrite.
	Mode string
	// Now dates the copies' name suffix (zero: the current time; the dashboard passes its clock).
	Now time.Time
}

// RestorePreviewItem is what restoring one item would do.
type RestorePreviewItem struct {
	BackupItemID  int64          `json:"backup_item_id"`
	Family        string         `json:"family"`
	PolicyType    string         `json:"policy_type"`
	SourceGraphID string         `json:"source_graph_id"`
	DisplayName   string         `json:"display_name"`
	IsDefault     bool           `json:"is_default"`
	Sensitive     bool           `json:"sensitive"`
	Action        string         `json:"action"` // create, update or skip
	TargetName    string         `json:"target_name"`
	TargetGraphID string         `json:"target_graph_id,omitempty"`
	Changes       []FieldChange  `json:"changes"`
	Truncated     bool           `json:"truncated,omitempty"`
	Assignments   int            `json:"assignments"`
	Mapping       []MappingEntry `json:"mapping"`
	Unresolved    int            `json:"unresolved"`
	Notes         []string       `json:"notes,omitempty"`
	// Error says why the item cannot be restored (its action is then skip).
	Error string `json:"error,omitempty"`
}

// RestorePreview is the dry run of a restore.
type RestorePreview struct {
	BackupSetID    int64                `json:"backup_set_id"`
	SourceTenantID int64                `json:"source_tenant_id"`
	SourceTenant   string               `json:"source_tenant"`
	TargetTenantID int64                `json:"target_tenant_id"`
	TargetTenant   string               `json:"target_tenant"`
	Mode           string               `json:"mode"`
	NameSuffix     string               `json:"name_suffix"`
	Creates        int                  `json:"creates"`
	Updates        int                  `json:"updates"`
	Skips          int                  `json:"skips"`
	Unresolved     int                  `json:"unresolved"`
	Permissions    []string             `json:"permissions"`
	Warnings       []string             `json:"warnings"`
	Items          []RestorePreviewItem `json:"items"`
}

// RestoreStarted is the restore StartRestore created and the run executing it.
type RestoreStarted struct {
	Restore store.Restore  `json:"restore"`
	Run     store.Run      `json:"run"`
	Preview RestorePreview `json:"preview"`
}

// RestoreView is a restore with its items' ledger.
type RestoreView struct {
	store.Restore
	Items []store.RestoreItem `json:"items"`
}

// restoreSetup is a validated, authorized request with its items planned.
type restoreSetup struct {
	set     store.BackupSet
	target  store.Tenant
	rows    []store.RestoreItem
	preview RestorePreview
}

// PreviewRestore is the dry run: per item, create or update, the field-level diff against the
// target's current object (from its inventory) and the assignment mapping, unresolved references
// listed. It makes no Graph call.
func (s *Service) PreviewRestore(ctx context.Context, actor Actor, req RestoreRequest) (RestorePreview, error) {
	setup, err := s.prepareRestore(ctx, actor, req)
	if err != nil {
		return RestorePreview{}, err
	}
	return setup.preview, nil
}

// StartRestore records the restore and its items and starts the restore.execute run that applies
// them, in one transaction (through the same startTx as Start: authorization, run, River job,
// audit).
func (s *Service) StartRestore(ctx context.Context, actor Actor, req RestoreRequest) (RestoreStarted, error) {
	setup, err := s.prepareRestore(ctx, actor, req)
	if err != nil {
		return RestoreStarted{}, err
	}
	if len(setup.rows) == 0 {
		return RestoreStarted{}, fmt.Errorf("%w: backup set %d has no items to restore", ErrInvalid, setup.set.ID)
	}
	op, err := LookupOperation(TypeRestoreExecute)
	if err != nil {
		return RestoreStarted{}, err
	}
	var out RestoreStarted
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		setID, sourceID := setup.set.ID, setup.set.TenantID
		r, err := store.InsertRestore(ctx, tx, store.Restore{WorkspaceID: setup.set.WorkspaceID, BackupSetID: &setID,
			SourceTenantID: &sourceID, TargetTenantID: setup.target.ID, Mode: setup.preview.Mode, NameSuffix: setup.preview.NameSuffix,
			CreatedBy: actor.userIDPtr()})
		if err != nil {
			return err
		}
		if err := store.InsertRestoreItems(ctx, tx, r.ID, setup.rows); err != nil {
			return err
		}
		res, err := s.startTx(ctx, tx, actor, op, StartRequest{Type: TypeRestoreExecute, TenantID: setup.target.ID,
			Params: map[string]any{"restore_id": r.ID, "backup_set_id": setID, "mode": setup.preview.Mode, "items": len(setup.rows)}})
		if err != nil {
			return err
		}
		if _, err := store.ClaimRestore(ctx, tx, r.ID, res.Run.ID); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, &r.WorkspaceID, "restore.start", "restore", fmt.Sprint(r.ID), map[string]any{
			"backup_set_id": setID, "source_tenant": setup.set.TenantName, "target_tenant": setup.target.Name,
			"mode": setup.preview.Mode, "items": len(setup.rows), "run_id": res.Run.ID}); err != nil {
			return err
		}
		if out.Restore, err = store.GetRestore(ctx, tx, r.ID); err != nil {
			return err
		}
		out.Run = res.Run
		return nil
	})
	if err != nil {
		return RestoreStarted{}, err
	}
	if s.metrics != nil {
		s.metrics.runStarted(op.Type)
	}
	out.Preview = setup.preview
	return out, nil
}

// GetRestore returns a restore and its ledger (restore.execute: starting and viewing are one).
func (s *Service) GetRestore(ctx context.Context, actor Actor, id int64) (RestoreView, error) {
	r, err := store.GetRestore(ctx, s.db.Pool, id)
	if errors.Is(err, store.ErrNotFound) {
		return RestoreView{}, notFoundf("restore %d", id)
	}
	if err != nil {
		return RestoreView{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, r.WorkspaceID, CapRestoreExecute); err != nil {
		if errors.Is(err, ErrNotFound) {
			return RestoreView{}, notFoundf("restore %d", id)
		}
		return RestoreView{}, err
	}
	items, err := store.ListRestoreItems(ctx, s.db.Pool, id)
	if items == nil {
		items = []store.RestoreItem{}
	}
	return RestoreView{Restore: r, Items: items}, err
}

// ListRestores returns the restores of workspaces where the actor may restore, newest first.
func (s *Service) ListRestores(ctx context.Context, actor Actor, backupSetID int64, limit int) ([]store.Restore, error) {
	ids, err := s.workspacesWith(ctx, actor, CapRestoreExecute)
	if err != nil || len(ids) == 0 {
		return []store.Restore{}, err
	}
	out, err := store.ListRestores(ctx, s.db.Pool, store.RestoreFilter{WorkspaceIDs: ids, BackupSetID: backupSetID, Limit: limit})
	if out == nil {
		out = []store.Restore{}
	}
	return out, err
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
	if _, err := authorize(ctx, s.db.Pool, actor, set.WorkspaceID, CapRestoreExecute); err != nil {
		if errors.Is(err, ErrNotFound) {
			return store.BackupSet{}, notFoundf("backup set %d", id)
		}
		return store.BackupSet{}, err
	}
	return set, nil
}

// RestoreNameSuffix is what create_copy appends to the names of copies made on day.
func RestoreNameSuffix(day time.Time) string {
	return " (restored " + day.UTC().Format("2006-01-02") + ")"
}

func (s *Service) prepareRestore(ctx context.Context, actor Actor, req RestoreRequest) (restoreSetup, error) {
	var setup restoreSetup
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	mode := req.Mode
	if mode == "" {
		mode = store.RestoreCreateCopy
	}
	if mode != store.RestoreCreateCopy && mode != store.RestoreOverwrite {
		return setup, fmt.Errorf("%w: unknown restore mode %q (expected create_copy or overwrite)", ErrInvalid, mode)
	}
	set, err := s.restoreSet(ctx, actor, req.BackupSetID)
	if err != nil {
		return setup, err
	}
	if set.Status == store.BackupRunning {
		return setup, fmt.Errorf("%w: backup set %d is still being written: wait for its run to finish", ErrInvalid, set.ID)
	}
	target, err := store.GetTenant(ctx, s.db.Pool, set.TenantID)
	if err != nil {
		return setup, err
	}
	if req.TenantID != 0 || req.TenantRef != "" {
		if target, err = s.resolveTenant(ctx, s.db.Pool, actor, req.TenantID, req.TenantRef); err != nil {
			return setup, err
		}
	}
	if target.WorkspaceID != set.WorkspaceID {
		return setup, fmt.Errorf("%w: tenant %s is in another workspace than backup set %d: restore into a tenant of the same workspace", ErrInvalid, target.Name, set.ID)
	}
	if mode == store.RestoreOverwrite && target.ID != set.TenantID {
		return setup, fmt.Errorf("%w: overwrite writes the same Graph ids, which exist only in the backup's own tenant %s: use --mode create_copy to restore into %s",
			ErrInvalid, set.TenantName, target.Name)
	}
	items, err := store.ListBackupItems(ctx, s.db.Pool, set.ID)
	if err != nil {
		return setup, err
	}
	if items, err = selectItems(items, req.Items, set.ID); err != nil {
		return setup, err
	}
	hashes := make([]string, 0, len(items))
	for _, it := range items {
		hashes = append(hashes, it.PayloadHash)
	}
	raw, err := store.BackupPayloads(ctx, s.db.Pool, hashes)
	if err != nil {
		return setup, err
	}
	payloads := make([]BackupPayload, len(items))
	decodeErr := make([]error, len(items))
	for i, it := range items {
		if r, ok := raw[it.PayloadHash]; ok {
			payloads[i], decodeErr[i] = decodePayload(r)
		} else {
			decodeErr[i] = fmt.Errorf("its payload is gone (pruned by retention)")
		}
	}
	resolver, err := newRestoreResolver(ctx, s.db.Pool, set.TenantID, target.ID, payloads)
	if err != nil {
		return setup, err
	}
	current := map[string]map[string]store.InventoryItem{} // family → graph id → current object
	var families []graph.Family
	for _, it := range items {
		if _, ok := current[it.Family]; ok {
			continue
		}
		families = append(families, graph.Family(it.Family))
		inv, err := store.ListInventory(ctx, s.db.Pool, store.InventoryFilter{TenantID: target.ID, Family: it.Family, WithPayload: true, Limit: 1_000_000})
		if err != nil {
			return setup, err
		}
		byID := map[string]store.InventoryItem{}
		for _, x := range inv {
			byID[x.GraphID] = x
		}
		current[it.Family] = byID
	}
	suffix := ""
	if mode == store.RestoreCreateCopy {
		suffix = RestoreNameSuffix(now)
	}
	pv := RestorePreview{BackupSetID: set.ID, SourceTenantID: set.TenantID, SourceTenant: set.TenantName, TargetTenantID: target.ID,
		TargetTenant: target.Name, Mode: mode, NameSuffix: suffix, Warnings: append([]string{}, resolver.warnings...),
		Permissions: graph.RequiredWritePermissions(families...), Items: []RestorePreviewItem{}}
	if len(families) == 0 {
		pv.Permissions = []string{}
	}
	if set.Status == store.BackupFailed {
		pv.Warnings = append(pv.Warnings, fmt.Sprintf("backup set %d is incomplete (its run failed): only the items it holds can be restored", set.ID))
	}
	pv.Warnings = append(pv.Warnings, s.connectionWarnings(ctx, target, pv.Permissions)...)
	for i, it := range items {
		row := store.RestoreItem{BackupItemID: &items[i].ID, Family: it.Family, PolicyType: it.PolicyType, IsDefault: it.IsDefault,
			SourceGraphID: it.GraphID, DisplayName: it.DisplayName, ODataType: it.ODataType, PayloadHash: it.PayloadHash, Sensitive: it.Sensitive}
		pi := RestorePreviewItem{BackupItemID: it.ID, Family: it.Family, PolicyType: it.PolicyType, SourceGraphID: it.GraphID,
			DisplayName: it.DisplayName, IsDefault: it.IsDefault, Sensitive: it.Sensitive, Changes: []FieldChange{}, Mapping: []MappingEntry{}}
		var p *itemPlan
		err := decodeErr[i]
		if err == nil {
			p, err = planItem(row, payloads[i], mode, suffix, target.TenantGUID, resolver)
		}
		if err != nil {
			pi.Action, pi.Error = store.RestoreActionSkip, err.Error()
			row.Action, row.Detail = store.RestoreActionSkip, &pi.Error
			pv.Skips++
			pv.Items = append(pv.Items, pi)
			setup.rows = append(setup.rows, row)
			continue
		}
		pi.Action, pi.TargetName, pi.TargetGraphID = p.action, p.targetName, p.targetID
		pi.Mapping, pi.Unresolved, pi.Notes, pi.Assignments = p.mapping, p.unresolved, p.notes, len(p.assignments)
		if pi.Mapping == nil {
			pi.Mapping = []MappingEntry{}
		}
		var currentObj map[string]any
		if p.action == store.RestoreActionUpdate {
			cur, ok := current[it.Family][p.targetID]
			switch {
			case ok && cur.DeletedAt == nil:
				if v, err := decodeJSON(cur.Payload); err == nil {
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
		pi.Changes, pi.Truncated = objectDiff(currentObj, p.desired, p.contracts.put, it.Sensitive)
		if pi.Unresolved > 0 && p.contracts.assign != "" && !p.isDefault {
			pi.Notes = append(pi.Notes, fmt.Sprintf("%d unresolved reference(s): assignments are not applied", pi.Unresolved))
		}
		switch pi.Action {
		case store.RestoreActionCreate:
			pv.Creates++
		case store.RestoreActionUpdate:
			pv.Updates++
		}
		pv.Unresolved += pi.Unresolved
		row.Action, row.TargetName = p.action, p.targetName
		if p.targetID != "" {
			row.TargetGraphID = ptrTo(p.targetID)
		}
		pv.Items = append(pv.Items, pi)
		setup.rows = append(setup.rows, row)
	}
	setup.set, setup.target, setup.preview = set, target, pv
	return setup, nil
}

// connectionWarnings says, from the target connection's last verification, what would block the run.
func (s *Service) connectionWarnings(ctx context.Context, target store.Tenant, need []string) []string {
	conn, err := store.GetDefaultConnection(ctx, s.db.Pool, target.ID)
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

// selectItems picks items by Graph id, "family/graph id" or backup item id, in the set's order.
func selectItems(items []store.BackupItem, refs []string, setID int64) ([]store.BackupItem, error) {
	if len(refs) == 0 {
		return items, nil
	}
	var out []store.BackupItem
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		found := false
		for _, it := range items {
			if ref == it.GraphID || ref == it.Family+"/"+it.GraphID || ref == fmt.Sprint(it.ID) {
				if !slices.ContainsFunc(out, func(x store.BackupItem) bool { return x.ID == it.ID }) {
					out = append(out, it)
				}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: item %q is not in backup set %d (see `tenantatlas backups show %d`)", ErrInvalid, ref, setID, setID)
		}
	}
	slices.SortStableFunc(out, func(a, b store.BackupItem) int {
		return slices.IndexFunc(items, func(x store.BackupItem) bool { return x.ID == a.ID }) -
			slices.IndexFunc(items, func(x store.BackupItem) bool { return x.ID == b.ID })
	})
	return out, nil
}

// restoreIDParam reads the restore_id run parameter (a JSON number once stored).
func restoreIDParam(params map[string]any) (int64, bool) {
	switch v := params["restore_id"].(type) {
	case float64:
		return int64(v), v > 0
	case int64:
		return v, v > 0
	case int:
		return int64(v), v > 0
	case json.Number:
		n, err := v.Int64()
		return n, err == nil && n > 0
	case string:
		var n int64
		_, err := fmt.Sscan(v, &n)
		return n, err == nil && n > 0
	}
	return 0, false
}
