package graph

import "net/http"

// Entra Conditional Access families (issue #18; docs/graph.md#conditional-access): policies and
// the objects they refer to, backed up, diffed and restored like the Intune families. They are
// directory (identity) calls on v1.0: the directory's error dialect, rate bucket and low-priority
// header apply. Paths and permissions from the v1.0 Learn pages under
// /identity/conditionalAccess/… and /policies/authenticationStrengthPolicies.
const (
	FamilyConditionalAccessPolicies            Family = "conditionalAccessPolicies"
	FamilyNamedLocations                       Family = "namedLocations"
	FamilyAuthenticationStrengthPolicies       Family = "authenticationStrengthPolicies"
	FamilyAuthenticationContextClassReferences Family = "authenticationContextClassReferences"
)

const (
	permPolicyRead       = "Policy.Read.All"
	permCAWrite          = "Policy.ReadWrite.ConditionalAccess"
	permAuthMethodRead   = "Policy.Read.AuthenticationMethod"
	permAuthMethodWrite  = "Policy.ReadWrite.AuthenticationMethod"
	permAuthContextRead  = "AuthenticationContext.Read.All"
	permAuthContextWrite = "AuthenticationContext.ReadWrite.All"
	permCARead           = "Policy.Read.ConditionalAccess"
)

// entraFamilies are appended to the registry's family table (contract.go). Least-privileged
// application permissions, per the v1.0 Learn pages:
//   - conditionalaccessroot-list-policies: Policy.Read.All; -post-policies and
//     conditionalaccesspolicy-update: "Policy.Read.All and Policy.ReadWrite.ConditionalAccess"
//     (both: WriteNeedsRead).
//   - conditionalaccessroot-list-namedlocations: Policy.Read.All; -post-namedlocations,
//     namedlocation-update: "Policy.Read.All and Policy.ReadWrite.ConditionalAccess".
//   - authenticationstrengthroot-list-policies / authenticationstrengthpolicy-get:
//     Policy.Read.AuthenticationMethod (higher: Policy.Read.All, …); -post-policies:
//     Policy.ReadWrite.ConditionalAccess (higher: Policy.ReadWrite.AuthenticationMethod).
//   - conditionalaccessroot-list-authenticationcontextclassreferences:
//     AuthenticationContext.Read.All (higher: AuthenticationContext.ReadWrite.All,
//     Policy.Read.ConditionalAccess, Policy.ReadWrite.ConditionalAccess — not Policy.Read.All);
//     authenticationcontextclassreference-update (create or update by id):
//     AuthenticationContext.ReadWrite.All.
var entraFamilies = []FamilyInfo{
	entra(FamilyConditionalAccessPolicies, "/identity/conditionalAccess/policies", permPolicyRead, permCAWrite, true, "Conditional Access policies"),
	entra(FamilyNamedLocations, "/identity/conditionalAccess/namedLocations", permPolicyRead, permCAWrite, true, "Named locations (IP ranges and countries)"),
	entra(FamilyAuthenticationStrengthPolicies, "/policies/authenticationStrengthPolicies", permAuthMethodRead, permCAWrite, false, "Authentication strengths"),
	entra(FamilyAuthenticationContextClassReferences, "/identity/conditionalAccess/authenticationContextClassReferences", permAuthContextRead,
		permAuthContextWrite, false, "Authentication contexts"),
}

func entra(f Family, collection, read, write string, writeNeedsRead bool, doc string) FamilyInfo {
	return FamilyInfo{Family: f, Service: ServiceDirectory, Version: V1, Collection: collection, ReadPermission: read,
		WritePermission: write, WriteNeedsRead: writeNeedsRead, NameProperty: "displayName", Entra: true, Doc: doc}
}

// Optional reports a family an app may not be consented for without that being an error: the
// Conditional Access families and Intune role definitions (their permissions came after the
// others). Verification lists their missing permissions as optional; inventory and default
// backups leave them out, with a warning, when the token lacks their read permission
// (run.SkipUngrantedOptional).
func (fi FamilyInfo) Optional() bool { return fi.Entra || fi.optionalPermission }

// entraImpliedBy: the broader permissions Microsoft lists as "higher privileged" for the reads.
var entraImpliedBy = map[string][]string{
	permAuthMethodRead:  {permPolicyRead, permAuthMethodWrite, permCAWrite},
	permAuthContextRead: {permAuthContextWrite, permCARead, permCAWrite},
}

// addEntraContracts registers the calls of the Conditional Access families: probe, list, get,
// create (201) and update (PATCH, 204), plus the family-specific ones.
func addEntraContracts(add func(Contract)) {
	for _, fi := range entraFamilies {
		f, col := fi.Family, fi.Collection
		add(Contract{Name: string(f) + ".probe", Family: f, Kind: KindProbe, Method: http.MethodGet, Path: col,
			Select: []string{"id"}, PageSize: 1, Doc: "verification: can the app read " + fi.Doc})
		add(Contract{Name: string(f) + ".list", Family: f, Kind: KindList, Method: http.MethodGet, Path: col, LowPriority: true, Doc: fi.Doc})
		add(Contract{Name: string(f) + ".get", Family: f, Kind: KindGet, Method: http.MethodGet, Path: col + "/{id}", Doc: "one " + fi.Doc + " object"})
		if f != FamilyAuthenticationContextClassReferences {
			// v1.0 authenticationcontextclassreference-update: a context is created by PATCHing the id
			// it takes (c1…c99); there is no POST to the collection.
			add(Contract{Name: string(f) + ".create", Family: f, Kind: KindCreate, Method: http.MethodPost, Path: col, Doc: "create a " + fi.Doc + " object"})
		}
		add(Contract{Name: string(f) + ".update", Family: f, Kind: KindUpdate, Method: http.MethodPatch, Path: col + "/{id}", Doc: "update in place (PATCH)"})
	}
	// v1.0 authenticationstrengthpolicy-updateallowedcombinations: allowedCombinations cannot be
	// PATCHed; this action replaces them (200 + authenticationStrengthPolicy update result).
	add(Contract{Name: "authenticationStrengthPolicies.updateAllowedCombinations", Family: FamilyAuthenticationStrengthPolicies, Kind: KindAction,
		Method: http.MethodPost, Path: "/policies/authenticationStrengthPolicies/{id}/updateAllowedCombinations",
		Doc: "replace the allowed method combinations (not writable with PATCH)"})
}
