package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Intune policy families: generated objects with assignments and sub-collections, the read
// endpoints of every family and the restore writes, with the validation rules below.
//
// Write validation (what the simulator rejects, answering 400 in Intune's JSON-inside-message
// dialect):
//   - a body that is not a JSON object, or has no name (displayName, or name for the settings
//     catalog families) on create/PUT → ModelValidationFailure;
//   - an @odata.type that is not one of AcceptedTypes(family) (or of the type collection) →
//     ModelValidationFailure "A type named '...' could not be resolved by the model";
//   - no @odata.type on create for a polymorphic family → ModelValidationFailure
//     "Cannot create an abstract class.";
//   - read-only properties (id, createdDateTime, lastModifiedDateTime, version, settingCount,
//     isAssigned, @odata.context) on create, PATCH or PUT → ModelValidationFailure;
//   - a non-null secretReferenceValueId anywhere in a create → NotSupported
//     "SecretReferenceValueId invalid for create" (docs/graph.md#errors);
//   - priority in an enrollment PATCH, scheduledActionsForRule in a compliance PATCH → ModelValidationFailure;
//   - assign with the wrong body key for the family, or a target type that is not an assignment
//     target → ModelValidationFailure; assign or setPriority on an enrollment default
//     (priority 0) → BadRequest; setPriority below 1 → BadRequest.
// PATCH and PUT answer 204 No Content; create 201 with the object; assign 200 with the new set.

const (
	intunePageDefault = 100
	intunePageMax     = 1000
	subPageSize       = 25 // sub-collections (assignments, settings, ...) page at 25, like Intune
	bigSubCollection  = 30 // the first object of a family has more than one page of assignments
)

var polymorphic = map[graph.Family]bool{
	graph.FamilyDeviceConfigurations: true, graph.FamilyDeviceCompliancePolicies: true,
	graph.FamilyDeviceEnrollmentConfigurations: true, graph.FamilyManagedAppPolicies: true,
	graph.FamilyMobileAppConfigurations: true, graph.FamilyWindowsAutopilotDeploymentProfiles: true,
}

var acceptedTypes = map[graph.Family][]string{
	graph.FamilyDeviceConfigurations: {"windows10GeneralConfiguration", "windows10CustomConfiguration", "iosGeneralDeviceConfiguration",
		"macOSGeneralDeviceConfiguration", "windowsUpdateForBusinessConfiguration", "windows10EndpointProtectionConfiguration",
		"androidWorkProfileGeneralDeviceConfiguration", "iosDeviceFeaturesConfiguration", "macOSCustomConfiguration"},
	graph.FamilyConfigurationPolicies:     {"deviceManagementConfigurationPolicy"},
	graph.FamilyDeviceCompliancePolicies:  {"windows10CompliancePolicy", "iosCompliancePolicy", "androidWorkProfileCompliancePolicy", "macOSCompliancePolicy"},
	graph.FamilyCompliancePolicies:        {"deviceManagementCompliancePolicy"},
	graph.FamilyIntents:                   {"deviceManagementIntent"},
	graph.FamilyGroupPolicyConfigurations: {"groupPolicyConfiguration"},
	graph.FamilyManagedAppPolicies: {"iosManagedAppProtection", "androidManagedAppProtection", "windowsInformationProtectionPolicy",
		"mdmWindowsInformationProtectionPolicy"},
	graph.FamilyMobileAppConfigurations:          {"iosMobileAppConfiguration", "androidManagedStoreAppConfiguration"},
	graph.FamilyTargetedManagedAppConfigurations: {"targetedManagedAppConfiguration"},
	graph.FamilyDeviceEnrollmentConfigurations: {"deviceEnrollmentLimitConfiguration", "deviceEnrollmentPlatformRestrictionsConfiguration",
		"deviceEnrollmentPlatformRestrictionConfiguration", "deviceEnrollmentWindowsHelloForBusinessConfiguration",
		"windows10EnrollmentCompletionPageConfiguration", "deviceComanagementAuthorityConfiguration",
		"windowsRestoreDeviceEnrollmentConfiguration", "deviceEnrollmentNotificationConfiguration"},
	graph.FamilyWindowsAutopilotDeploymentProfiles: {"azureADWindowsAutopilotDeploymentProfile", "activeDirectoryWindowsAutopilotDeploymentProfile"},
	graph.FamilyDeviceManagementScripts:            {"deviceManagementScript"},
	graph.FamilyDeviceShellScripts:                 {"deviceShellScript"},
	graph.FamilyDeviceHealthScripts:                {"deviceHealthScript"},
	graph.FamilyDeviceComplianceScripts:            {"deviceComplianceScript"},
	graph.FamilyWindowsFeatureUpdateProfiles:       {"windowsFeatureUpdateProfile"},
	graph.FamilyWindowsQualityUpdateProfiles:       {"windowsQualityUpdateProfile"},
	graph.FamilyWindowsDriverUpdateProfiles:        {"windowsDriverUpdateProfile"},
	graph.FamilyAssignmentFilters:                  {"deviceAndAppManagementAssignmentFilter"},
	graph.FamilyRoleScopeTags:                      {"roleScopeTag"},
}

// AcceptedTypes returns the @odata.type values ("#microsoft.graph.x") the simulator accepts on
// writes to a family.
func AcceptedTypes(f graph.Family) []string {
	var out []string
	for _, t := range acceptedTypes[f] {
		out = append(out, "#microsoft.graph."+t)
	}
	return out
}

var readOnlyProps = []string{"id", "createdDateTime", "lastModifiedDateTime", "version", "settingCount", "isAssigned", "@odata.context"}

var assignmentTargets = []string{"#microsoft.graph.groupAssignmentTarget", "#microsoft.graph.exclusionGroupAssignmentTarget",
	"#microsoft.graph.allLicensedUsersAssignmentTarget", "#microsoft.graph.allDevicesAssignmentTarget",
	"#microsoft.graph.configurationManagerCollectionAssignmentTarget"}

// ErrNoSuchPolicy is returned by the policy mutation API for an unknown id.
var ErrNoSuchPolicy = errors.New("graphsim: no such policy")

type intuneObject struct {
	obj          map[string]any
	assignments  []map[string]any
	children     map[string][]map[string]any // "settings", "scheduledActionsForRule", "definitionValues"
	presentation map[string][]map[string]any // definitionValue id → presentationValues
}

type intuneStore struct {
	mu     sync.RWMutex
	tenant *Tenant
	seq    int
	fam    map[graph.Family][]*intuneObject
}

func newIntuneStore(t *Tenant, per int) *intuneStore {
	st := &intuneStore{tenant: t, fam: map[graph.Family][]*intuneObject{}}
	st.generate(per)
	return st
}

func (st *intuneStore) newID(parts ...any) string {
	st.seq++
	return deterministicUUID(append([]any{"intune", st.tenant.ID, st.seq}, parts...)...)
}

var epoch = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func stamp(i int) string {
	return epoch.Add(time.Duration(i) * 37 * time.Hour).Format("2006-01-02T15:04:05.0000000Z")
}

// generate builds the per-family objects deterministically.
func (st *intuneStore) generate(per int) {
	t := st.tenant
	for _, fi := range graph.Families() {
		if fi.Service != graph.ServiceIntune {
			continue
		}
		f := fi.Family
		types := acceptedTypes[f]
		if f == graph.FamilyDeviceEnrollmentConfigurations {
			st.generateEnrollment(per)
			continue
		}
		if f == graph.FamilyRoleScopeTags {
			st.fam[f] = append(st.fam[f], &intuneObject{obj: map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag", "id": "0",
				"displayName": "Default", "description": "Built-in scope tag", "isBuiltIn": true}})
			for i := 1; i <= per; i++ {
				st.fam[f] = append(st.fam[f], &intuneObject{obj: map[string]any{"@odata.type": "#microsoft.graph.roleScopeTag",
					"id": fmt.Sprint(i), "displayName": fmt.Sprintf("Region %d", i), "description": "", "isBuiltIn": false}})
			}
			continue
		}
		for i := 0; i < per; i++ {
			typ := "#microsoft.graph." + types[i%len(types)]
			o := map[string]any{"@odata.type": typ, "id": st.newID(f, i), "description": fmt.Sprintf("Generated %s %d", f, i),
				"createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i + 3), "roleScopeTagIds": []string{"0"}}
			name := fmt.Sprintf("%s %s %02d", strings.ToUpper(string(f[:1]))+string(f[1:]), []string{"Baseline", "Pilot", "Kiosk", "Finance", "Lab"}[i%5], i)
			o[fi.NameProperty] = name
			obj := &intuneObject{obj: o, children: map[string][]map[string]any{}}
			st.decorate(f, obj, i)
			if fi.HasAssignments {
				n := i % 4
				if i == 0 {
					n = bigSubCollection
				}
				obj.assignments = st.makeAssignments(o["id"].(string), n, i)
			}
			st.fam[f] = append(st.fam[f], obj)
		}
	}
	_ = t
}

// decorate adds family-specific properties and sub-collections.
func (st *intuneStore) decorate(f graph.Family, obj *intuneObject, i int) {
	o := obj.obj
	id := o["id"].(string)
	switch f {
	case graph.FamilyDeviceConfigurations:
		o["version"] = i + 1
		o["supportsScopeTags"] = true
		if o["@odata.type"] == "#microsoft.graph.windows10CustomConfiguration" {
			o["omaSettings"] = []any{
				map[string]any{"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Block camera", "omaUri": "./Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": "0", "isEncrypted": false, "secretReferenceValueId": nil},
				map[string]any{"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Wi-Fi key", "omaUri": "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml", "value": "****", "isEncrypted": true, "secretReferenceValueId": st.newID("secret", id)},
			}
		} else {
			o["passwordRequired"] = i%2 == 0
			o["passwordMinimumLength"] = 8 + i%6
		}
	case graph.FamilyConfigurationPolicies, graph.FamilyCompliancePolicies:
		n := 3 + i%5
		if i == 0 {
			n = 2*subPageSize + 10
		}
		o["platforms"] = "windows10"
		o["technologies"] = "mdm"
		o["settingCount"] = n
		o["creationSource"] = nil
		o["isAssigned"] = i%4 != 3
		family := "none"
		if f == graph.FamilyConfigurationPolicies && i%3 == 1 {
			family = "endpointSecurityAntivirus"
		}
		o["templateReference"] = map[string]any{"templateId": "", "templateFamily": family, "templateDisplayName": nil, "templateDisplayVersion": nil}
		for k := 0; k < n; k++ {
			obj.children["settings"] = append(obj.children["settings"], map[string]any{
				"id": fmt.Sprint(k),
				"settingInstance": map[string]any{
					"@odata.type":         "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
					"settingDefinitionId": fmt.Sprintf("device_vendor_msft_policy_config_sim_setting%03d", k),
					"choiceSettingValue":  map[string]any{"value": fmt.Sprintf("device_vendor_msft_policy_config_sim_setting%03d_%d", k, (k+i)%2), "children": []any{}},
				},
			})
		}
	case graph.FamilyDeviceCompliancePolicies:
		o["version"] = 1
		o["passwordRequired"] = true
		obj.children["scheduledActionsForRule"] = []map[string]any{{"id": st.newID("rule", id), "ruleName": nil,
			"scheduledActionConfigurations": []any{map[string]any{"id": st.newID("action", id), "gracePeriodHours": 0, "actionType": "block",
				"notificationTemplateId": "00000000-0000-0000-0000-000000000000", "notificationMessageCCList": []string{}}}}}
	case graph.FamilyIntents:
		o["templateId"] = deterministicUUID("template", i%2)
		o["isAssigned"] = true
		o["isMigratingToConfigurationPolicy"] = false
	case graph.FamilyGroupPolicyConfigurations:
		n := 2 + i%3
		if i == 0 {
			n = subPageSize + 5
		}
		obj.presentation = map[string][]map[string]any{}
		for k := 0; k < n; k++ {
			dvID := st.newID("dv", id, k)
			obj.children["definitionValues"] = append(obj.children["definitionValues"], map[string]any{
				"id": dvID, "enabled": true, "configurationType": "policy", "createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i),
				"definition": map[string]any{"id": deterministicUUID("admx", k), "displayName": fmt.Sprintf("Sim ADMX setting %d", k),
					"classType": "machine", "categoryPath": `\Windows Components\Sim`, "policyType": "admxBacked"},
			})
			obj.presentation[dvID] = []map[string]any{{"@odata.type": "#microsoft.graph.groupPolicyPresentationValueText",
				"id": st.newID("pv", dvID), "value": fmt.Sprintf("value-%d", k), "createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i),
				"presentation": map[string]any{"@odata.type": "#microsoft.graph.groupPolicyPresentationTextBox", "id": deterministicUUID("pres", k), "label": "Value"}}}
		}
	case graph.FamilyManagedAppPolicies:
		o["version"] = fmt.Sprintf("\"%d\"", i+1)
		o["isAssigned"] = true
		o["deployedAppCount"] = 2
	case graph.FamilyDeviceManagementScripts, graph.FamilyDeviceShellScripts:
		o["scriptContent"] = base64.StdEncoding.EncodeToString([]byte("Write-Output 'sim script " + fmt.Sprint(i) + "'"))
		o["runAsAccount"] = "system"
		o["fileName"] = fmt.Sprintf("script%d.ps1", i)
	case graph.FamilyDeviceHealthScripts, graph.FamilyDeviceComplianceScripts:
		o["detectionScriptContent"] = base64.StdEncoding.EncodeToString([]byte("exit 0"))
		o["publisher"] = "TenantAtlas"
		o["runAsAccount"] = "system"
		if f == graph.FamilyDeviceHealthScripts {
			o["remediationScriptContent"] = base64.StdEncoding.EncodeToString([]byte("exit 0"))
		}
	case graph.FamilyWindowsFeatureUpdateProfiles:
		o["featureUpdateVersion"] = "Windows 11, version 24H2"
		o["endOfSupportDate"] = "2026-10-13T00:00:00Z"
	case graph.FamilyWindowsQualityUpdateProfiles:
		o["releaseDateDisplayName"] = "March 2025 - 2025.03 B"
		o["deployableContentDisplayName"] = "2025.03 B Security Updates"
	case graph.FamilyWindowsDriverUpdateProfiles:
		o["approvalType"] = "manual"
		o["deviceReporting"] = 0
	case graph.FamilyAssignmentFilters:
		o["platform"] = "windows10AndLater"
		o["rule"] = fmt.Sprintf(`(device.model -eq "Model %d")`, i)
		o["assignmentFilterManagementType"] = "devices"
	case graph.FamilyWindowsAutopilotDeploymentProfiles:
		o["language"] = "os-default"
		o["deviceNameTemplate"] = fmt.Sprintf("SIM-%%SERIAL%%-%d", i)
	}
}

// generateEnrollment builds the type-collision set of docs/graph.md#enrollment-type-collision: the {tenantId}_Default* objects
// (priority 0, epoch createdDateTime, enum reporting the non-default kind) and custom objects.
func (st *intuneStore) generateEnrollment(per int) {
	f := graph.FamilyDeviceEnrollmentConfigurations
	tid := st.tenant.ID
	def := func(suffix, typ, kind, name string, extra map[string]any) {
		o := map[string]any{"@odata.type": "#microsoft.graph." + typ, "id": tid + "_" + suffix, "displayName": name,
			"description": "This is the default " + name + " configuration applied with the lowest priority to all users regardless of group membership.",
			"priority":    0, "version": 0, "roleScopeTagIds": []string{}, "deviceEnrollmentConfigurationType": kind,
			"createdDateTime": "0001-01-01T00:00:00Z", "lastModifiedDateTime": "0001-01-01T00:00:00Z"}
		maps.Copy(o, extra)
		st.fam[f] = append(st.fam[f], &intuneObject{obj: o})
	}
	def("DefaultLimit", "deviceEnrollmentLimitConfiguration", "limit", "All users and all devices", map[string]any{"limit": 5})
	def("DefaultPlatformRestrictions", "deviceEnrollmentPlatformRestrictionsConfiguration", "platformRestrictions", "All users and all devices",
		map[string]any{"windowsRestriction": map[string]any{"platformBlocked": false, "personalDeviceEnrollmentBlocked": false}})
	def("DefaultWindowsHelloForBusiness", "deviceEnrollmentWindowsHelloForBusinessConfiguration", "windowsHelloForBusiness", "All users and all devices",
		map[string]any{"state": "enabled", "pinMinimumLength": 6})
	def("DefaultWindows10EnrollmentCompletionPageConfiguration", "windows10EnrollmentCompletionPageConfiguration",
		"windows10EnrollmentCompletionPageConfiguration", "All users and all devices",
		map[string]any{"selectedMobileAppIds": []string{}, "showInstallationProgress": false})
	def("WindowsRestore", "windowsRestoreDeviceEnrollmentConfiguration", "windowsRestore", "Windows backup and restore",
		map[string]any{"state": "notConfigured"})
	customs := []struct{ typ, kind string }{
		{"deviceEnrollmentLimitConfiguration", "limit"},
		{"deviceEnrollmentPlatformRestrictionConfiguration", "singlePlatformRestriction"},
		{"windows10EnrollmentCompletionPageConfiguration", "windows10EnrollmentCompletionPageConfiguration"},
		{"deviceComanagementAuthorityConfiguration", "deviceComanagementAuthorityConfiguration"},
		{"deviceEnrollmentNotificationConfiguration", "enrollmentNotificationsConfiguration"},
		{"deviceEnrollmentWindowsHelloForBusinessConfiguration", "windowsHelloForBusiness"},
	}
	for i := 0; i < max(per, len(customs)); i++ {
		c := customs[i%len(customs)]
		id := st.newID(f, i) + "_" + strings.TrimPrefix(c.kind, "device")
		o := map[string]any{"@odata.type": "#microsoft.graph." + c.typ, "id": id, "displayName": fmt.Sprintf("Enrollment %s %02d", c.kind, i),
			"description": "", "priority": 1 + i/len(customs), "version": 1, "roleScopeTagIds": []string{"0"},
			"deviceEnrollmentConfigurationType": c.kind, "createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i + 1)}
		switch c.typ {
		case "deviceEnrollmentPlatformRestrictionConfiguration":
			o["platformType"] = "windows"
			o["platformRestriction"] = map[string]any{"platformBlocked": false, "personalDeviceEnrollmentBlocked": true}
		case "deviceEnrollmentLimitConfiguration":
			o["limit"] = 3
		case "windows10EnrollmentCompletionPageConfiguration":
			o["selectedMobileAppIds"] = []string{deterministicUUID("app", 1)}
			o["showInstallationProgress"] = true
		}
		obj := &intuneObject{obj: o}
		n := i % 3
		if i == 0 {
			n = bigSubCollection
		}
		obj.assignments = st.makeAssignments(strings.SplitN(id, "_", 2)[0], n, i)
		st.fam[f] = append(st.fam[f], obj)
	}
}

func (st *intuneStore) makeAssignments(policyID string, n, salt int) []map[string]any {
	var out []map[string]any
	g := st.tenant.groups
	for k := 0; k < n; k++ {
		target := map[string]any{"deviceAndAppManagementAssignmentFilterId": nil, "deviceAndAppManagementAssignmentFilterType": "none"}
		switch {
		case k == 0 && n < bigSubCollection && salt%2 == 1:
			target["@odata.type"] = "#microsoft.graph.allDevicesAssignmentTarget"
		case k == 1 && salt%3 == 2:
			target["@odata.type"] = "#microsoft.graph.exclusionGroupAssignmentTarget"
			target["groupId"] = g.id((salt*31 + k) % max(1, g.base))
		default:
			target["@odata.type"] = "#microsoft.graph.groupAssignmentTarget"
			target["groupId"] = g.id((salt*31 + k) % max(1, g.base))
		}
		out = append(out, assignment(policyID, target))
	}
	return out
}

func assignment(policyID string, target map[string]any) map[string]any {
	key, _ := target["groupId"].(string)
	if key == "" {
		key = strings.TrimPrefix(fmt.Sprint(target["@odata.type"]), "#microsoft.graph.")
	}
	return map[string]any{"id": policyID + "_" + key, "source": "direct", "sourceId": policyID, "target": target}
}

// collectionType returns the @odata.type a managed-app type collection holds ("" for families).
func collectionType(c *graph.Contract) string {
	col, _, _ := strings.Cut(c.Name, ".")
	for typ, name := range graph.ManagedAppProtectionCollections {
		if name == col {
			return typ
		}
	}
	return ""
}

func (st *intuneStore) find(f graph.Family, id string) *intuneObject {
	for _, o := range st.fam[f] {
		if strings.EqualFold(fmt.Sprint(o.obj["id"]), id) {
			return o
		}
	}
	return nil
}

func (st *intuneStore) objectsOf(f graph.Family, typ string) []*intuneObject {
	if typ == "" {
		return st.fam[f]
	}
	var out []*intuneObject
	for _, o := range st.fam[f] {
		if o.obj["@odata.type"] == typ {
			out = append(out, o)
		}
	}
	return out
}

func (s *Server) intuneNotFound(w http.ResponseWriter, id string) {
	s.intuneError(w, http.StatusNotFound, "ResourceNotFound", "No object with id '"+id+"' was found.")
}

func (s *Server) invalid(w http.ResponseWriter, msg string) {
	s.intuneError(w, http.StatusBadRequest, "ModelValidationFailure", msg)
}

func contextURL(req *simRequest, c *graph.Contract) string {
	return req.base + "/beta/$metadata#" + strings.TrimPrefix(strings.SplitN(c.Path, "/{", 2)[0], "/")
}

// serveIntune answers every Intune contract.
func (s *Server) serveIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, args []string) {
	st := req.tenant.intune
	if c.IsWrite() {
		st.mu.Lock()
		defer st.mu.Unlock()
	} else {
		st.mu.RLock()
		defer st.mu.RUnlock()
	}
	typ := collectionType(c)
	expand := req.query.Get("$expand")
	if c.Kind == graph.KindCreate {
		s.createIntune(w, req, st, c, typ, args)
		return
	}
	if c.Kind == graph.KindList {
		var objs []map[string]any
		for _, o := range st.objectsOf(c.Family, typ) {
			objs = append(objs, withExpand(o, expand))
		}
		s.writeSlice(w, req, objs, intunePageDefault, intunePageMax, contextURL(req, c))
		return
	}
	obj := st.find(c.Family, args[0])
	if obj == nil || (typ != "" && obj.obj["@odata.type"] != typ) {
		s.intuneNotFound(w, args[0])
		return
	}
	switch c.Kind {
	case graph.KindGet:
		out := withExpand(obj, expand)
		out["@odata.context"] = contextURL(req, c) + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case graph.KindAssignments:
		s.writeSlice(w, req, obj.assignments, subPageSize, subPageSize, contextURL(req, c))
	case graph.KindChildren:
		s.serveChildren(w, req, c, obj, args)
	case graph.KindUpdate:
		s.patchIntune(w, req, c, obj)
	case graph.KindReplace:
		s.putIntune(w, req, c, obj)
	case graph.KindAssign:
		s.assignIntune(w, req, c, obj)
	case graph.KindSetPriority:
		s.setPriority(w, req, obj)
	case graph.KindAction:
		s.actionIntune(w, req, c, obj)
	default:
		s.graphError(w, http.StatusNotImplemented, "NotImplemented", "graphsim does not implement "+c.Name)
	}
}

func withExpand(o *intuneObject, expand string) map[string]any {
	out := maps.Clone(o.obj)
	if strings.Contains(expand, "settings") && o.children["settings"] != nil {
		out["settings"] = o.children["settings"]
	}
	if strings.Contains(expand, "assignments") {
		out["assignments"] = o.assignments
	}
	return out
}

func (s *Server) serveChildren(w http.ResponseWriter, req *simRequest, c *graph.Contract, obj *intuneObject, args []string) {
	name := c.Name[strings.IndexByte(c.Name, '.')+1:]
	expand := req.query.Get("$expand")
	switch name {
	case "omaSettingPlainTextValue":
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": req.base + "/beta/$metadata#Edm.String", "value": "sim-plaintext-" + args[1][:8]})
	case "presentationValues":
		vals, ok := obj.presentation[args[1]]
		if !ok {
			s.intuneNotFound(w, args[1])
			return
		}
		s.writeSlice(w, req, stripUnexpanded(vals, "presentation", expand), subPageSize, subPageSize, contextURL(req, c))
	case "definitionValues":
		s.writeSlice(w, req, stripUnexpanded(obj.children[name], "definition", expand), subPageSize, subPageSize, contextURL(req, c))
	default:
		s.writeSlice(w, req, obj.children[name], subPageSize, subPageSize, contextURL(req, c))
	}
}

// stripUnexpanded drops a navigation property unless $expand asked for it.
func stripUnexpanded(items []map[string]any, nav, expand string) []map[string]any {
	if strings.Contains(expand, nav) {
		return items
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = maps.Clone(it)
		delete(out[i], nav)
	}
	return out
}

// decodeObject parses a write body into a JSON object.
func decodeObject(body []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errors.New("The request body is not a valid JSON object.") //nolint:staticcheck // ST1005: Graph's message, verbatim
	}
	return m, nil
}

// checkWrite applies the validation rules of the package comment common to create/PATCH/PUT.
func checkWrite(f graph.Family, typ string, body map[string]any, create bool) string {
	for _, p := range readOnlyProps {
		if _, ok := body[p]; ok {
			return fmt.Sprintf("Property '%s' is read-only and cannot be set.", p)
		}
	}
	if t, ok := body["@odata.type"].(string); ok {
		allowed := AcceptedTypes(f)
		if typ != "" {
			allowed = []string{typ}
		}
		if !slices.Contains(allowed, t) {
			return fmt.Sprintf("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.TrimPrefix(t, "#"))
		}
	} else if create && polymorphic[f] {
		return "Cannot create an abstract class."
	}
	return ""
}

func hasSecretReference(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "secretReferenceValueId" && val != nil {
				return true
			}
			if hasSecretReference(val) {
				return true
			}
		}
	case []any:
		for _, val := range x {
			if hasSecretReference(val) {
				return true
			}
		}
	}
	return false
}

func (s *Server) createIntune(w http.ResponseWriter, req *simRequest, st *intuneStore, c *graph.Contract, typ string, args []string) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	fi, _ := graph.FamilyOf(c.Family)
	if msg := checkWrite(c.Family, typ, body, true); msg != "" {
		s.invalid(w, msg)
		return
	}
	if hasSecretReference(body) {
		s.intuneError(w, http.StatusBadRequest, "NotSupported", "SecretReferenceValueId invalid for create")
		return
	}
	if name, _ := body[fi.NameProperty].(string); strings.TrimSpace(name) == "" {
		s.invalid(w, fmt.Sprintf("The '%s' property is required.", fi.NameProperty))
		return
	}
	if typ != "" && body["@odata.type"] == nil {
		body["@odata.type"] = typ
	}
	if body["@odata.type"] == nil {
		body["@odata.type"] = AcceptedTypes(c.Family)[0]
	}
	obj := &intuneObject{children: map[string][]map[string]any{}}
	if settings, ok := body["settings"].([]any); ok && (c.Family == graph.FamilyConfigurationPolicies || c.Family == graph.FamilyCompliancePolicies) {
		obj.children["settings"] = toObjects(settings)
		delete(body, "settings")
		body["settingCount"] = len(settings)
	}
	if c.Family == graph.FamilyDeviceCompliancePolicies {
		if rules, ok := body["scheduledActionsForRule"].([]any); ok {
			obj.children["scheduledActionsForRule"] = toObjects(rules)
			delete(body, "scheduledActionsForRule")
		}
	}
	if c.Family == graph.FamilyIntents {
		body["templateId"] = args[0]
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	body["id"] = st.newID("created", now)
	body["createdDateTime"] = now
	body["lastModifiedDateTime"] = now
	if c.Family == graph.FamilyDeviceEnrollmentConfigurations {
		prio := 0
		for _, o := range st.fam[c.Family] {
			if p, ok := o.obj["priority"].(int); ok && p > prio {
				prio = p
			}
		}
		body["priority"] = prio + 1
	}
	obj.obj = body
	st.fam[c.Family] = append(st.fam[c.Family], obj)
	out := maps.Clone(body)
	out["@odata.context"] = contextURL(req, c) + "/$entity"
	writeJSON(w, http.StatusCreated, out)
}

func toObjects(in []any) []map[string]any {
	var out []map[string]any
	for _, v := range in {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func touch(o map[string]any) {
	o["lastModifiedDateTime"] = time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	if v, ok := o["version"].(int); ok {
		o["version"] = v + 1
	}
}

func (s *Server) patchIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, obj *intuneObject) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	if msg := checkWrite(c.Family, collectionType(c), body, false); msg != "" {
		s.invalid(w, msg)
		return
	}
	if _, ok := body["priority"]; ok && c.Family == graph.FamilyDeviceEnrollmentConfigurations {
		s.invalid(w, "Property 'priority' is read-only on update: use setPriority.")
		return
	}
	if _, ok := body["scheduledActionsForRule"]; ok && c.Family == graph.FamilyDeviceCompliancePolicies {
		s.invalid(w, "Property 'scheduledActionsForRule' cannot be updated with PATCH: use scheduleActionsForRules.")
		return
	}
	if t, ok := body["@odata.type"]; ok && t != obj.obj["@odata.type"] {
		s.invalid(w, "The @odata.type of an existing object cannot change.")
		return
	}
	maps.Copy(obj.obj, body)
	touch(obj.obj)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) putIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, obj *intuneObject) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	if msg := checkWrite(c.Family, "", body, false); msg != "" {
		s.invalid(w, msg)
		return
	}
	settings, ok := body["settings"].([]any)
	if name, _ := body["name"].(string); !ok || strings.TrimSpace(name) == "" {
		s.invalid(w, "PUT replaces the whole policy: 'name' and 'settings' are required.")
		return
	}
	keep := map[string]any{"id": obj.obj["id"], "createdDateTime": obj.obj["createdDateTime"], "@odata.type": obj.obj["@odata.type"]}
	delete(body, "settings")
	obj.obj = body
	maps.Copy(obj.obj, keep)
	obj.obj["settingCount"] = len(settings)
	obj.children["settings"] = toObjects(settings)
	touch(obj.obj)
	w.WriteHeader(http.StatusNoContent)
}

func isEnrollmentDefault(obj *intuneObject) bool {
	p, _ := obj.obj["priority"].(int)
	id, _ := obj.obj["id"].(string)
	return p == 0 && strings.Contains(id, "_")
}

func (s *Server) assignIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, obj *intuneObject) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	if c.Family == graph.FamilyDeviceEnrollmentConfigurations && isEnrollmentDefault(obj) {
		s.intuneError(w, http.StatusBadRequest, "BadRequest", "Default enrollment configurations cannot be assigned.")
		return
	}
	raw, ok := body[c.AssignKey].([]any)
	if !ok || len(body) != 1 {
		s.invalid(w, fmt.Sprintf("The assign body must have exactly one property, '%s', holding an array.", c.AssignKey))
		return
	}
	id := fmt.Sprint(obj.obj["id"])
	var next []map[string]any
	for _, a := range raw {
		m, _ := a.(map[string]any)
		target, _ := m["target"].(map[string]any)
		t, _ := target["@odata.type"].(string)
		if !slices.Contains(assignmentTargets, t) {
			s.invalid(w, fmt.Sprintf("Assignment target type '%s' is not valid.", t))
			return
		}
		next = append(next, assignment(id, maps.Clone(target)))
	}
	obj.assignments = next // assign replaces the whole set
	if len(next) == 0 {
		next = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": contextURL(req, c), "value": next})
}

func (s *Server) setPriority(w http.ResponseWriter, req *simRequest, obj *intuneObject) {
	var body struct {
		Priority *int `json:"priority"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil || body.Priority == nil || *body.Priority < 1 {
		s.intuneError(w, http.StatusBadRequest, "BadRequest", "setPriority needs a priority of 1 or more.")
		return
	}
	if isEnrollmentDefault(obj) {
		s.intuneError(w, http.StatusBadRequest, "BadRequest", "The priority of a default enrollment configuration cannot change.")
		return
	}
	obj.obj["priority"] = *body.Priority
	touch(obj.obj)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) actionIntune(w http.ResponseWriter, req *simRequest, c *graph.Contract, obj *intuneObject) {
	body, err := decodeObject(req.body)
	if err != nil {
		s.invalid(w, err.Error())
		return
	}
	switch {
	case strings.HasSuffix(c.Name, ".scheduleActionsForRules"):
		rules, ok := body["deviceComplianceScheduledActionForRules"].([]any)
		if !ok {
			s.invalid(w, "'deviceComplianceScheduledActionForRules' is required.")
			return
		}
		obj.children["scheduledActionsForRule"] = toObjects(rules)
	case strings.HasSuffix(c.Name, ".updateDefinitionValues"):
		if obj.presentation == nil {
			obj.presentation = map[string][]map[string]any{}
		}
		deleted, _ := body["deletedIds"].([]any)
		obj.children["definitionValues"] = slices.DeleteFunc(obj.children["definitionValues"], func(dv map[string]any) bool {
			return slices.Contains(deleted, any(dv["id"]))
		})
		for _, a := range toObjectsAny(body["added"]) {
			id := req.tenant.intune.newID("dv-added")
			pres := toObjects(anySlice(a["presentationValues"]))
			delete(a, "presentationValues")
			a["id"] = id
			obj.children["definitionValues"] = append(obj.children["definitionValues"], a)
			obj.presentation[id] = pres
		}
		for _, u := range toObjectsAny(body["updated"]) {
			for _, dv := range obj.children["definitionValues"] {
				if dv["id"] == u["id"] {
					maps.Copy(dv, u)
				}
			}
		}
	}
	touch(obj.obj)
	w.WriteHeader(http.StatusNoContent)
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func toObjectsAny(v any) []map[string]any { return toObjects(anySlice(v)) }

// Policies returns copies of a family's objects, in list order.
func (t *Tenant) Policies(f graph.Family) []map[string]any {
	st := t.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []map[string]any
	for _, o := range st.fam[f] {
		out = append(out, maps.Clone(o.obj))
	}
	return out
}

// Assignments returns a copy of one policy's assignments.
func (t *Tenant) Assignments(f graph.Family, id string) ([]map[string]any, error) {
	st := t.intune
	st.mu.RLock()
	defer st.mu.RUnlock()
	o := st.find(f, id)
	if o == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	return slices.Clone(o.assignments), nil
}

// AddPolicy inserts an object into a family (no validation: this is the drift back door, as an
// admin editing in the portal) and returns its id.
func (t *Tenant) AddPolicy(f graph.Family, obj map[string]any) (string, error) {
	fi, ok := graph.FamilyOf(f)
	if !ok || fi.Service != graph.ServiceIntune {
		return "", fmt.Errorf("graphsim: %q is not an Intune family", f)
	}
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	o := maps.Clone(obj)
	id := st.newID("admin")
	o["id"] = id
	if o["@odata.type"] == nil {
		o["@odata.type"] = AcceptedTypes(f)[0]
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	o["createdDateTime"], o["lastModifiedDateTime"] = now, now
	st.fam[f] = append(st.fam[f], &intuneObject{obj: o, children: map[string][]map[string]any{}})
	return id, nil
}

// UpdatePolicy merges patch into an object (as a portal edit would).
func (t *Tenant) UpdatePolicy(f graph.Family, id string, patch map[string]any) error {
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.find(f, id)
	if o == nil {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	for k, v := range patch {
		if k != "id" {
			o.obj[k] = v
		}
	}
	touch(o.obj)
	return nil
}

// DeletePolicy removes an object.
func (t *Tenant) DeletePolicy(f graph.Family, id string) error {
	st := t.intune
	st.mu.Lock()
	defer st.mu.Unlock()
	before := len(st.fam[f])
	st.fam[f] = slices.DeleteFunc(st.fam[f], func(o *intuneObject) bool { return strings.EqualFold(fmt.Sprint(o.obj["id"]), id) })
	if len(st.fam[f]) == before {
		return fmt.Errorf("%w: %s %s", ErrNoSuchPolicy, f, id)
	}
	return nil
}
