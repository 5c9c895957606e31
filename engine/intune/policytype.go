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

// Classification is what Classify derives from an object.
type Classification struct {
	PolicyType string
	// IsDefault marks the built-in enrollment defaults: priority 0 and a {tenantId}_Default* or
	// _WindowsRestore id. They can only be PATCHed and take no assignments.
	IsDefault bool
}

// Classify classifies an object listed from family through its descriptor: by @odata.type, or,
// when minimal metadata leaves it out, by the collection's declared type (OData JSON 4.01 §4.5.3);
// enrollment defaults by priority and id. An unrecognised type is PolicyTypeUnknown.
func Classify(f graph.Family, obj map[string]any) Classification {
	d := DescriptorOf(f)
	if d == nil {
		return Classification{PolicyType: PolicyTypeUnknown}
	}
	short := d.ShortType(obj)
	if short == "" {
		return Classification{PolicyType: PolicyTypeUnknown}
	}
	pt, ok := d.Types[short]
	if !ok && d.Classifier != nil && (d.Abstract || short == d.DeclaredType) {
		pt = d.Classifier(short, obj)
	}
	if pt == "" {
		return Classification{PolicyType: PolicyTypeUnknown}
	}
	c := Classification{PolicyType: pt}
	if f == graph.FamilyDeviceEnrollmentConfigurations {
		c.IsDefault = isEnrollmentDefault(obj)
	}
	return c
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
