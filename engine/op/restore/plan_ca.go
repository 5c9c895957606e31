package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// Conditional Access restore rules (issue #18; docs/graph.md#conditional-access):
//   - references: groups by id then name (the target's groups cache); directory roles by role
//     template id (built-in roles have the same template id in every tenant), custom roles by
//     name (the target's role-definition cache); applications by appId (kept: the same in every
//     tenant for multi-tenant and Microsoft apps); named locations, authentication strengths and
//     contexts by name — restored first (descriptor Order) and found by the policies restored
//     after them; users, which TenantAtlas does not cache, by id within the tenant and listed
//     unresolved with their ids elsewhere.
//   - an exclusion (or the grant's authentication strength) that cannot be mapped blocks the
//     policy's restore: dropping it widens the policy. An include that cannot be mapped is left
//     out and listed; an include list emptied that way blocks too (an empty condition matches
//     everything).
//   - lockout-safe state: an enabled policy is restored report-only unless the restore asks for
//     the original state (CAStateOriginal), and a policy that blocks or requires a grant for all
//     users with no exclusion is named in a warning.

// Restore CA state options (store.Restore.CAState).
const (
	CAStateReportOnly = "report_only" // the default: enabled policies restored report-only
	CAStateOriginal   = "original"    // the backed-up state (--ca-state original; a second confirmation in the dashboard)
)

// Mapping kinds of the Conditional Access references (besides MappingGroup).
const (
	MappingUser           = string(intune.RefCAUser)
	MappingDirectoryRole  = string(intune.RefDirectoryRole)
	MappingApplication    = string(intune.RefApplication)
	MappingNamedLocation  = string(intune.RefNamedLocation)
	MappingAuthStrength   = string(intune.RefAuthStrength)
	MappingAuthContext    = string(intune.RefAuthContext)
	builtInStrengthPrefix = "00000000-0000-0000-0000-0000000000" // docs:v1 authenticationstrengthroot-list-policies: built-ins …02, …03, …04
)

// caPlan is what a Conditional Access item adds to its plan.
type caPlan struct {
	combinations []any  // authentication strength update: updateAllowedCombinations after the PATCH
	lockout      string // the lockout warning naming the policy ("" when none)
}

// caResolver is what the resolver knows for Conditional Access: the target's role definitions,
// the state option, the objects this restore will create (so the preview maps references to
// them) and the authentication context ids taken.
type caResolver struct {
	original     bool
	rolesByID    map[string]store.RoleDefinition // graph id and template id
	rolesByName  map[string][]store.RoleDefinition
	rolesSynced  bool
	pending      map[string]string // family/source id → source name: items of this restore
	contextTaken map[string]bool
}

var caRefFamilies = map[intune.RefKind]graph.Family{
	intune.RefNamedLocation: graph.FamilyNamedLocations,
	intune.RefAuthStrength:  graph.FamilyAuthenticationStrengthPolicies,
	intune.RefAuthContext:   graph.FamilyAuthenticationContextClassReferences,
}

// caPayloadGroups are the group ids a CA policy payload holds.
func caPayloadGroups(p intune.Payload) []string {
	var out []string
	intune.WalkCAReferences(deepCopy(p.Object).(map[string]any), func(ref intune.CARef) (string, bool) {
		if ref.Kind == intune.RefCAGroup {
			out = append(out, ref.ID)
		}
		return ref.ID, true
	})
	return out
}

func payloadsReferRoles(payloads []intune.Payload) bool {
	for _, p := range payloads {
		found := false
		intune.WalkCAReferences(deepCopy(p.Object).(map[string]any), func(ref intune.CARef) (string, bool) {
			found = found || ref.Kind == intune.RefDirectoryRole
			return ref.ID, true
		})
		if found {
			return true
		}
	}
	return false
}

// loadCA reads the target's role definitions when a payload refers to roles.
func (r *restoreResolver) loadCA(ctx context.Context, q store.Querier, targetTenantID int64, payloads []intune.Payload) error {
	r.ca = &caResolver{rolesByID: map[string]store.RoleDefinition{}, rolesByName: map[string][]store.RoleDefinition{},
		pending: map[string]string{}, contextTaken: map[string]bool{}}
	defs, err := store.SearchRoleDefinitions(ctx, q, targetTenantID, "", false, 1000)
	if err != nil {
		return err
	}
	for _, d := range defs {
		r.ca.rolesSynced = true
		r.ca.rolesByID[strings.ToLower(d.GraphID)] = d
		if d.TemplateID != nil {
			r.ca.rolesByID[strings.ToLower(*d.TemplateID)] = d
		}
		k := strings.ToLower(d.DisplayName)
		r.ca.rolesByName[k] = append(r.ca.rolesByName[k], d)
	}
	if !r.ca.rolesSynced && !r.sameTenant && payloadsReferRoles(payloads) {
		r.warnings = append(r.warnings, "the target's directory role definitions were never synced: roles of Conditional Access policies cannot be mapped (run a role definition sync of the target first)")
	}
	for id := range r.objects[graph.FamilyAuthenticationContextClassReferences].byID {
		r.ca.contextTaken[id] = true
	}
	return nil
}

// setCA sets the restore's CA state option and the items it will write (dependencies of
// the policies among them resolve "by restore" in the preview).
func (r *restoreResolver) setCA(state string, items []store.RestoreItem) {
	r.ca.original = state == CAStateOriginal
	for _, it := range items {
		r.ca.pending[it.Family+"/"+it.SourceGraphID] = it.DisplayName
	}
}

// learnCA records a named location, strength or context this restore wrote, so the policies
// restored after it map to it.
func (r *restoreResolver) learnCA(it store.RestoreItem, plan *itemPlan, targetID string) {
	var kind intune.RefKind
	for k, f := range caRefFamilies {
		if f == plan.family {
			kind = k
		}
	}
	if kind == "" {
		return
	}
	if r.created == nil {
		r.created = map[string]string{}
	}
	r.created[string(plan.family)+"/"+it.SourceGraphID] = targetID
	r.addObject(plan.family, kind, targetID, intune.NamedRef{Name: plan.targetName})
	if plan.family == graph.FamilyAuthenticationContextClassReferences {
		r.ca.contextTaken[targetID] = true
	}
}

// caEntry maps one reference of a policy.
func (r *restoreResolver) caEntry(ref intune.CARef, refs *intune.References) MappingEntry {
	e := MappingEntry{Kind: string(ref.Kind), Role: string(ref.Role), SourceID: ref.ID, Status: MappingUnresolved}
	switch ref.Kind {
	case intune.RefCAGroup:
		g := r.group(ref.ID, refs)
		g.Role = e.Role
		return g
	case intune.RefCAUser:
		if r.sameTenant {
			e.TargetID, e.By, e.Status = ref.ID, "id", MappingResolved
		}
		return e // not cached: another tenant's user id is never copied
	case intune.RefApplication:
		e.TargetID, e.By, e.Status = ref.ID, "app_id", MappingResolved
		return e
	case intune.RefDirectoryRole:
		e.SourceName = refs.Object(ref.Kind, ref.ID).Name
		return r.caRole(e)
	}
	f := caRefFamilies[ref.Kind]
	src := refs.Object(ref.Kind, ref.ID)
	e.SourceName = src.Name
	key := string(f) + "/" + ref.ID
	ix := r.objects[f]
	switch {
	case r.created[key] != "":
		e.TargetID, e.By, e.Status = r.created[key], "restore", MappingResolved
		e.TargetName = ix.byID[e.TargetID].Name
	case ref.Kind == intune.RefAuthStrength && strings.HasPrefix(ref.ID, builtInStrengthPrefix):
		e.TargetID, e.TargetName, e.By, e.Status = ref.ID, src.Name, "id", MappingResolved // built in: the same id in every tenant
	case hasKey(r.ca.pending, key):
		e.TargetName, e.By, e.Status = "(created earlier in this restore)", "restore", MappingResolved
	case r.sameTenant && ix.byID[ref.ID].Name != "" || ix.byID[ref.ID].Name != "" && strings.EqualFold(ix.byID[ref.ID].Name, src.Name):
		e.TargetID, e.TargetName, e.By, e.Status = ref.ID, ix.byID[ref.ID].Name, "id", MappingResolved
	default:
		return r.object(intune.Reference{Kind: ref.Kind, Source: f}, ref.ID, src)
	}
	return e
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// caRole maps a directory role by its role template id (built-in roles share it across tenants),
// else by name (custom roles).
func (r *restoreResolver) caRole(e MappingEntry) MappingEntry {
	if d, ok := r.ca.rolesByID[strings.ToLower(e.SourceID)]; ok && (d.IsBuiltIn == nil || *d.IsBuiltIn || r.sameTenant) {
		e.TargetID, e.TargetName, e.By, e.Status = e.SourceID, d.DisplayName, "template_id", MappingResolved
		if d.TemplateID != nil && *d.TemplateID != "" {
			e.TargetID = *d.TemplateID
		}
		return e
	}
	if r.sameTenant && !r.ca.rolesSynced {
		e.TargetID, e.By, e.Status = e.SourceID, "id", MappingResolved
		return e
	}
	if e.SourceName != "" {
		matchByName(&e, r.ca.rolesByName[strings.ToLower(e.SourceName)], func(d store.RoleDefinition) (string, string) {
			if d.TemplateID != nil && *d.TemplateID != "" {
				return *d.TemplateID, d.DisplayName
			}
			return d.GraphID, d.DisplayName
		})
	}
	return e
}

// conditionalAccess applies the Conditional Access rules to a plan (see the top of this file).
func (plan *itemPlan) conditionalAccess(it store.RestoreItem, p intune.Payload, r *restoreResolver) error {
	switch plan.family {
	case graph.FamilyAuthenticationContextClassReferences:
		if plan.action == store.RestoreActionCreate {
			id, err := r.freeContextID(it.SourceGraphID)
			if err != nil {
				return err
			}
			plan.createArgs, plan.targetID = []string{id}, ""
		}
	case graph.FamilyAuthenticationStrengthPolicies:
		if plan.action == store.RestoreActionUpdate {
			plan.ca = &caPlan{combinations: anyList(p.Object["allowedCombinations"])}
		}
	case graph.FamilyConditionalAccessPolicies:
		return plan.mapPolicy(p, r)
	}
	return nil
}

func (plan *itemPlan) mapPolicy(p intune.Payload, r *restoreResolver) error {
	plan.ca = &caPlan{}
	var blockers []string
	emptied := intune.WalkCAReferences(plan.body, func(ref intune.CARef) (string, bool) {
		e := r.caEntry(ref, p.References)
		plan.mapping = append(plan.mapping, e)
		if e.Status == MappingResolved {
			if e.TargetID == "" {
				return ref.ID, true // created earlier in this restore: the run maps it to the new id
			}
			return e.TargetID, true
		}
		plan.unresolved++
		if ref.Role != intune.CAInclude {
			name := e.SourceName
			if name == "" {
				name = "(unnamed)"
			}
			blockers = append(blockers, fmt.Sprintf("%s %s %q (%s) %s", ref.Role, strings.ReplaceAll(e.Kind, "_", " "), name, e.SourceID, e.Status))
		}
		return "", false
	})
	for _, path := range emptied {
		blockers = append(blockers, path+" would be left with no include (an empty condition matches everything)")
	}
	if len(blockers) > 0 {
		return fmt.Errorf("not restored: %s cannot be mapped into the target, and restoring the policy without them would widen it: %s",
			plural(len(blockers), "reference"), strings.Join(blockers, "; "))
	}
	src, _ := p.Object["state"].(string)
	state := intune.CARestoreState(src, r.ca.original)
	if state != "" {
		plan.body["state"] = state
	}
	if state != src {
		plan.notes = append(plan.notes, fmt.Sprintf("restored report-only (%s) instead of %s: check its sign-in impact before turning it on, or restore with --ca-state original",
			intune.CAStateReportOnly, src))
	}
	if what, risky := intune.CALockoutRisk(plan.body); risky {
		how := map[string]string{intune.CAStateEnabled: "it is restored enforced, so a mistake locks every account out",
			intune.CAStateReportOnly: "it is restored report-only; exclude an emergency-access account before turning it on",
			intune.CAStateDisabled:   "it is restored disabled; exclude an emergency-access account before turning it on"}[state]
		plan.ca.lockout = fmt.Sprintf("Conditional Access policy %q %s for all users with no excluded user, group or role (no break-glass account): %s",
			plan.targetName, what, how)
		plan.notes = append(plan.notes, plan.ca.lockout)
	}
	if plan.unresolved > 0 {
		plan.notes = append(plan.notes, fmt.Sprintf("%s left out of its includes (listed in the mapping)", plural(plan.unresolved, "unresolved reference")))
	}
	return nil
}

// freeContextID picks the id a new authentication context takes: the source id when it is free
// in the target, else the first free c1 … c99.
func (r *restoreResolver) freeContextID(source string) (string, error) {
	if !r.sameTenant && intune.IsAuthContextID(source) && !r.ca.contextTaken[source] {
		r.ca.contextTaken[source] = true
		return source, nil
	}
	for n := 1; n <= 99; n++ {
		id := fmt.Sprintf("c%d", n)
		if !r.ca.contextTaken[id] {
			r.ca.contextTaken[id] = true
			return id, nil
		}
	}
	return "", fmt.Errorf("the target has no free authentication context id (c1 … c99 are all used)")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
