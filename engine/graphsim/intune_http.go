package graphsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// HTTP side of the Intune families: reads (list, get, navigation collections, $expand) and the
// dispatch of writes and actions (intune_writes.go, intune_actions.go).
//
// Wire form (OData minimal metadata, which Graph answers by default):
//   - @odata.type only on items whose type differs from the collection's declared type
//     (collectionSpec.typeOnWire; OData JSON 4.01 §4.5.3);
//   - list results leave the lazy properties null (script bodies; IM #100, ICD reads scripts by id);
//     a GET of one object fills them;
//   - navigation properties (assignments, settings, apps, scheduledActionsForRule,
//     definitionValues, …) appear only when $expand-ed, and their own navigation properties
//     (scheduledActionConfigurations, definition, presentation) only when expanded in turn.

func (s *Server) intuneNotFound(w http.ResponseWriter, id string) {
	s.intuneError(w, http.StatusNotFound, "ResourceNotFound", "No object with id '"+id+"' was found.")
}

// invalid answers a service-side validation refusal in Intune's JSON-inside-message dialect.
func (s *Server) invalid(w http.ResponseWriter, msg string) {
	s.intuneError(w, http.StatusBadRequest, "ModelValidationFailure", msg)
}

// modelError answers an OData model/deserialisation error: a plain message, repeated in
// innerError, as IM #4 shows ({"error":{"code":"ModelValidationFailure","message":"Cannot convert
// the literal … to the expected type 'Edm.DateTimeOffset'.","innerError":{"message":…,
// "request-id":…,"date":…}}}) and IM #267 ("A type named … could not be resolved by the model").
func (s *Server) modelError(w http.ResponseWriter, msg string) {
	id := s.requestID()
	inner := innerError(id)
	inner["message"] = msg
	w.Header().Set("request-id", id)
	w.Header().Set("client-request-id", id)
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "ModelValidationFailure", "message": msg, "innerError": inner}})
}

// plainError answers a service error whose message is plain text (IBR #71:
// {"error":{"code":"UnknownError","message":"DetectionScriptContent must not be null or empty",…}}).
func (s *Server) plainError(w http.ResponseWriter, status int, code, msg string) {
	s.graphError(w, status, code, msg)
}

func contextURL(req *simRequest, c *graph.Contract) string {
	return req.base + "/beta/$metadata#" + strings.TrimPrefix(strings.SplitN(c.Path, "/{", 2)[0], "/")
}

// serveIntune answers every Intune contract (registry and simulator-owned, intune_routes.go).
func (s *Server) serveIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, args []string) {
	st := req.tenant.intune
	if c.IsWrite() {
		st.mu.Lock()
		defer st.mu.Unlock()
	} else {
		st.mu.RLock()
		defer st.mu.RUnlock()
	}
	col := collectionOf(c)
	if col == nil {
		s.graphError(w, http.StatusNotImplemented, "NotImplemented", "graphsim does not implement "+c.Name)
		return
	}
	switch c.Kind {
	case graph.KindList:
		if col.family == graph.FamilyGroupPolicyConfigurations && strings.Contains(req.query.Get("$expand"), "(") {
			// The ADMX service expands one level only ("MaxExpansionDepth" 1, as its definitionValues
			// answer below): definitionValues($expand=definition) from the list is two.
			s.modelError(w, tooDeep)
			return
		}
		exp, err := parseExpand(req.query.Get("$expand"), schemaForExpand(col))
		if err != "" {
			s.modelError(w, err)
			return
		}
		var objs []map[string]any
		for _, o := range st.inCollection(col) {
			objs = append(objs, st.render(col, o, false, exp))
		}
		def, most := intunePageDefault, intunePageMax
		if _, settings := exp["settings"]; settings && col.family == graph.FamilyConfigurationPolicies {
			// configurationPolicies?$expand=settings is answered in pages of one or two policies
			// whatever $top asks (a public Intune toolkit's real-tenant finding: RKSolutions
			// FINDINGS.md, "$expand=settings is hard-capped on cosmos endpoints … observed ~1-2
			// policies per page"); complete, but a page per two policies, one after the other.
			def, most = expandedSettingsPage, expandedSettingsPage
		}
		s.writeSlice(w, req, objs, def, most, contextURL(req, c))
		return
	case graph.KindCreate:
		if c.Family == graph.FamilyIntents {
			s.createInstance(w, req, st, c, args[0])
			return
		}
		s.createIntune(w, req, st, c, col)
		return
	}
	obj := st.findIn(col, args[0])
	if obj == nil {
		s.intuneNotFound(w, args[0])
		return
	}
	switch c.Kind {
	case graph.KindGet:
		ts, _ := schemaOf(obj.typ())
		exp, err := parseExpand(req.query.Get("$expand"), ts)
		if err != "" {
			s.modelError(w, err)
			return
		}
		out := st.render(col, obj, true, exp)
		out["@odata.context"] = contextURL(req, c) + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case graph.KindAssignments:
		s.writeSlice(w, req, renderAssignments(col.family, obj.assignments), subPageSize, subPageSize, contextURL(req, c))
	case graph.KindChildren:
		s.serveChildren(w, req, c, obj, args)
	case graph.KindUpdate:
		s.patchIntune(w, req, c, col, obj)
	case graph.KindReplace:
		s.putIntune(w, req, col, obj)
	case graph.KindAssign:
		s.assignIntune(w, req, c, col, obj)
	case graph.KindSetPriority:
		s.setPriority(w, req, obj)
	case graph.KindAction:
		s.actionIntune(w, req, c, col, obj)
	case graph.KindDelete:
		s.deleteChild(w, c, obj, args[1])
	default:
		s.graphError(w, http.StatusNotImplemented, "NotImplemented", "graphsim does not implement "+c.Name)
	}
}

// schemaForExpand is the schema $expand on a list is checked against: the declared type's
// navigation properties are those every item has, so the first concrete type stands for them.
func schemaForExpand(col *collectionSpec) typeSchema {
	ts, _ := schemaOf(col.types[0])
	if col.name == "managedAppPolicies" {
		// managedAppPolicy declares no navigation property (BETA: assignments and apps belong to
		// the derived protections), so its list expands none without a type cast; IM never expands
		// assignments on it (App Protection: ExpandAssignmentsList = $false).
		ts = typeSchema{chain: []string{"managedAppPolicy"}}
	}
	// roleScopeTags: $expand=assignments "adds the assignments property but always empty" (IM
	// Scope (Tags): ExpandAssignmentsList = $false); the simulator keeps no tag assignments, so
	// render answers it empty.
	return ts
}

// parseExpand reads $expand into navigation name → nested $expand ("" if none), checking each
// name against the type's navigation properties as OData does.
func parseExpand(raw string, ts typeSchema) (map[string]string, string) {
	out := map[string]string{}
	if raw == "" {
		return out, ""
	}
	depth, start := 0, 0
	var items []string
	for i, r := range raw {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, raw[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, raw[start:])
	for _, it := range items {
		it = strings.TrimSpace(it)
		name, opts, _ := strings.Cut(it, "(")
		name = strings.TrimSpace(name)
		if cast, nav, ok := strings.Cut(name, "/"); ok {
			// A navigation of a derived type is expanded through a type cast (OData URL conventions
			// 4.01 §5.1.2: "microsoft.graph.windows10GeneralConfiguration/privacyAccessControls", as IM
			// Get-GraphObject sends it); the cast must name a type of the object's hierarchy.
			if !slices.Contains(ts.chain, strings.TrimPrefix(cast, "microsoft.graph.")) {
				typ := "entity"
				if len(ts.chain) > 0 {
					typ = ts.chain[0]
				}
				return nil, fmt.Sprintf("The type '%s' is not compatible with the type 'microsoft.graph.%s'.", cast, typ)
			}
			name = nav
		}
		if name == "*" {
			for _, n := range ts.navs {
				out[n] = ""
			}
			continue
		}
		if !ts.hasNav(name) {
			typ := "entity"
			if len(ts.chain) > 0 {
				typ = ts.chain[0]
			}
			return nil, fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.%s'.", name, typ)
		}
		nested := ""
		if opts != "" {
			opts = strings.TrimSuffix(opts, ")")
			if v, ok := strings.CutPrefix(strings.TrimSpace(opts), "$expand="); ok {
				nested = v
			}
		}
		out[name] = nested
	}
	return out, ""
}

// render returns the wire form of one object.
func (st *intuneStore) render(col *collectionSpec, o *intuneObject, full bool, exp map[string]string) map[string]any {
	out := maps.Clone(o.obj)
	if !col.typeOnWire(o.typ()) {
		delete(out, "@odata.type")
	}
	if !full {
		for _, p := range lazyProperties[col.family] {
			if _, ok := out[p]; ok {
				out[p] = nil
			}
		}
	}
	for nav, nested := range exp {
		switch nav {
		case "assignments":
			out[nav] = renderAssignments(col.family, o.assignments)
		case "roleDefinition": // a role assignment's single-valued navigation (intune_apps.go)
			out[nav] = st.renderRoleDefinition(o)
		case "roleScopeTags":
			out[nav] = st.renderRoleScopeTags(o)
		case "scheduledActionsForRule":
			out[nav] = stripUnexpanded(o.children[nav], "scheduledActionConfigurations", nested)
		case "definitionValues":
			dvs := stripUnexpanded(o.children[nav], "definition", nested)
			if strings.Contains(nested, "presentationValues") {
				for _, dv := range dvs {
					dv["presentationValues"] = stripUnexpanded(o.presentation[fmt.Sprint(dv["id"])], "presentation", nested)
				}
			}
			out[nav] = dvs
		default: // settings, apps, and navigations the simulator keeps empty (deviceStatuses, …)
			out[nav] = nonNil(o.children[nav])
		}
	}
	return out
}

func nonNil(items []map[string]any) []map[string]any {
	if items == nil {
		return []map[string]any{}
	}
	return items
}

// renderAssignments returns the assignment entities restricted to the properties of the family's
// assignment type (a deviceManagementScriptAssignment has id and target only, BETA).
func renderAssignments(f graph.Family, as []map[string]any) []map[string]any {
	props := assignmentSchemas[assignmentTypes[f]]
	out := make([]map[string]any, 0, len(as))
	for _, a := range as {
		m := map[string]any{}
		for k, v := range a {
			if props == nil || slices.Contains(props, k) {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// stripUnexpanded copies items, dropping a navigation property unless the nested $expand names it.
func stripUnexpanded(items []map[string]any, nav, expand string) []map[string]any {
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = maps.Clone(it)
		if !strings.Contains(expand, nav) {
			delete(out[i], nav)
		}
	}
	return out
}

// tooDeep is the ADMX service's refusal of a nested $expand.
const tooDeep = "The request includes a $expand path which is too deep. The maximum depth allowed is 1."

func (s *Server) serveChildren(w http.ResponseWriter, req *simRequest, c *graph.Contract, obj *intuneObject, args []string) {
	name := c.Name[strings.IndexByte(c.Name, '.')+1:]
	expand := req.query.Get("$expand")
	switch name {
	case "omaSettingPlainTextValue":
		plain, ok := plainTextOf(obj, args[1])
		if !ok {
			s.intuneNotFound(w, args[1])
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": req.base + "/beta/$metadata#Edm.String", "value": plain})
	case "presentationValues":
		vals, ok := obj.presentation[args[1]]
		if !ok {
			s.intuneNotFound(w, args[1])
			return
		}
		s.writeSlice(w, req, stripUnexpanded(vals, "presentation", expand), subPageSize, subPageSize, contextURL(req, c))
	case "definitionValues":
		// Real tenants (a public Intune toolkit's findings): a nested $expand is refused
		// ("MaxExpansionDepth=1", so presentationValues($expand=presentation) cannot ride along),
		// and $expand=presentationValues at depth 1 answers an empty array for admxIngested
		// definitions; without the presentation either way, so backups read each value's
		// presentationValues?$expand=presentation (IM Get-GPOObjectSettings).
		if strings.Contains(expand, "(") {
			s.modelError(w, tooDeep)
			return
		}
		dvs := stripUnexpanded(obj.children[name], "definition", expand)
		if strings.Contains(expand, "presentationValues") {
			for i, dv := range dvs {
				pvs := []map[string]any{}
				if d, _ := obj.children[name][i]["definition"].(map[string]any); d["policyType"] != "admxIngested" {
					pvs = stripUnexpanded(obj.presentation[fmt.Sprint(dv["id"])], "presentation", "")
				}
				dv["presentationValues"] = pvs
			}
		}
		s.writeSlice(w, req, dvs, subPageSize, subPageSize, contextURL(req, c))
	case "scheduledActionsForRule":
		s.writeSlice(w, req, stripUnexpanded(obj.children[name], "scheduledActionConfigurations", expand), subPageSize, subPageSize, contextURL(req, c))
	default: // settings (settings catalog, intents)
		most := subPageSize
		if c.Family == graph.FamilyConfigurationPolicies {
			// 25 a page by default (IntuneCD #125, IntuneBackupAndRestore #88: backups without $top
			// kept 25 settings), more when $top asks: IntuneCD's $top=1000 read a 153-setting policy
			// in one answer (its batch reads follow no nextLink; the reporter confirmed the fix).
			most = intunePageMax
		}
		s.writeSlice(w, req, nonNil(obj.children[name]), subPageSize, most, contextURL(req, c))
	}
}

// plainTextOf returns the plaintext behind an encrypted OMA setting's secretReferenceValueId. The
// key material keeps the "sim-plaintext-<id>" marker tests look for.
func plainTextOf(obj *intuneObject, secretID string) (string, bool) {
	oma, _ := obj.obj["omaSettings"].([]any)
	for _, v := range oma {
		m, _ := v.(map[string]any)
		if m != nil && m["secretReferenceValueId"] == secretID {
			if m["@odata.type"] == graphNS+"omaSettingStringXml" {
				return `<LayoutModificationTemplate Version="1"><DefaultLayoutOverride/></LayoutModificationTemplate>`, true
			}
			return `<WLANProfile xmlns="http://www.microsoft.com/networking/WLAN/profile/v1"><name>Corp</name><MSM><security><sharedKey><keyMaterial>sim-plaintext-` +
				secretID[:8] + `</keyMaterial></sharedKey></security></MSM></WLANProfile>`, true
		}
	}
	return "", false
}
