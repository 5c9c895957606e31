package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// Intune role assignment restore rules (issue #18; docs/graph.md#intune-role-assignments):
//   - the role definition is a reference across tenants: a built-in role by its id (built-in role
//     definitions are the same in every tenant) or, failing that, by displayName among the
//     target's built-ins; a custom role to the copy this restore wrote (role definitions are
//     restored first), else by displayName among the target's custom roles. It is written with
//     roleDefinition@odata.bind, as IM creates role assignments (POST /deviceManagement/roleAssignments,
//     Start-PostFileImportRoleDefinitions: "the same way as the portal").
//   - members (admin groups) and resourceScopes / scopeMembers (scope groups) map as groups: by id
//     while the group exists in the target, else by name (the groups cache). One that cannot be
//     mapped blocks the assignment's restore: dropping an admin group changes who is admin,
//     dropping a scope group widens or narrows what they administer.
//   - scope tags map by name like every family's (mapScopeTags) and are bound with
//     roleScopeTags@odata.bind (IM).

// MappingRoleDefinition is the mapping kind of a role assignment's role definition.
const MappingRoleDefinition = string(intune.RefRoleDefinition)

// roleDefTarget is one role definition of the target (its inventory).
type roleDefTarget struct {
	name    string
	builtIn bool
}

// rbacPlan is what a role assignment adds to its plan: the binds its write carries.
type rbacPlan struct {
	roleDefinitionID string   // "" in a preview when the role is created earlier by this restore
	scopeTags        []string // target scope tag ids
}

// loadRoleDefinitions indexes the target's role definitions (from its inventory, with isBuiltIn)
// when a payload is a role assignment.
func (r *restoreResolver) loadRoleDefinitions(ctx context.Context, q store.Querier, targetTenantID int64, payloads []intune.Payload) error {
	need := false
	for _, p := range payloads {
		if _, ok := intune.RoleDefinitionOf(p.Object); ok {
			need = true
		}
	}
	if !need {
		return nil
	}
	defs, err := store.ListInventory(ctx, q, store.InventoryFilter{TenantID: targetTenantID, Family: string(graph.FamilyRoleDefinitions),
		WithPayload: true, Limit: 1_000_000})
	if err != nil {
		return err
	}
	r.roleDefs = map[string]roleDefTarget{}
	for _, it := range defs {
		if it.DeletedAt != nil {
			continue
		}
		v, _ := intune.DecodeJSON(it.Payload)
		obj, _ := v.(map[string]any)
		builtIn, _ := obj["isBuiltIn"].(bool)
		r.roleDefs[strings.ToLower(it.GraphID)] = roleDefTarget{name: it.DisplayName, builtIn: builtIn}
	}
	return nil
}

// roleDefinition maps a role assignment's role definition (see the top of this file).
func (r *restoreResolver) roleDefinition(ref intune.RoleDefinitionRef) MappingEntry {
	e := MappingEntry{Kind: MappingRoleDefinition, Role: "custom", SourceID: ref.ID, SourceName: ref.Name, Status: MappingUnresolved}
	if ref.BuiltIn {
		e.Role = "built-in"
	}
	key := string(graph.FamilyRoleDefinitions) + "/" + ref.ID
	if !ref.BuiltIn { // the copy this restore wrote (or, in a preview, will write) wins over a same-named role
		if id, ok := r.created[key]; ok {
			e.TargetID, e.TargetName, e.By, e.Status = id, r.objects[graph.FamilyRoleDefinitions].byID[id].Name, "restore", MappingResolved
			return e
		}
		if name, ok := r.planned[key]; ok {
			e.TargetName, e.By, e.Status = name, "restore", MappingResolved
			return e
		}
	}
	if t, ok := r.roleDefs[strings.ToLower(ref.ID)]; ok && (ref.BuiltIn && t.builtIn || r.sameTenant) {
		e.TargetID, e.TargetName, e.By, e.Status = ref.ID, t.name, "id", MappingResolved
		return e
	}
	var found []string
	for id, t := range r.roleDefs {
		if t.builtIn == ref.BuiltIn && strings.EqualFold(t.name, ref.Name) && ref.Name != "" {
			found = append(found, id)
		}
	}
	matchByName(&e, found, func(id string) (string, string) { return id, r.roleDefs[id].name })
	return e
}

// roleAssignment applies the role assignment rules to a plan: the role definition and every
// admin and scope group mapped, or the item blocked naming what cannot be.
func (plan *itemPlan) roleAssignment(p intune.Payload, r *restoreResolver) error {
	if plan.family != graph.FamilyRoleAssignments {
		return nil
	}
	var blockers []string
	ref, ok := intune.RoleDefinitionOf(p.Object)
	if !ok {
		return fmt.Errorf("the backup holds no role definition for the role assignment (it was backed up without $expand=roleDefinition)")
	}
	def := r.roleDefinition(ref)
	plan.mapping = append(plan.mapping, def)
	if def.Status != MappingResolved {
		blockers = append(blockers, fmt.Sprintf("%s role definition %q (%s) %s", def.Role, ref.Name, ref.ID, def.Status))
	}
	for _, key := range intune.RoleAssignmentGroupKeys {
		list, ok := plan.body[key].([]any)
		if !ok {
			continue
		}
		role := "scope group"
		if key == "members" {
			role = "admin group"
		}
		out := []any{}
		for _, g := range list {
			id := fmt.Sprint(g)
			e := r.group(id, p.References)
			name := e.SourceName
			e.Role = role
			plan.mapping = append(plan.mapping, e)
			if e.Status != MappingResolved {
				plan.unresolved++
				if name == "" {
					name = "(unnamed)"
				}
				blocker := fmt.Sprintf("%s %q (%s) %s", role, name, id, e.Status)
				if e.Note != "" {
					blocker += " (" + e.Note + ")"
				}
				blockers = append(blockers, blocker)
				continue
			}
			out = append(out, e.TargetID)
		}
		plan.body[key] = out
	}
	if len(blockers) > 0 {
		return fmt.Errorf("not restored: %s cannot be mapped into the target, and restoring the role assignment without them would change who administers what: %s",
			plural(len(blockers), "reference"), strings.Join(blockers, "; "))
	}
	plan.rbac = &rbacPlan{roleDefinitionID: def.TargetID}
	if tags, ok := plan.body["roleScopeTagIds"].([]any); ok {
		for _, t := range tags {
			plan.rbac.scopeTags = append(plan.rbac.scopeTags, fmt.Sprint(t))
		}
	}
	return nil
}

// wireBody is the object write as sent: for a role assignment, its role definition and scope
// tags bound by URL (roleDefinition@odata.bind, roleScopeTags@odata.bind; IM), the scope tag
// ids kept out of the body.
func (plan *itemPlan) wireBody(graphURL string) map[string]any {
	if plan.rbac == nil {
		return plan.body
	}
	base := strings.TrimRight(graphURL, "/") + "/beta/deviceManagement/"
	body := make(map[string]any, len(plan.body)+2)
	for k, v := range plan.body {
		if k != "roleScopeTagIds" {
			body[k] = v
		}
	}
	if plan.rbac.roleDefinitionID != "" {
		body["roleDefinition@odata.bind"] = fmt.Sprintf("%sroleDefinitions('%s')", base, plan.rbac.roleDefinitionID)
	}
	binds := []any{}
	for _, t := range plan.rbac.scopeTags {
		binds = append(binds, fmt.Sprintf("%sroleScopeTags('%s')", base, t))
	}
	body["roleScopeTags@odata.bind"] = binds
	return body
}
