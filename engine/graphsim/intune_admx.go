package graphsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// The tenant's ADMX catalog as Graph serves it (BETA groupPolicyCategory, groupPolicyDefinition,
// groupPolicyPresentation):
//   - GET /deviceManagement/groupPolicyCategories: one category per category path, with
//     ingestionSource "builtIn" for Microsoft's definitions and "custom" for the tenant's uploaded
//     ADMX files; $filter=ingestionSource eq '…' (IM Import-GPOSetting lists "ingestionSource eq
//     'custom'" before binding custom definitions), $select, and $expand=definitions with a nested
//     $select (the same query). Any other $filter is refused as unsupported.
//   - GET /deviceManagement/groupPolicyDefinitions/{id}/presentations
//     (docs:intune-grouppolicy-grouppolicypresentation-list): IM binds a custom definition's
//     presentation values by label against them.
// Built-in definitions and presentations have the same ids in every tenant; custom ones the
// tenant's own (generateADMXCatalog).

// admxCategory is one category of the catalog with its definitions' ids.
type admxCategory struct {
	id, path, source string
	defs             []string
}

func (st *intuneStore) admxCategories() []admxCategory {
	byPath := map[string]*admxCategory{}
	for id, d := range st.admx {
		path, _ := d.def["categoryPath"].(string)
		source := "builtIn"
		if d.def["policyType"] == "admxIngested" {
			source = "custom"
		}
		c, ok := byPath[path]
		if !ok {
			catID := deterministicUUID("admx-category", path)
			if source == "custom" {
				catID = deterministicUUID("admx-category", st.tenant.ID, path)
			}
			c = &admxCategory{id: catID, path: path, source: source}
			byPath[path] = c
		}
		c.defs = append(c.defs, id)
	}
	out := make([]admxCategory, 0, len(byPath))
	for _, c := range byPath {
		sort.Strings(c.defs)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func (s *Server) serveADMXCatalog(w http.ResponseWriter, req *simRequest, c *graph.Contract, args []string) {
	st := req.tenant.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	if c.Kind == graph.KindChildren { // presentations of one definition
		d, ok := st.admx[strings.ToLower(args[0])]
		if !ok {
			s.intuneNotFound(w, args[0])
			return
		}
		s.writeSlice(w, req, []map[string]any{maps.Clone(d.pres)}, subPageSize, subPageSize, contextURL(req, c))
		return
	}
	source := ""
	if f := req.query.Get("$filter"); f != "" {
		v, ok := strings.CutPrefix(f, "ingestionSource eq '")
		if !ok || !strings.HasSuffix(v, "'") {
			s.graphError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid filter clause: %s is not supported.", f))
			return
		}
		source = strings.TrimSuffix(v, "'")
	}
	expand, defSelect := "", []string(nil)
	if e := req.query.Get("$expand"); e != "" {
		name, opts, _ := strings.Cut(e, "(")
		if name != "definitions" {
			s.modelError(w, fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.groupPolicyCategory'.", name))
			return
		}
		expand = name
		if sel, ok := strings.CutPrefix(strings.TrimSuffix(opts, ")"), "$select="); ok {
			for _, p := range strings.Split(sel, ",") {
				defSelect = append(defSelect, strings.TrimSpace(p))
			}
		}
	}
	var sel []string
	if v := req.query.Get("$select"); v != "" {
		for _, p := range strings.Split(v, ",") {
			sel = append(sel, strings.TrimSpace(p))
		}
	}
	var out []map[string]any
	for _, cat := range st.admxCategories() {
		if source != "" && cat.source != source {
			continue
		}
		name := cat.path[strings.LastIndexByte(cat.path, '\\')+1:]
		o := map[string]any{"id": cat.id, "displayName": name, "isRoot": false, "ingestionSource": cat.source,
			"lastModifiedDateTime": stamp(0)}
		if sel != nil {
			o = pick(o, append(sel, "id"))
		}
		if expand != "" {
			var defs []map[string]any
			for _, id := range cat.defs {
				d := maps.Clone(st.admx[id].def)
				if defSelect != nil {
					d = pick(d, append(defSelect, "id"))
				}
				defs = append(defs, d)
			}
			o["definitions"] = defs
		}
		out = append(out, o)
	}
	// $select is applied above: the expanded definitions are part of the answer whatever it selects
	// (OData: $expand adds navigations beside the selected properties).
	unselected := *req
	unselected.query = maps.Clone(req.query)
	unselected.query.Del("$select")
	s.writeSlice(w, &unselected, out, intunePageDefault, intunePageMax, contextURL(req, c))
}

// pick keeps the listed properties of o ($select).
func pick(o map[string]any, keys []string) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		if slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}
