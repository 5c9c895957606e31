package restore

import (
	"testing"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
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
