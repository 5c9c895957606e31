package intune

import "github.com/tenantatlas/tenantatlas/engine/graph"

// Descriptors of the Intune families of issue #18 item 4 (sources: BETA entity types and the
// docs:intune-* pages named in engine/graph/contract_more.go).
func init() {
	// Notification message templates: the localized messages are a navigation read with $expand
	// on the GET of each template (BETA notificationMessageTemplate.localizedNotificationMessages)
	// and written one by one after the template (docs:intune-notification-localizednotificationmessage-create;
	// a public import script creates the template without them, then posts each). Restored
	// before the compliance policies and enrollment notifications that refer to them (their
	// References: dependency order), which then map to the copy.
	register(&Descriptor{Family: graph.FamilyNotificationMessageTemplates, DeclaredType: "notificationMessageTemplate",
		Types:       map[string]string{"notificationMessageTemplate": string(graph.FamilyNotificationMessageTemplates)},
		ExpandTypes: map[string]string{"notificationMessageTemplate": "localizedNotificationMessages"},
		StripCreate: []string{"localizedNotificationMessages"}, ChildIDs: []string{"localizedNotificationMessages"},
		FollowUps: []FollowUp{FollowLocalizedMessages}})
	// Device categories: displayName, description, roleScopeTagIds; no assignments (BETA deviceCategory).
	register(&Descriptor{Family: graph.FamilyDeviceCategories, DeclaredType: "deviceCategory",
		Types: map[string]string{"deviceCategory": string(graph.FamilyDeviceCategories)}})
	// Terms and conditions: assigned one target per POST /{id}/assignments, like Autopilot
	// (docs:intune-companyterms-termsandconditionsassignment-create; no assign action in BETA).
	register(&Descriptor{Family: graph.FamilyTermsAndConditions, DeclaredType: "termsAndConditions",
		Types:  map[string]string{"termsAndConditions": string(graph.FamilyTermsAndConditions)},
		Assign: AssignOneByOne})
	// macOS custom attribute scripts: the body (scriptContent) read from the GET of each script,
	// as for the other script families (ICD reads every script by id).
	register(&Descriptor{Family: graph.FamilyDeviceCustomAttributeShellScripts, DeclaredType: "deviceCustomAttributeShellScript",
		Types:   map[string]string{"deviceCustomAttributeShellScript": string(graph.FamilyDeviceCustomAttributeShellScripts)},
		GetByID: true})
	// Reusable policy settings: referencingConfigurationPolicyCount is a counter the service keeps
	// (BETA deviceManagementReusablePolicySetting); restored before the settings catalog policies.
	register(&Descriptor{Family: graph.FamilyReusablePolicySettings, DeclaredType: "deviceManagementReusablePolicySetting",
		Types:       map[string]string{"deviceManagementReusablePolicySetting": string(graph.FamilyReusablePolicySettings)},
		StripCreate: []string{"referencingConfigurationPolicyCount"}, Volatile: []string{"referencingConfigurationPolicyCount"}, Order: -1,
		RoundTrip: "settings catalog policies that use a reusable setting keep its source id (not mapped to the copy yet)"})
	// Intune role definitions: the built-in roles exist in every tenant (isBuiltIn; IM lists
	// `isBuiltIn eq false`) and are never restored; a custom role is written with isBuiltIn false
	// (docs:intune-rbac-roledefinition-create: "Set to False if it is a custom role definition").
	register(&Descriptor{Family: graph.FamilyRoleDefinitions, DeclaredType: "roleDefinition",
		Types: map[string]string{"deviceAndAppManagementRoleDefinition": string(graph.FamilyRoleDefinitions),
			"roleDefinition": string(graph.FamilyRoleDefinitions)},
		BuiltIn: func(o map[string]any) bool { b, _ := o["isBuiltIn"].(bool); return b }})
}
