package intune

import "github.com/tenantatlas/tenantatlas/engine/graph"

// Descriptors of the Entra Conditional Access families (issue #18; docs/graph.md#conditional-access).
// Sources: the v1.0 Learn resource and method pages (docs:v1 X = learn.microsoft.com/graph/api/X?view=graph-rest-1.0).

// CreateUpsert: the object is created by PATCHing the id it will have (docs:v1
// authenticationcontextclassreference-update "Create an authenticationContextClassReference
// object, if the ID has not been used. If ID has been used, this call updates" it; 204).
const CreateUpsert CreateStrategy = "upsert"

// FollowUpdateAllowedCombinations: an authentication strength's allowedCombinations cannot be
// PATCHed (docs:v1 authenticationstrengthpolicy-update); the update action replaces them
// (docs:v1 authenticationstrengthpolicy-updateallowedcombinations).
const FollowUpdateAllowedCombinations FollowUp = "updateAllowedCombinations"

// Conditional Access reference kinds (mapped by intune.WalkCAReferences and op/restore).
const (
	RefCAGroup          RefKind = "group"
	RefCAUser           RefKind = "user"
	RefDirectoryRole    RefKind = "directory_role"
	RefApplication      RefKind = "application"
	RefNamedLocation    RefKind = "named_location"
	RefAuthStrength     RefKind = "authentication_strength"
	RefAuthContext      RefKind = "authentication_context"
	authContextIDPrefix         = "c" // docs:v1 authenticationcontextclassreference: ids c1 … c99
)

func init() {
	// Named locations: abstract namedLocation (docs:v1 namedlocation: "Named locations can be either
	// ipNamedLocation or countryNamedLocation objects"); @odata.type is part of every write.
	register(&Descriptor{Family: graph.FamilyNamedLocations, DeclaredType: "namedLocation", Abstract: true,
		Types: map[string]string{"ipNamedLocation": "namedLocationIP", "countryNamedLocation": "namedLocationCountry"}, Order: -1})
	// Authentication strengths: the built-in ones exist in every tenant with the same ids and
	// cannot be updated (docs:v1 authenticationstrengthpolicy: policyType builtIn | custom);
	// policyType and requirementsSatisfied are read-only; combinationConfigurations is a
	// navigation (FIDO2/certificate restrictions), not backed up.
	register(&Descriptor{Family: graph.FamilyAuthenticationStrengthPolicies, DeclaredType: "authenticationStrengthPolicy",
		Types:       map[string]string{"authenticationStrengthPolicy": "authenticationStrength"},
		StripCreate: []string{"policyType", "requirementsSatisfied", "combinationConfigurations"}, StripUpdate: []string{"allowedCombinations"},
		FollowUps: []FollowUp{FollowUpdateAllowedCombinations}, Order: -1,
		BuiltIn:   func(o map[string]any) bool { return o["policyType"] == "builtIn" },
		RoundTrip: "combinationConfigurations (FIDO2 AAGUID and certificate restrictions of custom strengths) are not backed up"})
	// Authentication contexts: created or updated by PATCHing their id (c1 … c99).
	register(&Descriptor{Family: graph.FamilyAuthenticationContextClassReferences, DeclaredType: "authenticationContextClassReference",
		Types:  map[string]string{"authenticationContextClassReference": "authenticationContext"},
		Create: CreateUpsert, Order: -1})
	// Policies: restored after what they refer to; every reference is mapped by op/restore
	// (restore/plan_ca.go) from the recorded names, and the state is lockout-safe.
	register(&Descriptor{Family: graph.FamilyConditionalAccessPolicies, DeclaredType: "conditionalAccessPolicy",
		Types: map[string]string{"conditionalAccessPolicy": "conditionalAccessPolicy"},
		References: []Reference{
			{Kind: RefNamedLocation, Where: "conditions.locations.includeLocations[], excludeLocations[]", Source: graph.FamilyNamedLocations},
			{Kind: RefAuthStrength, Where: "grantControls.authenticationStrength.id", Source: graph.FamilyAuthenticationStrengthPolicies},
			{Kind: RefAuthContext, Where: "conditions.applications.includeAuthenticationContextClassReferences[]", Source: graph.FamilyAuthenticationContextClassReferences},
			{Kind: RefDirectoryRole, Where: "conditions.users.includeRoles[], excludeRoles[]", Source: graph.FamilyDirectoryRoleDefinitions},
		}})
}
