package graphsim

import (
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// What Microsoft Graph says about each Intune collection the simulator serves. The rules here are
// the specification of /work/notes/families.md; every one names its source:
//   CSDL10  msgraph-metadata clean_v10_metadata/cleanMetadata.xml
//   BETA    msgraph-metadata schemas/type-mappings/beta-entity-types.json (intune_schema_gen.go)
//   docs:X  learn.microsoft.com/graph/api/X?view=graph-rest-beta (microsoft-graph-docs-contrib
//           api-reference/beta/api/X.md)
//   IM      Micke-K/IntuneManagement Extensions/EndpointManager.psm1
//   ICD     almenscorner/IntuneCD src/IntuneCD/{backup,update}/Intune/*.py, intunecdlib/*.py

type typeSchema struct {
	chain []string // the type, then its base types (entity excluded)
	props []string // structural properties, inherited ones included
	navs  []string // navigation properties
}

func strs(s ...string) []string { return s }

func (ts typeSchema) hasProp(p string) bool { return slices.Contains(ts.props, p) }
func (ts typeSchema) hasNav(p string) bool  { return slices.Contains(ts.navs, p) }

// derivesFrom reports whether the type is base or derives from it.
func (ts typeSchema) derivesFrom(base string) bool { return slices.Contains(ts.chain, base) }

const graphNS = "#microsoft.graph."

// collectionSpec is one entity set (or navigation collection) under /deviceManagement or
// /deviceAppManagement.
type collectionSpec struct {
	name string
	// declared is the entity type of the collection. OData minimal metadata writes @odata.type on an
	// item only when the item's type differs from it (OData JSON 4.01 §4.5.3): always for the
	// abstract collections, never for a collection whose items are all of its declared type.
	declared string
	// abstract: CSDL10 Abstract="true" — a create must name a derived type.
	abstract bool
	// types are the concrete types the collection holds and accepts; fixtures are the ones the
	// generated tenant uses (types when empty).
	types    []string
	fixtures []string
	// pools are the families whose stored objects the collection shows.
	pools []graph.Family
	// family owns created objects.
	family graph.Family
}

var appProtectionTypes = []string{"iosManagedAppProtection", "androidManagedAppProtection", "windowsManagedAppProtection",
	"windowsInformationProtectionPolicy", "mdmWindowsInformationProtectionPolicy"}

var collections = map[string]*collectionSpec{}

func addCollection(c collectionSpec) {
	if c.family == "" {
		c.family = c.pools[0]
	}
	collections[c.name] = &c
}

func init() {
	single := func(name, typ string, f graph.Family) {
		addCollection(collectionSpec{name: name, declared: typ, types: []string{typ}, pools: []graph.Family{f}})
	}
	// CSDL10: deviceConfiguration, deviceCompliancePolicy, deviceEnrollmentConfiguration,
	// managedDeviceMobileAppConfiguration, windowsAutopilotDeploymentProfile and managedAppPolicy
	// are Abstract="true"; their items always carry @odata.type.
	// Every concrete derived type of the metadata resolves (CSDL10 BaseType chains), except the
	// Windows Phone 8.1 ones ("Windows Phone operations are no longer supported", IM).
	addCollection(collectionSpec{name: "deviceConfigurations", declared: "deviceConfiguration", abstract: true,
		types: derivedTypes("deviceConfiguration"),
		fixtures: []string{"windows10GeneralConfiguration", "windows10CustomConfiguration", "iosGeneralDeviceConfiguration",
			"windowsUpdateForBusinessConfiguration", "macOSCustomConfiguration"},
		pools: []graph.Family{graph.FamilyDeviceConfigurations}})
	addCollection(collectionSpec{name: "deviceCompliancePolicies", declared: "deviceCompliancePolicy", abstract: true,
		types:    derivedTypes("deviceCompliancePolicy"),
		fixtures: []string{"windows10CompliancePolicy", "iosCompliancePolicy", "androidWorkProfileCompliancePolicy", "macOSCompliancePolicy"},
		pools:    []graph.Family{graph.FamilyDeviceCompliancePolicies}})
	addCollection(collectionSpec{name: "deviceEnrollmentConfigurations", declared: "deviceEnrollmentConfiguration", abstract: true,
		types: []string{"deviceEnrollmentLimitConfiguration", "deviceEnrollmentPlatformRestrictionsConfiguration",
			"deviceEnrollmentPlatformRestrictionConfiguration", "deviceEnrollmentWindowsHelloForBusinessConfiguration",
			"windows10EnrollmentCompletionPageConfiguration", "deviceComanagementAuthorityConfiguration",
			"windowsRestoreDeviceEnrollmentConfiguration", "deviceEnrollmentNotificationConfiguration"},
		pools: []graph.Family{graph.FamilyDeviceEnrollmentConfigurations}})
	addCollection(collectionSpec{name: "mobileAppConfigurations", declared: "managedDeviceMobileAppConfiguration", abstract: true,
		types: []string{"iosMobileAppConfiguration", "androidManagedStoreAppConfiguration"},
		pools: []graph.Family{graph.FamilyMobileAppConfigurations}})
	addCollection(collectionSpec{name: "windowsAutopilotDeploymentProfiles", declared: "windowsAutopilotDeploymentProfile", abstract: true,
		types: []string{"azureADWindowsAutopilotDeploymentProfile", "activeDirectoryWindowsAutopilotDeploymentProfile"},
		pools: []graph.Family{graph.FamilyWindowsAutopilotDeploymentProfiles}})
	// managedAppPolicies lists every app protection type and, as IM found ("App Configurations for
	// Managed Apps … are also included in the managedAppPolicies API"), the targeted app
	// configurations too. It is read-only here: writes go through the type collections (ICD
	// update/Intune/AppProtection.py _get_platform).
	addCollection(collectionSpec{name: "managedAppPolicies", declared: "managedAppPolicy", abstract: true,
		types: append(slices.Clone(appProtectionTypes), "targetedManagedAppConfiguration"),
		pools: []graph.Family{graph.FamilyManagedAppPolicies, graph.FamilyTargetedManagedAppConfigurations}})
	// Type collections: declared type = the item type, so their items carry no @odata.type.
	single("iosManagedAppProtections", "iosManagedAppProtection", graph.FamilyManagedAppPolicies)
	single("androidManagedAppProtections", "androidManagedAppProtection", graph.FamilyManagedAppPolicies)
	single("windowsManagedAppProtections", "windowsManagedAppProtection", graph.FamilyManagedAppPolicies) // BETA: own collection, apps + assignments
	single("windowsInformationProtectionPolicies", "windowsInformationProtectionPolicy", graph.FamilyManagedAppPolicies)
	single("mdmWindowsInformationProtectionPolicies", "mdmWindowsInformationProtectionPolicy", graph.FamilyManagedAppPolicies)
	single("targetedManagedAppConfigurations", "targetedManagedAppConfiguration", graph.FamilyTargetedManagedAppConfigurations)
	// Non-polymorphic families: settings catalog, scripts, filters, scope tags … (issue #17: real
	// configurationPolicies responses and portal exports carry no @odata.type).
	single("configurationPolicies", "deviceManagementConfigurationPolicy", graph.FamilyConfigurationPolicies)
	single("compliancePolicies", "deviceManagementCompliancePolicy", graph.FamilyCompliancePolicies)
	single("intents", "deviceManagementIntent", graph.FamilyIntents)
	single("groupPolicyConfigurations", "groupPolicyConfiguration", graph.FamilyGroupPolicyConfigurations)
	single("deviceManagementScripts", "deviceManagementScript", graph.FamilyDeviceManagementScripts)
	single("deviceShellScripts", "deviceShellScript", graph.FamilyDeviceShellScripts)
	single("deviceHealthScripts", "deviceHealthScript", graph.FamilyDeviceHealthScripts)
	single("deviceComplianceScripts", "deviceComplianceScript", graph.FamilyDeviceComplianceScripts)
	single("windowsFeatureUpdateProfiles", "windowsFeatureUpdateProfile", graph.FamilyWindowsFeatureUpdateProfiles)
	single("windowsQualityUpdateProfiles", "windowsQualityUpdateProfile", graph.FamilyWindowsQualityUpdateProfiles)
	single("windowsDriverUpdateProfiles", "windowsDriverUpdateProfile", graph.FamilyWindowsDriverUpdateProfiles)
	single("assignmentFilters", "deviceAndAppManagementAssignmentFilter", graph.FamilyAssignmentFilters)
	single("roleScopeTags", "roleScopeTag", graph.FamilyRoleScopeTags)
	// Mobile apps (ESP selectedMobileAppIds, app-config targetedMobileApps): intune_apps.go.
	single("notificationMessageTemplates", "notificationMessageTemplate", graph.FamilyNotificationMessageTemplates) // backed up (intune_notifications.go)
	// Settings-catalog templates with their setting templates: IM reads
	// configurationPolicyTemplates('{id}')/settingTemplates?$expand=settingDefinitions to fix the
	// letter case of settingInstanceTemplateId before an import (Start-PreImportSettingsCatalog).
	single("configurationPolicyTemplates", "deviceManagementConfigurationPolicyTemplate", familyPolicyTemplates)
}

// Families the engine registry does not know (graphsim-only, read-only).
const (
	familyPolicyTemplates graph.Family = "configurationPolicyTemplates"
)

// derivedTypes lists the concrete types in typeSchemas whose chain includes base.
func derivedTypes(base string) []string {
	var out []string
	for t, ts := range typeSchemas {
		if t != base && ts.derivesFrom(base) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// fixtureTypes are the types generated objects cycle through.
func (c *collectionSpec) fixtureTypes() []string {
	if len(c.fixtures) > 0 {
		return c.fixtures
	}
	return c.types
}

// collectionOf returns the collection a contract path addresses ("/deviceManagement/x/{id}/…" → x).
func collectionOf(c *graph.Contract) *collectionSpec {
	parts := strings.Split(strings.TrimPrefix(c.Path, "/"), "/")
	if len(parts) < 2 {
		return nil
	}
	if parts[1] == "templates" { // intents.create: /deviceManagement/templates/{templateId}/createInstance
		return collections["intents"]
	}
	return collections[parts[1]]
}

// familyCollection is the collection a family's objects are written through by default.
func familyCollection(f graph.Family) *collectionSpec {
	fi, _ := graph.FamilyOf(f)
	return collections[fi.Collection[strings.LastIndexByte(fi.Collection, '/')+1:]]
}

// typeOnWire reports whether @odata.type is written for an item of typ in collection c
// (OData JSON 4.01 §4.5.3, minimal metadata: only when the type is not the declared one).
func (c *collectionSpec) typeOnWire(typ string) bool {
	return strings.TrimPrefix(typ, graphNS) != c.declared
}

func (c *collectionSpec) accepts(typ string) bool {
	return slices.Contains(c.types, strings.TrimPrefix(typ, graphNS))
}

// lazyProperties are left null in list results and filled only by a GET of one object: IM #100
// ("Script content is kind of a 'lazy' property so it is not populated when all objects are
// downloaded from Graph. It is only available when a single object is retrieved"); ICD reads each
// script by id ("Get the script data details using batch request" in PowershellScripts,
// ShellScripts, ProactiveRemediation, ComplianceScripts).
var lazyProperties = map[graph.Family][]string{
	graph.FamilyDeviceManagementScripts: {"scriptContent"},
	graph.FamilyDeviceShellScripts:      {"scriptContent"},
	graph.FamilyDeviceHealthScripts:     {"detectionScriptContent", "remediationScriptContent"},
	graph.FamilyDeviceComplianceScripts: {"detectionScriptContent"},
	// IM Applications: ScopeTagsReturnedInList = $false; ICD Applications.py reads each app's
	// roleScopeTagIds with a batch GET ?$select=roleScopeTagIds,id.
	graph.FamilyMobileApps: {"roleScopeTagIds"},
}

// serverOwned are refused in every create and update body: IM strips exactly these from every
// object before any write (MSGraph.psm1 Start-GraphPreImport, "Default properties to delete":
// lastModifiedDateTime, createdDateTime, supportsScopeTags, id, modifiedDateTime; IM #4 is a
// createdDateTime the service rejected). Other computed properties (isAssigned, version,
// deployedAppCount, creationSource, isGlobalScript, …) are accepted on create — IM imports them
// unchanged — and refused only where a peer found it on update (readOnlyOnUpdate).
var serverOwned = []string{"id", "createdDateTime", "lastModifiedDateTime", "supportsScopeTags", "modifiedDateTime"}

// readOnlyOnCreate and readOnlyOnUpdate are the per-type refusals on top of serverOwned, keyed by
// a type of the chain (a base type covers its derived types). An update refuses both lists.
var readOnlyOnCreate = map[string][]string{
	// IM PropertiesToRemove = @("payloads") on assignment filters (import and update); ICD
	// Filters.py pops it: the back-references to the policies that use the filter.
	"deviceAndAppManagementAssignmentFilter": {"payloads"},
	// IM PropertiesToRemove = @("definitionValues","policyConfigurationIngestionType") on ADMX
	// (definitionValues is a navigation, refused inline anyway).
	"groupPolicyConfiguration": {"policyConfigurationIngestionType"},
	// IM PropertiesToRemove = @('settingCount') for settings catalog and settings-catalog compliance.
	"deviceManagementConfigurationPolicy": {"settingCount"},
	"deviceManagementCompliancePolicy":    {"settingCount"},
}

var readOnlyOnUpdate = map[string][]string{
	// priority moves through setPriority only (IM PropertiesToRemoveForUpdate = @('priority'));
	// ICD EnrollmentConfigurations.py pops deviceEnrollmentConfigurationType and platformType.
	"deviceEnrollmentConfiguration":                    {"priority", "deviceEnrollmentConfigurationType"},
	"deviceEnrollmentPlatformRestrictionConfiguration": {"platformType"},
	"windowsAutopilotDeploymentProfile":                {"managementServiceAppId"}, // IM PropertiesToRemoveForUpdate
	"deviceAndAppManagementAssignmentFilter":           {"platform"},               // IM PropertiesToRemoveForUpdate; ICD update_data.pop("platform")
	// Update rings: IM PropertiesToRemoveForUpdate.
	"windowsUpdateForBusinessConfiguration": {"version", "qualityUpdatesPauseStartDate", "featureUpdatesPauseStartDate",
		"qualityUpdatesWillBeRolledBack", "featureUpdatesWillBeRolledBack"},
	// IM PropertiesToRemoveForUpdate and Start-PreUpdateFeatureUpdates; ICD WindowsFeatureUpdates.py.
	"windowsFeatureUpdateProfile": {"deployableContentDisplayName", "endOfSupportDate", "installLatestWindows10OnWindows11IneligibleDevice"},
	"windowsQualityUpdateProfile": {"releaseDateDisplayName", "deployableContentDisplayName"},               // IM PropertiesToRemoveForUpdate
	"windowsDriverUpdateProfile":  {"newUpdates", "inventorySyncStatus", "deviceReporting", "approvalType"}, // ICD WindowsDriverUpdates.py
	// IM PropertiesToRemoveForUpdate = @('version','isGlobalScript','highestAvailableVersion');
	// ICD ProactiveRemediation.py pops deviceHealthScriptType.
	"deviceHealthScript": {"version", "isGlobalScript", "highestAvailableVersion", "deviceHealthScriptType"},
	// App protection: IM PropertiesToRemoveForUpdate = @("protectedAppLockerFiles","version").
	"managedAppPolicy": {"version"},
}

// inlineNavigations are the navigation properties a create (or PUT) body may carry: settings of
// settings-catalog policies (docs:intune-deviceconfigv2-devicemanagementconfigurationpolicy-create),
// compliance rules of classic compliance (a create requires them: "Compliance policy must have one
// and only one block scheduled action", docs resource deviceCompliancePolicy; IBR injects one),
// and settings + rules of settings-catalog compliance (ICD Compliance.py creates and PUTs them).
// Every other navigation property (apps, assignments, definitionValues, privacyAccessControls,
// protectedAppLockerFiles, domainJoinConfiguration …) is refused inline: peers write them through
// their own endpoint or action (IM targetApps, updateDefinitionValues, windowsPrivacyAccessControls).
var inlineNavigations = map[string][]string{
	"deviceManagementConfigurationPolicy": {"settings"},
	"deviceManagementCompliancePolicy":    {"settings", "scheduledActionsForRule"},
	"deviceCompliancePolicy":              {"scheduledActionsForRule"},
}

// assignmentTypes are the assignment entity types per family (their properties are in
// assignmentSchemas): a deviceHealthScriptAssignment keeps runSchedule and runRemediationScript,
// a deviceConfigurationAssignment its intent.
var assignmentTypes = map[graph.Family]string{
	graph.FamilyDeviceConfigurations:               "deviceConfigurationAssignment",
	graph.FamilyConfigurationPolicies:              "deviceManagementConfigurationPolicyAssignment",
	graph.FamilyDeviceCompliancePolicies:           "deviceCompliancePolicyAssignment",
	graph.FamilyCompliancePolicies:                 "deviceManagementConfigurationPolicyAssignment",
	graph.FamilyIntents:                            "deviceManagementIntentAssignment",
	graph.FamilyGroupPolicyConfigurations:          "groupPolicyConfigurationAssignment",
	graph.FamilyManagedAppPolicies:                 "targetedManagedAppPolicyAssignment",
	graph.FamilyTargetedManagedAppConfigurations:   "targetedManagedAppPolicyAssignment",
	graph.FamilyMobileAppConfigurations:            "managedDeviceMobileAppConfigurationAssignment",
	graph.FamilyDeviceEnrollmentConfigurations:     "enrollmentConfigurationAssignment",
	graph.FamilyWindowsAutopilotDeploymentProfiles: "windowsAutopilotDeploymentProfileAssignment",
	graph.FamilyDeviceManagementScripts:            "deviceManagementScriptAssignment",
	graph.FamilyDeviceShellScripts:                 "deviceManagementScriptAssignment",
	graph.FamilyDeviceHealthScripts:                "deviceHealthScriptAssignment",
	graph.FamilyDeviceComplianceScripts:            "deviceHealthScriptAssignment",
	graph.FamilyWindowsFeatureUpdateProfiles:       "windowsFeatureUpdateProfileAssignment",
	graph.FamilyWindowsQualityUpdateProfiles:       "windowsQualityUpdateProfileAssignment",
	graph.FamilyWindowsDriverUpdateProfiles:        "windowsDriverUpdateProfileAssignment",
}

// assignmentTargets are the derived types of the abstract complex type
// deviceAndAppManagementAssignmentTarget (CSDL10), plus the beta-only ones the beta assign docs
// examples use (scopeTagGroupAssignmentTarget, organizationalUnitAssignmentTarget).
var assignmentTargets = []string{"#microsoft.graph.groupAssignmentTarget", "#microsoft.graph.exclusionGroupAssignmentTarget",
	"#microsoft.graph.allLicensedUsersAssignmentTarget", "#microsoft.graph.allDevicesAssignmentTarget",
	"#microsoft.graph.configurationManagerCollectionAssignmentTarget", "#microsoft.graph.scopeTagGroupAssignmentTarget",
	"#microsoft.graph.organizationalUnitAssignmentTarget"}

// AcceptedTypes returns the @odata.type values ("#microsoft.graph.x") of a family's generated
// objects, in the order fixtures cycle through them. Writes accept these and every other concrete
// type of the collection (collectionSpec.types).
func AcceptedTypes(f graph.Family) []string {
	var out []string
	if f == graph.FamilyManagedAppPolicies {
		for _, t := range appProtectionTypes {
			out = append(out, graphNS+t)
		}
		return out
	}
	if c := familyCollection(f); c != nil {
		for _, t := range c.fixtureTypes() {
			out = append(out, graphNS+t)
		}
	}
	return out
}

// schemaOf returns the schema of a type name with or without the "#microsoft.graph." prefix.
func schemaOf(typ string) (typeSchema, bool) {
	ts, ok := typeSchemas[strings.TrimPrefix(typ, graphNS)]
	return ts, ok
}

func chainLookup(m map[string][]string, ts typeSchema) []string {
	var out []string
	for _, t := range ts.chain {
		out = append(out, m[t]...)
	}
	return out
}
