package graph

import "net/http"

// More Intune families (issue #18 item 4): device categories, terms and conditions and macOS
// custom attribute scripts, appended to the registry's family table (contract.go). Permissions
// from the Learn pages (docs:X = learn.microsoft.com/graph/api/X):
//   - intune-onboarding-devicecategory-list: "DeviceManagementConfiguration.Read.All, …,
//     DeviceManagementManagedDevices.Read.All" (least privileged first); writes with the
//     ReadWrite variant (the create page was not read: **unverified**).
//   - intune-companyterms-termsandconditions-list: DeviceManagementServiceConfig.Read.All
//     (ReadWrite to write); assignments one per POST …/{id}/assignments
//     (intune-companyterms-termsandconditionsassignment-create, 201).
//   - intune-devices-devicecustomattributeshellscript-list: DeviceManagementScripts.Read.All;
//     -update: DeviceManagementScripts.ReadWrite.All; assign action with
//     deviceManagementScriptAssignments (-assign).
//   - intune-deviceconfigv2-devicemanagementreusablepolicysetting-list:
//     DeviceManagementConfiguration.Read.All (ReadWrite to write); no assignments.
//   - intune-rbac-roledefinition-list: DeviceManagementRBAC.Read.All (ReadWrite to write); role
//     definitions take no assignments (role assignments are their own collection, not covered yet).
//     These two pages were not re-read for this change: **unverified** against today's Learn.
//   - Notification message templates: the Learn pages as read for issue #18 list
//     DeviceManagementConfiguration.* as the only application permissions of the family —
//     learn.microsoft.com/graph/api/intune-notification-localizednotificationmessage-create?view=graph-rest-1.0
//     "Application | DeviceManagementConfiguration.ReadWrite.All", and the beta pages
//     intune-notification-notificationmessagetemplate-get ("DeviceManagementConfiguration.Read.All,
//     DeviceManagementConfiguration.ReadWrite.All"), -create, -update and
//     -localizednotificationmessage-update (ReadWrite.All). DeviceManagementServiceConfig.*, what
//     the registry asked for before, is not listed there (the docs-contrib markdown of the v1.0
//     create page and Microsoft365DSC's IntuneDeviceComplianceNotificationMessageTemplate still
//     name it: unverified against a tenant which one Graph enforces; docs/graph.md). No assignments. Its localized messages are a navigation
//     (localizedNotificationMessages, BETA notificationMessageTemplate) read with $expand on the GET
//     of each template and written one per POST …/{id}/localizedNotificationMessages
//     (intune-notification-localizednotificationmessage-create, 201), removed with DELETE
//     …/localizedNotificationMessages/{id} (-delete, 204); a template is created without them (a
//     public notification-template import script: "Create the template WITHOUT
//     localizedNotificationMessages", then step 2). Compliance actions and enrollment
//     notifications refer to templates by id (mapped by name across tenants).
//   - intune-rbac-deviceandappmanagementroleassignment-get and intune-rbac-roleassignment-list:
//     "Application | DeviceManagementRBAC.Read.All, DeviceManagementRBAC.ReadWrite.All" (least
//     privileged first); -create: DeviceManagementRBAC.ReadWrite.All. Role assignments are their
//     own collection, /deviceManagement/roleAssignments (beta and v1.0 alike; IM reads
//     roleAssignments/{id}?$expand=…/roleScopeTags and creates with POST /deviceManagement/roleAssignments
//     and roleDefinition@odata.bind, "the same way as the portal"; ICD lists
//     roleDefinitions/{id}/roleAssignments then GETs each). No assign action: members and scope
//     groups are properties.
//   - intune-apps-mobileapp-list: DeviceManagementApps.Read.All; -create, -update, -assign:
//     DeviceManagementApps.ReadWrite.All; assign takes {"mobileAppAssignments":[…]} (-assign; IM
//     AssignmentsType = "mobileAppAssignments"). Until issue #18 the family was read only to map
//     ESP and app-configuration references; it is backed up now (metadata and assignments, never
//     the package binaries).
const (
	FamilyNotificationMessageTemplates      Family = "notificationMessageTemplates"
	FamilyDeviceCategories                  Family = "deviceCategories"
	FamilyTermsAndConditions                Family = "termsAndConditions"
	FamilyDeviceCustomAttributeShellScripts Family = "deviceCustomAttributeShellScripts"
	FamilyReusablePolicySettings            Family = "reusablePolicySettings"
	FamilyRoleDefinitions                   Family = "roleDefinitions"
	FamilyRoleAssignments                   Family = "roleAssignments"
	FamilyMobileApps                        Family = "mobileApps"
)

// assignKeyMobileApps is the body key of a mobile app's assign action (docs:intune-apps-mobileapp-assign).
const assignKeyMobileApps = "mobileAppAssignments"

var moreIntuneFamilies = []FamilyInfo{
	noAssignments(intune(FamilyNotificationMessageTemplates, "/deviceManagement/notificationMessageTemplates", permConfigRead, permConfigWrite,
		"Notification message templates (with their localized messages)")),
	noAssignments(intune(FamilyDeviceCategories, "/deviceManagement/deviceCategories", permConfigRead, permConfigWrite, "Device categories")),
	intune(FamilyTermsAndConditions, "/deviceManagement/termsAndConditions", permServiceRead, permServiceWrite, "Terms and conditions"),
	withAssignKey(intune(FamilyDeviceCustomAttributeShellScripts, "/deviceManagement/deviceCustomAttributeShellScripts", permScriptsRead, permScriptsWrite,
		"macOS custom attribute scripts"), assignKeyScripts),
	noAssignments(intune(FamilyReusablePolicySettings, "/deviceManagement/reusablePolicySettings", permConfigRead, permConfigWrite,
		"Reusable policy settings (settings catalog)")),
	optional(noAssignments(intune(FamilyRoleDefinitions, "/deviceManagement/roleDefinitions", permRBACRead, permRBACWrite, "Intune role definitions"))),
	// Optional like role definitions: DeviceManagementRBAC was not asked for before them.
	optional(noAssignments(intune(FamilyRoleAssignments, "/deviceManagement/roleAssignments", permRBACRead, permRBACWrite,
		"Intune role assignments (members, scope groups, scope tags)"))),
	withAssignKey(intune(FamilyMobileApps, "/deviceAppManagement/mobileApps", permAppsRead, permAppsWrite,
		"Mobile apps (metadata and assignments; package binaries are not backed up)"), assignKeyMobileApps),
}

func optional(fi FamilyInfo) FamilyInfo {
	fi.optionalPermission = true
	return fi
}

// addMoreIntuneContracts registers what the generic Intune contracts do not cover.
func addMoreIntuneContracts(add func(Contract)) {
	add(Contract{Name: "termsAndConditions.createAssignment", Family: FamilyTermsAndConditions, Kind: KindAction, Method: http.MethodPost,
		Path: "/deviceManagement/termsAndConditions/{id}/assignments", Doc: "create one group assignment (201)"})
	add(Contract{Name: "notificationMessageTemplates.localizedNotificationMessages", Family: FamilyNotificationMessageTemplates, Kind: KindChildren,
		Method: http.MethodGet, Path: "/deviceManagement/notificationMessageTemplates/{id}/localizedNotificationMessages", Doc: "localized messages (paged)"})
	add(Contract{Name: "notificationMessageTemplates.createLocalizedMessage", Family: FamilyNotificationMessageTemplates, Kind: KindAction,
		Method: http.MethodPost, Path: "/deviceManagement/notificationMessageTemplates/{id}/localizedNotificationMessages", Doc: "create one localized message (201)"})
	add(Contract{Name: "notificationMessageTemplates.deleteLocalizedMessage", Family: FamilyNotificationMessageTemplates, Kind: KindDelete,
		Method: http.MethodDelete, Path: "/deviceManagement/notificationMessageTemplates/{id}/localizedNotificationMessages/{messageId}", Doc: "delete one localized message"})
}
