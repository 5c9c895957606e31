package intune

import (
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// One descriptor per Intune family (docs/graph.md#families-and-round-trip-fidelity,
// docs/architecture.md "Add an Intune family"): how its objects are classified with and without
// @odata.type, what a backup reads per object, what a write strips, how it is created and updated,
// the follow-up calls, the assignment properties kept besides the target, the references mapped
// across tenants, the built-ins never restored and whether it round-trips. Backup, restore
// preview, restore, normalization and drift read it; no other package switches on the family.
// Every rule names its source (families.md abbreviations: CSDL10, BETA, docs:X, IM, ICD, OData).

// ODataPrefix is the namespace prefix of @odata.type values.
const ODataPrefix = "#microsoft.graph."

// CreateStrategy is how a family's objects are created.
type CreateStrategy string

// UpdateStrategy is how a family's objects are updated.
type UpdateStrategy string

const (
	CreatePost           CreateStrategy = "post"           // POST to the collection (201)
	CreateInstance       CreateStrategy = "createInstance" // POST /templates/{templateId}/createInstance (intents, 200)
	UpdatePatch          UpdateStrategy = "patch"
	UpdatePut            UpdateStrategy = "put"        // whole object incl. settings (settings catalog, v2 compliance)
	UpdatePatchOnlyShell UpdateStrategy = "patchShell" // PATCH of name/description/tags; settings through a follow-up
)

// AssignStyle is how assignments are written.
type AssignStyle string

const (
	AssignNone     AssignStyle = ""
	AssignAction   AssignStyle = "assign"   // POST /{id}/assign {key:[…]} replaces the set
	AssignOneByOne AssignStyle = "oneByOne" // POST /{id}/assignments per target (autopilot, 201)
)

// FollowUp is a write after the object write.
type FollowUp string

const (
	FollowScheduleActionsForRules FollowUp = "scheduleActionsForRules" // classic compliance, after PATCH
	FollowSetScheduledActions     FollowUp = "setScheduledActions"     // v2 compliance, after create and PUT
	FollowTargetApps              FollowUp = "targetApps"              // app protection, MAM app config
	FollowUpdateDefinitionValues  FollowUp = "updateDefinitionValues"  // ADMX
	FollowUpdateSettings          FollowUp = "updateSettings"          // intents, after PATCH
	FollowSetPriority             FollowUp = "setPriority"             // enrollment (custom), after the write
	// FollowPrivacyAccessControls: windows10GeneralConfiguration's privacyAccessControls (a
	// navigation, BETA) through POST /{id}/windowsPrivacyAccessControls after the write
	// (docs:intune-shared-deviceconfiguration-windowsprivacyaccesscontrols; IM Start-PostFileImportDeviceConfiguration).
	FollowPrivacyAccessControls FollowUp = "windowsPrivacyAccessControls"
	// FollowLocalizedMessages: a notification message template's localizedNotificationMessages (a
	// navigation, BETA) one per POST /{id}/localizedNotificationMessages after the write
	// (docs:intune-notification-localizednotificationmessage-create); on an overwrite the target's
	// messages are deleted first (…-delete), so it ends with exactly the backed-up ones.
	FollowLocalizedMessages FollowUp = "localizedNotificationMessages"
)

// RefKind is a cross-tenant reference kind mapped by name.
type RefKind string

const (
	RefNotificationTemplate RefKind = "notification_template"
	RefComplianceScript     RefKind = "compliance_script"
	RefMobileApp            RefKind = "mobile_app"
	RefADMXDefinition       RefKind = "admx_definition"
	RefScopeTagList         RefKind = "scope_tag" // a list of scope tag ids in the object (filters' roleScopeTags)
	RefRoleDefinition       RefKind = "role_definition"
)

// Reference is where an object refers to another object of its tenant.
type Reference struct {
	Kind RefKind
	// Where names the place for humans ("scheduledActionsForRule[].scheduledActionConfigurations[].notificationTemplateId").
	Where string
	// Source is where it comes from: the family whose objects are referred to.
	Source graph.Family
}

// Descriptor describes one Intune family.
type Descriptor struct {
	Family graph.Family
	// DeclaredType is the collection's declared entity type (short name). Under OData minimal
	// metadata an item of exactly this type carries no @odata.type (OData JSON 4.01 §4.5.3).
	DeclaredType string
	// Abstract: the declared type is abstract, every item carries @odata.type (CSDL10 Abstract="true").
	Abstract bool
	// Types maps a short @odata.type (or the declared type when absent) to the policy type; a
	// type not listed is classified by Classifier, else PolicyTypeUnknown.
	Types map[string]string
	// Classifier classifies types not in Types (suffix rules of the big polymorphic families).
	Classifier func(short string, obj map[string]any) string
	// FiledElsewhere are types the collection lists that belong to another family: skipped here
	// (managedAppPolicies lists targetedManagedAppConfiguration; IM excludes them).
	FiledElsewhere map[string]graph.Family
	// TypeCollections routes a type to the collection (contract prefix) it is read and written
	// through (managedAppPolicies is list-only).
	TypeCollections map[string]string

	// GetByID: the list leaves properties null that only a GET of one object returns (the lazy
	// script bodies, IM #100, ICD batch GET per script).
	GetByID bool
	// Expand is the $expand sent on the GET by id (app protection: apps; IM Start-GetAppProtection).
	Expand string
	// NoApps are types without the apps navigation (WIP policies, BETA): no $expand, no targetApps.
	NoApps []string
	// ExpandTypes are types read again by id with this $expand: a navigation of a derived type
	// only a GET of one object expands, with a type cast (windows10GeneralConfiguration
	// privacyAccessControls, BETA; IM Get-GraphObject expands
	// "microsoft.graph.windows10GeneralConfiguration/privacyAccessControls").
	ExpandTypes map[string]string
	// ChildIDs are inline child collections of the object (read with ExpandTypes) whose entries'
	// ids the service assigns on each write: left out of normalized payloads, so a copy compares
	// equal and drift never reports a rewrite (localized notification messages).
	ChildIDs []string
	// Children are the child collections read per object into the payload.
	Children []Child
	// ListExpand is the $expand a backup sends on the list call to read the assignments (and the
	// children whose Child.ListExpand says so) of every object with it (issue #24: one request per
	// page instead of one per object), where Graph answers it complete: IM lists with $expand=assignments unless a type says
	// ExpandAssignmentsList = $false (EndpointManager.psm1). Set by register for every family with
	// assignments unless ListExpandRefused says why not. An object whose expanded assignments are
	// not complete (absent, or with a nextLink) is read one by one, logged once per run.
	ListExpand string
	// ListExpandRefused is why the list call cannot expand the assignments (empty: it can).
	ListExpandRefused string

	// StripCreate are removed from a create body (besides CommonServerOwned); StripUpdate in
	// addition from an update body.
	StripCreate []string
	StripUpdate []string
	// Volatile are service-maintained keys (reporting counters, pause dates, back-references)
	// left out of normalized payloads, so drift never reports them (families.md §0b).
	Volatile  []string
	Create    CreateStrategy
	Update    UpdateStrategy
	FollowUps []FollowUp
	// Assign is how assignments are written; AssignKey the body key of the assign action.
	Assign    AssignStyle
	AssignKey string
	// AssignmentKeys are the assignment properties kept besides target (remediation runSchedule,
	// device configuration intent, …; IM AssignmentProperties, BETA xxxAssignment).
	AssignmentKeys []string
	// References are the ids of other objects of the tenant the object holds.
	References []Reference
	// BuiltIn reports an object Microsoft owns in every tenant: never restored as a copy
	// (Default scope tag "0", isGlobalScript remediations). Enrollment defaults are not built-ins
	// in this sense: they are PATCH-only (Classification.IsDefault).
	BuiltIn func(obj map[string]any) bool
	// Excluded reports a listed object the tenant does not manage, left out of inventory and
	// backups as the peers' list filters leave it out (mobile apps: Microsoft's unassigned managed
	// apps; IM and ICD list `appAvailability eq null or … 'lineOfBusiness' or isAssigned eq true`).
	Excluded func(obj map[string]any) bool
	// StripUpdateTypes are removed from an update body of the given types besides StripUpdate
	// (IM Start-PreUpdateApplication: an MSI's useDeviceContext, …).
	StripUpdateTypes map[string][]string
	// MatchExisting: a restore never copies an object; it updates the target's object of the same
	// displayName and @odata.type (by id first), and creates a missing one under its own name
	// unless NotCreated says why it cannot (mobile apps: docs/graph.md#mobile-apps).
	MatchExisting bool
	// NotCreated says why a missing object of a type cannot be created by a restore ("" when it can).
	NotCreated func(short string) string
	// Order is the restore rank, lowest first: dependencies before what refers to them (scope
	// tags -2, filters -1, policies 0; IM ImportOrder / Dependencies).
	Order int
	// RoundTrip is empty when a backup restores whole; otherwise why it does not.
	RoundTrip string
}

// Child is a child collection of the object, read into the payload.
type Child struct {
	// Key is the payload field it goes to: "settings", "scheduledActionsForRule", "definitionValues".
	Key string
	// Contract reads it per object (paged).
	Contract string
	// ListExpand is the $expand item that reads it with the list call instead (issue #24), where a
	// source shows Graph answers it complete there; "" reads it per object. register adds it to
	// the descriptor's ListExpand. An object whose expanded child is not complete (absent, with a
	// nextLink, or of another length than CountKey says) is read per object, logged once per run.
	ListExpand string
	// CountKey is the object property that counts the child's items (settingCount, BETA
	// deviceManagementCompliancePolicy): an expansion of another length, or without it, is incomplete.
	CountKey string
}

// CommonServerOwned are refused on every write and volatile for drift (IM Start-GraphPreImport
// "Default properties to delete"; IM #4), plus the computed counters every family reports.
var CommonServerOwned = []string{"id", "createdDateTime", "lastModifiedDateTime", "modifiedDateTime", "supportsScopeTags",
	"version", "isAssigned", "settingCount", "deployedAppCount", "assignments"}

var descriptors = map[graph.Family]*Descriptor{}

func register(d *Descriptor) {
	if d.Create == "" {
		d.Create = CreatePost
	}
	if d.Update == "" {
		d.Update = UpdatePatch
	}
	fi, _ := graph.FamilyOf(d.Family)
	if fi.HasAssignments && d.Assign == AssignNone {
		d.Assign, d.AssignKey = AssignAction, fi.AssignKey
	}
	if fi.HasAssignments && d.ListExpand == "" && d.ListExpandRefused == "" {
		d.ListExpand = "assignments"
	}
	for _, c := range d.Children {
		if c.ListExpand != "" {
			d.ListExpand = strings.Trim(d.ListExpand+","+c.ListExpand, ",")
		}
	}
	descriptors[d.Family] = d
}

// DescriptorOf returns the descriptor of an Intune family (nil for directory families).
func DescriptorOf(f graph.Family) *Descriptor {
	return descriptors[f]
}

// Descriptors returns every descriptor in registry order.
func Descriptors() []*Descriptor {
	var out []*Descriptor
	for _, f := range graph.IntuneFamilies() {
		if d := descriptors[f]; d != nil {
			out = append(out, d)
		}
	}
	return out
}

// ShortType is the short @odata.type of an object listed from the family: the declared type when
// absent (minimal metadata), "" for an abstract collection without one.
func (d *Descriptor) ShortType(obj map[string]any) string {
	t, _ := obj["@odata.type"].(string)
	if t == "" {
		if d.Abstract {
			return ""
		}
		return d.DeclaredType
	}
	if !strings.HasPrefix(t, ODataPrefix) {
		return ""
	}
	return strings.TrimPrefix(t, ODataPrefix)
}

// ODataType is the full @odata.type of an object ("#microsoft.graph.x"), declared type included.
func (d *Descriptor) ODataType(obj map[string]any) string {
	if s := d.ShortType(obj); s != "" {
		return ODataPrefix + s
	}
	t, _ := obj["@odata.type"].(string)
	return t
}

// Skip reports whether a listed object belongs to another family or is not the tenant's to
// manage (Excluded), and so is not kept here.
func (d *Descriptor) Skip(obj map[string]any) bool {
	_, elsewhere := d.FiledElsewhere[d.ShortType(obj)]
	return elsewhere || d.Excluded != nil && d.Excluded(obj)
}

// CannotCreate says why a restore cannot create a missing object of odataType ("" when it can).
func (d *Descriptor) CannotCreate(odataType string) string {
	if d.NotCreated == nil {
		return ""
	}
	return d.NotCreated(strings.TrimPrefix(odataType, ODataPrefix))
}

// Collection is the contract prefix an object of odataType is read and written through.
func (d *Descriptor) Collection(odataType string) (string, bool) {
	if d.TypeCollections == nil {
		return string(d.Family), true
	}
	col, ok := d.TypeCollections[strings.TrimPrefix(odataType, ODataPrefix)]
	return col, ok
}

// IsBuiltIn reports a Microsoft-owned object never restored as a copy.
func (d *Descriptor) IsBuiltIn(obj map[string]any) bool {
	return d.BuiltIn != nil && d.BuiltIn(obj)
}

// ScopeTagKey is the property holding the object's scope tag ids: roleScopeTagIds, or
// roleScopeTags for assignment filters (BETA deviceAndAppManagementAssignmentFilter); "" for
// scope tags themselves.
func (d *Descriptor) ScopeTagKey() string {
	if d.Family == graph.FamilyRoleScopeTags {
		return ""
	}
	for _, r := range d.References {
		if r.Kind == RefScopeTagList {
			return r.Where
		}
	}
	return "roleScopeTagIds"
}

// ListExpandsAssignments reports whether the list's $expand reads the assignments (register puts
// them first).
func (d *Descriptor) ListExpandsAssignments() bool {
	return d.ListExpand == "assignments" || strings.HasPrefix(d.ListExpand, "assignments,")
}

// ExpandFor is the $expand of the GET by id of an object of odataType.
func (d *Descriptor) ExpandFor(odataType string) string {
	short := strings.TrimPrefix(odataType, ODataPrefix)
	if e, ok := d.ExpandTypes[short]; ok {
		return e
	}
	if slices.Contains(d.NoApps, short) {
		return ""
	}
	return d.Expand
}

// ReadsByID reports whether a backup reads an object of odataType again by id (lazy properties,
// or a navigation only a GET of one object expands).
func (d *Descriptor) ReadsByID(odataType string) bool {
	_, typed := d.ExpandTypes[strings.TrimPrefix(odataType, ODataPrefix)]
	return d.GetByID || typed
}

// TargetsApps reports whether an object of odataType takes its apps through targetApps.
func (d *Descriptor) TargetsApps(odataType string) bool {
	return d.HasFollowUp(FollowTargetApps) && !slices.Contains(d.NoApps, strings.TrimPrefix(odataType, ODataPrefix))
}

// HasFollowUp reports whether the family writes f after the object.
func (d *Descriptor) HasFollowUp(f FollowUp) bool {
	return slices.Contains(d.FollowUps, f)
}

// StripKeys are the top-level keys a write of the given kind of an object of odataType never sends.
func (d *Descriptor) StripKeys(odataType string, update bool) []string {
	out := slices.Clone(CommonServerOwned)
	out = append(out, d.Volatile...)
	out = append(out, d.StripCreate...)
	if update {
		out = append(out, d.StripUpdate...)
		out = append(out, d.StripUpdateTypes[strings.TrimPrefix(odataType, ODataPrefix)]...)
	}
	return out
}

func init() {
	// Scope tags: BETA roleScopeTag; create answers 200 (ICD ScopeTags.py). Default "0" is built in
	// (isBuiltIn; IM lists $filter=isBuiltIn eq false).
	register(&Descriptor{Family: graph.FamilyRoleScopeTags, DeclaredType: "roleScopeTag", Types: map[string]string{"roleScopeTag": "roleScopeTags"},
		StripCreate: []string{"isBuiltIn"}, Volatile: []string{"isBuiltIn"}, Order: -2,
		// The Default tag is id "0" in every tenant (docs:intune-rbac-rolescopetag; IM Set-ScopeTags).
		BuiltIn: func(o map[string]any) bool { b, _ := o["isBuiltIn"].(bool); return b || o["id"] == "0" }})
	// Assignment filters: payloads is a back-reference (IM PropertiesToRemove, ICD pop); platform
	// is refused on update (IM PropertiesToRemoveForUpdate, ICD). roleScopeTags map by name.
	register(&Descriptor{Family: graph.FamilyAssignmentFilters, DeclaredType: "deviceAndAppManagementAssignmentFilter",
		Types: map[string]string{"deviceAndAppManagementAssignmentFilter": "assignmentFilters"}, Order: -1,
		StripCreate: []string{"payloads"}, Volatile: []string{"payloads"}, StripUpdate: []string{"platform"},
		References: []Reference{{Kind: RefScopeTagList, Where: "roleScopeTags", Source: graph.FamilyRoleScopeTags}}})
	// Device configuration: abstract (CSDL10); encrypted OMA values read in plaintext, and
	// omaSettingStringXml.value is Edm.Binary (CSDL10; IM base64-encodes). Update rings' pause
	// and rollback fields are refused on update (IM PropertiesToRemoveForUpdate).
	register(&Descriptor{Family: graph.FamilyDeviceConfigurations, DeclaredType: "deviceConfiguration", Abstract: true,
		Types: map[string]string{"windowsUpdateForBusinessConfiguration": "windowsUpdateRing"},
		Classifier: func(short string, _ map[string]any) string {
			if strings.HasSuffix(short, "Configuration") || strings.HasSuffix(short, "Profile") || strings.HasSuffix(short, "Certificate") {
				return "deviceConfiguration"
			}
			return ""
		},
		// privacyAccessControls is a navigation of windows10GeneralConfiguration (BETA): read with the
		// type-cast $expand on a GET by id (IM Get-GraphObject), never sent inline (IM
		// PropertiesToRemove) but with windowsPrivacyAccessControls after the write (IM).
		ExpandTypes: map[string]string{"windows10GeneralConfiguration": "microsoft.graph.windows10GeneralConfiguration/privacyAccessControls"},
		StripCreate: []string{"privacyAccessControls"}, FollowUps: []FollowUp{FollowPrivacyAccessControls},
		Volatile: []string{"qualityUpdatesPauseStartDate", "featureUpdatesPauseStartDate", "qualityUpdatesWillBeRolledBack",
			"featureUpdatesWillBeRolledBack", "qualityUpdatesPauseExpiryDateTime", "featureUpdatesPauseExpiryDateTime"},
		AssignmentKeys: []string{"intent"}})
	// Settings catalog: declared concrete type, settings a navigation; PUT replaces the whole policy (ICD, IM).
	register(&Descriptor{Family: graph.FamilyConfigurationPolicies, DeclaredType: "deviceManagementConfigurationPolicy",
		Classifier: func(_ string, o map[string]any) string {
			if ref, ok := o["templateReference"].(map[string]any); ok {
				if fam, _ := ref["templateFamily"].(string); strings.HasPrefix(fam, "endpointSecurity") {
					return "endpointSecurity"
				}
			}
			return "settingsCatalog"
		},
		// settings per object, 1,000 a page (contract PageSize): the list's $expand=settings is
		// answered in pages of one or two policies whatever $top asks (a public Intune toolkit's
		// real-tenant finding, RKSolutions FINDINGS.md "hard-capped on cosmos endpoints"), so it
		// costs about a request per policy too, one page after the other.
		Children:    []Child{{Key: "settings", Contract: "configurationPolicies.settings"}},
		StripCreate: []string{"settings@odata.context", "creationSource", "isAssigned"}, Update: UpdatePut,
		Volatile:   []string{"creationSource"}, // set by the service (ICD drops it when comparing)
		References: []Reference{{Kind: RefScopeTagList, Where: "roleScopeTagIds"}}})
	// Classic compliance: abstract; scheduledActionsForRule is a navigation read with
	// $expand=scheduledActionConfigurations (IM, ICD); on PATCH refused, set with
	// scheduleActionsForRules (CSDL10 26722). Notification templates map by name (ICD).
	register(&Descriptor{Family: graph.FamilyDeviceCompliancePolicies, DeclaredType: "deviceCompliancePolicy", Abstract: true,
		Classifier: func(short string, _ map[string]any) string {
			if strings.HasSuffix(short, "CompliancePolicy") {
				return "compliancePolicy"
			}
			return ""
		},
		// The rules ride on the list with a nested $expand: IntuneCD's backup lists
		// deviceCompliancePolicies?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)
		// and reads every policy's rules from that answer (backup/Intune/Compliance.py); IM's
		// CompliancePolicies view expands the same (EndpointManager.psm1 Expand).
		Children: []Child{{Key: "scheduledActionsForRule", Contract: "deviceCompliancePolicies.scheduledActionsForRule",
			ListExpand: "scheduledActionsForRule($expand=scheduledActionConfigurations)"}},
		StripUpdate: []string{"scheduledActionsForRule"}, FollowUps: []FollowUp{FollowScheduleActionsForRules},
		References: []Reference{
			{Kind: RefNotificationTemplate, Where: "scheduledActionsForRule[].scheduledActionConfigurations[].notificationTemplateId", Source: graph.FamilyNotificationMessageTemplates},
			{Kind: RefComplianceScript, Where: "deviceCompliancePolicyScript.deviceComplianceScriptId", Source: graph.FamilyDeviceComplianceScripts}}})
	// v2 compliance: settings + scheduledActionsForRule navigations (ICD Compliance.py); PUT; actions via setScheduledActions (docs).
	register(&Descriptor{Family: graph.FamilyCompliancePolicies, DeclaredType: "deviceManagementCompliancePolicy",
		Types: map[string]string{"deviceManagementCompliancePolicy": "compliancePolicies"},
		// settings ride on the list: IntuneCD's backup lists compliancePolicies?$expand=settings and
		// reads each policy's settings from it (backup/Intune/DeviceCompliance.py), checked here
		// against the policy's settingCount (BETA). The rules are read per object, as IntuneCD does
		// (no source expands them on this list).
		Children: []Child{{Key: "settings", Contract: "compliancePolicies.settings", ListExpand: "settings", CountKey: "settingCount"},
			{Key: "scheduledActionsForRule", Contract: "compliancePolicies.scheduledActionsForRule"}},
		StripCreate: []string{"settings@odata.context", "creationSource", "scheduledActionsForRule"}, Update: UpdatePut,
		Volatile:  []string{"creationSource"},
		FollowUps: []FollowUp{FollowSetScheduledActions},
		References: []Reference{{Kind: RefNotificationTemplate, Where: "scheduledActionsForRule[].scheduledActionConfigurations[].notificationTemplateId",
			Source: graph.FamilyNotificationMessageTemplates}}})
	// Intents: createInstance {displayName, description, settingsDelta, roleScopeTagIds} (docs,
	// ICD); update PATCH + updateSettings (docs, IM).
	register(&Descriptor{Family: graph.FamilyIntents, DeclaredType: "deviceManagementIntent",
		Types:       map[string]string{"deviceManagementIntent": "intents"},
		Children:    []Child{{Key: "settings", Contract: "intents.settings"}},
		StripCreate: []string{"@odata.type", "settings", "templateId", "isMigratingToConfigurationPolicy"},
		// updateSettings only adds and replaces (IM README): an overwrite deletes the settings added
		// since the backup one by one (docs:intune-deviceintent-devicemanagementsettinginstance-delete).
		Create: CreateInstance, Update: UpdatePatchOnlyShell, FollowUps: []FollowUp{FollowUpdateSettings}})
	// ADMX: definitionValues a navigation, written with updateDefinitionValues (docs, IM).
	register(&Descriptor{Family: graph.FamilyGroupPolicyConfigurations, DeclaredType: "groupPolicyConfiguration",
		Types:       map[string]string{"groupPolicyConfiguration": "groupPolicyConfigurations"},
		Children:    []Child{{Key: "definitionValues", Contract: "groupPolicyConfigurations.definitionValues"}},
		StripCreate: []string{"definitionValues", "policyConfigurationIngestionType"}, FollowUps: []FollowUp{FollowUpdateDefinitionValues},
		Volatile: []string{"policyConfigurationIngestionType"}, // derived by the service from the definitions used
		// Custom (admxIngested) definitions map by displayName + categoryPath + classType (IM Import-GPOSetting).
		References: []Reference{{Kind: RefADMXDefinition, Where: "definitionValues[].definition", Source: graph.FamilyGroupPolicyDefinitions}}})
	// App protection: managedAppPolicies is list-only and abstract; each type has its collection
	// (ICD _get_platform; BETA windowsManagedAppProtections); apps only with $expand (IM) and
	// written with targetApps (CSDL10; IM Start-PostImportAppProtection).
	register(&Descriptor{Family: graph.FamilyManagedAppPolicies, DeclaredType: "managedAppPolicy", Abstract: true,
		Types: map[string]string{"iosManagedAppProtection": "appProtectionIOS", "androidManagedAppProtection": "appProtectionAndroid",
			"windowsManagedAppProtection": "appProtectionWindows", "windowsInformationProtectionPolicy": "appProtectionWIP",
			"mdmWindowsInformationProtectionPolicy": "appProtectionMdmWIP"},
		FiledElsewhere: map[string]graph.Family{"targetedManagedAppConfiguration": graph.FamilyTargetedManagedAppConfigurations},
		TypeCollections: map[string]string{"iosManagedAppProtection": "iosManagedAppProtections", "androidManagedAppProtection": "androidManagedAppProtections",
			"windowsManagedAppProtection": "windowsManagedAppProtections", "windowsInformationProtectionPolicy": "windowsInformationProtectionPolicies",
			"mdmWindowsInformationProtectionPolicy": "mdmWindowsInformationProtectionPolicies"},
		GetByID: true, Expand: "apps", NoApps: []string{"windowsInformationProtectionPolicy", "mdmWindowsInformationProtectionPolicy"},
		StripCreate: []string{"apps", "exemptAppLockerFiles", "protectedAppLockerFiles", "deploymentSummary"}, Volatile: []string{"deploymentSummary"},
		FollowUps: []FollowUp{FollowTargetApps}, AssignKey: "assignments", Assign: AssignAction,
		// managedAppPolicy declares no assignments (only the targeted protections do, BETA); IM
		// App Protection: ExpandAssignmentsList = $false.
		ListExpandRefused: "managedAppPolicy has no assignments navigation (BETA); IM ExpandAssignmentsList = $false"})
	// MAM app configuration: declared concrete type (BETA), apps via $expand and targetApps.
	register(&Descriptor{Family: graph.FamilyTargetedManagedAppConfigurations, DeclaredType: "targetedManagedAppConfiguration",
		Types:   map[string]string{"targetedManagedAppConfiguration": "targetedManagedAppConfigurations"},
		GetByID: true, Expand: "apps", StripCreate: []string{"apps", "deploymentSummary"}, FollowUps: []FollowUp{FollowTargetApps},
		ListExpandRefused: "IM App Configuration (App): ExpandAssignmentsList = $false"})
	// Device app configuration: abstract; targetedMobileApps are mobileApp ids (ICD AppConfiguration).
	register(&Descriptor{Family: graph.FamilyMobileAppConfigurations, DeclaredType: "managedDeviceMobileAppConfiguration", Abstract: true,
		Classifier: func(short string, _ map[string]any) string {
			if strings.HasSuffix(short, "AppConfiguration") {
				return "appConfigurationDevice"
			}
			return ""
		},
		References: []Reference{{Kind: RefMobileApp, Where: "targetedMobileApps[]", Source: graph.FamilyMobileApps}}})
	// Enrollment: abstract; defaults PATCH-only; priority via setPriority (CSDL10 26879; IM, ICD);
	// deviceEnrollmentConfigurationType / platformType popped before PATCH (ICD). ESP apps map by name.
	register(&Descriptor{Family: graph.FamilyDeviceEnrollmentConfigurations, DeclaredType: "deviceEnrollmentConfiguration", Abstract: true,
		Types: enrollmentTypes, StripCreate: []string{"priority", "windowsMobileRestriction"},
		StripUpdate: []string{"deviceEnrollmentConfigurationType", "platformType"}, FollowUps: []FollowUp{FollowSetPriority},
		References: []Reference{{Kind: RefMobileApp, Where: "selectedMobileAppIds[]", Source: graph.FamilyMobileApps},
			// Enrollment notifications: the template of the notification (BETA deviceEnrollmentNotificationConfiguration).
			{Kind: RefNotificationTemplate, Where: "notificationMessageTemplateId", Source: graph.FamilyNotificationMessageTemplates}}})
	// Autopilot: abstract; group assignments one by one with POST /assignments (docs; ICD 201; IM),
	// and on an overwrite the ones added since the backup deleted one by one (docs resource
	// windowsAutopilotDeploymentProfileAssignment: Delete).
	register(&Descriptor{Family: graph.FamilyWindowsAutopilotDeploymentProfiles, DeclaredType: "windowsAutopilotDeploymentProfile", Abstract: true,
		Classifier: func(short string, _ map[string]any) string {
			if strings.HasSuffix(short, "WindowsAutopilotDeploymentProfile") {
				return "autopilotProfile"
			}
			return ""
		},
		StripCreate: []string{"assignedDevices", "domainJoinConfiguration"}, StripUpdate: []string{"managementServiceAppId"}, Assign: AssignOneByOne})
	// Scripts: the bodies are lazy (null in lists; GET by id fills them; IM #100, ICD).
	for _, s := range []struct {
		f   graph.Family
		typ string
	}{{graph.FamilyDeviceManagementScripts, "deviceManagementScript"}, {graph.FamilyDeviceShellScripts, "deviceShellScript"}} {
		register(&Descriptor{Family: s.f, DeclaredType: s.typ, Types: map[string]string{s.typ: string(s.f)}, GetByID: true})
	}
	// Compliance scripts: assigned with deviceHealthScriptAssignments (BETA), whose runSchedule and
	// runRemediationScript are kept like remediations'.
	register(&Descriptor{Family: graph.FamilyDeviceComplianceScripts, DeclaredType: "deviceComplianceScript",
		Types: map[string]string{"deviceComplianceScript": string(graph.FamilyDeviceComplianceScripts)}, GetByID: true,
		AssignmentKeys: []string{"runRemediationScript", "runSchedule"}})
	// Remediations: runSchedule and runRemediationScript on each assignment (BETA
	// deviceHealthScriptAssignment; IM AssignmentProperties); Microsoft's global scripts are
	// built in (IM $filter=isGlobalScript eq false); reporting fields refused on update (IM, ICD).
	register(&Descriptor{Family: graph.FamilyDeviceHealthScripts, DeclaredType: "deviceHealthScript",
		Types: map[string]string{"deviceHealthScript": string(graph.FamilyDeviceHealthScripts)}, GetByID: true,
		StripCreate:    []string{"isGlobalScript", "highestAvailableVersion", "deviceHealthScriptType"},
		Volatile:       []string{"highestAvailableVersion"},
		AssignmentKeys: []string{"runRemediationScript", "runSchedule"},
		BuiltIn:        func(o map[string]any) bool { b, _ := o["isGlobalScript"].(bool); return b }})
	// Update profiles: reporting fields refused on update (IM PropertiesToRemoveForUpdate, ICD).
	register(&Descriptor{Family: graph.FamilyWindowsFeatureUpdateProfiles, DeclaredType: "windowsFeatureUpdateProfile",
		Types:       map[string]string{"windowsFeatureUpdateProfile": string(graph.FamilyWindowsFeatureUpdateProfiles)},
		Volatile:    []string{"deployableContentDisplayName", "endOfSupportDate"},
		StripUpdate: []string{"installLatestWindows10OnWindows11IneligibleDevice"}})
	register(&Descriptor{Family: graph.FamilyWindowsQualityUpdateProfiles, DeclaredType: "windowsQualityUpdateProfile",
		Types:    map[string]string{"windowsQualityUpdateProfile": string(graph.FamilyWindowsQualityUpdateProfiles)},
		Volatile: []string{"releaseDateDisplayName", "deployableContentDisplayName"}})
	register(&Descriptor{Family: graph.FamilyWindowsDriverUpdateProfiles, DeclaredType: "windowsDriverUpdateProfile",
		Types:       map[string]string{"windowsDriverUpdateProfile": string(graph.FamilyWindowsDriverUpdateProfiles)},
		StripCreate: []string{"driverInventories"},
		Volatile:    []string{"newUpdates", "inventorySyncStatus", "deviceReporting"},
		StripUpdate: []string{"approvalType"}})
}
