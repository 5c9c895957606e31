package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// What restoring one backup item writes, per the family rules of docs/graph.md#restore-rules: read-only
// properties stripped (docs/graph.md#strip-before-write), the settings catalog created or PUT with its settings, compliance
// actions through their own action, administrative templates as a shell plus definition values,
// enrollment defaults PATCHed only and priorities set with setPriority, assignments re-mapped
// (docs/graph.md#mapping-and-order) and sent as the full set (assign replaces it).

// Mapping kinds and statuses of a MappingEntry.
const (
	MappingGroup    = "group"
	MappingFilter   = "filter"
	MappingScopeTag = "scope_tag"

	MappingResolved   = "resolved"
	MappingUnresolved = "unresolved"
	MappingAmbiguous  = "ambiguous"
)

// MappingEntry is how one group, filter or scope tag the backup refers to maps into the target.
// Unresolved entries are listed, never silently dropped: an item with any unresolved assignment
// reference gets no assign call at all (a copy stays unassigned, an overwritten object keeps its
// current assignments), because assigning a subset could widen its targeting (a dropped exclusion
// or filter).
type MappingEntry struct {
	Kind string `json:"kind"`
	// Role is include/exclude for groups, the filter type for filters.
	Role       string `json:"role,omitempty"`
	SourceID   string `json:"source_id"`
	SourceName string `json:"source_name,omitempty"`
	TargetID   string `json:"target_id,omitempty"`
	TargetName string `json:"target_name,omitempty"`
	// By is "id" (it still exists in the target) or "name" (found by its name); empty when unresolved.
	By     string `json:"by,omitempty"`
	Status string `json:"status"`
	// Unnamed is why the backup holds no name for the source group (References.UnnamedGroups):
	// it could not name it, which is not a deleted group. Note says so in words.
	Unnamed reason.Code `json:"unnamed,omitempty"`
	Note    string      `json:"note,omitempty"`
}

// matchByName maps e to the one candidate found by its name ("name", resolved); several are
// ambiguous, none leaves e as it is. target gives a candidate's id and name in the target tenant.
func matchByName[T any](e *MappingEntry, found []T, target func(T) (id, name string)) {
	switch len(found) {
	case 0:
	case 1:
		e.TargetID, e.TargetName = target(found[0])
		e.By, e.Status = "name", MappingResolved
	default:
		e.Status = MappingAmbiguous
	}
}

// assignmentTargetKeys are the target properties an assign body keeps (docs/graph.md#assignments).
var assignmentTargetKeys = []string{"@odata.type", "groupId", "deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}

// restoreContracts are the Graph calls that restore an item of a family, from its descriptor.
type restoreContracts struct {
	prefix                      string // the collection written through (app protection: its type collection)
	get, create, update, assign string
	put                         bool // update is a PUT of the whole object (settings catalog)
}

func contractsFor(d *intune.Descriptor, odataType string) (restoreContracts, error) {
	prefix, ok := d.Collection(odataType)
	if !ok {
		return restoreContracts{}, fmt.Errorf("%s type %q has no type collection to write through", d.Family, odataType)
	}
	c := restoreContracts{prefix: prefix, get: prefix + ".get", create: prefix + ".create", update: prefix + ".update"}
	if d.Create == intune.CreateUpsert {
		c.create = c.update // created by PATCHing the id it takes (authentication contexts)
	}
	if d.Update == intune.UpdatePut {
		c.update, c.put = prefix+".replace", true
	}
	switch d.Assign {
	case intune.AssignAction:
		c.assign = prefix + ".assign"
	case intune.AssignOneByOne:
		c.assign = prefix + ".createAssignment"
	}
	for _, name := range []string{c.get, c.create, c.update, c.assign} {
		if _, ok := graph.Lookup(name); name != "" && !ok {
			return restoreContracts{}, fmt.Errorf("no %s contract in the registry", name)
		}
	}
	return c, nil
}

// errBuiltIn is the plan error of a built-in object (Default scope tag, Microsoft's global
// remediations): the item is skipped, never copied (IM lists isBuiltIn eq false / isGlobalScript eq false).
var errBuiltIn = errors.New("a built-in object Microsoft maintains in every tenant: never restored as a copy")

// itemPlan is what restoring one item does.
type itemPlan struct {
	family     graph.Family
	fi         graph.FamilyInfo
	desc       *intune.Descriptor
	contracts  restoreContracts
	action     string // store.RestoreAction*
	targetID   string // update: the object written
	targetName string
	isDefault  bool
	body       map[string]any // the object write (create, PATCH or PUT)
	createArgs []string
	// Follow-ups after the object write.
	scheduledActions  []any          // compliance: scheduleActionsForRules (classic, after an update) or setScheduledActions (v2)
	targetApps        map[string]any // app protection, MAM app config: the targetApps body
	intentSettings    []any          // intents: updateSettings after an update
	privacyControls   []any          // windows10GeneralConfiguration: windowsPrivacyAccessControls after the write (nil: none)
	localizedMessages []any          // notification message template: its localized messages, one POST each after the write (nil: none)
	definitionValues  []any          // administrative templates: updateDefinitionValues
	priority          int64          // enrollment (not defaults): setPriority after the write, when > 0
	assignments       []any          // nil: no assign call
	assign            bool
	ca                *caPlan   // Conditional Access additions (plan_ca.go)
	rbac              *rbacPlan // role assignment binds (plan_rbac.go)
	mapping           []MappingEntry
	unresolved        int
	notes             []string
	desired           map[string]any // normalized object that will be written (for the diff)
}

// restoreResolver maps groups, filters and scope tags into the target tenant from the database:
// the target's cached groups (directory_groups.sync) and its inventory of filters and scope tags.
type restoreResolver struct {
	sameTenant   bool
	groupsByID   map[string]store.Group
	groupsByName map[string][]store.Group
	filters      inventoryIndex
	scopeTags    inventoryIndex
	// objects are the target's objects of the referenced families (mobile apps, notification
	// templates from the reference families' inventory; compliance scripts), by family.
	objects  map[graph.Family]refIndex
	admx     map[string][]admxTarget // the target's custom ADMX definitions by admxKey
	defaults map[string]string       // policy type → the target's enrollment default id
	created  map[string]string       // family/source id → the id this restore created it under
	ca       *caResolver             // Conditional Access (plan_ca.go)
	// planned (previews only) names the objects the restore will write before the items that
	// refer to them: family/source id → target name (scope tags, filters, compliance scripts).
	planned  map[string]string
	warnings []string
	roleDefs map[string]roleDefTarget // the target's role definitions by lower id (plan_rbac.go)
	gone     map[string]bool          // target ids the run's pre-flight read found gone (plan_apps.go)
}

type inventoryIndex struct {
	byID   map[string]string   // id → name
	byName map[string][]string // lower name → ids
}

// refIndex is the target's objects of one referenced family, by id and by lower name + type.
type refIndex struct {
	byID   map[string]intune.NamedRef
	byName map[string][]string
}

// refKey is how a reference is matched by name: mobile apps by displayName and @odata.type
// (families.md §4; IM, ICD), the other kinds by displayName alone.
func refKey(kind intune.RefKind, n intune.NamedRef) string {
	k := strings.ToLower(n.Name)
	if kind == intune.RefMobileApp {
		k += "|" + strings.ToLower(n.Type)
	}
	return k
}

func (r *restoreResolver) addObject(f graph.Family, kind intune.RefKind, id string, n intune.NamedRef) {
	if r.objects == nil {
		r.objects = map[graph.Family]refIndex{}
	}
	ix, ok := r.objects[f]
	if !ok {
		ix = refIndex{byID: map[string]intune.NamedRef{}, byName: map[string][]string{}}
		r.objects[f] = ix
	}
	ix.byID[id] = n
	k := refKey(kind, n)
	if !slices.Contains(ix.byName[k], id) {
		ix.byName[k] = append(ix.byName[k], id)
	}
}

func newInventoryIndex(items []store.InventoryItem) inventoryIndex {
	ix := inventoryIndex{byID: map[string]string{}, byName: map[string][]string{}}
	for _, it := range items {
		if it.DeletedAt != nil {
			continue
		}
		ix.byID[it.GraphID] = it.DisplayName
		k := strings.ToLower(it.DisplayName)
		ix.byName[k] = append(ix.byName[k], it.GraphID)
	}
	return ix
}

// newRestoreResolver loads what mapping the payloads needs from the target's caches.
func newRestoreResolver(ctx context.Context, q store.Querier, sourceTenantID, targetTenantID int64, payloads []intune.Payload) (*restoreResolver, error) {
	r := &restoreResolver{sameTenant: sourceTenantID == targetTenantID, defaults: map[string]string{}}
	var ids, names []string
	for _, p := range payloads {
		var gs []string
		for _, a := range p.Assignments {
			target, _ := asMap(a)["target"].(map[string]any)
			if g, _ := target["groupId"].(string); g != "" {
				gs = append(gs, g)
			}
		}
		for _, g := range slices.Concat(gs, intune.CCGroups(p.ScheduledActions), caPayloadGroups(p), intune.RoleAssignmentGroups(graph.FamilyRoleAssignments, p.Object)) {
			ids = append(ids, g)
			if p.References != nil && p.References.Groups[g] != "" {
				names = append(names, p.References.Groups[g])
			}
		}
	}
	var err error
	if r.groupsByID, err = store.GroupNames(ctx, q, targetTenantID, ids); err != nil {
		return nil, err
	}
	if r.groupsByName, err = store.GroupsByName(ctx, q, targetTenantID, names); err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		st, err := store.GetSyncState(ctx, q, targetTenantID, store.CollectionGroups)
		if err != nil {
			return nil, err
		}
		if st.SyncedAt == nil {
			r.warnings = append(r.warnings, "the target's groups were never synced: groups cannot be mapped (run a group sync of the target first)")
		}
	}
	inv, err := store.ListInventory(ctx, q, store.InventoryFilter{TenantID: targetTenantID, IncludeDeleted: false, Limit: 1_000_000})
	if err != nil {
		return nil, err
	}
	var filters, tags []store.InventoryItem
	refKinds := map[graph.Family]intune.RefKind{}
	for _, d := range intune.Descriptors() {
		for _, ref := range d.References {
			if ref.Source != "" && ref.Kind != intune.RefScopeTagList {
				refKinds[ref.Source] = ref.Kind
			}
		}
	}
	for _, it := range inv {
		if kind, ok := refKinds[graph.Family(it.Family)]; ok {
			r.addObject(graph.Family(it.Family), kind, it.GraphID, intune.NamedRef{Name: it.DisplayName, Type: it.ODataType})
		}
		switch {
		case it.Family == string(graph.FamilyAssignmentFilters):
			filters = append(filters, it)
		case it.Family == string(graph.FamilyRoleScopeTags):
			tags = append(tags, it)
		case it.IsDefault:
			r.defaults[it.PolicyType] = it.GraphID
		}
	}
	if len(inv) == 0 {
		r.warnings = append(r.warnings, "the target's inventory was never synced: filters and scope tags cannot be mapped and current objects are unknown (run an inventory sync of the target first)")
	}
	if !r.sameTenant && slices.ContainsFunc(payloads, hasCustomADMX) {
		defs, err := store.ListInventory(ctx, q, store.InventoryFilter{TenantID: targetTenantID, Family: string(admxSource()),
			WithPayload: true, Limit: 1_000_000})
		if err != nil {
			return nil, err
		}
		for _, it := range defs {
			if it.DeletedAt == nil {
				r.addADMXTarget(it)
			}
		}
	}
	r.filters, r.scopeTags = newInventoryIndex(filters), newInventoryIndex(tags)
	if err := r.loadCA(ctx, q, targetTenantID, payloads); err != nil {
		return nil, err
	}
	if err := r.loadRoleDefinitions(ctx, q, targetTenantID, payloads); err != nil {
		return nil, err
	}
	return r, nil
}

// learn records an object this restore just wrote, so later items of the same restore map to it:
// a scope tag or filter created (or overwritten) here is found by its source id and name
// (docs/graph.md#mapping-and-order).
func (r *restoreResolver) learn(it store.RestoreItem, p intune.Payload, plan *itemPlan, targetID string) {
	r.learnCA(it, plan, targetID)
	var ix *inventoryIndex
	switch plan.family {
	case graph.FamilyRoleScopeTags:
		ix = &r.scopeTags
	case graph.FamilyAssignmentFilters:
		ix = &r.filters
	default:
		// A family other objects refer to (compliance scripts): later items map to what this
		// restore wrote, by its source id (resolver.object).
		if kind, ok := referencedKind(plan.family); ok {
			if r.created == nil {
				r.created = map[string]string{}
			}
			r.created[string(plan.family)+"/"+it.SourceGraphID] = targetID
			r.addObject(plan.family, kind, targetID, intune.NamedRef{Name: plan.targetName, Type: plan.desc.ODataType(p.Object)})
		}
		return
	}
	if ix.byID == nil {
		*ix = newInventoryIndex(nil)
	}
	if r.created == nil {
		r.created = map[string]string{}
	}
	r.created[string(plan.family)+"/"+it.SourceGraphID] = targetID
	ix.byID[targetID] = plan.targetName
	for _, name := range []string{intune.DisplayName(plan.fi, p.Object), it.DisplayName} {
		k := strings.ToLower(name)
		if k != "" && !slices.Contains(ix.byName[k], targetID) {
			ix.byName[k] = []string{targetID} // the object this restore wrote wins over a same-named one
		}
	}
}

// admxSource is the reference family custom ADMX definitions are mapped from (the descriptors'
// RefADMXDefinition source: groupPolicyDefinitions).
func admxSource() graph.Family {
	for _, d := range intune.Descriptors() {
		for _, ref := range d.References {
			if ref.Kind == intune.RefADMXDefinition {
				return ref.Source
			}
		}
	}
	return ""
}

// hasCustomADMX reports whether a payload binds a custom (uploaded) ADMX definition.
func hasCustomADMX(p intune.Payload) bool {
	return slices.ContainsFunc(p.DefinitionValues, func(v any) bool {
		return asMap(asMap(v)["definition"])["policyType"] == "admxIngested"
	})
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// group maps a group id.
func (r *restoreResolver) group(id string, refs *intune.References) MappingEntry {
	sourceName, unnamed := refs.Group(id)
	e := MappingEntry{Kind: MappingGroup, SourceID: id, SourceName: sourceName, Status: MappingUnresolved}
	if g, ok := r.groupsByID[id]; ok && g.DeletedAt == nil {
		e.TargetID, e.TargetName, e.By, e.Status = g.GraphID, g.DisplayName, "id", MappingResolved
		if e.SourceName == "" {
			e.SourceName = g.DisplayName
		}
		return e
	}
	if unnamed != "" {
		e.Unnamed, e.Note = unnamed, unnamedGroupNote(unnamed)
	}
	if sourceName == "" {
		return e
	}
	matchByName(&e, r.groupsByName[strings.ToLower(sourceName)], func(g store.Group) (string, string) { return g.GraphID, g.DisplayName })
	return e
}

// unnamedGroupNote says why a group the target does not hold by id has no name to be matched by:
// the backup could not name it (not: it was deleted).
func unnamedGroupNote(code reason.Code) string {
	if code == reason.ProviderPermissionDenied {
		c, _ := graph.Lookup("groups.get")
		return "the backup could not name this group: its app lacked " + c.Permission + " (" + string(code) + "); not a deleted group, but it can be matched by id only"
	}
	return "the backup could not name this group (" + string(code) + "); not a deleted group, but it can be matched by id only"
}

// fromIndex maps a filter or scope tag id. Scope tag ids are per-tenant integers, so across tenants
// an id counts only when its name matches too (docs/graph.md#mapping-and-order: map scope tags by name).
func (r *restoreResolver) fromIndex(ix inventoryIndex, kind, id, sourceName string, idNeedsName bool) MappingEntry {
	e := MappingEntry{Kind: kind, SourceID: id, SourceName: sourceName, Status: MappingUnresolved}
	fam := graph.FamilyAssignmentFilters
	if kind == MappingScopeTag {
		fam = graph.FamilyRoleScopeTags
	}
	if created, ok := r.created[string(fam)+"/"+id]; ok {
		e.TargetID, e.TargetName, e.By, e.Status = created, ix.byID[created], "restore", MappingResolved
		return e
	}
	if name, ok := r.planned[string(fam)+"/"+id]; ok {
		e.TargetName, e.By, e.Status = name, "restore", MappingResolved
		return e
	}
	if name, ok := ix.byID[id]; ok && (!idNeedsName || r.sameTenant || strings.EqualFold(name, sourceName)) {
		e.TargetID, e.TargetName, e.By, e.Status = id, name, "id", MappingResolved
		if e.SourceName == "" {
			e.SourceName = name
		}
		return e
	}
	if sourceName == "" {
		return e
	}
	matchByName(&e, ix.byName[strings.ToLower(sourceName)], func(id string) (string, string) { return id, ix.byID[id] })
	return e
}

// planItem works out how one item is restored into the target. It reads nothing from Graph: the
// run adds what its pre-flight GET finds. It runs in phases, each a method below: the target
// object, the write body, its scope tags, the family's own rules, the assignments, and the desired
// state the preview diffs against.
func planItem(it store.RestoreItem, p intune.Payload, mode, suffix, targetGUID string, r *restoreResolver) (*itemPlan, error) {
	f := graph.Family(it.Family)
	fi, ok := graph.FamilyOf(f)
	if !ok || fi.Service != graph.ServiceIntune && !fi.Entra {
		return nil, fmt.Errorf("family %q cannot be restored", it.Family)
	}
	d := intune.DescriptorOf(f)
	if d == nil {
		return nil, fmt.Errorf("family %q has no descriptor", it.Family)
	}
	if d.IsBuiltIn(p.Object) {
		return nil, errBuiltIn
	}
	odataType := it.ODataType
	if odataType == "" {
		odataType = d.ODataType(p.Object)
	}
	cs, err := contractsFor(d, odataType)
	if err != nil {
		return nil, err
	}
	if intune.HasSecretReference(p.Object) {
		return nil, fmt.Errorf("it holds an encrypted OMA-URI value whose plaintext was not backed up (the backup needs DeviceManagementConfiguration.ReadWrite.All to read it)")
	}
	// The write maps ids in place (references, compliance rules): plan on a copy, so planning the
	// same payload again (a gone overwrite target recreated) starts from the backup's ids.
	p.Object, _ = deepCopy(p.Object).(map[string]any)
	p.ScheduledActions, _ = deepCopy(p.ScheduledActions).([]any)
	p.DefinitionValues, _ = deepCopy(p.DefinitionValues).([]any)
	plan := &itemPlan{family: f, fi: fi, desc: d, contracts: cs, isDefault: it.IsDefault}
	if d.MatchExisting {
		if err := plan.chooseApp(it, p, odataType, mode, r); err != nil {
			return nil, err
		}
	} else {
		plan.chooseTarget(it, p, mode, suffix, targetGUID, r)
	}
	plan.body = writeBody(p.Object, d, fi, plan.targetName, plan.action == store.RestoreActionUpdate)
	plan.mapScopeTags(p, r)
	if err := plan.familyWrites(it, p); err != nil {
		return nil, err
	}
	if d.RoundTrip != "" {
		plan.notes = append(plan.notes, "does not round-trip whole: "+d.RoundTrip)
	}
	plan.mapAssignments(it, p, r)
	plan.mapADMXDefinitions(r)
	plan.mapReferences(p, r)
	if err := plan.conditionalAccess(it, p, r); err != nil {
		return nil, err
	}
	if err := plan.roleAssignment(p, r); err != nil {
		return nil, err
	}
	plan.desired = plan.desiredState()
	return plan, nil
}

// chooseTarget decides what the write does: an enrollment default is always updated in place, an
// overwrite updates the backed-up object, anything else is created as a copy with the suffix.
func (plan *itemPlan) chooseTarget(it store.RestoreItem, p intune.Payload, mode, suffix, targetGUID string, r *restoreResolver) {
	name := intune.DisplayName(plan.fi, p.Object)
	if name == "" {
		name = it.DisplayName
	}
	switch {
	case it.IsDefault:
		// Enrollment defaults exist in every tenant and can only be PATCHed (docs/graph.md#enrollment-type-collision).
		plan.action, plan.targetName = store.RestoreActionUpdate, name
		plan.targetID = r.defaults[it.PolicyType]
		if plan.targetID == "" {
			_, suffix, _ := strings.Cut(it.SourceGraphID, "_")
			plan.targetID = targetGUID + "_" + suffix
		}
	case mode == store.RestoreOverwrite:
		plan.action, plan.targetID, plan.targetName = store.RestoreActionUpdate, it.SourceGraphID, name
	default:
		plan.action, plan.targetName = store.RestoreActionCreate, name+suffix
	}
}

// writeBody is the backed-up object as a write body: read-only and volatile properties stripped,
// null secret references dropped, the name set to targetName.
func writeBody(object map[string]any, d *intune.Descriptor, fi graph.FamilyInfo, targetName string, update bool) map[string]any {
	body := maps.Clone(object)
	if body == nil {
		body = map[string]any{}
	}
	for _, k := range d.StripKeys(d.ODataType(object), update) {
		delete(body, k)
	}
	intune.StripVolatile(body)
	stripNilSecretReferences(body)
	body[fi.NameProperty] = targetName
	return body
}

// mapScopeTags maps the body's scope tags by name (docs/graph.md#mapping-and-order); an explicit list is always sent.
func (plan *itemPlan) mapScopeTags(p intune.Payload, r *restoreResolver) {
	key := plan.desc.ScopeTagKey() // roleScopeTagIds, or filters' roleScopeTags (BETA)
	tags, ok := p.Object[key].([]any)
	if !ok || key == "" {
		return
	}
	mapped := []any{}
	for _, t := range tags {
		id := fmt.Sprint(t)
		srcName := ""
		if p.References != nil {
			srcName = p.References.ScopeTags[id]
		}
		var e MappingEntry
		if id == "0" {
			if srcName == "" {
				srcName = "Default" // the built-in tag every tenant has
			}
			e = MappingEntry{Kind: MappingScopeTag, SourceID: id, SourceName: srcName, TargetID: "0", TargetName: srcName, By: "id", Status: MappingResolved}
		} else {
			e = r.fromIndex(r.scopeTags, MappingScopeTag, id, srcName, true)
		}
		plan.mapping = append(plan.mapping, e)
		if e.Status == MappingResolved {
			target := e.TargetID
			if target == "" {
				target = id // a preview: the tag this restore creates first has no id yet
			}
			if !slices.Contains(mapped, any(target)) {
				mapped = append(mapped, target)
			}
		} else {
			plan.unresolved++
		}
	}
	if len(mapped) == 0 && len(tags) > 0 {
		mapped = append(mapped, "0") // every tag unresolved: the default tag, explicitly (docs/graph.md#mapping-and-order)
	}
	plan.body[key] = mapped
}

// familyWrites adjusts a plan to what its family's writes require, from its descriptor
// (docs/graph.md#family-write-rules): settings sent with the object, non-compliance actions,
// ADMX definition values, enrollment priority, intents' settings and targeted apps as follow-ups.
func (plan *itemPlan) familyWrites(it store.RestoreItem, p intune.Payload) error {
	d := plan.desc
	create := plan.action == store.RestoreActionCreate
	if d.Create == intune.CreatePost && slices.ContainsFunc(d.Children, func(c intune.Child) bool { return c.Key == "settings" }) {
		settings := cleanChildren(p.Settings)
		if settings == nil {
			settings = []any{}
		}
		plan.body["settings"] = settings
	}
	switch {
	case d.HasFollowUp(intune.FollowScheduleActionsForRules):
		rules := cleanChildren(p.ScheduledActions)
		if len(rules) == 0 {
			// Create requires a rule and GET may omit it: Intune's default is block at once (docs/graph.md#family-write-rules).
			rules = []any{map[string]any{"ruleName": "PasswordRequired", "scheduledActionConfigurations": []any{
				map[string]any{"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": "", "notificationMessageCCList": []any{}}}}}
		}
		if create {
			plan.body["scheduledActionsForRule"] = rules
		} else {
			plan.scheduledActions = rules
		}
	case d.HasFollowUp(intune.FollowSetScheduledActions):
		// v2 compliance: the rules through setScheduledActions after create and PUT (docs; ICD Compliance.py).
		if rules := cleanChildren(p.ScheduledActions); len(rules) > 0 {
			plan.scheduledActions = rules
		}
	}
	if d.HasFollowUp(intune.FollowUpdateDefinitionValues) {
		shell := map[string]any{}
		for _, k := range []string{"@odata.type", "displayName", "description", "roleScopeTagIds"} {
			if v, ok := plan.body[k]; ok {
				shell[k] = v
			}
		}
		plan.body = shell
		plan.definitionValues = p.DefinitionValues
	}
	if d.HasFollowUp(intune.FollowSetPriority) {
		if prio, ok := p.Object["priority"]; ok && !it.IsDefault {
			if n, err := json.Number(fmt.Sprint(prio)).Int64(); err == nil && n > 0 {
				plan.priority = n
			}
		}
	}
	if d.TargetsApps(it.ODataType) {
		plan.targetApps = targetAppsBody(p.Object)
	}
	if controls, ok := p.Object["privacyAccessControls"].([]any); ok && d.HasFollowUp(intune.FollowPrivacyAccessControls) {
		// Sent as backed up, even empty: an overwrite leaves exactly the backed-up controls.
		plan.privacyControls = cleanChildren(controls)
	}
	if d.HasFollowUp(intune.FollowLocalizedMessages) {
		msgs, _ := p.Object["localizedNotificationMessages"].([]any)
		// Sent as backed up, even none: an overwrite leaves exactly the backed-up messages.
		plan.localizedMessages = cleanChildren(msgs)
		if plan.localizedMessages == nil {
			plan.localizedMessages = []any{}
		}
	}
	if d.Create == intune.CreateInstance {
		return plan.intentWrites(p)
	}
	return nil
}

// MappingADMXDefinition is the mapping kind of a custom (uploaded) ADMX definition.
const MappingADMXDefinition = "admx_definition"

// admxTarget is one custom ADMX definition of the target: its id and its presentations' ids by label.
type admxTarget struct {
	id, name      string
	presentations map[string][]string // lower label → ids
}

// admxKey is how a custom ADMX definition is matched across tenants: display name, category path
// and class, case-insensitive (IM Import-GPOSetting: displayName + categoryPath + classType, lower).
func admxKey(def map[string]any) string {
	s := func(k string) string { v, _ := def[k].(string); return strings.ToLower(v) }
	return s("displayName") + "|" + s("categoryPath") + "|" + s("classType")
}

// addADMXTarget indexes one custom definition of the target's inventory (its payload holds the
// presentations the inventory sync read with it).
func (r *restoreResolver) addADMXTarget(it store.InventoryItem) {
	v, err := intune.DecodeJSON(it.Payload)
	def, _ := v.(map[string]any)
	if err != nil || def == nil {
		return
	}
	t := admxTarget{id: it.GraphID, name: it.DisplayName, presentations: map[string][]string{}}
	for _, p := range anyList(def["presentations"]) {
		pm := asMap(p)
		id, _ := pm["id"].(string)
		label, _ := pm["label"].(string)
		if id != "" {
			t.presentations[strings.ToLower(label)] = append(t.presentations[strings.ToLower(label)], id)
		}
	}
	if r.admx == nil {
		r.admx = map[string][]admxTarget{}
	}
	k := admxKey(def)
	r.admx[k] = append(r.admx[k], t)
}

// mapADMXDefinitions maps, into another tenant, the custom ADMX definitions (policyType
// admxIngested: uploaded into their tenant, ids of their own; IM/ICD) the definition values
// bind: to the target's custom definition of the same display name, category path and class
// (from its inventory), each presentation value to the target presentation of the same label (IM
// Import-GPOSetting). A definition the target lacks, has twice, or whose presentation it lacks is
// left out of the write and listed, never bound by a foreign id. Built-in definitions have the
// same id in every tenant and are bound as they are.
func (plan *itemPlan) mapADMXDefinitions(r *restoreResolver) {
	if plan.definitionValues == nil || r.sameTenant {
		return
	}
	kept := []any{}
	for _, v := range plan.definitionValues {
		def := asMap(asMap(v)["definition"])
		if def["policyType"] != "admxIngested" {
			kept = append(kept, v)
			continue
		}
		e := MappingEntry{Kind: MappingADMXDefinition, Status: MappingUnresolved}
		e.SourceID, _ = def["id"].(string)
		e.SourceName, _ = def["displayName"].(string)
		e.Role, _ = def["categoryPath"].(string)
		switch found := r.admx[admxKey(def)]; len(found) {
		case 0:
		case 1:
			if plan.bindPresentations(asMap(v), found[0]) {
				def["id"] = found[0].id
				e.TargetID, e.TargetName, e.By, e.Status = found[0].id, found[0].name, "name", MappingResolved
			}
		default:
			e.Status = MappingAmbiguous
		}
		plan.mapping = append(plan.mapping, e)
		if e.Status != MappingResolved {
			plan.unresolved++
			continue
		}
		kept = append(kept, v)
	}
	plan.definitionValues = kept
}

// bindPresentations points a definition value's presentation values at the target definition's
// presentations of the same label; false when one has no (or no single) match.
func (plan *itemPlan) bindPresentations(dv map[string]any, target admxTarget) bool {
	for _, pv := range anyList(dv["presentationValues"]) {
		pres := asMap(asMap(pv)["presentation"])
		label, _ := pres["label"].(string)
		ids := target.presentations[strings.ToLower(label)]
		if len(ids) != 1 {
			return false
		}
		pres["id"] = ids[0]
	}
	return true
}

// mapReferences maps, for a restore into another tenant, the ids of other objects of the source
// tenant the object holds (descriptor References: mobile apps of ESP and app configuration by
// displayName and @odata.type, notification templates of compliance actions and compliance
// scripts by displayName; families.md §4) to the target's objects of the same name, from the
// target's inventory, recorded in the backup's References. Each is a mapping entry; an id that
// cannot be mapped (no such name in the target, or more than one) is left out of the write and
// listed: an id of another tenant is never copied silently
// (docs/graph.md#families-and-round-trip-fidelity). Within one tenant the ids stay.
func (plan *itemPlan) mapReferences(p intune.Payload, r *restoreResolver) {
	rules := plan.scheduledActions
	if rules == nil {
		rules = anyList(plan.body["scheduledActionsForRule"])
	}
	plan.mapCCGroups(rules, p.References, r)
	plan.desc.VisitReferences(plan.body, rules, func(ref intune.Reference, id string) (string, bool) {
		e := r.object(ref, id, p.References.Object(ref.Kind, id))
		if e.By == "id" {
			return id, true // within one tenant an id stays as it is
		}
		plan.mapping = append(plan.mapping, e)
		if e.Status == MappingResolved && e.TargetID == "" {
			return id, true // a preview: the object this restore creates first has no id yet
		}
		if e.Status != MappingResolved {
			plan.unresolved++
			return "", false
		}
		return e.TargetID, true
	})
}

// mapCCGroups maps the groups compliance actions copy their notifications to
// (notificationMessageCCList) like assignment groups: by id while it exists in the target, else by
// name; an unresolved one is listed (role "cc") and left out of the list, never copied.
func (plan *itemPlan) mapCCGroups(rules []any, refs *intune.References, r *restoreResolver) {
	for _, rule := range rules {
		for _, a := range anyList(asMap(rule)["scheduledActionConfigurations"]) {
			m := asMap(a)
			cc, ok := m["notificationMessageCCList"].([]any)
			if !ok {
				continue
			}
			out := []any{}
			for _, g := range cc {
				id := fmt.Sprint(g)
				e := r.group(id, refs)
				e.Role = "cc"
				plan.mapping = append(plan.mapping, e)
				if e.Status == MappingResolved {
					out = append(out, e.TargetID)
				} else {
					plan.unresolved++
				}
			}
			m["notificationMessageCCList"] = out
		}
	}
}

// referencedKind reports whether objects of f are referred to by other families' References
// (besides scope tags), and as which kind.
func referencedKind(f graph.Family) (intune.RefKind, bool) {
	for _, d := range intune.Descriptors() {
		for _, ref := range d.References {
			if ref.Source == f && ref.Kind != intune.RefScopeTagList {
				return ref.Kind, true
			}
		}
	}
	return "", false
}

// object maps one referenced object: to the object this restore wrote for it (created earlier in
// the same restore, or planned to be in a preview), else by its recorded source name (and type).
func (r *restoreResolver) object(ref intune.Reference, id string, src intune.NamedRef) MappingEntry {
	e := MappingEntry{Kind: string(ref.Kind), Role: src.Type, SourceID: id, SourceName: src.Name, Status: MappingUnresolved}
	if created, ok := r.created[string(ref.Source)+"/"+id]; ok {
		e.TargetID, e.TargetName, e.By, e.Status = created, r.objects[ref.Source].byID[created].Name, "restore", MappingResolved
		return e
	}
	if name, ok := r.planned[string(ref.Source)+"/"+id]; ok {
		e.TargetName, e.By, e.Status = name, "restore", MappingResolved
		return e
	}
	if r.sameTenant {
		e.TargetID, e.By, e.Status = id, "id", MappingResolved
		return e
	}
	if src.Name == "" {
		return e // the backup could not name it: nothing to match
	}
	ix := r.objects[ref.Source]
	matchByName(&e, ix.byName[refKey(ref.Kind, src)], func(id string) (string, string) { return id, ix.byID[id].Name })
	return e
}

// intentWrites creates an intent with createInstance {displayName, description, settingsDelta,
// roleScopeTagIds} (docs:intune-deviceintent-devicemanagementtemplate-createinstance; ICD), or
// PATCHes its shell and replaces its settings with updateSettings
// (docs:intune-deviceintent-devicemanagementintent-updatesettings).
func (plan *itemPlan) intentWrites(p intune.Payload) error {
	settings := cleanChildren(p.Settings)
	if settings == nil {
		settings = []any{}
	}
	shell := map[string]any{}
	for _, k := range []string{"displayName", "description", "roleScopeTagIds"} {
		if v, ok := plan.body[k]; ok {
			shell[k] = v
		}
	}
	plan.body = shell
	if plan.action == store.RestoreActionCreate {
		templateID, _ := p.Object["templateId"].(string)
		if templateID == "" {
			return fmt.Errorf("the intent has no templateId to create it from")
		}
		plan.createArgs = []string{templateID}
		plan.body["settingsDelta"] = settings
		return nil
	}
	plan.intentSettings = settings
	plan.notes = append(plan.notes, "settings the backup does not hold are deleted one by one after updateSettings (DELETE …/settings/{id}, documented; peers found no way to remove them with updateSettings)")
	return nil
}

// targetAppsBody is the targetApps body of an app protection or MAM configuration policy: its
// backed-up apps ($expand=apps) as managedMobileApp {mobileAppIdentifier}, and its appGroupType
// where the type takes one (CSDL10: targetedManagedAppProtection, targetedManagedAppConfiguration;
// windowsManagedAppProtection takes apps only, BETA).
func targetAppsBody(obj map[string]any) map[string]any {
	apps := []any{}
	for _, a := range anyList(obj["apps"]) {
		if ident, ok := asMap(a)["mobileAppIdentifier"].(map[string]any); ok {
			apps = append(apps, map[string]any{"mobileAppIdentifier": ident})
		}
	}
	body := map[string]any{"apps": apps}
	if g, ok := obj["appGroupType"]; ok && obj["@odata.type"] != intune.ODataPrefix+"windowsManagedAppProtection" {
		body["appGroupType"] = g
	}
	return body
}

// mapAssignments re-maps the direct assignments: target + the four target properties, group and
// filter ids mapped into the target (docs/graph.md#assignments, docs/graph.md#mapping-and-order). Any unresolved reference cancels the assign call.
func (plan *itemPlan) mapAssignments(it store.RestoreItem, p intune.Payload, r *restoreResolver) {
	if plan.contracts.assign == "" || !plan.fi.HasAssignments || it.IsDefault {
		return
	}
	out := []any{}
	fromPolicySets := 0
	for _, a := range p.Assignments {
		m := asMap(a)
		if src, _ := m["source"].(string); src != "" && src != "direct" {
			fromPolicySets++
			continue
		}
		next := map[string]any{"target": plan.mapTarget(asMap(m["target"]), p.References, r)}
		for _, k := range plan.desc.AssignmentKeys { // runSchedule, runRemediationScript, intent, … (IM AssignmentProperties)
			if v, ok := m[k]; ok {
				next[k] = v
			}
		}
		out = append(out, next)
	}
	if fromPolicySets > 0 {
		plan.notes = append(plan.notes, fmt.Sprintf("%d assignment(s) from policy sets left to their policy sets", fromPolicySets))
	}
	// A copy with nothing to assign needs no call; an overwrite sends the full set, even empty.
	plan.assign = len(out) > 0 || plan.action == store.RestoreActionUpdate
	if plan.desc.Assign == intune.AssignOneByOne && plan.action == store.RestoreActionUpdate {
		plan.notes = append(plan.notes, "assignments the backup does not hold are deleted one by one, the missing ones created one by one (autopilot takes no assign of groups)")
	}
	plan.assignments = out
	if plan.unresolved > 0 {
		plan.assign = false
	}
}

// mapTarget is one assignment target with its group and filter mapped, recording both in the plan's
// mapping report.
func (plan *itemPlan) mapTarget(target map[string]any, refs *intune.References, r *restoreResolver) map[string]any {
	next := map[string]any{}
	for _, k := range assignmentTargetKeys {
		if v, ok := target[k]; ok {
			next[k] = v
		}
	}
	if g, _ := target["groupId"].(string); g != "" {
		e := r.group(g, refs)
		e.Role = "include"
		if strings.Contains(fmt.Sprint(target["@odata.type"]), "exclusion") {
			e.Role = "exclude"
		}
		plan.mapping = append(plan.mapping, e)
		if e.Status == MappingResolved {
			next["groupId"] = e.TargetID
		} else {
			plan.unresolved++
		}
	}
	if fid, _ := target["deviceAndAppManagementAssignmentFilterId"].(string); fid != "" && fid != intune.NoFilterID {
		srcName := ""
		if refs != nil {
			srcName = refs.Filters[fid]
		}
		e := r.fromIndex(r.filters, MappingFilter, fid, srcName, false)
		e.Role, _ = target["deviceAndAppManagementAssignmentFilterType"].(string)
		plan.mapping = append(plan.mapping, e)
		if e.Status == MappingResolved {
			if e.TargetID != "" { // "": a preview, the filter this restore creates first has no id yet
				next["deviceAndAppManagementAssignmentFilterId"] = e.TargetID
			}
		} else {
			plan.unresolved++
		}
	}
	return next
}

// desiredState is the normalized object the write leaves (sub-collections aside, the priority
// included), which the preview and the run's summary diff against the current object.
func (plan *itemPlan) desiredState() map[string]any {
	desired := map[string]any{}
	for k, v := range plan.body {
		if k != "settings" && k != "scheduledActionsForRule" {
			desired[k] = v
		}
	}
	if plan.priority > 0 {
		desired["priority"] = json.Number(fmt.Sprint(plan.priority))
	}
	return intune.NormalizeObject(desired)
}

// cleanChildren strips ids and volatile keys from sub-collection items (settings, rules).
func cleanChildren(list []any) []any {
	if list == nil {
		return nil
	}
	out := make([]any, 0, len(list))
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		stripIDs(m)
		out = append(out, m)
	}
	return out
}

// stripIDs removes "id" keys at every depth (rules, actions and settings get new ids in the target).
func stripIDs(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "id")
		for _, val := range x {
			stripIDs(val)
		}
	case []any:
		for _, val := range x {
			stripIDs(val)
		}
	}
}

// stripNilSecretReferences drops secretReferenceValueId: null (a decrypted OMA-URI value) at every
// depth: posting the property at all is refused on create (docs/graph.md#errors).
func stripNilSecretReferences(v any) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["secretReferenceValueId"]; ok && ref == nil {
			delete(x, "secretReferenceValueId")
		}
		for _, val := range x {
			stripNilSecretReferences(val)
		}
	case []any:
		for _, val := range x {
			stripNilSecretReferences(val)
		}
	}
}

// definitionValuesBody turns backed-up ADMX definition values into an updateDefinitionValues body
// ("added", binding definitions and presentations by id), deleting deleteIDs first.
func definitionValuesBody(graphURL string, values []any, deleteIDs []string) map[string]any {
	base := strings.TrimRight(graphURL, "/") + "/beta/deviceManagement/groupPolicyDefinitions"
	added := []any{}
	for _, v := range values {
		dv := asMap(v)
		def := asMap(dv["definition"])
		defID, _ := def["id"].(string)
		if defID == "" {
			continue
		}
		next := map[string]any{"enabled": dv["enabled"], "definition@odata.bind": fmt.Sprintf("%s('%s')", base, defID)}
		var pres []any
		for _, pv := range anyList(dv["presentationValues"]) {
			pm := asMap(pv)
			out := map[string]any{}
			for k, val := range pm {
				switch k {
				case "id", "createdDateTime", "lastModifiedDateTime", "presentation":
				default:
					out[k] = val
				}
			}
			if presID, _ := asMap(pm["presentation"])["id"].(string); presID != "" {
				out["presentation@odata.bind"] = fmt.Sprintf("%s('%s')/presentations('%s')", base, defID, presID)
			}
			pres = append(pres, out)
		}
		if pres != nil {
			next["presentationValues"] = pres
		}
		added = append(added, next)
	}
	if deleteIDs == nil {
		deleteIDs = []string{}
	}
	return map[string]any{"added": added, "updated": []any{}, "deletedIds": deleteIDs}
}

// deepCopy copies decoded JSON (maps and slices; scalars are shared).
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = deepCopy(val)
		}
		return out
	}
	return v
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// objectDiff is the field-level diff between the current object (nil: none) and the desired one.
// A PATCH changes only the properties it sends, so the current object is compared on those only;
// a PUT replaces the object, so every writable property counts.
func objectDiff(current, desired map[string]any, put, sensitive bool) ([]intune.FieldChange, bool) {
	cur := map[string]any{}
	for k, v := range current {
		_, sent := desired[k]
		if (put && !slices.Contains(intune.CommonServerOwned, k) && k != "priority") || sent {
			cur[k] = v
		}
	}
	current = cur
	a, _ := intune.CanonicalJSON(current)
	b, _ := intune.CanonicalJSON(desired)
	return intune.FieldDiff(a, b, sensitive)
}

// restoreOrder sorts items as their dependencies need (docs/graph.md#mapping-and-order; IM
// ImportOrder, Dependencies=): by the descriptors' order (scope tags, filters, then the policies),
// within one rank a family another family's References name before it (compliance scripts
// before the compliance policies that run them, so a script created here resolves for them),
// enrollment configurations by ascending priority (IM), then by family and ledger order.
func restoreOrder(items []store.RestoreItem, priority func(store.RestoreItem) int64) {
	rank := func(f string) int {
		if d := intune.DescriptorOf(graph.Family(f)); d != nil {
			return d.Order
		}
		return 0
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if rank(a.Family) != rank(b.Family) {
			return rank(a.Family) < rank(b.Family)
		}
		if da, db := dependencyDepth(graph.Family(a.Family)), dependencyDepth(graph.Family(b.Family)); da != db {
			return da < db
		}
		if a.Family != b.Family {
			return a.Family < b.Family
		}
		if priority != nil {
			if pa, pb := priority(a), priority(b); pa != pb {
				return pa < pb
			}
		}
		return a.ID < b.ID
	})
}

// dependencyDepth is how many restored families stand between f and the families it refers to
// through its descriptor's References: 0 for a family that refers to no restored family (mobile
// apps and notification templates are never restored), else one more than its deepest source.
func dependencyDepth(f graph.Family) int {
	var depth func(f graph.Family, seen map[graph.Family]bool) int
	depth = func(f graph.Family, seen map[graph.Family]bool) int {
		d := intune.DescriptorOf(f)
		if d == nil || seen[f] {
			return 0
		}
		seen[f] = true
		n := 0
		for _, ref := range d.References {
			if ref.Source == "" || ref.Source == f || intune.DescriptorOf(ref.Source) == nil {
				continue
			}
			n = max(n, 1+depth(ref.Source, seen))
		}
		delete(seen, f)
		return n
	}
	return depth(f, map[graph.Family]bool{})
}
