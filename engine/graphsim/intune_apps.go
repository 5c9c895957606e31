package graphsim

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Mobile apps and Intune role assignments (issue #18). Schemas from msgraph-metadata@f54f11b
// beta-entity-types.json (mobileApp and the derived types' declared properties, entity id added);
// base types from CSDL10 BaseType (mobileLobApp, managedApp, managedMobileLobApp). Fixture shapes
// after the docs:intune-apps-*-create and docs:intune-rbac-deviceandappmanagementroleassignment-create
// examples.

var mobileAppBase = strs("createdDateTime", "dependentAppCount", "description", "developer", "displayName", "id", "informationUrl",
	"isAssigned", "isFeatured", "largeIcon", "lastModifiedDateTime", "notes", "owner", "privacyInformationUrl", "publisher",
	"publishingState", "roleScopeTagIds", "supersededAppCount", "supersedingAppCount", "uploadState")

var mobileAppNavs = strs("assignments", "categories", "relationships")

// mobileAppTypes: type → its base chain below mobileApp and its own declared properties (BETA).
var mobileAppTypes = map[string]struct {
	bases []string
	props []string
}{
	"iosStoreApp":             {nil, strs("appleDeviceAppDeliveryProtocolType", "applicableDeviceType", "appStoreUrl", "bundleId", "minimumSupportedOperatingSystem")},
	"androidStoreApp":         {nil, strs("appStoreUrl", "minimumSupportedOperatingSystem", "packageId")},
	"androidManagedStoreApp":  {nil, strs("appIdentifier", "appStoreUrl", "appTracks", "isPrivate", "isSystemApp", "packageId", "supportsOemConfig", "totalLicenseCount", "usedLicenseCount")},
	"webApp":                  {nil, strs("appUrl", "useManagedBrowser")},
	"winGetApp":               {nil, strs("installExperience", "manifestHash", "packageIdentifier")},
	"windowsMicrosoftEdgeApp": {nil, strs("channel", "displayLanguageLocale")},
	"officeSuiteApp": {nil, strs("autoAcceptEula", "excludedApps", "installProgressDisplayLevel", "localesToInstall", "officeConfigurationXml",
		"officePlatformArchitecture", "officeSuiteAppDefaultFileFormat", "productIds", "shouldUninstallOlderVersionsOfOffice", "targetVersion",
		"updateChannel", "updateVersion", "useSharedComputerActivation")},
	"managedIOSStoreApp": {strs("managedApp"), strs("appAvailability", "version", "applicableDeviceType", "appStoreUrl", "bundleId", "minimumSupportedOperatingSystem")},
	"win32LobApp": {strs("mobileLobApp"), strs("committedContentVersion", "fileName", "size", "activeInstallScript", "activeUninstallScript",
		"allowAvailableUninstall", "allowedArchitectures", "applicableArchitectures", "detectionRules", "displayVersion", "installCommandLine",
		"installExperience", "minimumCpuSpeedInMHz", "minimumFreeDiskSpaceInMB", "minimumMemoryInMB", "minimumNumberOfProcessors",
		"minimumSupportedOperatingSystem", "minimumSupportedWindowsRelease", "msiInformation", "requirementRules", "returnCodes", "rules",
		"setupFilePath", "uninstallCommandLine")},
	"windowsMobileMSI": {strs("mobileLobApp"), strs("committedContentVersion", "fileName", "size", "commandLine", "identityVersion",
		"ignoreVersionDetection", "productCode", "productVersion", "useDeviceContext")},
	"iosLobApp": {strs("mobileLobApp"), strs("committedContentVersion", "fileName", "size", "applicableDeviceType", "buildNumber", "bundleId",
		"expirationDateTime", "identityVersion", "minimumSupportedOperatingSystem", "versionNumber")},
}

// mobileAppFixtures are the apps every tenant has (the same names everywhere, ids of each
// tenant: the ids ESP and app configuration hold), one of each shape.
var mobileAppFixtures = []string{"iosStoreApp", "win32LobApp", "winGetApp", "androidManagedStoreApp", "webApp", "windowsMobileMSI",
	"officeSuiteApp", "managedIOSStoreApp"}

func init() {
	var types []string
	for t, spec := range mobileAppTypes {
		chain := slices.Concat([]string{t}, spec.bases, []string{"mobileApp"})
		navs := mobileAppNavs
		if slices.Contains(spec.bases, "mobileLobApp") {
			navs = slices.Concat(navs, strs("contentVersions")) // BETA mobileLobApp.contentVersions
		}
		typeSchemas[t] = typeSchema{chain: chain, props: slices.Concat(mobileAppBase, spec.props), navs: navs}
		types = append(types, t)
	}
	slices.Sort(types)
	addCollection(collectionSpec{name: "mobileApps", declared: "mobileApp", abstract: true, types: types, fixtures: mobileAppFixtures,
		pools: []graph.Family{graph.FamilyMobileApps}})
	// BETA mobileAppAssignment {intent, settings, source, sourceId, target}; assign takes
	// mobileAppAssignments (docs:intune-apps-mobileapp-assign).
	assignmentSchemas["mobileAppAssignment"] = []string{"id", "intent", "settings", "source", "sourceId", "target"}
	assignmentTypes[graph.FamilyMobileApps] = "mobileAppAssignment"
	// IM Start-PreUpdateApplication removes these before every PATCH of an app.
	readOnlyOnUpdate["mobileApp"] = []string{"appStoreUrl"}
	readOnlyOnUpdate["windowsMobileMSI"] = []string{"useDeviceContext"}
	readOnlyOnUpdate["officeSuiteApp"] = []string{"officeConfigurationXml", "officePlatformArchitecture", "developer", "owner", "publisher"}

	// BETA roleAssignment {description, displayName, resourceScopes, scopeMembers, scopeType; nav
	// roleDefinition} and deviceAndAppManagementRoleAssignment {members, roleScopeTagIds; nav
	// roleScopeTags}. CSDL10 deviceManagement.roleAssignments is
	// Collection(deviceAndAppManagementRoleAssignment): items carry no @odata.type.
	typeSchemas["deviceAndAppManagementRoleAssignment"] = typeSchema{chain: strs("deviceAndAppManagementRoleAssignment", "roleAssignment"),
		props: strs("description", "displayName", "id", "members", "resourceScopes", "roleScopeTagIds", "scopeMembers", "scopeType"),
		navs:  strs("roleDefinition", "roleScopeTags")}
	addCollection(collectionSpec{name: "roleAssignments", declared: "deviceAndAppManagementRoleAssignment",
		types: []string{"deviceAndAppManagementRoleAssignment"}, pools: []graph.Family{graph.FamilyRoleAssignments}})
}

// isContentApp reports an app type whose package is uploaded (mobileLobApp and
// managedMobileLobApp, CSDL10).
func isContentApp(typ string) bool {
	ts, _ := schemaOf(typ)
	return ts.derivesFrom("mobileLobApp") || ts.derivesFrom("managedMobileLobApp")
}

// generateApps builds the tenant's apps, one of each fixture shape, with assignments whose
// settings carry the type's assignment settings (docs:intune-apps-mobileappassignment-create
// examples; BETA iosStoreAppAssignmentSettings, win32LobAppAssignmentSettings, …).
func (st *intuneStore) generateApps() {
	tid := st.tenant.ID
	shapes := map[string]map[string]any{
		// docs:intune-apps-iosstoreapp-create; the icon is a mimeContent (CSDL10 mobileApp.largeIcon).
		"iosStoreApp": {"displayName": "Microsoft Outlook", "publisher": "Microsoft Corporation", "bundleId": "com.microsoft.Office.Outlook",
			"appStoreUrl": "https://apps.apple.com/app/microsoft-outlook/id951937596", "applicableDeviceType": map[string]any{"iPad": true, "iPhoneAndIPod": true},
			"minimumSupportedOperatingSystem": map[string]any{"v16_0": true}, "largeIcon": map[string]any{"type": "image/png", "value": base64Of("\x89PNG outlook icon")}},
		// docs:intune-apps-win32lobapp-create
		"win32LobApp": {"displayName": "Contoso VPN", "publisher": "Contoso", "fileName": "vpn.intunewin", "displayVersion": "4.2.1",
			"installCommandLine": "setup.exe /quiet", "uninstallCommandLine": "setup.exe /uninstall /quiet", "setupFilePath": "setup.exe",
			"installExperience": map[string]any{"runAsAccount": "system", "deviceRestartBehavior": "suppress", "maxRunTimeInMinutes": 60},
			"rules": []any{map[string]any{"@odata.type": graphNS + "win32LobAppFileSystemRule", "ruleType": "detection", "path": `%ProgramFiles%\Contoso`,
				"fileOrFolderName": "vpn.exe", "check32BitOn64System": false, "operationType": "exists", "operator": "notConfigured", "comparisonValue": nil}},
			"committedContentVersion": "1", "size": 18432000, "uploadState": 1, "publishingState": "published"},
		// docs:intune-apps-wingetapp-create
		"winGetApp": {"displayName": "Company Portal", "publisher": "Microsoft Corporation", "packageIdentifier": "9WZDNCRFJ3PZ",
			"installExperience": map[string]any{"runAsAccount": "user"}, "manifestHash": "F1E2D3C4"},
		// docs:intune-apps-androidmanagedstoreapp (synced from managed Google Play)
		"androidManagedStoreApp": {"displayName": "Microsoft Teams", "publisher": "Microsoft Corporation", "packageId": "com.microsoft.teams",
			"appIdentifier": "com.microsoft.teams", "appStoreUrl": "https://play.google.com/store/apps/details?id=com.microsoft.teams",
			"isPrivate": false, "isSystemApp": false, "supportsOemConfig": false, "totalLicenseCount": 0, "usedLicenseCount": 0},
		// docs:intune-apps-webapp-create
		"webApp": {"displayName": "Contoso intranet", "publisher": "Contoso", "appUrl": "https://intranet.contoso.com", "useManagedBrowser": true},
		// docs:intune-apps-windowsmobilemsi-create
		"windowsMobileMSI": {"displayName": "Contoso Agent", "publisher": "Contoso", "fileName": "agent.msi", "commandLine": "/qn",
			"productCode": "{8A1C3A52-1F4E-4C10-9D3B-2E3B8F6A0C11}", "productVersion": "2.0.0", "ignoreVersionDetection": false, "useDeviceContext": true,
			"identityVersion": "2.0.0", "committedContentVersion": "1", "size": 2048000, "uploadState": 1, "publishingState": "published"},
		// docs:intune-apps-officesuiteapp-create (Microsoft 365 Apps, no package)
		"officeSuiteApp": {"displayName": "Microsoft 365 Apps for Windows", "publisher": "Microsoft", "developer": "Microsoft", "owner": "Microsoft",
			"autoAcceptEula": true, "productIds": []any{"o365ProPlusRetail"}, "excludedApps": map[string]any{"groove": true, "lync": true},
			"updateChannel": "current", "officePlatformArchitecture": "x64", "localesToInstall": []any{"en-us"}, "installProgressDisplayLevel": "none",
			"shouldUninstallOlderVersionsOfOffice": true, "targetVersion": "", "updateVersion": "", "useSharedComputerActivation": false,
			"officeSuiteAppDefaultFileFormat": "officeOpenXMLFormat", "officeConfigurationXml": nil},
		// A managed app Microsoft publishes to every tenant (appAvailability global), unassigned:
		// the peers' list filter leaves it out (IM, ICD).
		"managedIOSStoreApp": {"displayName": "Microsoft Edge", "publisher": "Microsoft Corporation", "bundleId": "com.microsoft.msedge",
			"appStoreUrl": "https://apps.apple.com/app/id1288723196", "appAvailability": "global", "version": "1",
			"applicableDeviceType": map[string]any{"iPad": true, "iPhoneAndIPod": true}, "minimumSupportedOperatingSystem": map[string]any{"v15_0": true}},
	}
	for k, typ := range mobileAppFixtures {
		app := shapes[typ]
		app["@odata.type"] = graphNS + typ
		app["id"] = deterministicUUID("mobileApp", tid, k)
		app["createdDateTime"], app["lastModifiedDateTime"] = stamp(k), stamp(k+1)
		app["description"], app["roleScopeTagIds"], app["isFeatured"] = fmt.Sprintf("%s for every user", app["displayName"]), []any{"0"}, k%2 == 0
		app["dependentAppCount"], app["supersedingAppCount"], app["supersededAppCount"] = 0, 0, 0
		if _, ok := app["publishingState"]; !ok {
			app["publishingState"] = "published"
		}
		obj := newObject(app)
		if typ != "managedIOSStoreApp" {
			obj.assignments = st.appAssignments(typ, fmt.Sprint(app["id"]), k)
		}
		app["isAssigned"] = len(obj.assignments) > 0
		st.fam[graph.FamilyMobileApps] = append(st.fam[graph.FamilyMobileApps], obj)
	}
}

// appAssignments are an app's assignments: required for a group, available for another with the
// type's assignment settings, an exclusion on every third shape; the first app has more than one
// page of them (like the first object of every family).
func (st *intuneStore) appAssignments(typ, appID string, k int) []map[string]any {
	g := st.tenant.groups
	settings := map[string]map[string]any{ // BETA *AssignmentSettings of each type
		"iosStoreApp": {"@odata.type": graphNS + "iosStoreAppAssignmentSettings", "vpnConfigurationId": nil, "uninstallOnDeviceRemoval": true,
			"isRemovable": true, "preventManagedAppBackup": false, "preventAutoAppUpdate": false},
		"win32LobApp": {"@odata.type": graphNS + "win32LobAppAssignmentSettings", "notifications": "showReboot", "deliveryOptimizationPriority": "foreground",
			"installTimeSettings": nil, "restartSettings": map[string]any{"gracePeriodInMinutes": 1440, "countdownDisplayBeforeRestartInMinutes": 15,
				"restartNotificationSnoozeDurationInMinutes": 240}, "autoUpdateSettings": nil},
		"winGetApp":              {"@odata.type": graphNS + "winGetAppAssignmentSettings", "notifications": "showAll", "installTimeSettings": nil, "restartSettings": nil},
		"androidManagedStoreApp": {"@odata.type": graphNS + "androidManagedStoreAppAssignmentSettings", "androidManagedStoreAppTrackIds": []any{}, "autoUpdateMode": "default"},
		"windowsMobileMSI":       nil,
	}[typ]
	var out []map[string]any
	count := 2 + k%2
	if k == 0 {
		count = bigSubCollection
	}
	for n := 0; n < count; n++ {
		target := map[string]any{"@odata.type": graphNS + "groupAssignmentTarget", "groupId": g.id((k*7 + n) % max(1, g.base)),
			"deviceAndAppManagementAssignmentFilterId": nil, "deviceAndAppManagementAssignmentFilterType": "none"}
		intent := []string{"required", "available", "uninstall"}[n%3]
		if n == 1 && k%3 == 2 {
			target["@odata.type"], intent = graphNS+"exclusionGroupAssignmentTarget", "required"
		}
		extra := map[string]any{"intent": intent, "settings": settings}
		out = append(out, assignment(appID, target, extra))
	}
	return out
}

// generateRBAC adds the built-in role definitions (the same id in every tenant, isBuiltIn; IM
// and ICD list custom ones with `isBuiltIn eq false`) and per role assignments in three shapes:
// a built-in role for scope groups, a custom role with beta scopeMembers and a scope tag, and
// one scoped to all devices (BETA roleAssignmentScopeType).
func (st *intuneStore) generateRBAC(per int) {
	for k, name := range []string{"Help Desk Operator", "Policy and Profile manager"} {
		st.fam[graph.FamilyRoleDefinitions] = append(st.fam[graph.FamilyRoleDefinitions], newObject(map[string]any{
			"@odata.type": graphNS + "deviceAndAppManagementRoleDefinition", "id": deterministicUUID("builtInRoleDefinition", k),
			"displayName": name, "description": "Built-in " + name, "isBuiltIn": true, "isBuiltInRoleDefinition": true,
			"rolePermissions": []any{map[string]any{"resourceActions": []any{map[string]any{"allowedResourceActions": []any{"Microsoft.Intune_Organization_Read"},
				"notAllowedResourceActions": []any{}}}}}, "permissions": []any{}, "roleScopeTagIds": []any{"0"}}))
	}
	var custom string
	for _, d := range st.fam[graph.FamilyRoleDefinitions] {
		if b, _ := d.obj["isBuiltIn"].(bool); !b {
			custom = d.id()
			break
		}
	}
	g := st.tenant.groups
	grp := func(i int) string { return g.id(i % max(1, g.base)) }
	for i := 0; i < per; i++ {
		o := map[string]any{"@odata.type": graphNS + "deviceAndAppManagementRoleAssignment", "id": st.newID(graph.FamilyRoleAssignments, i),
			"displayName": fmt.Sprintf("Role assignment %s %02d", shapeNames[i%5], i), "description": fmt.Sprintf("Generated role assignment %d", i),
			"roleScopeTagIds": []any{"0"}}
		def := deterministicUUID("builtInRoleDefinition", 0)
		switch i % 3 {
		case 0: // docs:…roleassignment-create: members and resourceScopes are group ids
			o["members"], o["resourceScopes"], o["scopeMembers"], o["scopeType"] = []any{grp(2 * i)}, []any{grp(2*i + 1), grp(2*i + 2)}, []any{}, "resourceScope"
		case 1:
			if custom != "" {
				def = custom
			}
			o["members"], o["resourceScopes"], o["scopeMembers"], o["scopeType"] = []any{grp(i), grp(i + 5)}, []any{}, []any{grp(i + 3)}, "resourceScope"
			if len(st.fam[graph.FamilyRoleScopeTags]) > 1 {
				o["roleScopeTagIds"] = []any{"0", st.fam[graph.FamilyRoleScopeTags][1].id()}
			}
		default:
			def = deterministicUUID("builtInRoleDefinition", 1)
			o["members"], o["resourceScopes"], o["scopeMembers"], o["scopeType"] = []any{grp(i + 1)}, []any{}, []any{}, "allDevices"
			o["description"] = ""
		}
		obj := newObject(o)
		obj.children["roleDefinition"] = []map[string]any{{"id": def}}
		st.fam[graph.FamilyRoleAssignments] = append(st.fam[graph.FamilyRoleAssignments], obj)
	}
}

// bindRE reads the id out of an @odata.bind URL ("…/roleDefinitions('id')").
var bindRE = regexp.MustCompile(`/(roleDefinitions|roleScopeTags)\('([^']+)'\)$`)

// takeRoleAssignmentBinds applies a role assignment write's binds (OData JSON 4.01 §8.5:
// navigation@odata.bind): roleDefinition@odata.bind to an existing role definition of the tenant,
// required on create (a role assignment "ties together a role definition with members and
// scopes", docs resource deviceAndAppManagementRoleAssignment); roleScopeTags@odata.bind to
// existing scope tags, stored as roleScopeTagIds (IM creates them that way).
func (st *intuneStore) takeRoleAssignmentBinds(obj *intuneObject, body map[string]any, create bool) *writeErr {
	if raw, ok := body["roleDefinition@odata.bind"]; ok {
		s, _ := raw.(string)
		m := bindRE.FindStringSubmatch(s)
		if m == nil || m[1] != "roleDefinitions" || st.find(graph.FamilyRoleDefinitions, m[2]) == nil {
			return serviceErr("roleDefinition@odata.bind does not name a role definition of this tenant: %q", s)
		}
		obj.children["roleDefinition"] = []map[string]any{{"id": m[2]}}
		delete(body, "roleDefinition@odata.bind")
	} else if create {
		return serviceErr("A role assignment needs its role definition (roleDefinition@odata.bind).")
	}
	if raw, ok := body["roleScopeTags@odata.bind"]; ok {
		list, _ := raw.([]any)
		tags := []any{}
		for _, v := range list {
			s, _ := v.(string)
			m := bindRE.FindStringSubmatch(s)
			if m == nil || m[1] != "roleScopeTags" || st.find(graph.FamilyRoleScopeTags, m[2]) == nil {
				return serviceErr("roleScopeTags@odata.bind does not name a scope tag of this tenant: %q", s)
			}
			tags = append(tags, m[2])
		}
		body["roleScopeTagIds"] = tags
		delete(body, "roleScopeTags@odata.bind")
	}
	return nil
}

// renderRoleDefinition is a role assignment's $expand=roleDefinition: the role definition entity.
func (st *intuneStore) renderRoleDefinition(o *intuneObject) any {
	link := o.children["roleDefinition"]
	if len(link) == 0 {
		return nil
	}
	d := st.find(graph.FamilyRoleDefinitions, fmt.Sprint(link[0]["id"]))
	if d == nil {
		return nil
	}
	return st.render(collections["roleDefinitions"], d, true, nil)
}

// renderRoleScopeTags is a role assignment's $expand=…/roleScopeTags (IM): its scope tags.
func (st *intuneStore) renderRoleScopeTags(o *intuneObject) []map[string]any {
	out := []map[string]any{}
	ids, _ := o.obj["roleScopeTagIds"].([]any)
	for _, id := range ids {
		if t := st.find(graph.FamilyRoleScopeTags, fmt.Sprint(id)); t != nil {
			out = append(out, st.render(collections["roleScopeTags"], t, true, nil))
		}
	}
	return out
}

// appPublishingState is a created app's publishingState: a line-of-business app stays
// notPublished until its package is committed (BETA mobileAppPublishingState; IM waits for
// "Published" before assigning), any other app is published at once.
func appPublishingState(typ string) string {
	if isContentApp(typ) {
		return "notPublished"
	}
	return "published"
}

// isRoleAssignmentCollection reports the collection whose writes carry binds (takeRoleAssignmentBinds).
func isRoleAssignmentCollection(c *collectionSpec) bool {
	return c != nil && c.name == "roleAssignments"
}
