package restore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// Mobile app restore rules (issue #18; docs/graph.md#mobile-apps; descriptor MatchExisting):
//   - an app is never copied: a second catalogue entry of the same app would be offered to the
//     same users twice. The target's app is found by id (the backed-up app itself, still there)
//     or by displayName and @odata.type, as the peers match apps (IM, ICD: families.md §4), and
//     gets the backed-up metadata and assignments (the preview lists it as an update). Into the
//     backup's own tenant only an overwrite does that: there the matched app is the backed-up app
//     itself, and a create_copy restore leaves it as it is (skipped, saying so) rather than
//     overwrite it unasked. Into another tenant a restore is always create_copy, and updating the
//     target's app is the only way its assignments come back.
//   - a missing app is created under its own name when its type needs no package (store apps,
//     web links, Microsoft 365 and Edge, winget…). A missing line-of-business, Win32, MSI or AppX
//     app is not created as an empty shell (its package is not in the backup), nor a missing
//     app synced from a store account: the item is skipped with the reason, the rest goes on.

// errNotCreated marks an item a restore cannot create (its package is not in the backup): the
// item is skipped with the reason, never written.
var errNotCreated = errors.New("not created")

// errLeftAsIs marks an app a create_copy restore into the backup's own tenant finds there: it is
// neither copied nor changed, and the item is skipped with the reason.
var errLeftAsIs = errors.New("the app is still in the tenant, and create_copy never copies an app nor overwrites it: left as it is (restore with --mode overwrite to bring back its metadata and assignments)")

// chooseApp decides the target of an app (see the top of this file).
func (plan *itemPlan) chooseApp(it store.RestoreItem, p intune.Payload, odataType, mode string, r *restoreResolver) error {
	name := intune.DisplayName(plan.fi, p.Object)
	if name == "" {
		name = it.DisplayName
	}
	plan.targetName = name
	ix := r.objects[plan.family]
	const matched = "an app is never copied: the target's app of the same name and type gets the backed-up metadata and assignments"
	if cur, ok := ix.byID[it.SourceGraphID]; ok && !r.gone[it.SourceGraphID] && strings.EqualFold(cur.Type, odataType) &&
		(r.sameTenant || strings.EqualFold(cur.Name, name)) {
		if mode != store.RestoreOverwrite && r.sameTenant {
			return errLeftAsIs
		}
		plan.action, plan.targetID = store.RestoreActionUpdate, it.SourceGraphID
		plan.notes = append(plan.notes, matched)
		return nil
	}
	var found []string
	for _, id := range ix.byName[refKey(intune.RefMobileApp, intune.NamedRef{Name: name, Type: odataType})] {
		if !r.gone[id] {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
	case 1:
		if mode != store.RestoreOverwrite && r.sameTenant {
			return errLeftAsIs
		}
		plan.action, plan.targetID = store.RestoreActionUpdate, found[0]
		plan.notes = append(plan.notes, matched)
		return nil
	default:
		return fmt.Errorf("the target has %d apps named %q of type %s: restore cannot tell which one to update", len(found), name, strings.TrimPrefix(odataType, intune.ODataPrefix))
	}
	if why := plan.desc.CannotCreate(odataType); why != "" {
		return fmt.Errorf("%w: %s", errNotCreated, why)
	}
	plan.action, plan.targetID = store.RestoreActionCreate, ""
	plan.notes = append(plan.notes, "not in the target: created under its own name (an app needs no package of its type)")
	return nil
}

// appPlanned reports whether a preview can count on the restore writing the app of a backup
// item (planDependencies): the target has it by name and type, or its type needs no package.
func (r *restoreResolver) appPlanned(d *intune.Descriptor, it store.BackupItem) bool {
	if d.CannotCreate(it.ODataType) == "" {
		return true
	}
	ix := r.objects[graph.Family(it.Family)]
	_, byID := ix.byID[it.GraphID]
	return byID || len(ix.byName[refKey(intune.RefMobileApp, intune.NamedRef{Name: it.DisplayName, Type: it.ODataType})]) > 0
}

// markGone records a target object the run's pre-flight read found gone, so it is not matched again.
func (r *restoreResolver) markGone(id string) {
	if r.gone == nil {
		r.gone = map[string]bool{}
	}
	r.gone[id] = true
}
