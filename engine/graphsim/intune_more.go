package graphsim

import (
	"fmt"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// The Intune families of issue #18 item 4: device categories, terms and conditions, macOS custom
// attribute scripts. Schemas from msgraph-metadata@f54f11b beta-entity-types.json (entity id
// added); fixture shapes after the docs:intune-* create examples.
func init() {
	typeSchemas["deviceCategory"] = typeSchema{chain: strs("deviceCategory"), props: strs("description", "displayName", "id", "roleScopeTagIds")}
	typeSchemas["termsAndConditions"] = typeSchema{chain: strs("termsAndConditions"),
		props: strs("acceptanceStatement", "bodyText", "createdDateTime", "description", "displayName", "id", "lastModifiedDateTime",
			"modifiedDateTime", "roleScopeTagIds", "title", "version"),
		navs: strs("acceptanceStatuses", "assignments", "groupAssignments")}
	typeSchemas["deviceCustomAttributeShellScript"] = typeSchema{chain: strs("deviceCustomAttributeShellScript"),
		props: strs("createdDateTime", "customAttributeName", "customAttributeType", "description", "displayName", "fileName", "id",
			"lastModifiedDateTime", "roleScopeTagIds", "runAsAccount", "scriptContent"),
		navs: strs("assignments", "deviceRunStates", "groupAssignments", "runSummary", "userRunStates")}
	typeSchemas["deviceManagementReusablePolicySetting"] = typeSchema{chain: strs("deviceManagementReusablePolicySetting"),
		props: strs("createdDateTime", "description", "displayName", "id", "lastModifiedDateTime", "referencingConfigurationPolicyCount",
			"settingDefinitionId", "settingInstance", "version"),
		navs: strs("referencingConfigurationPolicies")}
	roleDef := strs("description", "displayName", "id", "isBuiltIn", "isBuiltInRoleDefinition", "permissions", "rolePermissions", "roleScopeTagIds")
	typeSchemas["roleDefinition"] = typeSchema{chain: strs("roleDefinition"), props: roleDef, navs: strs("roleAssignments")}
	typeSchemas["deviceAndAppManagementRoleDefinition"] = typeSchema{chain: strs("deviceAndAppManagementRoleDefinition", "roleDefinition"),
		props: roleDef, navs: strs("roleAssignments")}
	// The counter is the service's (IM strips it before an import: unverified wording).
	readOnlyOnCreate["deviceManagementReusablePolicySetting"] = []string{"referencingConfigurationPolicyCount"}
	// BETA termsAndConditionsAssignment {id, target}; the scripts' assign takes deviceManagementScriptAssignment.
	assignmentSchemas["termsAndConditionsAssignment"] = []string{"id", "target"}
	assignmentTypes[graph.FamilyTermsAndConditions] = "termsAndConditionsAssignment"
	assignmentTypes[graph.FamilyDeviceCustomAttributeShellScripts] = "deviceManagementScriptAssignment"
	// docs:intune-devices-devicecustomattributeshellscript-assign also declares
	// deviceManagementScriptGroupAssignments (legacy, accepted).
	legacyAssignParameters[graph.FamilyDeviceCustomAttributeShellScripts] = "deviceManagementScriptGroupAssignments"
	single := func(name, typ string, f graph.Family) {
		addCollection(collectionSpec{name: name, declared: typ, types: []string{typ}, pools: []graph.Family{f}})
	}
	single("deviceCategories", "deviceCategory", graph.FamilyDeviceCategories)
	single("termsAndConditions", "termsAndConditions", graph.FamilyTermsAndConditions)
	single("deviceCustomAttributeShellScripts", "deviceCustomAttributeShellScript", graph.FamilyDeviceCustomAttributeShellScripts)
	single("reusablePolicySettings", "deviceManagementReusablePolicySetting", graph.FamilyReusablePolicySettings)
	// CSDL10 deviceManagement.roleDefinitions is Collection(roleDefinition); Intune's items are the
	// derived deviceAndAppManagementRoleDefinition, so they carry @odata.type.
	addCollection(collectionSpec{name: "roleDefinitions", declared: "roleDefinition", types: []string{"deviceAndAppManagementRoleDefinition", "roleDefinition"},
		fixtures: []string{"deviceAndAppManagementRoleDefinition"}, pools: []graph.Family{graph.FamilyRoleDefinitions}})
}

// decorateMore adds the family-specific properties of the item 4 families (two shapes each).
func decorateMore(f graph.Family, o map[string]any, i int) {
	switch f {
	case graph.FamilyTermsAndConditions: // docs:intune-companyterms-termsandconditions-create
		o["title"] = []string{"Contoso acceptable use", "Contractor terms"}[i%2]
		o["bodyText"] = []string{"Company devices are for work. Activity may be monitored.", "Contractors accept the NDA on enrollment."}[i%2]
		o["acceptanceStatement"] = []string{"I accept the acceptable use policy", "I accept"}[i%2]
		o["version"] = 1 + i%2
		o["modifiedDateTime"] = o["lastModifiedDateTime"]
		if i%2 == 1 {
			o["description"] = "" // the second shape: no description (optional, docs resource page)
		}
	case graph.FamilyDeviceCustomAttributeShellScripts: // docs:intune-devices-devicecustomattributeshellscript-create
		o["customAttributeName"] = []string{"FileVaultStatus", "BatteryCycles"}[i%2]
		o["customAttributeType"] = []string{"string", "integer"}[i%2]
		o["scriptContent"] = base64Of([]string{"#!/bin/zsh\nfdesetup status\n", "#!/bin/zsh\nioreg -r -c AppleSmartBattery | awk '/CycleCount/ {print $3}'\n"}[i%2])
		o["runAsAccount"] = []string{"system", "user"}[i%2]
		o["fileName"] = fmt.Sprintf("attribute%d.sh", i)
	case graph.FamilyReusablePolicySettings: // docs:intune-deviceconfigv2-devicemanagementreusablepolicysetting-create
		o["settingDefinitionId"] = []string{"vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}", "device_vendor_msft_policy_privilege_elevation_rules"}[i%2]
		o["settingInstance"] = map[string]any{"@odata.type": graphNS + "deviceManagementConfigurationGroupSettingCollectionInstance",
			"settingDefinitionId": o["settingDefinitionId"], "groupSettingCollectionValue": []any{map[string]any{"children": []any{
				map[string]any{"@odata.type": graphNS + "deviceManagementConfigurationSimpleSettingInstance",
					"settingDefinitionId": fmt.Sprint(o["settingDefinitionId"]) + "_name",
					"simpleSettingValue":  map[string]any{"@odata.type": graphNS + "deviceManagementConfigurationStringSettingValue", "value": fmt.Sprintf("Rule %d", i)}}}}}}
		o["referencingConfigurationPolicyCount"] = 0
		o["version"] = 1
		if i%2 == 1 {
			o["description"] = "" // the second shape: no description
		}
		delete(o, "roleScopeTagIds") // not a property of the type (BETA)
	case graph.FamilyRoleDefinitions: // docs:intune-rbac-roledefinition-create
		o["isBuiltIn"], o["isBuiltInRoleDefinition"] = false, false
		actions := [][]any{{"Microsoft.Intune_Organization_Read", "Microsoft.Intune_DeviceConfigurations_Read"},
			{"Microsoft.Intune_ManagedDevices_Read", "Microsoft.Intune_RemoteTasks_RebootNow"}}[i%2]
		o["rolePermissions"] = []any{map[string]any{"resourceActions": []any{map[string]any{"allowedResourceActions": actions, "notAllowedResourceActions": []any{}}}}}
		o["permissions"] = []any{}
		if i%2 == 1 {
			o["description"] = "" // the second shape: no description
		}
	case graph.FamilyDeviceCategories: // docs:intune-onboarding-devicecategory-create
		o["description"] = []string{"Corporate-owned laptops", ""}[i%2] // the second shape: no description, as the portal allows
	}
}
