package intune

import (
	"slices"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

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

// Descriptors of issue #18's last two Intune families: role assignments and mobile apps.
func init() {
	// Intune role assignments (CSDL10 deviceManagement.roleAssignments is
	// Collection(deviceAndAppManagementRoleAssignment), so items carry no @odata.type). The role
	// definition is a navigation, read with $expand=roleDefinition on the GET of each assignment
	// (docs:intune-rbac-deviceandappmanagementroleassignment-get supports the OData query
	// parameters) and written with roleDefinition@odata.bind; scope tags are bound the same way
	// (roleScopeTags@odata.bind), as IM creates them ("the same way as the portal",
	// Start-PostFileImportRoleDefinitions). members, resourceScopes and scopeMembers are group ids
	// (BETA roleAssignment, deviceAndAppManagementRoleAssignment; IM maps members and
	// resourceScopes with its group migration table, ICD names scopeMembers and members).
	// Restored after role definitions (References: dependency order), so an assignment of a custom
	// role restored in the same run binds the copy. Mapping rules: engine/op/restore/plan_rbac.go.
	register(&Descriptor{Family: graph.FamilyRoleAssignments, DeclaredType: "deviceAndAppManagementRoleAssignment",
		Types:   map[string]string{"deviceAndAppManagementRoleAssignment": string(graph.FamilyRoleAssignments)},
		GetByID: true, Expand: "roleDefinition",
		// roleDefinition is kept in the payload reduced to id, displayName and isBuiltIn
		// (NormalizeFor), the reference a restore maps; never sent inline.
		StripCreate: []string{"roleDefinition", "roleScopeTags"},
		References:  []Reference{{Kind: RefRoleDefinition, Where: "roleDefinition", Source: graph.FamilyRoleDefinitions}}})
	// Mobile apps (CSDL10 mobileApp is abstract). Kept out of writes and drift: IM
	// PropertiesToRemove (uploadState, publishingState, isAssigned, dependentAppCount,
	// supersedingAppCount, supersededAppCount, committedContentVersion, isFeatured, size,
	// categories); appStoreUrl, an MSI's useDeviceContext and the Microsoft 365 apps' XML,
	// architecture, developer, owner and publisher are refused on update (IM
	// Start-PreUpdateApplication). Assignments keep intent and settings (IM AssignmentProperties
	// "@odata.type","target","settings","intent"). largeIcon is metadata and backed up (IM exports
	// the whole object, icon included; docs/graph.md#mobile-apps).
	// The list leaves roleScopeTagIds out (IM ScopeTagsReturnedInList = $false; ICD reads them
	// with a GET per app): each app is read by id, its assignments still come with the list.
	register(&Descriptor{Family: graph.FamilyMobileApps, DeclaredType: "mobileApp", Abstract: true, GetByID: true,
		Classifier: func(short string, _ map[string]any) string {
			if short == "" {
				return ""
			}
			return "mobileApp"
		},
		StripCreate: []string{"uploadState", "publishingState", "dependentAppCount", "supersedingAppCount", "supersededAppCount",
			"committedContentVersion", "isFeatured", "size", "categories", "relationships", "contentVersions"},
		Volatile:    []string{"uploadState", "publishingState", "dependentAppCount", "supersedingAppCount", "supersededAppCount", "committedContentVersion", "size"},
		StripUpdate: []string{"appStoreUrl"},
		StripUpdateTypes: map[string][]string{"windowsMobileMSI": {"useDeviceContext"},
			"officeSuiteApp": {"officeConfigurationXml", "officePlatformArchitecture", "developer", "owner", "publisher"}},
		AssignmentKeys: []string{"intent", "settings"},
		Excluded:       notTenantManagedApp,
		MatchExisting:  true,
		NotCreated:     appNotCreated,
		RoundTrip:      "the package binaries of line-of-business, Win32, MSI and AppX apps are not backed up: a missing one is not created"})
}

// notTenantManagedApp is the peers' list filter inverted (IM Applications QUERYLIST, ICD
// Applications.py: `(microsoft.graph.managedApp/appAvailability) eq null or … eq 'lineOfBusiness'
// or isAssigned eq true`): a managed app Microsoft publishes to every tenant (appAvailability
// "global") that the tenant has not assigned.
func notTenantManagedApp(o map[string]any) bool {
	avail, _ := o["appAvailability"].(string)
	assigned, _ := o["isAssigned"].(bool)
	return avail == "global" && !assigned
}

// contentAppTypes are the app types whose package a backup does not hold: every type deriving
// from mobileLobApp or managedMobileLobApp (CSDL10 BaseType chains; beta adds macOSPkgApp and
// win32CatalogApp < win32LobApp, docs:intune-apps-macospkgapp, -win32catalogapp). IM uploads the
// package files of these itself (Start-ImportApp: win32LobApp, windowsMobileMSI,
// windowsUniversalAppX, iosLOBApp, androidLOBApp) and creates nothing without one.
var contentAppTypes = []string{"androidLobApp", "iosLobApp", "macOSDmgApp", "macOSLobApp", "macOSPkgApp", "managedAndroidLobApp",
	"managedIOSLobApp", "win32LobApp", "win32CatalogApp", "windowsAppX", "windowsMobileMSI", "windowsUniversalAppX",
	"windowsPhone81AppX", "windowsPhone81AppXBundle", "windowsPhoneXAP"}

// syncedAppTypes come from a store account synced into the tenant, not from a create: IM refuses
// to import microsoftStoreForBusinessApp (Start-PreImportCommandApplication); Apple VPP apps carry
// the VPP token they were bought with (BETA iosVppApp/macOsVppApp vppTokenId) and managed Google
// Play apps are approved in the managed Google Play account (docs resource androidManagedStoreApp).
var syncedAppTypes = map[string]string{"microsoftStoreForBusinessApp": "Microsoft Store for Business", "iosVppApp": "Apple VPP",
	"macOsVppApp": "Apple VPP", "androidManagedStoreApp": "managed Google Play"}

func appNotCreated(short string) string {
	if slices.Contains(contentAppTypes, short) {
		return "package not in backup — upload the app to the target, then restore again to apply its metadata and assignments"
	}
	if store, ok := syncedAppTypes[short]; ok {
		return "synced from " + store + ", not created by a restore — sync it into the target, then restore again to apply its metadata and assignments"
	}
	return ""
}
