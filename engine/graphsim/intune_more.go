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
	case graph.FamilyDeviceCategories: // docs:intune-onboarding-devicecategory-create
		o["description"] = []string{"Corporate-owned laptops", ""}[i%2] // the second shape: no description, as the portal allows
	}
}
