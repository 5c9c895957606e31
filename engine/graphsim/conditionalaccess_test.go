package graphsim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// TestConditionalAccessShapes: every family has at least two payload shapes, named locations carry
// @odata.type (abstract collection), policies do not (declared type; OData minimal metadata).
func TestConditionalAccessShapes(t *testing.T) {
	t.Parallel()
	b := setup(t, TenantSpec{Groups: 10})
	tok := b.token(t)
	for _, tc := range []struct {
		path     string
		min      int
		typed    bool
		distinct string
	}{
		{"/v1.0/identity/conditionalAccess/policies", 5, false, "state"},
		{"/v1.0/identity/conditionalAccess/namedLocations", 2, true, "@odata.type"},
		{"/v1.0/policies/authenticationStrengthPolicies", 4, false, "policyType"},
		{"/v1.0/identity/conditionalAccess/authenticationContextClassReferences", 2, false, "isAvailable"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			var p page
			require.Equal(t, http.StatusOK, b.send(t, http.MethodGet, tc.path, tok, nil, &p))
			require.GreaterOrEqual(t, len(p.Value), tc.min)
			seen := map[any]bool{}
			for _, o := range p.Value {
				_, typed := o["@odata.type"]
				require.Equal(t, tc.typed, typed, "%v", o)
				seen[o[tc.distinct]] = true
			}
			require.GreaterOrEqual(t, len(seen), 2, "at least two shapes by %s", tc.distinct)
		})
	}
}

// TestConditionalAccessWritesValidated: the refusals of the docs:v1 pages, each with its message.
func TestConditionalAccessWritesValidated(t *testing.T) {
	t.Parallel()
	b := setup(t, TenantSpec{Groups: 10})
	tok := b.token(t)
	ca := "/v1.0/identity/conditionalAccess/"
	builtIn := "00000000-0000-0000-0000-000000000002"
	var custom string
	for _, s := range b.tenant.CAObjects(graph.FamilyAuthenticationStrengthPolicies) {
		if s["policyType"] == "custom" {
			custom = s["id"].(string)
		}
	}
	valid := func(mut func(map[string]any)) map[string]any {
		p := map[string]any{"displayName": "x", "state": "enabledForReportingButNotEnforced",
			"conditions": map[string]any{"users": map[string]any{"includeUsers": []any{"None"}},
				"applications": map[string]any{"includeApplications": []any{"None"}}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		contains           string
	}{
		{"valid policy", http.MethodPost, ca + "policies", valid(nil), 201, ""},
		{"unknown property", http.MethodPost, ca + "policies", valid(func(p map[string]any) { p["priority"] = 1 }), 400,
			"The property 'priority' does not exist on type 'microsoft.graph.conditionalAccessPolicy'"},
		{"read-only id", http.MethodPost, ca + "policies", valid(func(p map[string]any) { p["id"] = "x" }), 400, "'id' is read-only"},
		{"bad state", http.MethodPost, ca + "policies", valid(func(p map[string]any) { p["state"] = "on" }), 400, "Invalid state 'on'"},
		{"no user rule", http.MethodPost, ca + "policies", valid(func(p map[string]any) {
			p["conditions"].(map[string]any)["users"] = map[string]any{"includeUsers": []any{}}
		}), 400, "conditions.users needs at least one include rule"},
		{"no control", http.MethodPost, ca + "policies", valid(func(p map[string]any) { p["grantControls"] = map[string]any{} }), 400,
			"at least one grant or session control"},
		{"foreign location", http.MethodPost, ca + "policies", valid(func(p map[string]any) {
			p["conditions"].(map[string]any)["locations"] = map[string]any{"includeLocations": []any{"0b1c8bb3-0000-4000-8000-000000000000"}}
		}), 400, "does not exist"},
		{"foreign group", http.MethodPost, ca + "policies", valid(func(p map[string]any) {
			p["conditions"].(map[string]any)["users"] = map[string]any{"includeGroups": []any{"0b1c8bb3-0000-4000-8000-000000000000"}}
		}), 400, "group '0b1c8bb3-0000-4000-8000-000000000000'"},
		{"abstract named location", http.MethodPost, ca + "namedLocations", map[string]any{"displayName": "x"}, 400, "Cannot create an abstract class."},
		{"ip location without ranges", http.MethodPost, ca + "namedLocations",
			map[string]any{"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "x", "ipRanges": []any{}}, 400, "ipRanges is required"},
		{"country location", http.MethodPost, ca + "namedLocations",
			map[string]any{"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "x", "countriesAndRegions": []any{"FR"}}, 201, ""},
		{"strength mode", http.MethodPost, "/v1.0/policies/authenticationStrengthPolicies",
			map[string]any{"displayName": "x", "allowedCombinations": []any{"password,carrierPigeon"}}, 400, "'carrierPigeon' is not a valid"},
		{"strength combinations through PATCH", http.MethodPatch, "/v1.0/policies/authenticationStrengthPolicies/" + custom,
			map[string]any{"allowedCombinations": []any{"fido2"}}, 400, "updateAllowedCombinations"},
		{"built-in strength", http.MethodPatch, "/v1.0/policies/authenticationStrengthPolicies/" + builtIn,
			map[string]any{"description": "y"}, 400, "Built-in authentication strength policies cannot be updated."},
		{"combinations action", http.MethodPost, "/v1.0/policies/authenticationStrengthPolicies/" + custom + "/updateAllowedCombinations",
			map[string]any{"allowedCombinations": []any{"fido2"}}, 200, ""},
		{"context id", http.MethodPatch, ca + "authenticationContextClassReferences/c100", map[string]any{"displayName": "x"}, 400, "c1 to c99"},
		{"context upsert", http.MethodPatch, ca + "authenticationContextClassReferences/c9", map[string]any{"displayName": "x", "isAvailable": true}, 204, ""},
	} {
		var e errBody
		status := b.send(t, tc.method, tc.path, tok, tc.body, &e)
		require.Equal(t, tc.status, status, "%s: %s", tc.name, e.Error.Message)
		if tc.contains != "" {
			require.True(t, strings.Contains(e.Error.Message, tc.contains), "%s: %q", tc.name, e.Error.Message)
		}
	}
	var ctx map[string]any
	require.Equal(t, http.StatusOK, b.send(t, http.MethodGet, ca+"authenticationContextClassReferences/c9", tok, nil, &ctx))
	require.Equal(t, "x", ctx["displayName"], "PATCH of an unused id created the context")
}

// TestConditionalAccessPermissionTables: a write of a policy needs Policy.Read.All and
// Policy.ReadWrite.ConditionalAccess; contexts are not readable with Policy.Read.All.
func TestConditionalAccessPermissionTables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles         []string
		method, path  string
		body          any
		wantForbidden bool
	}{
		{[]string{"Policy.ReadWrite.ConditionalAccess"}, http.MethodPatch, "/v1.0/identity/conditionalAccess/namedLocations/x", map[string]any{}, true},
		{[]string{"Policy.Read.All"}, http.MethodGet, "/v1.0/identity/conditionalAccess/authenticationContextClassReferences", nil, true},
		{[]string{"AuthenticationContext.Read.All"}, http.MethodGet, "/v1.0/identity/conditionalAccess/authenticationContextClassReferences", nil, false},
		{[]string{"Policy.Read.All"}, http.MethodGet, "/v1.0/policies/authenticationStrengthPolicies", nil, false},
	} {
		b := setup(t, TenantSpec{Groups: 5})
		b.tenant.SetRoles(tc.roles)
		var e errBody
		status := b.send(t, tc.method, tc.path, b.token(t), tc.body, &e)
		require.Equal(t, tc.wantForbidden, status == http.StatusForbidden, "%v %s %s: %d %s", tc.roles, tc.method, tc.path, status, e.Error.Code)
	}
}
