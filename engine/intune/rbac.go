package intune

import "github.com/tenantatlas/tenantatlas/engine/graph"

// RoleAssignmentGroupKeys are the properties of an Intune role assignment that hold group ids:
// the admin groups (members) and the scope groups (resourceScopes, and beta's scopeMembers) —
// BETA roleAssignment and deviceAndAppManagementRoleAssignment; IM maps members and
// resourceScopes through its group migration table, ICD names members and scopeMembers.
var RoleAssignmentGroupKeys = []string{"members", "resourceScopes", "scopeMembers"}

// RoleAssignmentGroups returns the group ids a role assignment object holds (none for other
// families), in RoleAssignmentGroupKeys order.
func RoleAssignmentGroups(f graph.Family, obj map[string]any) []string {
	if f != graph.FamilyRoleAssignments {
		return nil
	}
	var out []string
	for _, k := range RoleAssignmentGroupKeys {
		list, _ := obj[k].([]any)
		for _, g := range list {
			if s, _ := g.(string); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// RoleDefinitionRef is the role definition a role assignment payload refers to (the expanded
// navigation kept as id, displayName and isBuiltIn; NormalizeFor).
type RoleDefinitionRef struct {
	ID, Name string
	BuiltIn  bool
}

// RoleDefinitionOf returns the role definition of a role assignment object (ok false when the
// backup holds none).
func RoleDefinitionOf(obj map[string]any) (RoleDefinitionRef, bool) {
	nav, _ := obj["roleDefinition"].(map[string]any)
	id, _ := nav["id"].(string)
	if id == "" {
		return RoleDefinitionRef{}, false
	}
	name, _ := nav["displayName"].(string)
	builtIn, _ := nav["isBuiltIn"].(bool)
	return RoleDefinitionRef{ID: id, Name: name, BuiltIn: builtIn}, true
}
