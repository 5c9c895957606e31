package graphsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Entra Conditional Access (v1.0): policies, named locations, authentication strengths and
// authentication contexts. Every behaviour names its source:
//   docs:v1 X   learn.microsoft.com/graph/api/X?view=graph-rest-1.0
//   res:v1 X    learn.microsoft.com/graph/api/resources/X?view=graph-rest-1.0
// Unverified marks what no primary source states (checked against no live tenant).

// caTypes are the structural properties of each type, inherited ones included (Metadata:
// msgraph-metadata@f54f11b v1.0-entity-types.json; conditionalAccessPolicy derives from
// policyDeletableItem, hence deletedDateTime); a write naming another property is refused as
// OData does (the Intune families' rule).
var caTypes = map[string][]string{
	"conditionalAccessPolicy": {"conditions", "createdDateTime", "deletedDateTime", "description", "displayName", "grantControls", "id",
		"modifiedDateTime", "sessionControls", "state", "templateId"},
	"ipNamedLocation":      {"createdDateTime", "displayName", "id", "modifiedDateTime", "ipRanges", "isTrusted"},
	"countryNamedLocation": {"countriesAndRegions", "countryLookupMethod", "createdDateTime", "displayName", "id", "includeUnknownCountriesAndRegions", "modifiedDateTime"},
	"authenticationStrengthPolicy": {"allowedCombinations", "createdDateTime", "description", "displayName", "id", "modifiedDateTime", "policyType",
		"requirementsSatisfied"},
	"authenticationContextClassReference": {"description", "displayName", "id", "isAvailable"},
}

// caReadOnly are the properties the res:v1 pages mark read-only. Refusing them (rather than
// ignoring them) is unverified for these APIs; it follows the Intune families' rule.
var caReadOnly = []string{"id", "createdDateTime", "modifiedDateTime", "deletedDateTime", "policyType", "requirementsSatisfied"}

// caCollections: family → declared type and whether it is abstract (namedLocation: res:v1
// namedlocation is the base of ipNamedLocation and countryNamedLocation and is never created itself).
var caCollections = map[graph.Family]struct {
	declared string
	abstract bool
	types    []string
}{
	graph.FamilyConditionalAccessPolicies:            {"conditionalAccessPolicy", false, []string{"conditionalAccessPolicy"}},
	graph.FamilyNamedLocations:                       {"namedLocation", true, []string{"ipNamedLocation", "countryNamedLocation"}},
	graph.FamilyAuthenticationStrengthPolicies:       {"authenticationStrengthPolicy", false, []string{"authenticationStrengthPolicy"}},
	graph.FamilyAuthenticationContextClassReferences: {"authenticationContextClassReference", false, []string{"authenticationContextClassReference"}},
}

// caStates: res:v1 conditionalaccesspolicy state.
var caStates = []string{"enabled", "disabled", "enabledForReportingButNotEnforced"}

// caMethodModes: res:v1 authenticationstrengthpolicy authenticationMethodModes (the values a
// combination is made of, joined by ",").
var caMethodModes = []string{"password", "voice", "hardwareOath", "softwareOath", "sms", "fido2", "windowsHelloForBusiness",
	"microsoftAuthenticatorPush", "deviceBasedPush", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse", "email",
	"x509CertificateSingleFactor", "x509CertificateMultiFactor", "federatedSingleFactor", "federatedMultiFactor", "qrCodePin"}

// Built-in authentication strengths: the same ids in every tenant (docs:v1
// authenticationstrengthroot-list-policies example: 00000000-0000-0000-0000-000000000002 "Multifactor
// authentication", …03 "Passwordless MFA", …04 "Phishing-resistant MFA"; policyType builtIn).
var builtInStrengths = []struct{ id, name string }{
	{"00000000-0000-0000-0000-000000000002", "Multifactor authentication"},
	{"00000000-0000-0000-0000-000000000003", "Passwordless MFA"},
	{"00000000-0000-0000-0000-000000000004", "Phishing-resistant MFA"},
}

// caContextID: docs:v1 authenticationcontextclassreference "id … c1 to c99" (unverified upper bound wording).
var caContextID = regexp.MustCompile(`^c([1-9]|[1-9][0-9])$`)

type caStore struct {
	tenant *Tenant
	mu     sync.RWMutex
	fam    map[graph.Family][]map[string]any
	seq    int
}

func newCAStore(t *Tenant) *caStore {
	st := &caStore{tenant: t, fam: map[graph.Family][]map[string]any{}}
	st.generate()
	return st
}

func (st *caStore) newID(parts ...any) string {
	st.seq++
	return deterministicUUID(append([]any{"ca", st.tenant.ID, st.seq}, parts...)...)
}

// generate builds the tenant's Conditional Access objects: at least two payload shapes of each
// family, after the examples of the docs:v1 create pages (conditionalaccessroot-post-policies
// examples 1–4, -post-namedlocations, authenticationstrengthroot-post-policies,
// authenticationcontextclassreference-update), with references to this tenant's own objects.
func (st *caStore) generate() {
	t := st.tenant
	add := func(f graph.Family, o map[string]any) map[string]any {
		if o["id"] == nil {
			o["id"] = st.newID(f)
		}
		if o["@odata.type"] == nil {
			o["@odata.type"] = graphNS + caCollections[f].types[0]
		}
		if f != graph.FamilyAuthenticationContextClassReferences {
			o["createdDateTime"], o["modifiedDateTime"] = stamp(len(st.fam[f])), stamp(len(st.fam[f])+2)
		}
		st.fam[f] = append(st.fam[f], o)
		return o
	}
	office := add(graph.FamilyNamedLocations, map[string]any{"@odata.type": graphNS + "ipNamedLocation", "displayName": "Head office", "isTrusted": true,
		"ipRanges": []any{map[string]any{"@odata.type": graphNS + "iPv4CidrRange", "cidrAddress": "203.0.113.0/24"},
			map[string]any{"@odata.type": graphNS + "iPv6CidrRange", "cidrAddress": "2001:db8:1234::/48"}}})
	blocked := add(graph.FamilyNamedLocations, map[string]any{"@odata.type": graphNS + "countryNamedLocation", "displayName": "Blocked countries",
		"countriesAndRegions": []any{"KP", "IR"}, "includeUnknownCountriesAndRegions": true, "countryLookupMethod": "clientIpAddress"})
	for _, b := range builtInStrengths {
		add(graph.FamilyAuthenticationStrengthPolicies, map[string]any{"id": b.id, "displayName": b.name, "description": "Built-in " + b.name,
			"policyType": "builtIn", "requirementsSatisfied": "mfa", "allowedCombinations": []any{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"},
			"createdDateTime": "2021-12-01T00:00:00Z", "modifiedDateTime": "2021-12-01T00:00:00Z"})
	}
	strength := add(graph.FamilyAuthenticationStrengthPolicies, map[string]any{"displayName": "Contoso passwordless", "description": "FIDO2 or Windows Hello",
		"policyType": "custom", "requirementsSatisfied": "mfa", "allowedCombinations": []any{"fido2", "windowsHelloForBusiness"}})
	add(graph.FamilyAuthenticationStrengthPolicies, map[string]any{"displayName": "Onboarding with TAP", "description": "Temporary Access Pass for new hires",
		"policyType": "custom", "requirementsSatisfied": "mfa", "allowedCombinations": []any{"temporaryAccessPassOneTime", "password,microsoftAuthenticatorPush"}})
	add(graph.FamilyAuthenticationContextClassReferences, map[string]any{"id": "c1", "displayName": "Sensitive apps",
		"description": "Step-up for finance and HR apps", "isAvailable": true})
	add(graph.FamilyAuthenticationContextClassReferences, map[string]any{"id": "c2", "displayName": "Admin portals step-up",
		"description": "Not yet published to apps", "isAvailable": false})
	n := max(1, t.groups.count())
	g := func(i int) string { return t.groups.id(i % n) }
	breakGlass := g(0)
	const globalAdmin, securityAdmin = "62e90394-69f5-4237-9190-012177145e10", "194ae4cb-b126-40b2-bd5b-6091b380977d"
	exchange := "00000002-0000-0ff1-ce00-000000000000" // Office 365 Exchange Online (docs:v1 conditionalaccessroot-post-policies example 1)
	users := func(m map[string]any) map[string]any {
		for _, k := range []string{"includeUsers", "excludeUsers", "includeGroups", "excludeGroups", "includeRoles", "excludeRoles"} {
			if m[k] == nil {
				m[k] = []any{}
			}
		}
		return m
	}
	apps := func(include ...any) map[string]any {
		return map[string]any{"includeApplications": include, "excludeApplications": []any{}, "includeUserActions": []any{},
			"includeAuthenticationContextClassReferences": []any{}}
	}
	for _, p := range []map[string]any{
		{"displayName": "Require MFA for administrators", "state": "enabled",
			"conditions": map[string]any{"clientAppTypes": []any{"all"}, "applications": apps("All"),
				"users": users(map[string]any{"includeRoles": []any{globalAdmin, securityAdmin}, "excludeGroups": []any{breakGlass}})},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}},
		{"displayName": "Block legacy authentication", "state": "enabled",
			"conditions": map[string]any{"clientAppTypes": []any{"exchangeActiveSync", "other"}, "applications": apps("All"),
				"users": users(map[string]any{"includeUsers": []any{"All"}, "excludeGroups": []any{breakGlass}})},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"block"}}},
		// No exclusion at all: the lockout shape (no break-glass account left out).
		{"displayName": "Block sign-ins from blocked countries", "state": "enabledForReportingButNotEnforced",
			"conditions": map[string]any{"clientAppTypes": []any{"all"}, "applications": apps("All"),
				"users":     users(map[string]any{"includeUsers": []any{"All"}}),
				"locations": map[string]any{"includeLocations": []any{blocked["id"]}, "excludeLocations": []any{}}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"block"}}},
		{"displayName": "Passwordless for sensitive apps", "state": "disabled",
			"conditions": map[string]any{"clientAppTypes": []any{"browser", "mobileAppsAndDesktopClients"},
				"applications": map[string]any{"includeApplications": []any{}, "excludeApplications": []any{}, "includeUserActions": []any{},
					"includeAuthenticationContextClassReferences": []any{"c1"}},
				"users": users(map[string]any{"includeGroups": []any{g(1)}, "excludeGroups": []any{breakGlass}})},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{}, "authenticationStrength": map[string]any{"id": strength["id"]}},
			"sessionControls": map[string]any{"signInFrequency": map[string]any{"value": 4, "type": "hours", "isEnabled": true,
				"authenticationType": "primaryAndSecondaryAuthentication", "frequencyInterval": "timeBased"}}},
		{"displayName": "Compliant device for Exchange off-site", "state": "enabled",
			"conditions": map[string]any{"clientAppTypes": []any{"mobileAppsAndDesktopClients", "browser"}, "applications": apps(exchange),
				"users":     users(map[string]any{"includeGroups": []any{g(2)}, "excludeRoles": []any{globalAdmin}}),
				"locations": map[string]any{"includeLocations": []any{"All"}, "excludeLocations": []any{office["id"]}},
				"platforms": map[string]any{"includePlatforms": []any{"android", "iOS"}, "excludePlatforms": []any{}}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"compliantDevice", "domainJoinedDevice"}}},
	} {
		p["description"], p["templateId"] = nil, nil
		add(graph.FamilyConditionalAccessPolicies, p)
	}
}

// find returns an object of a family by id (case-insensitive, as directory ids are).
func (st *caStore) find(f graph.Family, id string) map[string]any {
	for _, o := range st.fam[f] {
		if strings.EqualFold(fmt.Sprint(o["id"]), id) {
			return o
		}
	}
	return nil
}

// wire is an object as Graph sends it: @odata.type only when it differs from the declared type
// (OData JSON 4.01 §4.5.3; named locations always carry it, their collection being abstract).
func (st *caStore) wire(f graph.Family, o map[string]any) map[string]any {
	out := deepClone(o).(map[string]any)
	if strings.TrimPrefix(fmt.Sprint(out["@odata.type"]), graphNS) == caCollections[f].declared {
		delete(out, "@odata.type")
	}
	return out
}

func deepClone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = deepClone(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = deepClone(val)
		}
		return out
	}
	return v
}

// caPermitted applies the permission tables of the docs:v1 pages: writes of policies and named
// locations need Policy.Read.All *and* Policy.ReadWrite.ConditionalAccess
// (conditionalaccessroot-post-policies, -post-namedlocations, conditionalaccesspolicy-update,
// namedlocation-update); strengths are read with Policy.Read.AuthenticationMethod or higher
// (Policy.Read.All, Policy.ReadWrite.AuthenticationMethod, Policy.ReadWrite.ConditionalAccess)
// and written with Policy.ReadWrite.ConditionalAccess or Policy.ReadWrite.AuthenticationMethod;
// contexts are read with AuthenticationContext.Read.All or higher (not Policy.Read.All) and
// written with AuthenticationContext.ReadWrite.All or Policy.ReadWrite.ConditionalAccess.
// handled is false for other families.
func caPermitted(roles []string, c *graph.Contract) (ok, handled bool) {
	any := func(perms ...string) bool {
		return slices.ContainsFunc(perms, func(p string) bool { return graph.Granted(roles, p) })
	}
	write := c.IsWrite()
	switch c.Family {
	case graph.FamilyConditionalAccessPolicies, graph.FamilyNamedLocations:
		if write {
			return any("Policy.ReadWrite.ConditionalAccess") && any("Policy.Read.All"), true
		}
		return any("Policy.Read.All"), true
	case graph.FamilyAuthenticationStrengthPolicies:
		if write {
			return any("Policy.ReadWrite.ConditionalAccess", "Policy.ReadWrite.AuthenticationMethod"), true
		}
		return any("Policy.Read.AuthenticationMethod", "Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod", "Policy.ReadWrite.ConditionalAccess"), true
	case graph.FamilyAuthenticationContextClassReferences:
		if write {
			return any("AuthenticationContext.ReadWrite.All", "Policy.ReadWrite.ConditionalAccess"), true
		}
		return any("AuthenticationContext.Read.All", "AuthenticationContext.ReadWrite.All", "Policy.Read.ConditionalAccess", "Policy.ReadWrite.ConditionalAccess"), true
	}
	return false, false
}

func isCAFamily(f graph.Family) bool {
	_, ok := caCollections[f]
	return ok
}

// serveConditionalAccess answers the Conditional Access contracts.
func (s *Server) serveConditionalAccess(w http.ResponseWriter, req *simRequest, c *graph.Contract, args []string) {
	st := req.tenant.ca
	if c.IsWrite() {
		st.mu.Lock()
		defer st.mu.Unlock()
	} else {
		st.mu.RLock()
		defer st.mu.RUnlock()
	}
	f := c.Family
	ctxURL := req.base + "/v1.0/$metadata#" + strings.TrimPrefix(strings.SplitN(c.Path, "/{", 2)[0], "/")
	switch {
	case c.Kind == graph.KindList:
		objs := make([]map[string]any, 0, len(st.fam[f]))
		for _, o := range st.fam[f] {
			objs = append(objs, st.wire(f, o))
		}
		s.writeSlice(w, req, objs, 100, 999, ctxURL)
		return
	case c.Kind == graph.KindCreate:
		s.createCA(w, req, st, f, ctxURL)
		return
	case c.Kind == graph.KindUpdate && f == graph.FamilyAuthenticationContextClassReferences:
		s.upsertAuthContext(w, req, st, args[0])
		return
	}
	o := st.find(f, args[0])
	if o == nil {
		// Directory 404 (docs/graph.md#errors: Request_ResourceNotFound; unverified for CA).
		s.graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+args[0]+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	switch {
	case c.Kind == graph.KindGet:
		out := st.wire(f, o)
		out["@odata.context"] = ctxURL + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case c.Kind == graph.KindUpdate:
		s.patchCA(w, req, st, f, o)
	case strings.HasSuffix(c.Name, ".updateAllowedCombinations"):
		s.updateAllowedCombinations(w, req, o)
	default:
		s.graphError(w, http.StatusNotImplemented, "NotImplemented", "graphsim does not implement "+c.Name)
	}
}

func (s *Server) caBadRequest(w http.ResponseWriter, msg string) {
	s.graphError(w, http.StatusBadRequest, "BadRequest", msg)
}

// caBody parses a write body and checks its properties against the type: unknown → the OData
// message; read-only → refused.
func (s *Server) caBody(w http.ResponseWriter, req *simRequest, typ string, update bool) (map[string]any, bool) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.caBadRequest(w, err.Error())
		return nil, false
	}
	props := caTypes[typ]
	keys := slices.Sorted(maps.Keys(body))
	for _, k := range keys {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
			continue
		}
		if !slices.Contains(props, k) {
			if typ == "authenticationStrengthPolicy" && k == "combinationConfigurations" {
				s.caBadRequest(w, "Property 'combinationConfigurations' is a navigation property and cannot be written in this request.")
				return nil, false
			}
			s.modelError(w, fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, typ))
			return nil, false
		}
		if slices.Contains(caReadOnly, k) {
			s.caBadRequest(w, fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
			return nil, false
		}
		if update && typ == "authenticationStrengthPolicy" && k == "allowedCombinations" {
			// docs:v1 authenticationstrengthpolicy-update: allowedCombinations through updateAllowedCombinations only.
			s.caBadRequest(w, "allowedCombinations cannot be updated with PATCH; use the updateAllowedCombinations action.")
			return nil, false
		}
	}
	return body, true
}

// resolveCAType: the type a create addresses; an abstract collection needs @odata.type.
func (s *Server) resolveCAType(w http.ResponseWriter, f graph.Family, body map[string]any, current string) (string, bool) {
	spec := caCollections[f]
	typ := current
	if t, ok := body["@odata.type"].(string); ok {
		short := strings.TrimPrefix(t, graphNS)
		if !slices.Contains(spec.types, short) {
			s.modelError(w, fmt.Sprintf("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.TrimPrefix(t, "#")))
			return "", false
		}
		if current != "" && short != current {
			s.caBadRequest(w, "The @odata.type of an existing object cannot change.")
			return "", false
		}
		typ = short
	}
	if typ == "" {
		if spec.abstract {
			s.modelError(w, "Cannot create an abstract class.")
			return "", false
		}
		typ = spec.declared
	}
	return typ, true
}

func (s *Server) createCA(w http.ResponseWriter, req *simRequest, st *caStore, f graph.Family, ctxURL string) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.caBadRequest(w, err.Error())
		return
	}
	typ, ok := s.resolveCAType(w, f, body, "")
	if !ok {
		return
	}
	if body, ok = s.caBody(w, req, typ, false); !ok {
		return
	}
	if msg := st.validate(typ, body); msg != "" {
		s.caBadRequest(w, msg)
		return
	}
	o := deepClone(body).(map[string]any)
	o["@odata.type"] = graphNS + typ
	o["id"] = st.newID(f, "created")
	now := nowStamp()
	o["createdDateTime"], o["modifiedDateTime"] = now, now
	if typ == "authenticationStrengthPolicy" {
		o["policyType"] = "custom"
		o["requirementsSatisfied"] = "mfa" // res:v1: custom strengths satisfy mfa (unverified for single-factor combinations)
	}
	st.fam[f] = append(st.fam[f], o)
	out := st.wire(f, o)
	out["@odata.context"] = ctxURL + "/$entity"
	writeJSON(w, http.StatusCreated, out)
}

// patchCA merges a PATCH (204 No Content: docs:v1 conditionalaccesspolicy-update,
// namedlocation-update, authenticationstrengthpolicy-update). A built-in strength cannot be
// updated (res:v1 authenticationstrengthpolicy "You can't update a built-in").
func (s *Server) patchCA(w http.ResponseWriter, req *simRequest, st *caStore, f graph.Family, o map[string]any) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.caBadRequest(w, err.Error())
		return
	}
	cur := strings.TrimPrefix(fmt.Sprint(o["@odata.type"]), graphNS)
	typ, ok := s.resolveCAType(w, f, body, cur)
	if !ok {
		return
	}
	if body, ok = s.caBody(w, req, typ, true); !ok {
		return
	}
	if o["policyType"] == "builtIn" {
		s.caBadRequest(w, "Built-in authentication strength policies cannot be updated.")
		return
	}
	merged := deepClone(o).(map[string]any)
	maps.Copy(merged, deepClone(body).(map[string]any))
	if msg := st.validate(typ, merged); msg != "" {
		s.caBadRequest(w, msg)
		return
	}
	maps.Copy(o, merged)
	o["modifiedDateTime"] = nowStamp()
	w.WriteHeader(http.StatusNoContent)
}

// upsertAuthContext: PATCH /authenticationContextClassReferences/{id} creates the context when the
// id is unused and updates it otherwise; 204 (docs:v1 authenticationcontextclassreference-update).
func (s *Server) upsertAuthContext(w http.ResponseWriter, req *simRequest, st *caStore, id string) {
	body, ok := s.caBody(w, req, "authenticationContextClassReference", true)
	if !ok {
		return
	}
	if !caContextID.MatchString(id) {
		s.caBadRequest(w, "The authentication context id must be c1 to c99.")
		return
	}
	f := graph.FamilyAuthenticationContextClassReferences
	o := st.find(f, id)
	if o == nil {
		o = map[string]any{"@odata.type": graphNS + "authenticationContextClassReference", "id": id, "displayName": nil, "description": nil, "isAvailable": false}
		st.fam[f] = append(st.fam[f], o)
	}
	maps.Copy(o, deepClone(body).(map[string]any))
	w.WriteHeader(http.StatusNoContent)
}

// updateAllowedCombinations replaces a custom strength's combinations; 200 with
// {currentCombinations, previousCombinations, additionalInformation, conditionalAccessReferences}
// (docs:v1 authenticationstrengthpolicy-updateallowedcombinations).
func (s *Server) updateAllowedCombinations(w http.ResponseWriter, req *simRequest, o map[string]any) {
	var body struct {
		AllowedCombinations []any `json:"allowedCombinations"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		s.caBadRequest(w, "The request body is not a valid JSON object.")
		return
	}
	if o["policyType"] == "builtIn" {
		s.caBadRequest(w, "Built-in authentication strength policies cannot be updated.")
		return
	}
	if msg := validCombinations(body.AllowedCombinations); msg != "" {
		s.caBadRequest(w, msg)
		return
	}
	prev := o["allowedCombinations"]
	o["allowedCombinations"] = deepClone(body.AllowedCombinations)
	o["modifiedDateTime"] = nowStamp()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": req.base + "/v1.0/$metadata#microsoft.graph.updateAllowedCombinationsResult",
		"additionalInformation": nil, "conditionalAccessReferences": []any{}, "currentCombinations": body.AllowedCombinations, "previousCombinations": prev})
}

func validCombinations(list []any) string {
	if len(list) == 0 {
		return "allowedCombinations must not be empty." // res:v1: "Required"
	}
	for _, c := range list {
		for _, m := range strings.Split(fmt.Sprint(c), ",") {
			if !slices.Contains(caMethodModes, strings.TrimSpace(m)) {
				return fmt.Sprintf("'%s' is not a valid authenticationMethodModes value.", strings.TrimSpace(m))
			}
		}
	}
	return ""
}

// validate applies what the docs require of a whole object of typ.
func (st *caStore) validate(typ string, o map[string]any) string {
	switch typ {
	case "ipNamedLocation":
		// docs:v1 conditionalaccessroot-post-namedlocations: ipRanges of iPv4CidrRange/iPv6CidrRange {cidrAddress}.
		ranges, _ := o["ipRanges"].([]any)
		if len(ranges) == 0 {
			return "ipRanges is required for an ipNamedLocation."
		}
		for _, r := range ranges {
			m, _ := r.(map[string]any)
			t := strings.TrimPrefix(fmt.Sprint(m["@odata.type"]), graphNS)
			if (t != "iPv4CidrRange" && t != "iPv6CidrRange") || !strings.Contains(fmt.Sprint(m["cidrAddress"]), "/") {
				return "Each ipRanges entry needs @odata.type iPv4CidrRange or iPv6CidrRange and a cidrAddress."
			}
		}
	case "countryNamedLocation":
		if list, _ := o["countriesAndRegions"].([]any); len(list) == 0 {
			return "countriesAndRegions is required for a countryNamedLocation." // res:v1 countrynamedlocation: Required
		}
	case "authenticationStrengthPolicy":
		return validCombinations(anyList(o["allowedCombinations"]))
	case "conditionalAccessPolicy":
		return st.validatePolicy(o)
	}
	if name, _ := o["displayName"].(string); name == "" {
		return "displayName is required."
	}
	return ""
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// validatePolicy: docs:v1 conditionalaccessroot-post-policies "A valid policy should contain at
// least one application rule …, one user rule …, and at least one grant/session control"; state
// is the enum of res:v1 conditionalaccesspolicy; ids of named locations, authentication
// strengths, contexts and groups must exist in the tenant (an id copied from another tenant is
// refused; the message is unverified).
func (st *caStore) validatePolicy(o map[string]any) string {
	if name, _ := o["displayName"].(string); name == "" {
		return "displayName is required."
	}
	if s, ok := o["state"].(string); !ok || !slices.Contains(caStates, s) {
		return fmt.Sprintf("Invalid state '%v': expected one of %s.", o["state"], strings.Join(caStates, ", "))
	}
	cond, _ := o["conditions"].(map[string]any)
	users, _ := cond["users"].(map[string]any)
	appsCond, _ := cond["applications"].(map[string]any)
	nonEmpty := func(m map[string]any, keys ...string) bool {
		for _, k := range keys {
			if len(anyList(m[k])) > 0 {
				return true
			}
		}
		return false
	}
	if !nonEmpty(users, "includeUsers", "includeGroups", "includeRoles") && users["includeGuestsOrExternalUsers"] == nil {
		return "Invalid policy: conditions.users needs at least one include rule (includeUsers can be 'None')."
	}
	if !nonEmpty(appsCond, "includeApplications", "includeUserActions", "includeAuthenticationContextClassReferences") {
		return "Invalid policy: conditions.applications needs at least one include rule (includeApplications can be 'None')."
	}
	grant, _ := o["grantControls"].(map[string]any)
	session, _ := o["sessionControls"].(map[string]any)
	if !nonEmpty(grant, "builtInControls", "customAuthenticationFactors", "termsOfUse") && grant["authenticationStrength"] == nil && len(session) == 0 {
		return "Invalid policy: at least one grant or session control is required."
	}
	exists := func(f graph.Family, id string) bool { return st.find(f, id) != nil }
	for _, k := range []string{"includeLocations", "excludeLocations"} {
		locs, _ := cond["locations"].(map[string]any)
		for _, id := range anyList(locs[k]) {
			if s := fmt.Sprint(id); s != "All" && s != "AllTrusted" && !exists(graph.FamilyNamedLocations, s) {
				return fmt.Sprintf("Invalid policy: location '%s' in conditions.locations.%s does not exist.", s, k)
			}
		}
	}
	for _, id := range anyList(appsCond["includeAuthenticationContextClassReferences"]) {
		if !exists(graph.FamilyAuthenticationContextClassReferences, fmt.Sprint(id)) {
			return fmt.Sprintf("Invalid policy: authentication context '%v' does not exist.", id)
		}
	}
	if as, ok := grant["authenticationStrength"].(map[string]any); ok {
		if !exists(graph.FamilyAuthenticationStrengthPolicies, fmt.Sprint(as["id"])) {
			return fmt.Sprintf("Invalid policy: authentication strength '%v' does not exist.", as["id"])
		}
	}
	groups := st.tenant.groups
	groups.mu.RLock()
	defer groups.mu.RUnlock()
	for _, k := range []string{"includeGroups", "excludeGroups"} {
		for _, id := range anyList(users[k]) {
			if i := groups.index(fmt.Sprint(id)); i < 0 || !groups.exists(i) {
				return fmt.Sprintf("Invalid policy: group '%v' in conditions.users.%s does not exist.", id, k)
			}
		}
	}
	return ""
}

// The test-facing API, as an admin in the Entra portal would change the tenant.

// CAObjects returns copies of a Conditional Access family's objects, in list order.
func (t *Tenant) CAObjects(f graph.Family) []map[string]any {
	t.ca.mu.RLock()
	defer t.ca.mu.RUnlock()
	var out []map[string]any
	for _, o := range t.ca.fam[f] {
		out = append(out, deepClone(o).(map[string]any))
	}
	return out
}

// AddCAObject inserts an object (no validation: the drift back door) and returns its id.
func (t *Tenant) AddCAObject(f graph.Family, obj map[string]any) (string, error) {
	if !isCAFamily(f) {
		return "", fmt.Errorf("graphsim: %q is not a Conditional Access family", f)
	}
	t.ca.mu.Lock()
	defer t.ca.mu.Unlock()
	o := deepClone(obj).(map[string]any)
	if o["id"] == nil {
		o["id"] = t.ca.newID(f, "admin")
	}
	if o["@odata.type"] == nil {
		o["@odata.type"] = graphNS + caCollections[f].types[0]
	}
	t.ca.fam[f] = append(t.ca.fam[f], o)
	return fmt.Sprint(o["id"]), nil
}

// UpdateCAObject merges patch into an object.
func (t *Tenant) UpdateCAObject(f graph.Family, id string, patch map[string]any) error {
	t.ca.mu.Lock()
	defer t.ca.mu.Unlock()
	o := t.ca.find(f, id)
	if o == nil {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	for k, v := range patch {
		if k != "id" {
			o[k] = deepClone(v)
		}
	}
	return nil
}

// CAPolicyByName returns a copy of the policy with that display name (nil if none).
func (t *Tenant) CAPolicyByName(name string) map[string]any {
	objs := t.CAObjects(graph.FamilyConditionalAccessPolicies)
	sort.SliceStable(objs, func(i, j int) bool { return fmt.Sprint(objs[i]["id"]) < fmt.Sprint(objs[j]["id"]) })
	for _, o := range objs {
		if o["displayName"] == name {
			return o
		}
	}
	return nil
}

func (t *Tenant) deleteCAObject(f graph.Family, id string) error {
	t.ca.mu.Lock()
	defer t.ca.mu.Unlock()
	before := len(t.ca.fam[f])
	t.ca.fam[f] = slices.DeleteFunc(t.ca.fam[f], func(o map[string]any) bool { return strings.EqualFold(fmt.Sprint(o["id"]), id) })
	if len(t.ca.fam[f]) == before {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	return nil
}
