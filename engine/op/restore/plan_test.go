package restore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestMapReferences: across tenants an ESP's apps map by name and @odata.type, a compliance
// action's template and script by name; a missing or ambiguous name is listed and left out of the
// write, never copied.
func TestMapReferences(t *testing.T) {
	r := &restoreResolver{}
	app := func(id, name, typ string) {
		r.addObject(graph.FamilyMobileApps, intune.RefMobileApp, id, intune.NamedRef{Name: name, Type: typ})
	}
	app("b-outlook", "Microsoft Outlook", "#microsoft.graph.iosStoreApp")
	app("b-vpn-winget", "Contoso VPN", "#microsoft.graph.winGetApp") // same name, another type
	app("b-teams-1", "Microsoft Teams", "#microsoft.graph.androidManagedStoreApp")
	app("b-teams-2", "microsoft teams", "#microsoft.graph.androidManagedStoreApp")
	r.addObject(graph.FamilyNotificationMessageTemplates, intune.RefNotificationTemplate, "b-tmpl", intune.NamedRef{Name: "Noncompliance notice"})
	r.addObject(graph.FamilyDeviceComplianceScripts, intune.RefComplianceScript, "b-script", intune.NamedRef{Name: "BitLocker check"})

	refs := &intune.References{Objects: map[intune.RefKind]map[string]intune.NamedRef{
		intune.RefMobileApp: {
			"a-outlook": {Name: "Microsoft Outlook", Type: "#microsoft.graph.iosStoreApp"},
			"a-vpn":     {Name: "Contoso VPN", Type: "#microsoft.graph.win32LobApp"},
			"a-teams":   {Name: "Microsoft Teams", Type: "#microsoft.graph.androidManagedStoreApp"},
		},
		intune.RefNotificationTemplate: {"a-tmpl": {Name: "noncompliance NOTICE"}},
		intune.RefComplianceScript:     {"a-script": {Name: "BitLocker check"}},
	}}

	esp := &itemPlan{desc: intune.DescriptorOf(graph.FamilyDeviceEnrollmentConfigurations),
		body: map[string]any{"selectedMobileAppIds": []any{"a-outlook", "a-vpn", "a-teams", "a-unnamed"}}}
	esp.mapReferences(intune.Payload{References: refs}, r)
	if got := esp.body["selectedMobileAppIds"].([]any); len(got) != 1 || got[0] != "b-outlook" {
		t.Fatalf("ESP apps written: %v, want only B's Outlook", got)
	}
	status := map[string]string{}
	for _, e := range esp.mapping {
		status[e.SourceID] = e.Status
	}
	want := map[string]string{"a-outlook": MappingResolved, "a-vpn": MappingUnresolved, "a-teams": MappingAmbiguous, "a-unnamed": MappingUnresolved}
	for id, s := range want {
		if status[id] != s {
			t.Errorf("%s: %s, want %s (%v)", id, status[id], s, esp.mapping)
		}
	}
	if esp.unresolved != 3 {
		t.Errorf("unresolved %d, want 3", esp.unresolved)
	}

	rules := []any{map[string]any{"scheduledActionConfigurations": []any{
		map[string]any{"actionType": "notification", "notificationTemplateId": "a-tmpl", "notificationMessageCCList": []any{}}}}}
	cp := &itemPlan{desc: intune.DescriptorOf(graph.FamilyDeviceCompliancePolicies), body: map[string]any{
		"scheduledActionsForRule": rules, "deviceCompliancePolicyScript": map[string]any{"deviceComplianceScriptId": "a-script", "rulesContent": "e30="}}}
	cp.mapReferences(intune.Payload{References: refs}, r)
	act := rules[0].(map[string]any)["scheduledActionConfigurations"].([]any)[0].(map[string]any)
	if act["notificationTemplateId"] != "b-tmpl" {
		t.Errorf("template %v, want b-tmpl", act["notificationTemplateId"])
	}
	if id := cp.body["deviceCompliancePolicyScript"].(map[string]any)["deviceComplianceScriptId"]; id != "b-script" {
		t.Errorf("script %v, want b-script", id)
	}
	if cp.unresolved != 0 {
		t.Errorf("compliance unresolved %d: %v", cp.unresolved, cp.mapping)
	}

	// No such script in the target: the script is left out, the template falls back to none.
	empty := &restoreResolver{}
	cp2 := &itemPlan{desc: intune.DescriptorOf(graph.FamilyDeviceCompliancePolicies), body: map[string]any{
		"scheduledActionsForRule":      []any{map[string]any{"scheduledActionConfigurations": []any{map[string]any{"notificationTemplateId": "a-tmpl"}}}},
		"deviceCompliancePolicyScript": map[string]any{"deviceComplianceScriptId": "a-script"}}}
	cp2.mapReferences(intune.Payload{References: refs}, empty)
	if _, ok := cp2.body["deviceCompliancePolicyScript"]; ok || cp2.unresolved != 2 {
		t.Errorf("unmapped script kept or not counted: %v, unresolved %d", cp2.body, cp2.unresolved)
	}
	for _, e := range cp2.mapping {
		if e.SourceName == "" || e.Status != MappingUnresolved {
			t.Errorf("an unresolved reference is named: %+v", e)
		}
	}
}

// TestRestoreOrderDependencies: within one rank, a family other families refer to is restored
// before them (compliance scripts before the compliance policies that run them), whatever the
// ledger order; scope tags and filters still come first.
func TestRestoreOrderDependencies(t *testing.T) {
	t.Parallel()
	items := []store.RestoreItem{
		{ID: 1, Family: string(graph.FamilyDeviceCompliancePolicies)},
		{ID: 2, Family: string(graph.FamilyDeviceConfigurations)},
		{ID: 3, Family: string(graph.FamilyDeviceComplianceScripts)},
		{ID: 4, Family: string(graph.FamilyAssignmentFilters)},
		{ID: 5, Family: string(graph.FamilyRoleScopeTags)},
	}
	restoreOrder(items, nil)
	var got []string
	for _, it := range items {
		got = append(got, it.Family)
	}
	require.Equal(t, []string{"roleScopeTags", "assignmentFilters", "deviceComplianceScripts", "deviceConfigurations", "deviceCompliancePolicies"}, got)
}

// TestMapReferencesCreatedInRestore: a compliance script this restore wrote earlier is what a
// later compliance policy runs — in another tenant instead of a same-named script of the target,
// and in the same tenant instead of the backed-up id — and a preview names it as planned.
func TestMapReferencesCreatedInRestore(t *testing.T) {
	t.Parallel()
	refs := &intune.References{Objects: map[intune.RefKind]map[string]intune.NamedRef{
		intune.RefComplianceScript: {"a-script": {Name: "BitLocker check"}}}}
	script := &itemPlan{family: graph.FamilyDeviceComplianceScripts, desc: intune.DescriptorOf(graph.FamilyDeviceComplianceScripts),
		targetName: "BitLocker check (restored 2026-12-01)"}
	policy := func() *itemPlan {
		return &itemPlan{desc: intune.DescriptorOf(graph.FamilyDeviceCompliancePolicies), body: map[string]any{
			"deviceCompliancePolicyScript": map[string]any{"deviceComplianceScriptId": "a-script", "rulesContent": "e30="}}}
	}
	scriptID := func(p *itemPlan) any {
		return p.body["deviceCompliancePolicyScript"].(map[string]any)["deviceComplianceScriptId"]
	}
	for _, same := range []bool{false, true} {
		r := &restoreResolver{sameTenant: same}
		r.addObject(graph.FamilyDeviceComplianceScripts, intune.RefComplianceScript, "b-same-name", intune.NamedRef{Name: "BitLocker check"})
		r.learn(store.RestoreItem{SourceGraphID: "a-script"}, intune.Payload{Object: map[string]any{}}, script, "b-created")
		p := policy()
		p.mapReferences(intune.Payload{References: refs}, r)
		require.Equal(t, "b-created", scriptID(p), "same tenant %v", same)
		require.Len(t, p.mapping, 1)
		require.Equal(t, MappingResolved, p.mapping[0].Status)
		require.Equal(t, "restore", p.mapping[0].By)
		require.Equal(t, script.targetName, p.mapping[0].TargetName)
	}
	// A preview: the script is planned (restoreOrder writes it first), not yet created.
	r := &restoreResolver{}
	r.addObject(graph.FamilyDeviceComplianceScripts, intune.RefComplianceScript, "b-same-name", intune.NamedRef{Name: "BitLocker check"})
	r.planDependencies([]store.BackupItem{{Family: string(graph.FamilyDeviceComplianceScripts), GraphID: "a-script", DisplayName: "BitLocker check"}}, " (restored 2026-12-01)")
	p := policy()
	p.mapReferences(intune.Payload{References: refs}, r)
	require.Equal(t, "restore", p.mapping[0].By)
	require.Equal(t, "BitLocker check (restored 2026-12-01)", p.mapping[0].TargetName)
	require.Zero(t, p.unresolved)
}

// TestMapADMXDefinitions: across tenants a custom ADMX definition binds the target's definition
// of the same name, category path and class (case-insensitive), and its presentation values the
// target's presentations of the same label; one the target lacks, has twice, or whose
// presentation it lacks is left out of the write and listed with its name, never bound by the
// source tenant's id. Built-in definitions are bound as they are.
func TestMapADMXDefinitions(t *testing.T) {
	t.Parallel()
	def := func(id, name, path, class string) map[string]any {
		return map[string]any{"id": id, "displayName": name, "categoryPath": path, "classType": class, "policyType": "admxIngested"}
	}
	dv := func(d map[string]any, label string) any {
		return map[string]any{"enabled": true, "definition": d, "presentationValues": []any{
			map[string]any{"value": "H:", "presentation": map[string]any{"id": "a-pres-" + label, "label": label}}}}
	}
	r := &restoreResolver{}
	for _, it := range []store.InventoryItem{
		{GraphID: "b-drive", DisplayName: "Map the home drive", Payload: []byte(`{"displayName":"Map the home drive","categoryPath":"\\Contoso\\Drives",
			"classType":"user","presentations":[{"id":"b-pres-drive","label":"Drive"}]}`)},
		{GraphID: "b-twice-1", DisplayName: "Twice", Payload: []byte(`{"displayName":"Twice","categoryPath":"\\Contoso","classType":"machine"}`)},
		{GraphID: "b-twice-2", DisplayName: "twice", Payload: []byte(`{"displayName":"twice","categoryPath":"\\contoso","classType":"machine"}`)},
		{GraphID: "b-nolabel", DisplayName: "No label", Payload: []byte(`{"displayName":"No label","categoryPath":"\\Contoso","classType":"user","presentations":[]}`)},
	} {
		r.addADMXTarget(it)
	}
	builtIn := map[string]any{"enabled": true, "definition": map[string]any{"id": "shared", "displayName": "Built in", "policyType": "admxBacked"}}
	plan := &itemPlan{definitionValues: []any{
		builtIn,
		dv(def("a-drive", "MAP THE HOME DRIVE", `\contoso\drives`, "user"), "Drive"),
		dv(def("a-twice", "Twice", `\Contoso`, "machine"), "x"),
		dv(def("a-nolabel", "No label", `\Contoso`, "user"), "Letter"),
		dv(def("a-missing", "Only in A", `\Contoso`, "user"), "x"),
		dv(def("a-class", "Map the home drive", `\Contoso\Drives`, "machine"), "Drive"),
	}}
	plan.mapADMXDefinitions(r)

	require.Len(t, plan.definitionValues, 2, "the built-in and the mapped definition are written")
	require.Equal(t, builtIn, plan.definitionValues[0])
	mapped := plan.definitionValues[1].(map[string]any)
	require.Equal(t, "b-drive", mapped["definition"].(map[string]any)["id"])
	require.Equal(t, "b-pres-drive", mapped["presentationValues"].([]any)[0].(map[string]any)["presentation"].(map[string]any)["id"])
	status := map[string]string{}
	for _, e := range plan.mapping {
		require.Equal(t, MappingADMXDefinition, e.Kind)
		require.NotEmpty(t, e.SourceName, "listed with its name")
		status[e.SourceID] = e.Status
	}
	require.Equal(t, map[string]string{"a-drive": MappingResolved, "a-twice": MappingAmbiguous, "a-nolabel": MappingUnresolved,
		"a-missing": MappingUnresolved, "a-class": MappingUnresolved}, status)
	require.Equal(t, 4, plan.unresolved)

	same := &itemPlan{definitionValues: []any{dv(def("a-missing", "Only in A", `\Contoso`, "user"), "x")}}
	same.mapADMXDefinitions(&restoreResolver{sameTenant: true})
	require.Len(t, same.definitionValues, 1, "within one tenant the ids stay")
	require.Empty(t, same.mapping)
}
