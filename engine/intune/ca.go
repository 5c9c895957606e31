package intune

import (
	"fmt"
	"slices"
	"strings"
)

// Conditional Access policy references and state (docs/graph.md#conditional-access). Source:
// docs:v1 conditionalaccessusers, conditionalaccessapplications, conditionalaccesslocations,
// conditionalaccessgrantcontrols, conditionalaccesspolicy.

// CA policy states (docs:v1 conditionalaccesspolicy state: enabled, disabled, enabledForReportingButNotEnforced).
const (
	CAStateEnabled    = "enabled"
	CAStateDisabled   = "disabled"
	CAStateReportOnly = "enabledForReportingButNotEnforced"
)

// CARole says what a reference does to the policy: an include narrows it when dropped, an
// exclude (or the grant's authentication strength) widens it when dropped.
type CARole string

const (
	CAInclude CARole = "include"
	CAExclude CARole = "exclude"
	CAGrant   CARole = "grant"
)

// CARef is one id a Conditional Access policy holds.
type CARef struct {
	Kind RefKind
	Role CARole
	// Path is where it is ("conditions.users.excludeGroups").
	Path string
	ID   string
}

// caListRefs are the id lists of a policy, by section and key.
var caListRefs = []struct {
	section, key string
	kind         RefKind
	role         CARole
	special      []string // values that are keywords, not ids
}{
	{"users", "includeUsers", RefCAUser, CAInclude, []string{"All", "None", "GuestsOrExternalUsers"}},
	{"users", "excludeUsers", RefCAUser, CAExclude, []string{"GuestsOrExternalUsers"}},
	{"users", "includeGroups", RefCAGroup, CAInclude, nil},
	{"users", "excludeGroups", RefCAGroup, CAExclude, nil},
	{"users", "includeRoles", RefDirectoryRole, CAInclude, nil},
	{"users", "excludeRoles", RefDirectoryRole, CAExclude, nil},
	{"applications", "includeApplications", RefApplication, CAInclude, []string{"All", "None", "Office365", "MicrosoftAdminPortals"}},
	{"applications", "excludeApplications", RefApplication, CAExclude, []string{"Office365", "MicrosoftAdminPortals"}},
	{"applications", "includeAuthenticationContextClassReferences", RefAuthContext, CAInclude, nil},
	{"locations", "includeLocations", RefNamedLocation, CAInclude, []string{"All", "AllTrusted"}},
	{"locations", "excludeLocations", RefNamedLocation, CAExclude, []string{"All", "AllTrusted"}},
}

// CAVisit answers, for one reference, the id to write instead and whether to keep it.
type CAVisit func(ref CARef) (newID string, keep bool)

// WalkCAReferences visits every id a policy holds (keywords such as "All" are not ids) and
// rewrites each list with what visit answers; an authentication strength not kept is removed
// from the grant controls. It reports the condition sections (users, applications, locations)
// whose includes held ids and were all emptied by the walk: such a condition would match
// everything, or nothing valid.
func WalkCAReferences(policy map[string]any, visit CAVisit) (emptied []string) {
	cond, _ := policy["conditions"].(map[string]any)
	droppedIn := map[string]bool{}
	for _, l := range caListRefs {
		sec, _ := cond[l.section].(map[string]any)
		list, ok := sec[l.key].([]any)
		if !ok {
			continue
		}
		out := []any{}
		for _, v := range list {
			id := fmt.Sprint(v)
			if slices.Contains(l.special, id) {
				out = append(out, v)
				continue
			}
			if n, keep := visit(CARef{Kind: l.kind, Role: l.role, Path: "conditions." + l.section + "." + l.key, ID: id}); keep {
				out = append(out, n)
			} else if l.role == CAInclude {
				droppedIn[l.section] = true
			}
		}
		sec[l.key] = out
	}
	for _, section := range []string{"users", "applications", "locations"} {
		if !droppedIn[section] {
			continue
		}
		sec, _ := cond[section].(map[string]any)
		left := false
		for _, l := range caListRefs {
			if l.section == section && l.role == CAInclude && len(anyStrings(sec[l.key])) > 0 {
				left = true
			}
		}
		if section == "users" && sec["includeGuestsOrExternalUsers"] != nil {
			left = true
		}
		if !left {
			emptied = append(emptied, "conditions."+section)
		}
	}
	grant, _ := policy["grantControls"].(map[string]any)
	if strength, ok := grant["authenticationStrength"].(map[string]any); ok {
		if id, _ := strength["id"].(string); id != "" {
			if n, keep := visit(CARef{Kind: RefAuthStrength, Role: CAGrant, Path: "grantControls.authenticationStrength", ID: id}); keep {
				grant["authenticationStrength"] = map[string]any{"id": n}
			} else {
				delete(grant, "authenticationStrength")
			}
		}
	}
	return emptied
}

// CARestoreState is the state a restore writes: the original state only when asked for
// explicitly, otherwise an enabled policy is restored report-only (a restore never enforces a
// policy nobody has watched in the target: issue #18 lockout-safe restore). Disabled and
// report-only policies keep their state.
func CARestoreState(source string, original bool) string {
	if original || source != CAStateEnabled {
		return source
	}
	return CAStateReportOnly
}

// CALockoutRisk reports a policy that blocks access or requires a grant control and applies to
// all users with no excluded user, group or role: nobody (no break-glass account) is left out,
// so a mistake locks every account out (Microsoft's "Manage emergency access accounts" guidance).
// It returns what the policy does ("blocks access", "requires mfa, compliantDevice", …).
func CALockoutRisk(policy map[string]any) (string, bool) {
	cond, _ := policy["conditions"].(map[string]any)
	users, _ := cond["users"].(map[string]any)
	if !slices.ContainsFunc(anyStrings(users["includeUsers"]), func(s string) bool { return s == "All" }) {
		return "", false
	}
	for _, k := range []string{"excludeUsers", "excludeGroups", "excludeRoles"} {
		for _, s := range anyStrings(users[k]) {
			if s != "GuestsOrExternalUsers" {
				return "", false
			}
		}
	}
	grant, _ := policy["grantControls"].(map[string]any)
	controls := anyStrings(grant["builtInControls"])
	if slices.Contains(controls, "block") {
		return "blocks access", true
	}
	if _, ok := grant["authenticationStrength"].(map[string]any); ok {
		controls = append(controls, "authenticationStrength")
	}
	if len(anyStrings(grant["termsOfUse"])) > 0 {
		controls = append(controls, "termsOfUse")
	}
	if len(controls) == 0 {
		return "", false
	}
	return "requires " + strings.Join(controls, ", "), true
}

func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// IsAuthContextID reports an authentication context id (c1 … c99).
func IsAuthContextID(id string) bool {
	n, ok := strings.CutPrefix(id, authContextIDPrefix)
	if !ok || n == "" || n[0] == '0' || len(n) > 2 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
