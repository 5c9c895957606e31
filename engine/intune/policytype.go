package intune

import (
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// PolicyTypeUnknown is the classification of an @odata.type TenantAtlas does not recognise for its
// collection: such objects are kept (with their raw payload) and reported, never misfiled.
const PolicyTypeUnknown = "unknown"

// enrollmentTypes fans the deviceEnrollmentConfigurations collection out by @odata.type
// (docs/graph.md#enrollment-type-collision; the deviceEnrollmentConfigurationType enum alone is not trusted: the
// defaults report "limit"/"platformRestrictions").
var enrollmentTypes = map[string]string{
	"deviceEnrollmentLimitConfiguration":                   "enrollmentDeviceLimit",
	"deviceEnrollmentPlatformRestrictionsConfiguration":    "enrollmentPlatformRestrictions", // legacy multi-platform
	"deviceEnrollmentPlatformRestrictionConfiguration":     "enrollmentPlatformRestriction",  // one platform
	"deviceEnrollmentWindowsHelloForBusinessConfiguration": "enrollmentWindowsHello",
	"windows10EnrollmentCompletionPageConfiguration":       "enrollmentStatusPage",
	"deviceComanagementAuthorityConfiguration":             "enrollmentCoManagement",
	"deviceEnrollmentNotificationConfiguration":            "enrollmentNotifications",
	"windowsRestoreDeviceEnrollmentConfiguration":          "enrollmentWindowsRestore",
}

// appProtectionTypes fans managedAppPolicies out by @odata.type.
var appProtectionTypes = map[string]string{
	"iosManagedAppProtection":               "appProtectionIOS",
	"androidManagedAppProtection":           "appProtectionAndroid",
	"windowsInformationProtectionPolicy":    "appProtectionWIP",
	"mdmWindowsInformationProtectionPolicy": "appProtectionMdmWIP",
}

// singleTypes are the collections that hold exactly one @odata.type.
var singleTypes = map[graph.Family]string{
	graph.FamilyConfigurationPolicies:            "deviceManagementConfigurationPolicy",
	graph.FamilyCompliancePolicies:               "deviceManagementCompliancePolicy",
	graph.FamilyIntents:                          "deviceManagementIntent",
	graph.FamilyGroupPolicyConfigurations:        "groupPolicyConfiguration",
	graph.FamilyTargetedManagedAppConfigurations: "targetedManagedAppConfiguration",
	graph.FamilyDeviceManagementScripts:          "deviceManagementScript",
	graph.FamilyDeviceShellScripts:               "deviceShellScript",
	graph.FamilyDeviceHealthScripts:              "deviceHealthScript",
	graph.FamilyDeviceComplianceScripts:          "deviceComplianceScript",
	graph.FamilyWindowsFeatureUpdateProfiles:     "windowsFeatureUpdateProfile",
	graph.FamilyWindowsQualityUpdateProfiles:     "windowsQualityUpdateProfile",
	graph.FamilyWindowsDriverUpdateProfiles:      "windowsDriverUpdateProfile",
	graph.FamilyAssignmentFilters:                "deviceAndAppManagementAssignmentFilter",
	graph.FamilyRoleScopeTags:                    "roleScopeTag",
}

// Classification is what Classify derives from an object.
type Classification struct {
	PolicyType string
	// IsDefault marks the built-in enrollment defaults: priority 0 and a {tenantId}_Default* or
	// _WindowsRestore id. They can only be PATCHed and take no assignments.
	IsDefault bool
}

// Classify classifies an object listed from family by its @odata.type (and, for enrollment
// configurations, priority and id). An unrecognised type is PolicyTypeUnknown.
func Classify(f graph.Family, obj map[string]any) Classification {
	odataType, _ := obj["@odata.type"].(string)
	short := strings.TrimPrefix(odataType, "#microsoft.graph.")
	if odataType == "" || short == odataType && strings.Contains(odataType, ".") {
		return Classification{PolicyType: PolicyTypeUnknown}
	}
	switch f {
	case graph.FamilyDeviceEnrollmentConfigurations:
		pt, ok := enrollmentTypes[short]
		if !ok {
			return Classification{PolicyType: PolicyTypeUnknown}
		}
		return Classification{PolicyType: pt, IsDefault: isEnrollmentDefault(obj)}
	case graph.FamilyManagedAppPolicies:
		if pt, ok := appProtectionTypes[short]; ok {
			return Classification{PolicyType: pt}
		}
		return Classification{PolicyType: PolicyTypeUnknown}
	case graph.FamilyDeviceConfigurations:
		switch {
		case short == "windowsUpdateForBusinessConfiguration":
			return Classification{PolicyType: "windowsUpdateRing"}
		case strings.HasSuffix(short, "Configuration") || strings.HasSuffix(short, "Profile") || strings.HasSuffix(short, "Certificate"):
			return Classification{PolicyType: "deviceConfiguration"}
		}
		return Classification{PolicyType: PolicyTypeUnknown}
	case graph.FamilyDeviceCompliancePolicies:
		if strings.HasSuffix(short, "CompliancePolicy") {
			return Classification{PolicyType: "compliancePolicy"}
		}
		return Classification{PolicyType: PolicyTypeUnknown}
	case graph.FamilyMobileAppConfigurations:
		if strings.HasSuffix(short, "AppConfiguration") {
			return Classification{PolicyType: "appConfigurationDevice"}
		}
		return Classification{PolicyType: PolicyTypeUnknown}
	case graph.FamilyWindowsAutopilotDeploymentProfiles:
		if strings.HasSuffix(short, "WindowsAutopilotDeploymentProfile") {
			return Classification{PolicyType: "autopilotProfile"}
		}
		return Classification{PolicyType: PolicyTypeUnknown}
	case graph.FamilyConfigurationPolicies:
		if short != singleTypes[f] {
			return Classification{PolicyType: PolicyTypeUnknown}
		}
		if ref, ok := obj["templateReference"].(map[string]any); ok {
			if fam, _ := ref["templateFamily"].(string); strings.HasPrefix(fam, "endpointSecurity") {
				return Classification{PolicyType: "endpointSecurity"}
			}
		}
		return Classification{PolicyType: "settingsCatalog"}
	}
	if want, ok := singleTypes[f]; ok && short == want {
		return Classification{PolicyType: string(f)}
	}
	return Classification{PolicyType: PolicyTypeUnknown}
}

// isEnrollmentDefault recognises a built-in enrollment default: priority 0 and an id ending in
// _Default… or _WindowsRestore (docs/graph.md#enrollment-type-collision).
func isEnrollmentDefault(obj map[string]any) bool {
	if p, ok := obj["priority"]; !ok || !isZeroNumber(p) {
		return false
	}
	id, _ := obj["id"].(string)
	_, suffix, ok := strings.Cut(id, "_")
	return ok && (strings.HasPrefix(suffix, "Default") || suffix == "WindowsRestore")
}

func isZeroNumber(v any) bool {
	switch n := v.(type) {
	case float64:
		return n == 0
	case int:
		return n == 0
	case interface{ String() string }: // json.Number
		return n.String() == "0"
	}
	return false
}
