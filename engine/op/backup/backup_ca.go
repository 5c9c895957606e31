package backup

import (
	"context"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
)

// Conditional Access policies hold ids of groups, users, directory roles, applications, named
// locations, authentication strengths and contexts (intune.WalkCAReferences). The backup records
// the name of each (groups with the assignment groups, nameGroups: directoryObjects/getByIds,
// else groups.get; the others from one listing of their family per run), so a restore into another tenant maps them by name
// (docs/graph.md#conditional-access). Users are recorded by id only: TenantAtlas does not read
// users (no User.Read.All), so a restore elsewhere lists them unresolved.

// caRefs lists a CA policy's references (none for other families); the walk keeps every id.
func caRefs(p *pending) []intune.CARef {
	if p.family != graph.FamilyConditionalAccessPolicies {
		return nil
	}
	obj := p.payload.Object
	if obj == nil {
		obj = p.raw
	}
	var out []intune.CARef
	intune.WalkCAReferences(obj, func(r intune.CARef) (string, bool) {
		out = append(out, r)
		return r.ID, true
	})
	return out
}

// caGroupIDs are the group ids a CA policy includes or excludes.
func caGroupIDs(p *pending) []string {
	var out []string
	for _, r := range caRefs(p) {
		if r.Kind == intune.RefCAGroup {
			out = append(out, r.ID)
		}
	}
	return out
}

// caRefSources: the family each named reference kind is listed from.
var caRefSources = map[intune.RefKind]graph.Family{
	intune.RefDirectoryRole: graph.FamilyDirectoryRoleDefinitions,
	intune.RefNamedLocation: graph.FamilyNamedLocations,
	intune.RefAuthStrength:  graph.FamilyAuthenticationStrengthPolicies,
	intune.RefAuthContext:   graph.FamilyAuthenticationContextClassReferences,
}

// nameCAReferences records the names of a CA policy's references in refs.
func (b *backupper) nameCAReferences(ctx context.Context, p *pending, refs *intune.References) {
	for _, r := range caRefs(p) {
		switch r.Kind {
		case intune.RefCAGroup:
			if refs.Groups == nil {
				refs.Groups = map[string]string{}
			}
			refs.Groups[r.ID] = b.groupName(r.ID)
			continue
		case intune.RefCAUser, intune.RefApplication:
			// Users by id only (see above); applications by appId, which is the same in every tenant
			// for multi-tenant and Microsoft apps (docs:v1 conditionalaccessapplications).
			continue
		}
		if refs.Objects == nil {
			refs.Objects = map[intune.RefKind]map[string]intune.NamedRef{}
		}
		if refs.Objects[r.Kind] == nil {
			refs.Objects[r.Kind] = map[string]intune.NamedRef{}
		}
		refs.Objects[r.Kind][r.ID] = b.named(ctx, caRefSources[r.Kind], r.ID)
	}
}
