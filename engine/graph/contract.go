package graph

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The contract registry: the one list of every Microsoft Graph call TenantAtlas makes
// (docs/graph.md#contract-registry). Workers call the client by contract name, verification
// derives the permissions to check from it, the README generator prints it and graphsim routes
// its endpoints from it, so an endpoint, a permission or a $select exists exactly once.

// Family identifies a kind of object TenantAtlas syncs: a directory collection or an Intune
// policy family of docs/graph.md#intune-families. The values are stable: they are stored in the
// database (inventory rows, backup schedules) and accepted on the command line.
type Family string

const (
	FamilyGroups                             Family = "groups"
	FamilyDirectoryRoleDefinitions           Family = "directoryRoleDefinitions"
	FamilyDeviceConfigurations               Family = "deviceConfigurations"
	FamilyConfigurationPolicies              Family = "configurationPolicies"
	FamilyDeviceCompliancePolicies           Family = "deviceCompliancePolicies"
	FamilyCompliancePolicies                 Family = "compliancePolicies"
	FamilyIntents                            Family = "intents"
	FamilyGroupPolicyConfigurations          Family = "groupPolicyConfigurations"
	FamilyManagedAppPolicies                 Family = "managedAppPolicies"
	FamilyMobileAppConfigurations            Family = "mobileAppConfigurations"
	FamilyTargetedManagedAppConfigurations   Family = "targetedManagedAppConfigurations"
	FamilyDeviceEnrollmentConfigurations     Family = "deviceEnrollmentConfigurations"
	FamilyWindowsAutopilotDeploymentProfiles Family = "windowsAutopilotDeploymentProfiles"
	FamilyDeviceManagementScripts            Family = "deviceManagementScripts"
	FamilyDeviceShellScripts                 Family = "deviceShellScripts"
	FamilyDeviceHealthScripts                Family = "deviceHealthScripts"
	FamilyDeviceComplianceScripts            Family = "deviceComplianceScripts"
	FamilyWindowsFeatureUpdateProfiles       Family = "windowsFeatureUpdateProfiles"
	FamilyWindowsQualityUpdateProfiles       Family = "windowsQualityUpdateProfiles"
	FamilyWindowsDriverUpdateProfiles        Family = "windowsDriverUpdateProfiles"
	FamilyAssignmentFilters                  Family = "assignmentFilters"
	FamilyRoleScopeTags                      Family = "roleScopeTags"

	// Reference families: read-only collections a restore reads in the target tenant to map
	// references by name (docs/graph.md#cross-tenant-references). Never synced or backed up.
	// FamilyGroupPolicyDefinitions are the tenant's custom (uploaded ADMX, admxIngested) group
	// policy definitions, listed through their categories (NestedIn) with their presentations.
	FamilyGroupPolicyDefinitions Family = "groupPolicyDefinitions"
)

// Service is the Graph workload behind a family. It decides the error-body dialect (directory
// errors vs Intune's JSON-inside-message) and whether background calls are sent with
// x-ms-throttle-priority: low (honoured by the identity service only).
type Service string

const (
	ServiceDirectory Service = "directory"
	ServiceIntune    Service = "intune"
	ServiceLogin     Service = "login"
)

// APIVersion is the Graph version segment. Directory calls use v1.0; every Intune family uses beta,
// as all peer tools do (settings catalog and admin templates have no v1.0 at all).
type APIVersion string

const (
	V1   APIVersion = "v1.0"
	Beta APIVersion = "beta"
)

// Kind says what a contract does; graphsim dispatches on it.
type Kind string

const (
	KindToken       Kind = "token"       // client-credentials token request (login host, via azidentity)
	KindProbe       Kind = "probe"       // cheap GET proving one capability (verification)
	KindList        Kind = "list"        // paged collection GET
	KindDelta       Kind = "delta"       // delta query (nextLink ... deltaLink)
	KindGet         Kind = "get"         // one object by id
	KindChildren    Kind = "children"    // paged sub-collection of one object (settings, definitionValues, ...)
	KindAssignments Kind = "assignments" // paged /{id}/assignments
	KindCreate      Kind = "create"      // POST to the collection, returns the new object
	KindUpdate      Kind = "update"      // PATCH of one object
	KindReplace     Kind = "replace"     // PUT of the whole object (settings catalog: replaces all settings)
	KindAssign      Kind = "assign"      // POST /{id}/assign: replaces the whole assignment set
	KindSetPriority Kind = "setPriority" // POST /{id}/setPriority {"priority":n}
	KindAction      Kind = "action"      // other POST actions (createInstance, updateDefinitionValues, ...)
	KindDelete      Kind = "delete"      // DELETE of one child entity (an autopilot assignment, an intent setting)
)

// Contract describes one Graph call.
type Contract struct {
	// Name is the registry key, "<family or area>.<operation>", e.g. "groups.delta".
	Name   string
	Family Family
	Kind   Kind
	// Method is the HTTP method (GET, POST, PATCH, PUT).
	Method  string
	Version APIVersion
	// Path is relative to the version root ("/groups/{id}"). Placeholders in braces are filled, in
	// order, from the path arguments the caller passes; each argument is path-escaped.
	Path string
	// Select is the $select the client sends for reads (nil: all default properties, which is what
	// backups of Intune payloads need).
	Select []string
	// Expand is the $expand the client sends, if any.
	Expand string
	// Filter is the $filter the client sends on reads, if any (a Query's Filter replaces it).
	Filter string
	// PageSize is the $top the client sends on list calls (0: the service default).
	PageSize int
	// Permission is the application permission this call needs: ReadPermission for reads,
	// WritePermission for writes (granted roles are matched with [Granted]).
	Permission string
	// ReadPermission and WritePermission are the family's least-privileged permissions.
	ReadPermission  string
	WritePermission string
	// AssignKey is the top-level key of the assign body ("assignments", or
	// "enrollmentConfigurationAssignments" for enrollment configurations, ...). Assign contracts only.
	AssignKey string
	// LowPriority sends x-ms-throttle-priority: low (background directory calls).
	LowPriority bool
	// Service is the workload that answers the call.
	Service Service
	// Doc is one line for humans (README, verification report).
	Doc string
	// ReadOnly marks a POST that only reads (directoryObjects/getByIds): the rate limiter counts
	// it as a read, not against the write budget.
	ReadOnly bool
	// AlsoRequires is a second permission the call needs besides Permission (Conditional Access
	// writes need Policy.Read.All too; FamilyInfo.WriteNeedsRead).
	AlsoRequires string
}

// IsWrite reports whether the call changes tenant state: every method but GET, except a
// ReadOnly POST.
func (c Contract) IsWrite() bool {
	return c.Method != http.MethodGet && !c.ReadOnly
}

// Placeholders returns the names of the path placeholders in order, e.g. ["id"].
func (c Contract) Placeholders() []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(c.Path, -1) {
		out = append(out, m[1])
	}
	return out
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// FamilyInfo is the registry entry of a family.
type FamilyInfo struct {
	Family  Family
	Service Service
	Version APIVersion
	// Collection is the list path relative to the version root.
	Collection string
	// ReadPermission is the least-privileged application permission that reads the family;
	// WritePermission the one restore needs.
	ReadPermission  string
	WritePermission string
	// NameProperty is the property holding the display name ("displayName", or "name" for the
	// settings-catalog families).
	NameProperty string
	// HasAssignments reports whether objects carry /assignments and accept /assign.
	HasAssignments bool
	// AssignKey is the top-level key of the assign body.
	AssignKey string
	// Doc is one line for humans.
	Doc string
	// Reference marks a read-only family read only to map references across tenants (custom
	// ADMX definitions): not in IntuneFamilies, never backed up.
	Reference bool
	// Entra marks an Entra policy family (Conditional Access, contract_ca.go): a directory
	// family backed up, diffed and restored like the Intune families (IntuneFamilies lists it).
	Entra bool
	// optionalPermission: the family's permission was not required before it was added (Intune
	// role definitions: DeviceManagementRBAC.Read.All), so an app without it is not an error.
	optionalPermission bool
	// WriteNeedsRead: Microsoft documents the writes as needing the read permission as well
	// ("Policy.Read.All and Policy.ReadWrite.ConditionalAccess"), so restore checks both.
	WriteNeedsRead bool
	// NestedIn (reference families): the list returns parents whose collection property of this
	// name holds the family's objects (custom ADMX definitions inside their categories).
	NestedIn string
	// ObjectReads (reference families): per listed object, payload key → the contract (one path
	// argument, the object's id) whose items go there (a custom ADMX definition's presentations).
	ObjectReads map[string]string
}

const (
	permGroupRead        = "Group.Read.All"
	permGroupCreate      = "Group.Create"
	permRoleMgmtRead     = "RoleManagement.Read.Directory"
	permConfigRead       = "DeviceManagementConfiguration.Read.All"
	permConfigWrite      = "DeviceManagementConfiguration.ReadWrite.All"
	permServiceRead      = "DeviceManagementServiceConfig.Read.All"
	permServiceWrite     = "DeviceManagementServiceConfig.ReadWrite.All"
	permAppsRead         = "DeviceManagementApps.Read.All"
	permAppsWrite        = "DeviceManagementApps.ReadWrite.All"
	permRBACRead         = "DeviceManagementRBAC.Read.All"
	permRBACWrite        = "DeviceManagementRBAC.ReadWrite.All"
	permScriptsRead      = "DeviceManagementScripts.Read.All"
	permScriptsWrite     = "DeviceManagementScripts.ReadWrite.All"
	permDirectoryRead    = "Directory.Read.All"
	permDirectoryWrite   = "Directory.ReadWrite.All"
	groupSelectList      = "id,displayName,description,groupTypes,securityEnabled,mailEnabled,membershipRule,membershipRuleProcessingState,onPremisesSyncEnabled,isAssignableToRole,createdDateTime"
	roleDefSelectList    = "id,displayName,description,isBuiltIn,isEnabled,templateId,version,rolePermissions"
	assignKeyDefault     = "assignments"
	assignKeyEnrollment  = "enrollmentConfigurationAssignments"
	assignKeyScripts     = "deviceManagementScriptAssignments"
	assignKeyHealthScrip = "deviceHealthScriptAssignments"
)

// GetByIDsMax is how many ids one directoryObjects/getByIds request may carry (Learn
// directoryobject-getbyids: "You can specify up to 1000 IDs").
const GetByIDsMax = 1000

// GroupSelect and RoleDefinitionSelect are the $select lists of the directory syncs.
var (
	GroupSelect          = strings.Split(groupSelectList, ",")
	RoleDefinitionSelect = strings.Split(roleDefSelectList, ",")
)

var families = slices.Concat([]FamilyInfo{
	{Family: FamilyGroups, Service: ServiceDirectory, Version: V1, Collection: "/groups",
		// v1.0 docs group-post-groups: Group.Create is the least-privileged application permission
		// for the only group write (restore's opt-in create of a missing group).
		ReadPermission: permGroupRead, WritePermission: permGroupCreate, NameProperty: "displayName",
		Doc: "Entra groups (full list, then /groups/delta)"},
	{Family: FamilyDirectoryRoleDefinitions, Service: ServiceDirectory, Version: V1, Collection: "/roleManagement/directory/roleDefinitions",
		ReadPermission: permRoleMgmtRead, NameProperty: "displayName",
		Doc: "Entra directory role definitions"},
	intune(FamilyDeviceConfigurations, "/deviceManagement/deviceConfigurations", permConfigRead, permConfigWrite, "Device configuration profiles (templates)"),
	intuneNamed(FamilyConfigurationPolicies, "/deviceManagement/configurationPolicies", permConfigRead, permConfigWrite, "Settings catalog and endpoint security policies"),
	intune(FamilyDeviceCompliancePolicies, "/deviceManagement/deviceCompliancePolicies", permConfigRead, permConfigWrite, "Compliance policies (classic)"),
	intuneNamed(FamilyCompliancePolicies, "/deviceManagement/compliancePolicies", permConfigRead, permConfigWrite, "Compliance policies (settings catalog)"),
	intune(FamilyIntents, "/deviceManagement/intents", permConfigRead, permConfigWrite, "Endpoint security policies (legacy intents)"),
	intune(FamilyGroupPolicyConfigurations, "/deviceManagement/groupPolicyConfigurations", permConfigRead, permConfigWrite, "Administrative templates"),
	intune(FamilyManagedAppPolicies, "/deviceAppManagement/managedAppPolicies", permAppsRead, permAppsWrite, "App protection policies (read and written through their type collections)"),
	intune(FamilyMobileAppConfigurations, "/deviceAppManagement/mobileAppConfigurations", permAppsRead, permAppsWrite, "App configuration policies (managed devices)"),
	intune(FamilyTargetedManagedAppConfigurations, "/deviceAppManagement/targetedManagedAppConfigurations", permAppsRead, permAppsWrite, "App configuration policies (managed apps)"),
	withAssignKey(intune(FamilyDeviceEnrollmentConfigurations, "/deviceManagement/deviceEnrollmentConfigurations", permServiceRead, permServiceWrite, "Enrollment restrictions, ESP, WHfB, co-management, notifications"), assignKeyEnrollment),
	intune(FamilyWindowsAutopilotDeploymentProfiles, "/deviceManagement/windowsAutopilotDeploymentProfiles", permServiceRead, permServiceWrite, "Windows Autopilot deployment profiles"),
	withAssignKey(intune(FamilyDeviceManagementScripts, "/deviceManagement/deviceManagementScripts", permScriptsRead, permScriptsWrite, "Windows PowerShell scripts"), assignKeyScripts),
	withAssignKey(intune(FamilyDeviceShellScripts, "/deviceManagement/deviceShellScripts", permScriptsRead, permScriptsWrite, "macOS shell scripts"), assignKeyScripts),
	withAssignKey(intune(FamilyDeviceHealthScripts, "/deviceManagement/deviceHealthScripts", permScriptsRead, permScriptsWrite, "Remediations (proactive remediation scripts)"), assignKeyHealthScrip),
	withAssignKey(intune(FamilyDeviceComplianceScripts, "/deviceManagement/deviceComplianceScripts", permScriptsRead, permScriptsWrite, "Custom compliance discovery scripts"), assignKeyHealthScrip),
	intune(FamilyWindowsFeatureUpdateProfiles, "/deviceManagement/windowsFeatureUpdateProfiles", permConfigRead, permConfigWrite, "Windows feature update profiles"),
	intune(FamilyWindowsQualityUpdateProfiles, "/deviceManagement/windowsQualityUpdateProfiles", permConfigRead, permConfigWrite, "Windows quality update profiles"),
	intune(FamilyWindowsDriverUpdateProfiles, "/deviceManagement/windowsDriverUpdateProfiles", permConfigRead, permConfigWrite, "Windows driver update profiles"),
	noAssignments(intune(FamilyAssignmentFilters, "/deviceManagement/assignmentFilters", permConfigRead, permConfigWrite, "Assignment filters")),
	// Least privilege: docs:intune-rbac-rolescopetag-list lists "DeviceManagementConfiguration.Read.All"
	// first (least privileged), -create "DeviceManagementConfiguration.ReadWrite.All".
	noAssignments(intune(FamilyRoleScopeTags, "/deviceManagement/roleScopeTags", permConfigRead, permConfigWrite, "Scope tags")),
	// Custom ADMX definitions, as IM lists them before an import (Import-GPOSetting):
	// groupPolicyCategories?$filter=ingestionSource eq 'custom'&$expand=definitions(…), then each
	// definition's presentations (docs:intune-grouppolicy-grouppolicycategory-list,
	// …-grouppolicypresentation-list: DeviceManagementConfiguration.Read.All).
	withNested(reference(FamilyGroupPolicyDefinitions, "/deviceManagement/groupPolicyCategories", permConfigRead,
		"Custom ADMX definitions (read to map administrative template settings by name, category and class)"),
		"definitions", map[string]string{"presentations": "groupPolicyDefinitions.presentations"}),
}, moreIntuneFamilies, entraFamilies)

func withNested(fi FamilyInfo, nested string, reads map[string]string) FamilyInfo {
	fi.NestedIn, fi.ObjectReads = nested, reads
	return fi
}

func reference(f Family, collection, read, doc string) FamilyInfo {
	fi := noAssignments(intune(f, collection, read, "", doc))
	fi.Reference = true
	return fi
}

func intune(f Family, collection, read, write, doc string) FamilyInfo {
	return FamilyInfo{Family: f, Service: ServiceIntune, Version: Beta, Collection: collection,
		ReadPermission: read, WritePermission: write, NameProperty: "displayName",
		HasAssignments: true, AssignKey: assignKeyDefault, Doc: doc}
}

func intuneNamed(f Family, collection, read, write, doc string) FamilyInfo {
	fi := intune(f, collection, read, write, doc)
	fi.NameProperty = "name"
	return fi
}

func withAssignKey(fi FamilyInfo, key string) FamilyInfo {
	fi.AssignKey = key
	return fi
}

func noAssignments(fi FamilyInfo) FamilyInfo {
	fi.HasAssignments = false
	fi.AssignKey = ""
	return fi
}

// targetAppsCollections are the app protection type collections whose policies take their apps
// through targetApps (CSDL10 targetedManagedAppProtection.targetApps; windowsManagedAppProtection
// per BETA). WIP policies have no apps navigation.
var targetAppsCollections = []string{"iosManagedAppProtections", "androidManagedAppProtections", "windowsManagedAppProtections"}

var (
	registry     map[string]Contract
	registryList []Contract
)

func init() {
	registry = make(map[string]Contract)
	add := func(c Contract) {
		if _, dup := registry[c.Name]; dup {
			panic("graph: duplicate contract " + c.Name)
		}
		fi, ok := FamilyOf(c.Family)
		if !ok && c.Kind != KindToken {
			panic("graph: contract " + c.Name + " has unknown family " + string(c.Family))
		}
		if c.Service == "" {
			c.Service = fi.Service
		}
		if c.Version == "" && c.Kind != KindToken {
			c.Version = fi.Version
		}
		c.ReadPermission, c.WritePermission = fi.ReadPermission, fi.WritePermission
		if c.Permission == "" && c.Kind != KindToken {
			c.Permission = fi.ReadPermission
			if c.Method != http.MethodGet {
				c.Permission = fi.WritePermission
			}
		}
		if c.IsWrite() && fi.WriteNeedsRead && c.Permission != fi.ReadPermission {
			c.AlsoRequires = fi.ReadPermission
		}
		registry[c.Name] = c
	}

	add(Contract{Name: "token.acquire", Kind: KindToken, Method: http.MethodPost, Service: ServiceLogin,
		Path: "/{tenant}/oauth2/v2.0/token", Doc: "client-credentials token (login host, through azidentity); scope https://graph.microsoft.com/.default"})

	// Directory (v1.0). Background sync calls ask for low throttle priority.
	add(Contract{Name: "groups.probe", Family: FamilyGroups, Kind: KindProbe, Method: http.MethodGet,
		Path: "/groups", Select: []string{"id"}, PageSize: 1, Doc: "verification: can the app read groups"})
	add(Contract{Name: "groups.list", Family: FamilyGroups, Kind: KindList, Method: http.MethodGet,
		Path: "/groups", Select: GroupSelect, PageSize: 999, LowPriority: true, Doc: "full group list (first sync)"})
	add(Contract{Name: "groups.delta", Family: FamilyGroups, Kind: KindDelta, Method: http.MethodGet,
		Path: "/groups/delta", Select: GroupSelect, LowPriority: true, Doc: "group changes since the stored deltaLink"})
	add(Contract{Name: "groups.get", Family: FamilyGroups, Kind: KindGet, Method: http.MethodGet,
		Path: "/groups/{id}", Select: GroupSelect, Doc: "one group (restore pre-flight)"})
	// Learn directoryobject-getbyids (v1.0): POST {"ids": [...], "types": ["group"]}, up to 1,000
	// ids; the answer lists the objects found (an id that does not exist is simply absent), full
	// objects with their @odata.type. Application permission: Directory.Read.All only (no
	// least-privileged alternative), which TenantAtlas does not require: a backup names its
	// groups with it where granted and falls back to groups.get when it is refused (403).
	add(Contract{Name: "groups.getByIds", Family: FamilyGroups, Kind: KindAction, Method: http.MethodPost,
		Path: "/directoryObjects/getByIds", Permission: permDirectoryRead, ReadOnly: true,
		Doc: "up to 1,000 groups by id in one request (backup names; needs Directory.Read.All, else groups.get)"})
	add(Contract{Name: "groups.create", Family: FamilyGroups, Kind: KindCreate, Method: http.MethodPost,
		Path: "/groups", Doc: "create a missing group during restore (opt-in)"})
	add(Contract{Name: "directoryRoleDefinitions.probe", Family: FamilyDirectoryRoleDefinitions, Kind: KindProbe, Method: http.MethodGet,
		Path: "/roleManagement/directory/roleDefinitions", Select: []string{"id"}, PageSize: 1, Doc: "verification: can the app read role definitions"})
	add(Contract{Name: "directoryRoleDefinitions.list", Family: FamilyDirectoryRoleDefinitions, Kind: KindList, Method: http.MethodGet,
		Path: "/roleManagement/directory/roleDefinitions", Select: RoleDefinitionSelect, LowPriority: true, Doc: "directory role definitions"})

	// Intune (beta): list, get, assignments and the restore writes of every family.
	for _, fi := range families {
		if fi.Reference {
			c := Contract{Name: string(fi.Family) + ".list", Family: fi.Family, Kind: KindList, Method: http.MethodGet, Path: fi.Collection, Doc: fi.Doc}
			if fi.Family == FamilyGroupPolicyDefinitions {
				// IM Import-GPOSetting's query, verbatim in meaning: custom categories only, each
				// with the definitions' names, categories and classes (the match key).
				c.Select, c.Filter = []string{"id", "displayName"}, "ingestionSource eq 'custom'"
				c.Expand = "definitions($select=id,displayName,categoryPath,classType,policyType)"
			}
			add(c)
			continue
		}
		if fi.Service != ServiceIntune {
			continue
		}
		f, col := fi.Family, fi.Collection
		add(Contract{Name: string(f) + ".probe", Family: f, Kind: KindProbe, Method: http.MethodGet, Path: col,
			Select: []string{"id"}, PageSize: 1, Doc: "verification: can the app read " + fi.Doc})
		add(Contract{Name: string(f) + ".list", Family: f, Kind: KindList, Method: http.MethodGet, Path: col, Doc: fi.Doc})
		if f == FamilyManagedAppPolicies {
			continue // read in full, assigned and written through the type collections below
		}
		add(Contract{Name: string(f) + ".get", Family: f, Kind: KindGet, Method: http.MethodGet, Path: col + "/{id}", Doc: "one " + fi.Doc + " object"})
		switch f {
		case FamilyIntents:
			add(Contract{Name: "intents.create", Family: f, Kind: KindCreate, Method: http.MethodPost,
				Path: "/deviceManagement/templates/{templateId}/createInstance", Doc: "create an intent from its template"})
		default:
			add(Contract{Name: string(f) + ".create", Family: f, Kind: KindCreate, Method: http.MethodPost, Path: col, Doc: "create a " + fi.Doc + " object"})
		}
		switch f {
		case FamilyConfigurationPolicies, FamilyCompliancePolicies:
			add(Contract{Name: string(f) + ".replace", Family: f, Kind: KindReplace, Method: http.MethodPut, Path: col + "/{id}",
				Doc: "replace the whole policy including settings (PUT)"})
			settings := Contract{Name: string(f) + ".settings", Family: f, Kind: KindChildren, Method: http.MethodGet, Path: col + "/{id}/settings",
				Doc: "policy settings (paged, 25 per page by default)"}
			if f == FamilyConfigurationPolicies {
				// 25 a page unless $top says more: IntuneCD asks $top=1000 and gets a 153-setting
				// policy in one answer (IntuneCD #125, commit "include more settings than 25"; its
				// batch reads follow no nextLink); IntuneBackupAndRestore #88 the same with $top=999.
				settings.PageSize = 1000
			}
			add(settings)
		default:
			add(Contract{Name: string(f) + ".update", Family: f, Kind: KindUpdate, Method: http.MethodPatch, Path: col + "/{id}", Doc: "update in place (PATCH)"})
		}
		if fi.HasAssignments {
			add(Contract{Name: string(f) + ".assignments", Family: f, Kind: KindAssignments, Method: http.MethodGet, Path: col + "/{id}/assignments",
				Doc: "assignments (paged)"})
			add(Contract{Name: string(f) + ".assign", Family: f, Kind: KindAssign, Method: http.MethodPost, Path: col + "/{id}/assign",
				AssignKey: fi.AssignKey, Doc: "replace the whole assignment set"})
		}
	}
	add(Contract{Name: "deviceConfigurations.omaSettingPlainTextValue", Family: FamilyDeviceConfigurations, Kind: KindChildren, Method: http.MethodGet,
		Path:       "/deviceManagement/deviceConfigurations/{id}/getOmaSettingPlainTextValue(secretReferenceValueId='{secretReferenceValueId}')",
		Permission: permConfigWrite, Doc: "plaintext of an encrypted OMA-URI value (needs ReadWrite even for backup)"})
	add(Contract{Name: "deviceCompliancePolicies.scheduledActionsForRule", Family: FamilyDeviceCompliancePolicies, Kind: KindChildren, Method: http.MethodGet,
		Path: "/deviceManagement/deviceCompliancePolicies/{id}/scheduledActionsForRule", Expand: "scheduledActionConfigurations",
		Doc: "non-compliance actions"})
	add(Contract{Name: "deviceCompliancePolicies.scheduleActionsForRules", Family: FamilyDeviceCompliancePolicies, Kind: KindAction, Method: http.MethodPost,
		Path: "/deviceManagement/deviceCompliancePolicies/{id}/scheduleActionsForRules", Doc: "replace non-compliance actions after PATCH"})
	add(Contract{Name: "groupPolicyConfigurations.definitionValues", Family: FamilyGroupPolicyConfigurations, Kind: KindChildren, Method: http.MethodGet,
		Path: "/deviceManagement/groupPolicyConfigurations/{id}/definitionValues", Expand: "definition", Doc: "configured ADMX settings"})
	add(Contract{Name: "groupPolicyConfigurations.presentationValues", Family: FamilyGroupPolicyConfigurations, Kind: KindChildren, Method: http.MethodGet,
		Path: "/deviceManagement/groupPolicyConfigurations/{id}/definitionValues/{definitionValueId}/presentationValues", Expand: "presentation",
		Doc: "presentation values of one configured ADMX setting"})
	add(Contract{Name: "groupPolicyConfigurations.updateDefinitionValues", Family: FamilyGroupPolicyConfigurations, Kind: KindAction, Method: http.MethodPost,
		Path: "/deviceManagement/groupPolicyConfigurations/{id}/updateDefinitionValues", Doc: "add/update/delete ADMX settings"})
	add(Contract{Name: "deviceEnrollmentConfigurations.setPriority", Family: FamilyDeviceEnrollmentConfigurations, Kind: KindSetPriority, Method: http.MethodPost,
		Path: "/deviceManagement/deviceEnrollmentConfigurations/{id}/setPriority", Doc: "set priority after create (priority is read-only on PATCH)"})
	// BETA deviceManagementCompliancePolicy.scheduledActionsForRule (a navigation: never in the list);
	// docs:intune-deviceconfigv2-devicemanagementcompliancepolicy-setscheduledactions (200 + collection).
	add(Contract{Name: "compliancePolicies.scheduledActionsForRule", Family: FamilyCompliancePolicies, Kind: KindChildren, Method: http.MethodGet,
		Path: "/deviceManagement/compliancePolicies/{id}/scheduledActionsForRule", Expand: "scheduledActionConfigurations",
		Doc: "non-compliance actions (settings-catalog compliance)"})
	add(Contract{Name: "compliancePolicies.setScheduledActions", Family: FamilyCompliancePolicies, Kind: KindAction, Method: http.MethodPost,
		Path: "/deviceManagement/compliancePolicies/{id}/setScheduledActions", Doc: "replace non-compliance actions"})
	// BETA deviceManagementIntent.settings; docs:intune-deviceintent-devicemanagementintent-updatesettings (204).
	add(Contract{Name: "intents.settings", Family: FamilyIntents, Kind: KindChildren, Method: http.MethodGet,
		Path: "/deviceManagement/intents/{id}/settings", Doc: "intent settings"})
	add(Contract{Name: "intents.updateSettings", Family: FamilyIntents, Kind: KindAction, Method: http.MethodPost,
		Path: "/deviceManagement/intents/{id}/updateSettings", Doc: "replace intent settings after PATCH"})
	// docs:intune-enrollment-windowsautopilotdeploymentprofileassignment-create: one group assignment
	// per POST (201); the profile's assign action takes deviceIds, not group assignments.
	add(Contract{Name: "windowsAutopilotDeploymentProfiles.createAssignment", Family: FamilyWindowsAutopilotDeploymentProfiles, Kind: KindAction,
		Method: http.MethodPost, Path: "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments", Doc: "create one group assignment"})
	// docs:intune-grouppolicy-grouppolicypresentation-list; IM reads them to bind a custom
	// definition's presentation values by label in the target (Import-GPOSetting).
	add(Contract{Name: "groupPolicyDefinitions.presentations", Family: FamilyGroupPolicyDefinitions, Kind: KindChildren, Method: http.MethodGet,
		Path: "/deviceManagement/groupPolicyDefinitions/{id}/presentations", Doc: "presentations of one custom ADMX definition"})
	// docs:intune-shared-deviceconfiguration-windowsprivacyaccesscontrols {"windowsPrivacyAccessControls":[…]}
	// (DeviceManagementConfiguration.ReadWrite.All); IM posts the backed-up privacyAccessControls of a
	// windows10GeneralConfiguration with it after the create (Start-PostFileImportDeviceConfiguration).
	add(Contract{Name: "deviceConfigurations.windowsPrivacyAccessControls", Family: FamilyDeviceConfigurations, Kind: KindAction,
		Method: http.MethodPost, Path: "/deviceManagement/deviceConfigurations/{id}/windowsPrivacyAccessControls", Doc: "set the privacy access controls"})
	// docs resource intune-enrollment-windowsautopilotdeploymentprofileassignment ("Delete
	// windowsAutopilotDeploymentProfileAssignment", 204; Microsoft365DSC removes assignments with
	// Remove-MgBetaDeviceManagementWindowsAutopilotDeploymentProfileAssignment): an overwrite
	// removes the group assignments added since the backup.
	add(Contract{Name: "windowsAutopilotDeploymentProfiles.deleteAssignment", Family: FamilyWindowsAutopilotDeploymentProfiles, Kind: KindDelete,
		Method: http.MethodDelete, Path: "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments/{assignmentId}", Doc: "delete one group assignment"})
	// docs:intune-deviceintent-devicemanagementsettinginstance-delete (204,
	// DeviceManagementConfiguration.ReadWrite.All): an overwrite removes the settings added since the
	// backup, which updateSettings cannot (IM README: "There is no API for removing settings").
	add(Contract{Name: "intents.deleteSetting", Family: FamilyIntents, Kind: KindDelete, Method: http.MethodDelete,
		Path: "/deviceManagement/intents/{id}/settings/{settingId}", Doc: "delete one intent setting"})
	// CSDL10 targetedManagedAppConfiguration.targetApps {apps, appGroupType} (204).
	add(Contract{Name: "targetedManagedAppConfigurations.targetApps", Family: FamilyTargetedManagedAppConfigurations, Kind: KindAction,
		Method: http.MethodPost, Path: "/deviceAppManagement/targetedManagedAppConfigurations/{id}/targetApps", Doc: "set the targeted apps"})
	for _, col := range []string{"iosManagedAppProtections", "androidManagedAppProtections", "windowsManagedAppProtections",
		"windowsInformationProtectionPolicies", "mdmWindowsInformationProtectionPolicies"} {
		base := "/deviceAppManagement/" + col
		f := FamilyManagedAppPolicies
		if slices.Contains(targetAppsCollections, col) {
			// CSDL10 targetedManagedAppProtection.targetApps; IM Start-PostImportAppProtection posts it to the type collection.
			add(Contract{Name: col + ".targetApps", Family: f, Kind: KindAction, Method: http.MethodPost, Path: base + "/{id}/targetApps",
				Doc: "set the targeted apps"})
		}
		add(Contract{Name: col + ".get", Family: f, Kind: KindGet, Method: http.MethodGet, Path: base + "/{id}", Doc: "one app protection policy"})
		add(Contract{Name: col + ".assignments", Family: f, Kind: KindAssignments, Method: http.MethodGet, Path: base + "/{id}/assignments", Doc: "app protection assignments"})
		add(Contract{Name: col + ".create", Family: f, Kind: KindCreate, Method: http.MethodPost, Path: base, Doc: "create an app protection policy"})
		add(Contract{Name: col + ".update", Family: f, Kind: KindUpdate, Method: http.MethodPatch, Path: base + "/{id}", Doc: "update an app protection policy"})
		add(Contract{Name: col + ".assign", Family: f, Kind: KindAssign, Method: http.MethodPost, Path: base + "/{id}/assign", AssignKey: assignKeyDefault,
			Doc: "replace app protection assignments"})
	}

	addMoreIntuneContracts(add)
	addEntraContracts(add)

	for _, c := range registry {
		registryList = append(registryList, c)
	}
	sort.Slice(registryList, func(i, j int) bool { return registryList[i].Name < registryList[j].Name })
}

// Lookup returns the contract registered under name.
func Lookup(name string) (Contract, bool) {
	c, ok := registry[name]
	return c, ok
}

// Contracts returns every contract, sorted by name.
func Contracts() []Contract {
	return slices.Clone(registryList)
}

// ContractsOf returns the contracts of one family, sorted by name.
func ContractsOf(f Family) []Contract {
	var out []Contract
	for _, c := range registryList {
		if c.Family == f {
			out = append(out, c)
		}
	}
	return out
}

// Probes returns the verification probes, one per family, sorted by name.
func Probes() []Contract {
	var out []Contract
	for _, c := range registryList {
		if c.Kind == KindProbe {
			out = append(out, c)
		}
	}
	return out
}

// Families returns every synced family in registry order (directory first, then Intune); the
// reference families (custom ADMX definitions) are left out.
func Families() []FamilyInfo {
	var out []FamilyInfo
	for _, fi := range families {
		if !fi.Reference {
			out = append(out, fi)
		}
	}
	return out
}

// FamilyOf returns the registry entry of f.
func FamilyOf(f Family) (FamilyInfo, bool) {
	for _, fi := range families {
		if fi.Family == f {
			return fi, true
		}
	}
	return FamilyInfo{}, false
}

// IntuneFamilies returns the policy families inventory sync, backups, drift and restore cover: the
// Intune families and, after them, the Entra Conditional Access families (FamilyInfo.Entra).
func IntuneFamilies() []Family {
	var out []Family
	for _, fi := range families {
		if (fi.Service == ServiceIntune || fi.Entra) && !fi.Reference {
			out = append(out, fi.Family)
		}
	}
	return out
}

// ReferenceFamilies returns the read-only reference families (custom ADMX definitions):
// inventory sync lists them too, so a restore preview maps references by name from
// the target's inventory without a Graph call.
func ReferenceFamilies() []Family {
	var out []Family
	for _, fi := range families {
		if fi.Reference {
			out = append(out, fi.Family)
		}
	}
	return out
}

// RequiredPermissions returns the sorted, de-duplicated read permissions the families need
// (every family when none is given): what verification compares to the token's roles.
func RequiredPermissions(fs ...Family) []string {
	return collectPermissions(fs, func(fi FamilyInfo) []string { return []string{fi.ReadPermission} })
}

// RequiredWritePermissions returns the permissions a restore into the families needs (with the
// read permission too where Microsoft documents the write as needing both, WriteNeedsRead).
func RequiredWritePermissions(fs ...Family) []string {
	return collectPermissions(fs, func(fi FamilyInfo) []string {
		if fi.WriteNeedsRead && fi.WritePermission != "" {
			return []string{fi.WritePermission, fi.ReadPermission}
		}
		return []string{fi.WritePermission}
	})
}

func collectPermissions(fs []Family, pick func(FamilyInfo) []string) []string {
	seen := map[string]bool{}
	for _, fi := range families {
		if len(fs) > 0 && !slices.Contains(fs, fi.Family) {
			continue
		}
		for _, p := range pick(fi) {
			if p != "" {
				seen[p] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// impliedBy lists, for permissions that broader ones also grant, which broader roles count.
// Every "X.ReadWrite.Y" also implies "X.Read.Y" (handled generically in Granted).
var impliedBy = map[string][]string{
	permGroupRead:    {"GroupMember.Read.All", "GroupMember.ReadWrite.All", permDirectoryRead, permDirectoryWrite},
	permRoleMgmtRead: {"RoleManagement.Read.All", permDirectoryRead, permDirectoryWrite},
	// v1.0 docs group-post-groups: "Group.Create | Directory.ReadWrite.All, Group.ReadWrite.All".
	permGroupCreate: {"Group.ReadWrite.All", permDirectoryWrite},
}

// AlsoGrantedBy lists the broader permissions that grant permission too, the least of each kind:
// a ReadWrite role is left out where its Read one is listed (Granted counts both).
func AlsoGrantedBy(permission string) []string {
	alts := slices.Concat(impliedBy[permission], entraImpliedBy[permission])
	var out []string
	for _, alt := range alts {
		if read := strings.Replace(alt, ".ReadWrite.", ".Read.", 1); read != alt && slices.Contains(alts, read) {
			continue
		}
		out = append(out, alt)
	}
	return out
}

// Granted reports whether the roles of an app-only token grant permission: exactly, through the
// ReadWrite variant of a Read permission, or through a broader directory permission
// (Directory.Read.All reads groups and role definitions). graphsim enforces the same rule.
func Granted(roles []string, permission string) bool {
	if permission == "" {
		return true
	}
	candidates := []string{permission}
	if strings.Contains(permission, ".Read.") {
		candidates = append(candidates, strings.Replace(permission, ".Read.", ".ReadWrite.", 1))
	}
	for _, alt := range slices.Concat(impliedBy[permission], entraImpliedBy[permission]) {
		candidates = append(candidates, alt)
		if strings.Contains(alt, ".Read.") {
			candidates = append(candidates, strings.Replace(alt, ".Read.", ".ReadWrite.", 1))
		}
	}
	for _, r := range roles {
		for _, c := range candidates {
			if strings.EqualFold(r, c) {
				return true
			}
		}
	}
	return false
}

// MissingPermissions returns the required permissions the roles do not grant, in input order.
func MissingPermissions(roles, required []string) []string {
	var out []string
	for _, p := range required {
		if !Granted(roles, p) {
			out = append(out, p)
		}
	}
	return out
}

// expandPath fills the contract's placeholders from args, path-escaping each.
func (c Contract) expandPath(args []string) (string, error) {
	names := c.Placeholders()
	if len(names) != len(args) {
		return "", fmt.Errorf("contract %s needs %d path argument(s) %v, got %d", c.Name, len(names), names, len(args))
	}
	i := 0
	var err error
	out := placeholderRE.ReplaceAllStringFunc(c.Path, func(string) string {
		a := args[i]
		i++
		if a == "" {
			err = fmt.Errorf("contract %s: empty path argument %q", c.Name, names[i-1])
		}
		return escapePathArg(a)
	})
	return out, err
}

// escapePathArg escapes one path segment.
func escapePathArg(s string) string {
	return url.PathEscape(s)
}
