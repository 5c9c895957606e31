package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Writes of Intune entities: create (POST, 201 + the object), update (PATCH, 204) and replace
// (PUT, 204; settings catalog — ICD SettingsCatalog.py/Compliance.py `method="put"` expecting 204,
// IM Start-PreUpdateSettingsCatalog Method=PUT).
//
// A body is checked as Graph checks it (families.md §0, §2):
//   - @odata.type must resolve to a type the collection holds (IM #267: "A type named
//     'microsoft.graph.x' could not be resolved by the model…"); an abstract collection needs one
//     on create ("Cannot create an abstract class.");
//   - every property must exist on the type (BETA, intune_schema_gen.go): "The property 'p' does
//     not exist on type 'microsoft.graph.t'. Make sure to only use property names that are defined
//     by the type or mark the type as open type." (OData library message);
//   - navigation properties are refused inline except where documented (inlineNavigations);
//   - server-owned and per-type read-only properties are refused (serverOwned, readOnlyOnCreate,
//     readOnlyOnUpdate — each with the peer finding that found them);
//   - a non-null secretReferenceValueId on create → NotSupported "SecretReferenceValueId invalid
//     for create" (docs/graph.md#errors; IBR #39);
//   - omaSettingStringXml.value is Edm.Binary (CSDL10): a value that is not base64 → "Cannot
//     convert the literal '…' to the expected type 'Edm.Binary'." (the OData literal error of IM #4);
//   - remediation and compliance scripts need detection content (IBR #71: 400 UnknownError
//     "DetectionScriptContent must not be null or empty");
//   - a classic compliance policy needs exactly one block action ("Compliance policy must have one
//     and only one block scheduled action", docs resource deviceComplianceScheduledActionForRule).

type writeMode int

const (
	modeCreate writeMode = iota
	modeUpdate
	modeReplace
)

// writeErr is a refusal with its dialect.
type writeErr struct {
	odata bool // OData model error (plain message) vs Intune service refusal
	code  string
	msg   string
}

func (s *Server) refuse(w http.ResponseWriter, e *writeErr) {
	switch {
	case e.odata:
		s.modelError(w, e.msg)
	case e.code == "UnknownError":
		s.plainError(w, http.StatusBadRequest, e.code, e.msg)
	case e.code != "":
		s.intuneError(w, http.StatusBadRequest, e.code, e.msg)
	default:
		s.invalid(w, e.msg)
	}
}

func odataErr(format string, args ...any) *writeErr {
	return &writeErr{odata: true, msg: fmt.Sprintf(format, args...)}
}

func serviceErr(format string, args ...any) *writeErr {
	return &writeErr{msg: fmt.Sprintf(format, args...)}
}

func unknownProperty(p, typ string) *writeErr {
	return odataErr("The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", p, typ)
}

// decodeObject parses a write body into a JSON object.
func decodeObject(body []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errors.New("The request body is not a valid JSON object.") //nolint:staticcheck // ST1005: Graph's message, verbatim
	}
	return m, nil
}

// resolveType returns the schema a write body addresses in a collection.
func resolveType(col *collectionSpec, body map[string]any, current string) (typeSchema, *writeErr) {
	typ := current
	if t, ok := body["@odata.type"].(string); ok {
		if !col.accepts(t) && strings.TrimPrefix(t, graphNS) != col.declared {
			return typeSchema{}, odataErr("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.TrimPrefix(t, "#"))
		}
		if current != "" && t != current && strings.TrimPrefix(t, graphNS) != col.declared {
			return typeSchema{}, serviceErr("The @odata.type of an existing object cannot change.")
		}
		if col.accepts(t) {
			typ = t
		}
	}
	if typ == "" {
		if col.abstract {
			return typeSchema{}, odataErr("Cannot create an abstract class.")
		}
		typ = graphNS + col.declared
	}
	ts, ok := schemaOf(typ)
	if !ok {
		return typeSchema{}, odataErr("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.TrimPrefix(typ, "#"))
	}
	return ts, nil
}

// checkBody applies the property rules to a body of type ts.
func checkBody(ts typeSchema, body map[string]any, mode writeMode) *writeErr {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	refused := slices.Concat(serverOwned, chainLookup(readOnlyOnCreate, ts))
	if mode == modeUpdate {
		refused = append(refused, chainLookup(readOnlyOnUpdate, ts)...)
	}
	inline := chainLookup(inlineNavigations, ts)
	for _, k := range keys {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
			continue // instance and property annotations (@odata.type, @odata.context, x@odata.type)
		}
		if ts.hasNav(k) {
			if mode != modeUpdate && slices.Contains(inline, k) {
				continue
			}
			return serviceErr("Property '%s' is a navigation property of microsoft.graph.%s and cannot be written in this request; write it through its own endpoint or action.", k, ts.chain[0])
		}
		if !ts.hasProp(k) {
			return unknownProperty(k, ts.chain[0])
		}
		if slices.Contains(refused, k) {
			return serviceErr("Property '%s' is read-only and cannot be set.", k)
		}
	}
	// IM Start-PreImportEnrollmentRestrictions: "Windows Phone operations are no longer supported"
	// — a windowsMobileRestriction must be dropped before a write.
	if v, ok := body["windowsMobileRestriction"]; ok && v != nil {
		return serviceErr("Property 'windowsMobileRestriction' cannot be set: Windows Phone operations are no longer supported.")
	}
	if oma, ok := body["omaSettings"].([]any); ok {
		for _, v := range oma {
			m, _ := v.(map[string]any)
			if m == nil {
				continue
			}
			if m["@odata.type"] == graphNS+"omaSettingStringXml" {
				if s, ok := m["value"].(string); ok {
					if _, err := base64.StdEncoding.DecodeString(s); err != nil {
						lit := s
						if len(lit) > 40 {
							lit = lit[:40]
						}
						return odataErr("Cannot convert the literal '%s' to the expected type 'Edm.Binary'.", lit)
					}
				}
			}
		}
	}
	return nil
}

func nameOf(f graph.Family) string {
	fi, _ := graph.FamilyOf(f)
	return fi.NameProperty
}

func (s *Server) createIntune(w http.ResponseWriter, req *simRequest, st *intuneStore, c *graph.Contract, col *collectionSpec) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	ts, werr := resolveType(col, body, "")
	if werr == nil {
		werr = checkBody(ts, body, modeCreate)
	}
	if werr == nil {
		werr = checkCreateRules(col, ts, body)
	}
	if werr != nil {
		s.refuse(w, werr)
		return
	}
	name := nameOf(col.family)
	if n, _ := body[name].(string); strings.TrimSpace(n) == "" {
		s.invalid(w, fmt.Sprintf("The '%s' property is required.", name))
		return
	}
	body["@odata.type"] = graphNS + ts.chain[0]
	obj := newObject(nil)
	if isRoleAssignmentCollection(col) {
		if werr := st.takeRoleAssignmentBinds(obj, body, true); werr != nil {
			s.refuse(w, werr)
			return
		}
	}
	takeInline(obj, ts, body)
	now := nowStamp()
	body["id"] = st.newID("created", now)
	body["createdDateTime"], body["lastModifiedDateTime"] = now, now
	switch {
	case ts.derivesFrom("deviceConfiguration"), ts.derivesFrom("deviceCompliancePolicy"), ts.derivesFrom("managedDeviceMobileAppConfiguration"):
		body["version"] = 1
	case ts.derivesFrom("managedAppPolicy"):
		body["version"] = `"1"`
	case ts.derivesFrom("deviceHealthScript"), ts.derivesFrom("deviceComplianceScript"):
		body["version"] = "1"
	}
	if ts.derivesFrom("deviceHealthScript") {
		body["isGlobalScript"], body["deviceHealthScriptType"] = false, "deviceHealthScript"
	}
	if ts.derivesFrom("mobileApp") { // service-maintained (IM strips them before a write)
		body["publishingState"], body["isAssigned"] = appPublishingState(ts.chain[0]), false
		body["dependentAppCount"], body["supersedingAppCount"], body["supersededAppCount"] = 0, 0, 0
	}
	if ts.hasProp("settingCount") {
		body["settingCount"] = len(obj.children["settings"])
	}
	if ts.derivesFrom("deviceEnrollmentConfiguration") {
		if _, ok := body["priority"]; !ok {
			prio := 0
			for _, o := range st.fam[col.family] {
				if p, ok := o.obj["priority"].(int); ok && p > prio {
					prio = p
				}
			}
			body["priority"] = prio + 1
		}
	}
	obj.obj = body
	st.fam[col.family] = append(st.fam[col.family], obj)
	out := st.render(col, obj, true, nil)
	out["@odata.context"] = contextURL(req, c) + "/$entity"
	status := http.StatusCreated // docs *-create.md; ICD BaseUpdateModule post_status_code = 201
	if col.family == graph.FamilyRoleScopeTags {
		status = http.StatusOK // ICD ScopeTags.py post_status_code = 200 (real tenants), docs say 201
	}
	writeJSON(w, status, out)
}

// checkCreateRules are the family rules of a create beyond the property checks.
func checkCreateRules(col *collectionSpec, ts typeSchema, body map[string]any) *writeErr {
	if hasSecretReference(body) {
		return &writeErr{code: "NotSupported", msg: "SecretReferenceValueId invalid for create"}
	}
	if ts.derivesFrom("deviceHealthScript") || ts.derivesFrom("deviceComplianceScript") {
		if s, _ := body["detectionScriptContent"].(string); s == "" {
			return &writeErr{code: "UnknownError", msg: "DetectionScriptContent must not be null or empty"}
		}
	}
	if ts.derivesFrom("deviceCompliancePolicy") {
		if e := checkRules(body["scheduledActionsForRule"], true); e != nil {
			return e
		}
	}
	return checkTemplateReferences(body)
}

// checkTemplateReferences refuses a template-bound settings-catalog policy whose settings name a
// template setting the template does not have, compared case-sensitively — real tenants answer
// 400 with "Info\nInvalid Reference id found in Policy  created from Template <id>\nPolicyId\n\n
// TemplateId\n<id>\nInvalidReferenceId\n<setting id>" (IM #209, #241; CIPP #4241; IM found the
// comparison case-sensitive). Only the templates the simulator knows are checked.
func checkTemplateReferences(body map[string]any) *writeErr {
	ref, _ := body["templateReference"].(map[string]any)
	if tid, _ := ref["templateId"].(string); tid != esTemplateID {
		return nil
	}
	for _, set := range toObjectsAny(body["settings"]) {
		inst, _ := set["settingInstance"].(map[string]any)
		tref, _ := inst["settingInstanceTemplateReference"].(map[string]any)
		id, _ := tref["settingInstanceTemplateId"].(string)
		if id == "" || !slices.Contains(esTemplateSettings, id) {
			return &writeErr{code: "BadRequest", msg: fmt.Sprintf("Info\nInvalid Reference id found in Policy  created from Template %s\nPolicyId\n\nTemplateId\n%s\nInvalidReferenceId\n%s",
				esTemplateID, esTemplateID, id)}
		}
	}
	return nil
}

// checkRules validates compliance rules: each rule has ruleName and scheduledActionConfigurations
// only, each action the deviceComplianceActionItem properties (BETA); classic compliance needs
// exactly one block action.
func checkRules(v any, needBlock bool) *writeErr {
	rules, ok := v.([]any)
	if !ok {
		if needBlock {
			return serviceErr("Compliance policy must have one and only one block scheduled action.")
		}
		return nil
	}
	blocks := 0
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		for k := range rule {
			if !strings.HasPrefix(k, "@") && !slices.Contains([]string{"id", "ruleName", "scheduledActionConfigurations"}, k) {
				return unknownProperty(k, "deviceComplianceScheduledActionForRule")
			}
		}
		actions, _ := rule["scheduledActionConfigurations"].([]any)
		for _, a := range actions {
			act, _ := a.(map[string]any)
			for k := range act {
				if !strings.HasPrefix(k, "@") && !slices.Contains([]string{"id", "actionType", "gracePeriodHours", "notificationTemplateId", "notificationMessageCCList"}, k) {
					return unknownProperty(k, "deviceComplianceActionItem")
				}
			}
			if act["actionType"] == "block" {
				blocks++
			}
		}
	}
	if needBlock && blocks != 1 {
		return serviceErr("Compliance policy must have one and only one block scheduled action.")
	}
	return nil
}

// takeInline moves the inline navigation collections of a create or PUT body into obj. Only
// where the type declares them as navigations (BETA navigationProperties): "settings" of
// iosMobileAppConfiguration is a structural property (Collection(appConfigurationSettingItem),
// BETA iosMobileAppConfiguration) and stays in the object, as Graph returns it in every GET.
func takeInline(obj *intuneObject, ts typeSchema, body map[string]any) {
	for _, nav := range []string{"settings", "scheduledActionsForRule"} {
		if v, ok := body[nav]; ok && ts.hasNav(nav) {
			obj.children[nav] = withIDs(toObjects(anySlice(v)), nav)
			delete(body, nav)
		}
	}
}

// withIDs gives child entities without an id one (settings get their index, as Intune numbers
// them; rules and actions a fresh GUID).
func withIDs(items []map[string]any, nav string) []map[string]any {
	for i, it := range items {
		if _, ok := it["id"]; !ok || it["id"] == nil {
			if nav == "settings" {
				it["id"] = fmt.Sprint(i)
			} else {
				it["id"] = deterministicUUID("child", nav, i, fmt.Sprint(it))
			}
		}
		if nav == "scheduledActionsForRule" {
			acts := toObjects(anySlice(it["scheduledActionConfigurations"]))
			for j, a := range acts {
				if _, ok := a["id"]; !ok || a["id"] == nil {
					a["id"] = deterministicUUID("action", i, j, fmt.Sprint(a))
				}
			}
			it["scheduledActionConfigurations"] = anyOf(acts)
		}
	}
	return items
}

func anyOf(items []map[string]any) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}

func hasSecretReference(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "secretReferenceValueId" && val != nil {
				return true
			}
			if hasSecretReference(val) {
				return true
			}
		}
	case []any:
		for _, val := range x {
			if hasSecretReference(val) {
				return true
			}
		}
	}
	return false
}

func toObjects(in []any) []map[string]any {
	var out []map[string]any
	for _, v := range in {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func toObjectsAny(v any) []map[string]any { return toObjects(anySlice(v)) }

func (s *Server) patchIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, col *collectionSpec, obj *intuneObject) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	ts, werr := resolveType(col, body, obj.typ())
	if werr == nil {
		werr = checkBody(ts, body, modeUpdate)
	}
	if werr != nil {
		s.refuse(w, werr)
		return
	}
	delete(body, "@odata.type")
	if isRoleAssignmentCollection(col) {
		if werr := req.tenant.intune.takeRoleAssignmentBinds(obj, body, false); werr != nil {
			s.refuse(w, werr)
			return
		}
	}
	maps.Copy(obj.obj, body)
	touch(obj.obj)
	if patchAnswersNoContent(col, obj) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out := req.tenant.intune.render(col, obj, true, nil)
	out["@odata.context"] = contextURL(req, c) + "/$entity"
	writeJSON(w, http.StatusOK, out)
}

// patchAnswersNoContent: what a PATCH answers, from the peers' exact status checks against real
// tenants (ICD update modules, make_graph_request raises on any other status): 204 for device
// configurations, classic and settings-catalog compliance, device app configurations and app
// protection other than WIP; 200 with the updated object (as every beta docs *-update.md page
// says) for WIP, enrollment configurations, filters, ADMX, scope tags, all four script families,
// autopilot and the update profiles, and for the families no peer PATCHes.
func patchAnswersNoContent(col *collectionSpec, obj *intuneObject) bool {
	switch col.family {
	case graph.FamilyDeviceConfigurations, graph.FamilyDeviceCompliancePolicies, graph.FamilyCompliancePolicies, graph.FamilyMobileAppConfigurations:
		return true
	case graph.FamilyManagedAppPolicies:
		return obj.typ() != graphNS+"windowsInformationProtectionPolicy"
	}
	return false
}

// putIntune replaces a settings-catalog policy: OData PUT semantics (every structural property
// not sent is reset) and the settings sent replace all settings (ICD, IM: "replaces all settings").
func (s *Server) putIntune(w http.ResponseWriter, req *simRequest, col *collectionSpec, obj *intuneObject) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	ts, werr := resolveType(col, body, obj.typ())
	if werr == nil {
		werr = checkBody(ts, body, modeReplace)
	}
	if werr == nil && hasSecretReference(body) {
		werr = &writeErr{code: "NotSupported", msg: "SecretReferenceValueId invalid for create"}
	}
	if werr == nil {
		werr = checkTemplateReferences(body)
	}
	if werr != nil {
		s.refuse(w, werr)
		return
	}
	if name, _ := body["name"].(string); strings.TrimSpace(name) == "" {
		s.invalid(w, "PUT replaces the whole policy: 'name' is required.")
		return
	}
	keep := map[string]any{"id": obj.obj["id"], "createdDateTime": obj.obj["createdDateTime"], "@odata.type": obj.obj["@odata.type"],
		"isAssigned": obj.obj["isAssigned"], "creationSource": obj.obj["creationSource"]}
	takeInline(obj, ts, body) // settings (and rules) sent replace the stored ones; navigations not sent are kept
	obj.obj = body
	maps.Copy(obj.obj, keep)
	obj.obj["settingCount"] = len(obj.children["settings"])
	touch(obj.obj)
	w.WriteHeader(http.StatusNoContent)
}
