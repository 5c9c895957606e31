package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/op/restore"
	"github.com/tenantatlas/tenantatlas/store"
)

// Restore: the service side (authorization, validation, the ledger and the run in one
// transaction). What a restore writes is planned and executed by engine/op/restore.

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
	// CAState is the state Conditional Access policies are restored in: CAStateReportOnly
	// (default: an enabled policy is restored report-only) or CAStateOriginal (the backed-up state).
	CAState string
}

// Conditional Access restore states (RestoreRequest.CAState; docs/graph.md#conditional-access).
const (
	CAStateReportOnly = restore.CAStateReportOnly
	CAStateOriginal   = restore.CAStateOriginal
)

// The Service API's names for what op/restore plans: the preview and its mapping report.
type (
	RestorePreview     = restore.Preview
	RestorePreviewItem = restore.PreviewItem
	MappingEntry       = restore.MappingEntry
)

// Mapping kinds and statuses of a MappingEntry.
const (
	MappingGroup      = restore.MappingGroup
	MappingFilter     = restore.MappingFilter
	MappingScopeTag   = restore.MappingScopeTag
	MappingResolved   = restore.MappingResolved
	MappingUnresolved = restore.MappingUnresolved
	MappingAmbiguous  = restore.MappingAmbiguous
)

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
			CAState: setup.preview.CAState, CreatedBy: actor.userIDPtr()})
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
			"mode": setup.preview.Mode, "ca_state": setup.preview.CAState, "items": len(setup.rows), "run_id": res.Run.ID}); err != nil {
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
	if _, err := authorize(ctx, s.db.Pool, actor, r.WorkspaceID, access.RestoreExecute); err != nil {
		if errors.Is(err, ErrNotFound) {
			return RestoreView{}, notFoundf("restore %d", id)
		}
		return RestoreView{}, err
	}
	items, err := store.ListRestoreItems(ctx, s.db.Pool, id)
	if items == nil {
		items = []store.RestoreItem{}
	}
	for i := range items {
		if items[i].Sensitive {
			items[i].PayloadHash = "" // see hideSensitiveHashes
		}
	}
	return RestoreView{Restore: r, Items: items}, err
}

// ListRestores returns the restores of workspaces where the actor may restore, newest first.
func (s *Service) ListRestores(ctx context.Context, actor Actor, backupSetID int64, limit int) ([]store.Restore, error) {
	ids, err := s.workspacesWith(ctx, actor, access.RestoreExecute)
	if err != nil || len(ids) == 0 {
		return []store.Restore{}, err
	}
	out, err := store.ListRestores(ctx, s.db.Pool, store.RestoreFilter{WorkspaceIDs: ids, BackupSetID: backupSetID, Limit: limit})
	if out == nil {
		out = []store.Restore{}
	}
	return out, err
}

func (s *Service) prepareRestore(ctx context.Context, actor Actor, req RestoreRequest) (restoreSetup, error) {
	ctx = s.payloadCtx(ctx)
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
	caState := req.CAState
	if caState == "" {
		caState = CAStateReportOnly
	}
	if caState != CAStateReportOnly && caState != CAStateOriginal {
		return setup, fmt.Errorf("%w: unknown Conditional Access state %q (expected report_only or original)", ErrInvalid, caState)
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
	pv, rows, err := restore.Plan(ctx, s.db.Pool, restore.Request{Set: set, Target: target, Items: items, Mode: mode, Now: now, CAState: caState})
	if err != nil {
		return setup, err
	}
	setup.set, setup.target, setup.rows, setup.preview = set, target, rows, pv
	return setup, nil
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
