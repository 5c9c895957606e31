package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// inventoryBatchSize is how many listed objects are merged per transaction.
const inventoryBatchSize = 500

// familyFailure is a family that could not be read to the end.
type familyFailure struct {
	family graph.Family
	err    error
}

// runInventorySync lists every Intune family (reference/graph.md §A.4) and merges what it finds
// into inventory_items, classified by @odata.type. A family that fails keeps what is stored (no
// deletions are inferred from an incomplete listing); the other families still sync. A missing
// permission ends the run blocked, naming it.
func runInventorySync(ctx context.Context, rc *RunContext) (Result, error) {
	client, err := rc.GraphClient()
	if err != nil {
		return Result{}, err
	}
	defer client.Close()
	// An idempotent run that resumes starts over: counts restart with it.
	rc.Update(ctx, func(p *store.Progress) { *p = store.Progress{} })
	families := graph.IntuneFamilies()

	perFamily := map[string]any{}
	var failures []familyFailure
	for _, f := range families {
		n, deleted, err := syncFamily(ctx, rc, client, f)
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		entry := map[string]any{"items": n, "deleted": deleted}
		if err != nil {
			entry["error"] = string(graph.ReasonOf(err))
			failures = append(failures, familyFailure{f, err})
			code := graph.ReasonOf(err)
			rc.Event(ctx, store.RunEvent{Kind: "item", Level: "error", Message: fmt.Sprintf("%s not synced: %v", f, err),
				ReasonCode: ptrTo(string(code)), ItemRef: ptrTo(string(f))})
		}
		perFamily[string(f)] = entry
	}
	data := map[string]any{"families": perFamily}
	if len(failures) == 0 {
		return Result{Data: data}, nil
	}
	return Result{Data: data}, familiesError(failures, len(families))
}

// familiesError turns family failures into the run's error: a blocking failure (a missing
// permission, above all) wins and names what is missing.
func familiesError(failures []familyFailure, total int) error {
	var blocking []familyFailure
	for _, f := range failures {
		if info, _ := reason.Lookup(graph.ReasonOf(f.err)); info.Blocking {
			blocking = append(blocking, f)
		}
	}
	pick := failures
	if len(blocking) > 0 {
		pick = blocking
	}
	code := graph.ReasonOf(pick[0].err)
	var names []string
	perms := map[string][]string{}
	var permOrder []string
	for _, f := range pick {
		names = append(names, string(f.family))
		var ge *graph.Error
		if errors.As(f.err, &ge) && len(ge.MissingPermissions) > 0 {
			key := strings.Join(ge.MissingPermissions, " or ")
			if _, seen := perms[key]; !seen {
				permOrder = append(permOrder, key)
			}
			perms[key] = append(perms[key], string(f.family))
		}
	}
	if code == reason.ProviderPermissionDenied && len(permOrder) > 0 {
		var parts []string
		for _, p := range permOrder {
			parts = append(parts, fmt.Sprintf("%s (needed by %s)", p, strings.Join(perms[p], ", ")))
		}
		return Failure(code, "the app lacks %s; %d of %d families synced, nothing stored was removed",
			strings.Join(parts, "; "), total-len(failures), total)
	}
	return Failure(code, "%s failed: %v; %d of %d families synced", strings.Join(names, ", "), pick[0].err, total-len(failures), total)
}

// syncFamily streams one family into the inventory. It returns how many objects were listed and
// how many were marked deleted (only after a complete listing).
func syncFamily(ctx context.Context, rc *RunContext, client *graph.Client, f graph.Family) (int64, int64, error) {
	fi, _ := graph.FamilyOf(f)
	tenantID, runID := rc.Tenant.ID, rc.Run.ID
	var batch []store.InventoryRow
	var listed int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var mc store.MergeCounts
		err := rc.DB().InTx(ctx, func(tx pgx.Tx) error {
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
	var listErr error
	for raw, err := range client.List(ctx, string(f)+".list", nil, nil) {
		if err != nil {
			listErr = err
			break
		}
		listed++
		row, unknown, err := inventoryRow(f, fi, raw)
		if err != nil {
			rc.Event(ctx, store.RunEvent{Kind: "item", Level: "warn", Message: "skipped an object that is not a JSON object: " + err.Error(),
				ItemRef: ptrTo(string(f))})
			continue
		}
		if unknown {
			rc.Event(ctx, store.RunEvent{Kind: "item", Level: "warn",
				Message: fmt.Sprintf("unrecognised @odata.type %q: kept as %s with its raw payload", row.ODataType, PolicyTypeUnknown),
				ItemRef: ptrTo(string(f) + "/" + row.GraphID)})
		}
		batch = append(batch, row)
		if len(batch) >= inventoryBatchSize {
			if err := flush(); err != nil {
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
	deleted, err := store.MarkInventoryDeleted(ctx, rc.DB().Pool, tenantID, string(f), runID)
	if err != nil {
		return listed, 0, err
	}
	if deleted > 0 {
		rc.Update(ctx, func(p *store.Progress) { p.Deleted += deleted })
		rc.Logf(ctx, "info", "%s: %d object(s) no longer in Graph, marked deleted", f, deleted)
	}
	return listed, deleted, nil
}

// inventoryRow classifies and normalizes one listed object.
func inventoryRow(f graph.Family, fi graph.FamilyInfo, raw json.RawMessage) (store.InventoryRow, bool, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return store.InventoryRow{}, false, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return store.InventoryRow{}, false, errors.New("not an object")
	}
	cl := classifyPolicy(f, obj)
	row := store.InventoryRow{Family: string(f), PolicyType: cl.PolicyType, IsDefault: cl.IsDefault}
	row.GraphID, _ = obj["id"].(string)
	row.ODataType, _ = obj["@odata.type"].(string)
	row.DisplayName = displayNameOf(fi, obj)
	if s, _ := obj["lastModifiedDateTime"].(string); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.Year() > 1 {
			row.LastModified = &t
		}
	}
	row.Payload, row.PayloadHash, err = hashCanonical(normalizeObject(obj))
	if err != nil {
		return row, false, err
	}
	return row, cl.PolicyType == PolicyTypeUnknown, nil
}

func displayNameOf(fi graph.FamilyInfo, obj map[string]any) string {
	for _, k := range []string{fi.NameProperty, "displayName", "name"} {
		if s, ok := obj[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func ptrTo[T any](v T) *T { return &v }

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
