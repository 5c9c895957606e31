// Package inventory is inventory.sync: the current Intune configuration of a tenant, family by
// family, merged into inventory_items.
package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// inventoryBatchSize is how many listed objects are merged per transaction.
const inventoryBatchSize = 500

// Sync lists every Intune family (docs/graph.md#intune-families) and the reference families, and merges what it finds
// into inventory_items, classified by @odata.type. A family that fails keeps what is stored (no
// deletions are inferred from an incomplete listing); the other families still sync. A missing
// permission ends the run blocked, naming it.
func Sync(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	client, err := rc.GraphClient()
	if err != nil {
		return run.Result{}, err
	}
	defer client.Close()
	// An idempotent run that resumes starts over: counts restart with it.
	rc.Update(ctx, func(p *store.Progress) { *p = store.Progress{} })
	// The reference families too: the restore preview maps mobile apps and notification templates
	// by name from the target's inventory (docs/graph.md#mapping-and-order).
	families, err := run.SkipUngrantedOptional(ctx, rc, client, append(graph.IntuneFamilies(), graph.ReferenceFamilies()...))
	if err != nil {
		return run.Result{}, err
	}

	perFamily := map[string]any{}
	var failures []run.FamilyFailure
	for _, f := range families {
		n, deleted, err := syncFamily(ctx, rc, client, f)
		if ctx.Err() != nil {
			return run.Result{}, ctx.Err()
		}
		entry := map[string]any{"items": n, "deleted": deleted}
		if err != nil {
			entry["error"] = string(graph.ReasonOf(err))
			failures = append(failures, run.FamilyFailure{Family: f, Err: err})
			code := graph.ReasonOf(err)
			rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelError, Message: fmt.Sprintf("%s not synced: %v", f, err),
				ReasonCode: new(string(code)), ItemRef: new(string(f))})
		}
		perFamily[string(f)] = entry
	}
	data := map[string]any{"families": perFamily}
	if len(failures) == 0 {
		return run.Result{Data: data}, nil
	}
	return run.Result{Data: data}, run.FamiliesError(failures, len(families))
}

// syncFamily streams one family into the inventory. It returns how many objects were listed and
// how many were marked deleted (only after a complete listing).
func syncFamily(ctx context.Context, rc *run.RunContext, client *graph.Client, f graph.Family) (int64, int64, error) {
	fi, _ := graph.FamilyOf(f)
	tenantID, runID := rc.Tenant.ID, rc.Run.ID
	var batch []store.InventoryRow
	var listed int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var mc store.MergeCounts
		err := rc.DB.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			mc, err = store.MergeInventory(ctx, tx, tenantID, runID, batch)
			return err
		})
		if err != nil {
			return err
		}
		n := int64(len(batch))
		rc.Update(ctx, func(p *store.Progress) {
			p.Processed += n
			p.Succeeded += n
			p.Created += mc.Created
			p.Updated += mc.Updated
			p.Unchanged += mc.Unchanged
		})
		batch = batch[:0]
		return nil
	}
	add := func(raw json.RawMessage) error {
		row, unknown, err := inventoryRow(f, fi, raw)
		if errors.Is(err, errFiledElsewhere) {
			return nil // e.g. targeted app configurations listed by managedAppPolicies: inventoried in their own family
		}
		listed++
		if err != nil {
			rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, Message: "skipped an object that is not a JSON object: " + err.Error(),
				ItemRef: new(string(f))})
			return nil
		}
		if unknown {
			rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn,
				Message: fmt.Sprintf("unrecognised @odata.type %q: kept as %s with its raw payload", row.ODataType, intune.PolicyTypeUnknown),
				ItemRef: new(string(f) + "/" + row.GraphID)})
		}
		batch = append(batch, row)
		if len(batch) >= inventoryBatchSize {
			return flush()
		}
		return nil
	}
	var listErr error
	for raw, err := range client.List(ctx, string(f)+".list", nil, nil) {
		if err != nil {
			listErr = err
			break
		}
		objects, err := referenceObjects(ctx, client, fi, raw)
		if err != nil {
			listErr = err
			break
		}
		for _, obj := range objects {
			if err := add(obj); err != nil {
				return listed, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return listed, 0, err
	}
	if listErr != nil {
		return listed, 0, listErr
	}
	deleted, err := store.MarkInventoryDeleted(ctx, rc.DB.Pool, tenantID, string(f), runID)
	if err != nil {
		return listed, 0, err
	}
	if deleted > 0 {
		rc.Update(ctx, func(p *store.Progress) { p.Deleted += deleted })
		rc.Logf(ctx, store.LevelInfo, "%s: %d object(s) no longer in Graph, marked deleted", f, deleted)
	}
	return listed, deleted, nil
}

// referenceObjects returns the objects one listed item stands for: the item itself, or for a
// reference family listed through parents (graph.FamilyInfo.NestedIn: custom ADMX definitions in
// their categories) the objects it holds; each with its ObjectReads (a definition's
// presentations) read to the last page into it, as the restore preview maps by them.
func referenceObjects(ctx context.Context, client *graph.Client, fi graph.FamilyInfo, raw json.RawMessage) ([]json.RawMessage, error) {
	if fi.NestedIn == "" && len(fi.ObjectReads) == 0 {
		return []json.RawMessage{raw}, nil
	}
	objects := []json.RawMessage{raw}
	if fi.NestedIn != "" {
		var parent map[string]json.RawMessage
		if err := json.Unmarshal(raw, &parent); err != nil {
			return []json.RawMessage{raw}, nil // inventoryRow reports it
		}
		objects = nil
		_ = json.Unmarshal(parent[fi.NestedIn], &objects)
	}
	if len(fi.ObjectReads) == 0 {
		return objects, nil
	}
	for i, o := range objects {
		var obj map[string]any
		if json.Unmarshal(o, &obj) != nil {
			continue
		}
		id, _ := obj["id"].(string)
		if id == "" {
			continue
		}
		for key, contract := range fi.ObjectReads {
			items := []json.RawMessage{}
			for item, err := range client.List(ctx, contract, []string{id}, nil) {
				if err != nil {
					return nil, err
				}
				items = append(items, item)
			}
			obj[key] = items
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		objects[i] = b
	}
	return objects, nil
}

// errFiledElsewhere marks a listed object that belongs to another family.
var errFiledElsewhere = errors.New("filed in another family")

// inventoryRow classifies and normalizes one listed object.
func inventoryRow(f graph.Family, fi graph.FamilyInfo, raw json.RawMessage) (store.InventoryRow, bool, error) {
	v, err := intune.DecodeJSON(raw)
	if err != nil {
		return store.InventoryRow{}, false, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return store.InventoryRow{}, false, errors.New("not an object")
	}
	d := intune.DescriptorOf(f)
	if d != nil && d.Skip(obj) {
		return store.InventoryRow{}, false, errFiledElsewhere
	}
	cl := intune.Classify(f, obj)
	if fi.Reference {
		cl = intune.Classification{PolicyType: string(f)} // read only to map references: not classified
	}
	row := store.InventoryRow{Family: string(f), PolicyType: cl.PolicyType, IsDefault: cl.IsDefault}
	row.GraphID, _ = obj["id"].(string)
	row.ODataType, _ = obj["@odata.type"].(string)
	if d != nil {
		row.ODataType = d.ODataType(obj) // the declared type when minimal metadata leaves it out
	}
	row.DisplayName = intune.DisplayName(fi, obj)
	if s, _ := obj["lastModifiedDateTime"].(string); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.Year() > 1 {
			row.LastModified = &t
		}
	}
	row.Payload, row.PayloadHash, err = intune.HashCanonical(intune.NormalizeFor(f, obj))
	if err != nil {
		return row, false, err
	}
	return row, cl.PolicyType == intune.PolicyTypeUnknown, nil
}
