package graphsim

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// The test-facing API of the Intune store: what a test (or the demo) reads and changes directly,
// as an admin in the portal would. Objects are returned as stored: @odata.type always set and the
// lazy script bodies filled, whatever the wire form drops.

// Policies returns copies of a family's objects, in list order; for groupPolicyDefinitions the
// tenant's custom (uploaded) ADMX definitions.
func (t *Tenant) Policies(f graph.Family) []map[string]any {
	if isCAFamily(f) {
		return t.CAObjects(f) // Conditional Access (conditionalaccess.go)
	}
	st := t.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []map[string]any
	if f == graph.FamilyGroupPolicyDefinitions {
		for _, cat := range st.admxCategories() {
			for _, id := range cat.defs {
				if cat.source == "custom" {
					out = append(out, maps.Clone(st.admx[id].def))
				}
			}
		}
		return out
	}
	for _, o := range st.fam[f] {
		out = append(out, maps.Clone(o.obj))
	}
	return out
}

// Assignments returns a copy of one policy's assignments (every stored property, runSchedule and
// intent included).
func (t *Tenant) Assignments(f graph.Family, id string) ([]map[string]any, error) {
	st := t.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	o := st.find(f, id)
	if o == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	return slices.Clone(o.assignments), nil
}

// Children returns a copy of one navigation collection of a policy: "settings" (settings catalog,
// intents), "scheduledActionsForRule" (rules with their scheduledActionConfigurations),
// "definitionValues" (with their definition), "apps" (app protection, MAM app configuration).
func (t *Tenant) Children(f graph.Family, id, nav string) ([]map[string]any, error) {
	st := t.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	o := st.find(f, id)
	if o == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	var out []map[string]any
	for _, c := range o.children[nav] {
		out = append(out, maps.Clone(c))
	}
	return out, nil
}

// PresentationValues returns a copy of the presentation values of one ADMX definition value.
func (t *Tenant) PresentationValues(id, definitionValueID string) ([]map[string]any, error) {
	st := t.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	o := st.find(graph.FamilyGroupPolicyConfigurations, id)
	if o == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, graph.FamilyGroupPolicyConfigurations, id)
	}
	return slices.Clone(o.presentation[definitionValueID]), nil
}

// AddAssignment adds one direct assignment to a policy (a portal edit) and returns its id; extra
// holds the family's other assignment properties (runSchedule, intent, …).
func (t *Tenant) AddAssignment(f graph.Family, id string, target, extra map[string]any) (string, error) {
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.find(f, id)
	if o == nil {
		return "", fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	a := assignment(o.id(), maps.Clone(target), extra)
	o.assignments = append(o.assignments, a)
	touch(o.obj)
	return fmt.Sprint(a["id"]), nil
}

// AddChild appends one entity to a navigation collection of a policy (a portal edit: an intent
// setting, a privacy access control, …), giving it an id when it has none.
func (t *Tenant) AddChild(f graph.Family, id, nav string, item map[string]any) error {
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.find(f, id)
	if o == nil {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	c := maps.Clone(item)
	if c["id"] == nil {
		c["id"] = st.newID("admin-child", id, nav)
	}
	o.children[nav] = append(o.children[nav], c)
	touch(o.obj)
	return nil
}

// AddPolicy inserts an object into a family (no validation: this is the drift back door, as an
// admin editing in the portal) and returns its id.
func (t *Tenant) AddPolicy(f graph.Family, obj map[string]any) (string, error) {
	if isCAFamily(f) {
		return t.AddCAObject(f, obj)
	}
	fi, ok := graph.FamilyOf(f)
	if !ok || fi.Service != graph.ServiceIntune {
		return "", fmt.Errorf("graphsim: %q is not an Intune family", f)
	}
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	o := maps.Clone(obj)
	id := st.newID("admin")
	o["id"] = id
	if o["@odata.type"] == nil {
		o["@odata.type"] = AcceptedTypes(f)[0]
	}
	now := nowStamp()
	o["createdDateTime"], o["lastModifiedDateTime"] = now, now
	st.fam[f] = append(st.fam[f], newObject(o))
	return id, nil
}

// UpdatePolicy merges patch into an object (as a portal edit would).
func (t *Tenant) UpdatePolicy(f graph.Family, id string, patch map[string]any) error {
	if isCAFamily(f) {
		return t.UpdateCAObject(f, id, patch)
	}
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.find(f, id)
	if o == nil {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	for k, v := range patch {
		if k != "id" {
			o.obj[k] = v
		}
	}
	touch(o.obj)
	return nil
}

// DeletePolicy removes an object.
func (t *Tenant) DeletePolicy(f graph.Family, id string) error {
	if isCAFamily(f) {
		return t.deleteCAObject(f, id)
	}
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	before := len(st.fam[f])
	st.fam[f] = slices.DeleteFunc(st.fam[f], func(o *intuneObject) bool { return strings.EqualFold(o.id(), id) })
	if len(st.fam[f]) == before {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	return nil
}
