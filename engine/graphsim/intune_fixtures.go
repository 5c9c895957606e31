package graphsim

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Fixture generation: every family gets `per` objects cycling through at least two payload
// shapes taken from Microsoft's docs examples (families.md §6), with values made realistic. The
// first object of each family has more than one page of assignments (and the first settings
// catalog policy / ADMX policy more than one page of settings), so paging is always exercised.

var shapeNames = []string{"Baseline", "Pilot", "Kiosk", "Finance", "Lab"}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// generateReferences builds the tenant's mobile apps (intune_apps.go) and notification templates:
// the same names in every tenant, ids of this tenant (the ids ESP, app configuration and
// compliance actions hold).
func (st *intuneStore) generateReferences() {
	tid := st.tenant.ID
	st.generateApps()
	tmpl := newObject(map[string]any{"@odata.type": graphNS + "deviceManagementConfigurationPolicyTemplate", "id": esTemplateID,
		"baseId": strings.TrimSuffix(esTemplateID, "_1"), "version": 1, "displayName": "Microsoft Defender Antivirus",
		"description":    "Windows Defender Antivirus is the next-generation protection component of Microsoft Defender for Endpoint.",
		"displayVersion": "Version 1", "lifecycleState": "active", "platforms": "windows10", "technologies": "mdm,microsoftSense",
		"templateFamily": "endpointSecurityAntivirus", "allowUnmanagedSettings": false, "settingTemplateCount": len(esTemplateSettings)})
	for k, sid := range esTemplateSettings {
		tmpl.children["settingTemplates"] = append(tmpl.children["settingTemplates"], map[string]any{"id": fmt.Sprint(k),
			"settingInstanceTemplate": map[string]any{"@odata.type": graphNS + "deviceManagementConfigurationChoiceSettingInstanceTemplate",
				"settingDefinitionId": fmt.Sprintf("device_vendor_msft_policy_config_sim_setting%03d", k), "settingInstanceTemplateId": sid, "isRequired": false}})
	}
	st.fam[familyPolicyTemplates] = append(st.fam[familyPolicyTemplates], tmpl)
	for k, name := range []string{"Noncompliance notice", "Enrollment welcome"} {
		o := map[string]any{"@odata.type": graphNS + "notificationMessageTemplate", "id": deterministicUUID("notificationTemplate", tid, k),
			"displayName": name, "description": "", "roleScopeTagIds": []any{"0"}, "lastModifiedDateTime": stamp(k)}
		obj := newObject(o)
		obj.children["localizedNotificationMessages"] = withMessageIDs(fmt.Sprint(o["id"]), notificationTemplateShape(k, o)) // intune_notifications.go
		st.fam[graph.FamilyNotificationMessageTemplates] = append(st.fam[graph.FamilyNotificationMessageTemplates], obj)
	}
}

// generate builds the per-family objects deterministically: per of each family, or counts[f].
func (st *intuneStore) generate(perDefault int, counts map[graph.Family]int) {
	st.generateADMXCatalog()
	st.generateReferences()
	for _, fi := range graph.Families() {
		if fi.Service != graph.ServiceIntune {
			continue
		}
		f := fi.Family
		per := perDefault
		if n, ok := counts[f]; ok {
			per = n
		}
		switch f {
		case graph.FamilyDeviceEnrollmentConfigurations:
			st.generateEnrollment(per)
			continue
		case graph.FamilyRoleScopeTags:
			st.generateScopeTags(per)
			continue
		case graph.FamilyNotificationMessageTemplates, graph.FamilyMobileApps:
			continue // the named templates and apps of generateReferences, which other families refer to
		case graph.FamilyRoleAssignments:
			continue // generateRBAC, after the role definitions and scope tags they refer to
		}
		types := AcceptedTypes(f)
		for i := 0; i < per; i++ {
			typ := types[i%len(types)]
			o := map[string]any{"@odata.type": typ, "id": st.newID(f, i), "description": fmt.Sprintf("Generated %s %d", f, i),
				"createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i + 3), "roleScopeTagIds": []any{"0"}}
			o[fi.NameProperty] = fmt.Sprintf("%s %s %02d", strings.ToUpper(string(f[:1]))+string(f[1:]), shapeNames[i%5], i)
			obj := newObject(o)
			st.decorate(f, obj, i)
			decorateMore(f, o, i) // intune_more.go
			if fi.HasAssignments {
				n := i % 4
				if i == 0 {
					n = bigSubCollection
				}
				obj.assignments = st.makeAssignments(f, o["id"].(string), n, i)
			}
			st.fam[f] = append(st.fam[f], obj)
		}
	}
	per := perDefault
	if n, ok := counts[graph.FamilyRoleAssignments]; ok {
		per = n
	}
	st.generateRBAC(per) // intune_apps.go
	// The Windows compliance policies use the tenant's first custom compliance script
	// (docs:intune-deviceconfig-windows10compliancepolicy: deviceCompliancePolicyScript
	// {deviceComplianceScriptId, rulesContent Edm.Binary}).
	if scripts := st.fam[graph.FamilyDeviceComplianceScripts]; len(scripts) > 0 {
		for _, obj := range st.fam[graph.FamilyDeviceCompliancePolicies] {
			if obj.obj["@odata.type"] == graphNS+"windows10CompliancePolicy" {
				obj.obj["deviceCompliancePolicyScript"] = map[string]any{"deviceComplianceScriptId": scripts[0].obj["id"],
					"rulesContent": base64Of(`{"Rules":[{"SettingName":"BitLockerStatus","Operator":"IsEquals","DataType":"String","Operand":"On"}]}`)}
			}
		}
	}
}

func (st *intuneStore) generateScopeTags(per int) {
	f := graph.FamilyRoleScopeTags
	// The built-in Default tag has id "0" in every tenant (IM lists `isBuiltIn eq false` only).
	st.fam[f] = append(st.fam[f], newObject(map[string]any{"@odata.type": graphNS + "roleScopeTag", "id": "0",
		"displayName": "Default", "description": "Built-in scope tag", "isBuiltIn": true}))
	for i := 1; i <= per; i++ {
		st.fam[f] = append(st.fam[f], newObject(map[string]any{"@odata.type": graphNS + "roleScopeTag",
			"id": fmt.Sprint(i), "displayName": fmt.Sprintf("Region %d", i), "description": "", "isBuiltIn": false}))
	}
}

// decorate adds the family- and shape-specific properties and navigation collections.
func (st *intuneStore) decorate(f graph.Family, obj *intuneObject, i int) {
	o := obj.obj
	id := o["id"].(string)
	typ := strings.TrimPrefix(o["@odata.type"].(string), graphNS)
	switch f {
	case graph.FamilyDeviceConfigurations:
		o["version"] = i + 1
		o["supportsScopeTags"] = true
		switch typ {
		case "windows10GeneralConfiguration": // docs:intune-deviceconfig-windows10generalconfiguration-create
			o["passwordRequired"] = i%2 == 0
			o["passwordMinimumLength"] = 8 + i%6
			o["defenderMonitorFileActivity"] = "monitorAllFiles"
			// privacyAccessControls is a navigation property (BETA); IM removes it from the body and
			// POSTs it to /{id}/windowsPrivacyAccessControls.
			obj.children["privacyAccessControls"] = []map[string]any{{"id": st.newID("privacy", id), "accessLevel": "forceDeny",
				"dataCategory": "camera", "appPackageFamilyName": nil, "appDisplayName": nil}}
		case "windows10CustomConfiguration": // docs:intune-deviceconfig-windows10customconfiguration-create
			o["omaSettings"] = []any{
				map[string]any{"@odata.type": graphNS + "omaSettingInteger", "displayName": "Block camera", "description": nil,
					"omaUri": "./Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": 0, "isReadOnly": false},
				map[string]any{"@odata.type": graphNS + "omaSettingString", "displayName": "Wi-Fi key", "description": nil,
					"omaUri": "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml", "value": "****", "isEncrypted": true,
					"secretReferenceValueId": st.newID("secret", id)},
				// omaSettingStringXml.value is Edm.Binary (CSDL10): base64 on the wire. Encrypted like the
				// string above: its plaintext (getOmaSettingPlainTextValue) is the XML text itself, which
				// IM base64-encodes before writing it back (Start-PostGetDeviceConfiguration). The masked
				// value of an encrypted binary setting is not verified; base64 of "****" here.
				map[string]any{"@odata.type": graphNS + "omaSettingStringXml", "displayName": "Start layout", "description": nil,
					"omaUri": "./Vendor/MSFT/Policy/Config/Start/StartLayout", "fileName": "layout.xml",
					"value": base64Of("****"), "isEncrypted": true, "secretReferenceValueId": st.newID("secret-xml", id)},
			}
		case "iosGeneralDeviceConfiguration": // docs:intune-deviceconfig-iosgeneraldeviceconfiguration-create
			o["passcodeRequired"] = true
			o["passcodeMinimumLength"] = 6
			o["cameraBlocked"] = i%2 == 1
		case "windowsUpdateForBusinessConfiguration": // update ring, docs:intune-deviceconfig-windowsupdateforbusinessconfiguration-create
			o["qualityUpdatesDeferralPeriodInDays"] = 7
			o["featureUpdatesDeferralPeriodInDays"] = 30
			o["automaticUpdateMode"] = "autoInstallAtMaintenanceTime"
			o["businessReadyUpdatesOnly"] = "businessReadyOnly"
			o["qualityUpdatesPauseStartDate"] = nil
			o["featureUpdatesPauseStartDate"] = nil
			o["qualityUpdatesWillBeRolledBack"] = false
			o["featureUpdatesWillBeRolledBack"] = false
		case "macOSCustomConfiguration":
			o["payloadName"] = "Corp Wi-Fi"
			o["payloadFileName"] = "wifi.mobileconfig"
			o["payload"] = base64Of(`<?xml version="1.0"?><plist version="1.0"><dict/></plist>`)
			o["deploymentChannel"] = "deviceChannel"
		}
	case graph.FamilyConfigurationPolicies, graph.FamilyCompliancePolicies:
		n := 3 + i%5
		if i == 0 {
			n = 2*subPageSize + 10
		}
		o["settingCount"] = n
		o["creationSource"] = nil
		o["isAssigned"] = i%4 != 3
		if f == graph.FamilyConfigurationPolicies {
			o["platforms"], o["technologies"] = "windows10", "mdm"
			// Two shapes (docs:intune-deviceconfigv2-devicemanagementconfigurationpolicy-create): a plain
			// settings-catalog policy and an endpoint-security one bound to a template.
			ref := map[string]any{"templateId": "", "templateFamily": "none", "templateDisplayName": nil, "templateDisplayVersion": nil}
			if i%3 == 1 {
				o["technologies"] = "mdm,microsoftSense"
				ref = map[string]any{"templateId": esTemplateID, "templateFamily": "endpointSecurityAntivirus",
					"templateDisplayName": "Microsoft Defender Antivirus", "templateDisplayVersion": "Version 1"}
			}
			o["templateReference"] = ref
		} else {
			o["platforms"], o["technologies"] = "windows10", "mdm"
			if i%2 == 1 {
				o["platforms"], o["technologies"] = "linux", "linuxMdm"
			}
		}
		es := f == graph.FamilyConfigurationPolicies && i%3 == 1
		for k := 0; k < n; k++ {
			set := catalogSetting(k, i)
			if es { // a template-bound setting names its template setting, case and all
				inst := set["settingInstance"].(map[string]any)
				inst["settingInstanceTemplateReference"] = map[string]any{"settingInstanceTemplateId": esTemplateSettings[k%len(esTemplateSettings)]}
			}
			obj.children["settings"] = append(obj.children["settings"], set)
		}
		if f == graph.FamilyCompliancePolicies {
			obj.children["scheduledActionsForRule"] = []map[string]any{st.complianceRule(id, i)}
		}
	case graph.FamilyDeviceCompliancePolicies:
		o["version"] = 1
		switch typ {
		case "windows10CompliancePolicy":
			o["bitLockerEnabled"], o["secureBootEnabled"], o["osMinimumVersion"] = true, true, "10.0.19045"
			o["passwordRequired"] = true
		case "iosCompliancePolicy":
			o["passcodeRequired"], o["osMinimumVersion"], o["securityBlockJailbrokenDevices"] = true, "17.0", true
		case "androidWorkProfileCompliancePolicy":
			o["passwordRequired"], o["securityBlockJailbrokenDevices"] = true, true
		case "macOSCompliancePolicy":
			o["systemIntegrityProtectionEnabled"], o["firewallEnabled"] = true, true
		}
		obj.children["scheduledActionsForRule"] = []map[string]any{st.complianceRule(id, i)}
	case graph.FamilyIntents:
		tmpl := intentTemplates[i%len(intentTemplates)]
		o["templateId"] = tmpl.id
		o["isAssigned"] = true
		o["isMigratingToConfigurationPolicy"] = false
		for k, def := range tmpl.settings {
			s := maps.Clone(def)
			s["id"] = st.newID("intent-setting", id, k)
			obj.children["settings"] = append(obj.children["settings"], s)
		}
	case graph.FamilyGroupPolicyConfigurations:
		o["policyConfigurationIngestionType"] = "builtIn"
		n := 2 + i%3
		if i == 0 {
			n = subPageSize + 5
		}
		for k := 0; k < n; k++ {
			defID := deterministicUUID("admx", k%admxBuiltIns)
			if i%3 == 2 && k == 0 { // a custom (uploaded) ADMX definition: its id is the tenant's own
				defID = deterministicUUID("admx-custom", st.tenant.ID, 0)
				o["policyConfigurationIngestionType"] = "mixed"
			}
			st.addDefinitionValue(obj, defID, i, k)
		}
	case graph.FamilyManagedAppPolicies:
		o["version"] = fmt.Sprintf("\"%d\"", i+1)
		ts, _ := schemaOf(typ)
		for k, v := range map[string]any{"isAssigned": true, "deployedAppCount": 2} {
			if ts.hasProp(k) { // WIP policies have neither (BETA: declared on managedAppProtection)
				o[k] = v
			}
		}
		switch typ {
		case "iosManagedAppProtection": // docs:intune-mam-iosmanagedappprotection-create
			o["pinRequired"], o["appDataEncryptionType"], o["appGroupType"] = true, "whenDeviceLocked", "selectedPublicApps"
			o["periodOfflineBeforeAccessCheck"] = "PT12H"
			obj.children["apps"] = managedApps(id, "iosMobileAppIdentifier", "bundleId", "com.microsoft.office.outlook", "com.microsoft.skype.teams")
		case "androidManagedAppProtection": // docs:intune-mam-androidmanagedappprotection-create
			o["pinRequired"], o["screenCaptureBlocked"], o["appGroupType"] = true, true, "selectedPublicApps"
			obj.children["apps"] = managedApps(id, "androidMobileAppIdentifier", "packageId", "com.microsoft.office.outlook", "com.microsoft.teams")
		case "windowsManagedAppProtection": // docs:intune-mam-windowsmanagedappprotection-create
			o["printBlocked"], o["allowedInboundDataTransferSources"] = true, "allSources"
			obj.children["apps"] = managedApps(id, "windowsAppIdentifier", "windowsAppId", "com.microsoft.edge")
		case "windowsInformationProtectionPolicy", "mdmWindowsInformationProtectionPolicy":
			o["enforcementLevel"], o["enterpriseDomain"] = "encryptAndAuditOnly", "contoso.com"
		}
	case graph.FamilyTargetedManagedAppConfigurations: // docs:intune-mam-targetedmanagedappconfiguration-create
		o["version"] = fmt.Sprintf("\"%d\"", i+1)
		o["isAssigned"] = true
		o["deployedAppCount"] = 1
		o["appGroupType"] = "selectedPublicApps"
		o["customSettings"] = []any{map[string]any{"name": "com.microsoft.outlook.EmailProfile.AccountType", "value": "ModernAuth"}}
		if i%2 == 1 {
			o["targetedAppManagementLevels"] = "unmanaged"
			o["customSettings"] = []any{map[string]any{"name": "com.microsoft.intune.mam.managedbrowser.homepage", "value": "https://intranet.contoso.com"}}
		}
		obj.children["apps"] = managedApps(id, "iosMobileAppIdentifier", "bundleId", "com.microsoft.office.outlook")
	case graph.FamilyMobileAppConfigurations:
		o["version"] = 1
		o["targetedMobileApps"] = []any{deterministicUUID("mobileApp", st.tenant.ID, i%3)} // mobileApp ids of this tenant
		if typ == "iosMobileAppConfiguration" {
			o["settings"] = []any{map[string]any{"appConfigKey": "IntuneMAMUPN", "appConfigKeyType": "stringType", "appConfigKeyValue": "{{userprincipalname}}"}}
		} else {
			o["packageId"], o["appSupportsOemConfig"], o["profileApplicability"] = "app:com.microsoft.office.outlook", false, "default"
			o["payloadJson"] = base64Of(`{"kind":"androidenterprise#managedConfiguration","productId":"app:com.microsoft.office.outlook","managedProperty":[]}`)
		}
	case graph.FamilyDeviceManagementScripts: // docs:intune-shared-devicemanagementscript-create
		o["scriptContent"] = base64Of(fmt.Sprintf("Write-Output 'sim script %d'\r\n", i))
		o["runAsAccount"] = []string{"system", "user"}[i%2]
		o["enforceSignatureCheck"] = false
		o["runAs32Bit"] = i%2 == 1
		o["fileName"] = fmt.Sprintf("script%d.ps1", i)
	case graph.FamilyDeviceShellScripts: // docs:intune-devices-deviceshellscript-create
		o["scriptContent"] = base64Of(fmt.Sprintf("#!/bin/zsh\necho 'sim script %d'\n", i))
		o["runAsAccount"] = []string{"system", "user"}[i%2]
		o["fileName"] = fmt.Sprintf("script%d.sh", i)
		o["executionFrequency"] = []string{"PT0S", "PT15M"}[i%2]
		o["retryCount"] = 3
		o["blockExecutionNotifications"] = true
	case graph.FamilyDeviceHealthScripts: // docs:intune-devices-devicehealthscript-get
		o["detectionScriptContent"] = base64Of("if (Test-Path C:\\corp\\flag) { exit 0 } else { exit 1 }")
		o["remediationScriptContent"] = base64Of("New-Item -ItemType File C:\\corp\\flag -Force")
		o["publisher"], o["runAsAccount"], o["enforceSignatureCheck"], o["runAs32Bit"] = "Contoso IT", "system", false, false
		o["version"], o["isGlobalScript"], o["highestAvailableVersion"], o["deviceHealthScriptType"] = "1", false, nil, "deviceHealthScript"
		o["detectionScriptParameters"], o["remediationScriptParameters"] = []any{}, []any{}
		if i%4 == 3 { // a Microsoft-published global script (IM lists `isGlobalScript eq false` only)
			o["publisher"], o["isGlobalScript"], o["highestAvailableVersion"] = "Microsoft", true, "2"
			o["remediationScriptContent"] = nil
		}
	case graph.FamilyDeviceComplianceScripts: // docs:intune-devices-devicecompliancescript-create
		o["detectionScriptContent"] = base64Of(`$r = @{ BitLockerStatus = "On" }; return $r | ConvertTo-Json -Compress`)
		o["publisher"], o["runAsAccount"], o["enforceSignatureCheck"], o["runAs32Bit"], o["version"] = "Contoso IT", "system", false, i%2 == 1, "1"
	case graph.FamilyWindowsFeatureUpdateProfiles:
		o["featureUpdateVersion"] = "Windows 11, version 24H2"
		o["deployableContentDisplayName"] = "Windows 11, version 24H2"
		o["endOfSupportDate"] = "2026-10-13T00:00:00Z"
		o["installLatestWindows10OnWindows11IneligibleDevice"] = false
		o["installFeatureUpdatesOptional"] = i%2 == 1 // an optional (user-initiated) feature update
		o["rolloutSettings"] = map[string]any{"offerStartDateTimeInUTC": nil, "offerEndDateTimeInUTC": nil, "offerIntervalInDays": nil}
		if i%2 == 1 {
			o["rolloutSettings"] = map[string]any{"offerStartDateTimeInUTC": "2025-04-01T00:00:00Z", "offerEndDateTimeInUTC": "2025-05-01T00:00:00Z", "offerIntervalInDays": 7}
		}
	case graph.FamilyWindowsQualityUpdateProfiles:
		o["releaseDateDisplayName"] = "March 11, 2025 - 2025.03 B"
		o["deployableContentDisplayName"] = "2025.03 B Security Updates"
		o["expeditedUpdateSettings"] = map[string]any{"qualityUpdateRelease": "2025-03-11T00:00:00Z", "daysUntilForcedReboot": 1 + i%2}
		if i%2 == 1 { // a profile created without a description, scoped to two tags
			o["description"], o["roleScopeTagIds"] = nil, []any{"0", "1"}
			o["releaseDateDisplayName"], o["deployableContentDisplayName"] = nil, nil
			o["expeditedUpdateSettings"] = map[string]any{"qualityUpdateRelease": "2025-04-08T00:00:00Z", "daysUntilForcedReboot": 0}
		}
	case graph.FamilyWindowsDriverUpdateProfiles:
		o["approvalType"] = []string{"manual", "automatic"}[i%2]
		o["deviceReporting"] = 12 + i
		o["newUpdates"] = i % 3
		o["inventorySyncStatus"] = map[string]any{"lastSuccessfulSyncDateTime": stamp(i + 2), "driverInventorySyncState": "success"}
		if i%2 == 1 {
			o["deploymentDeferralInDays"] = 7
		}
	case graph.FamilyAssignmentFilters: // docs:intune-policyset-deviceandappmanagementassignmentfilter-create
		o["rule"] = fmt.Sprintf(`(device.model -eq "Model %d")`, i)
		o["platform"], o["assignmentFilterManagementType"] = "windows10AndLater", "devices"
		if i%2 == 1 {
			o["platform"], o["assignmentFilterManagementType"] = "iOSMobileApplicationManagement", "apps"
			o["rule"] = `(app.osVersion -startsWith "17")`
		}
		o["roleScopeTags"] = []any{[]string{"0", "1"}[i%2]}
		o["payloads"] = []any{map[string]any{"payloadId": deterministicUUID("payload", st.tenant.ID, i), "payloadType": "deviceConfigurationAndCompliance",
			"groupId": st.tenant.groups.id(i % max(1, st.tenant.groups.base)), "assignmentFilterType": "include"}}
		delete(o, "roleScopeTagIds") // filters carry roleScopeTags, not roleScopeTagIds (BETA)
	case graph.FamilyWindowsAutopilotDeploymentProfiles:
		o["language"], o["locale"], o["deviceType"] = "os-default", "os-default", "windowsPc"
		o["deviceNameTemplate"] = fmt.Sprintf("SIM-%%SERIAL%%-%d", i)
		o["extractHardwareHash"], o["hardwareHashExtractionEnabled"], o["preprovisioningAllowed"], o["enableWhiteGlove"] = false, false, i%2 == 0, i%2 == 0
		o["managementServiceAppId"] = nil
		o["outOfBoxExperienceSettings"] = map[string]any{"hidePrivacySettings": true, "hideEULA": true, "userType": "standard",
			"deviceUsageType": "singleUser", "skipKeyboardSelectionPage": true, "hideEscapeLink": true}
		if typ == "activeDirectoryWindowsAutopilotDeploymentProfile" {
			o["hybridAzureADJoinSkipConnectivityCheck"] = true
		}
	}
}

// esTemplateID and esTemplateSettings are the Microsoft Defender Antivirus endpoint-security
// template and the settingInstanceTemplateIds of its settings (same in every tenant). IM found the
// ids case-sensitive, with one setting of a Microsoft template in a different letter case than the
// others (Start-PreImportSettingsCatalog: "settingInstanceTemplateId and settingValueTemplateId are
// case sensitive and there is ONE setting with a different casing"): one id here is upper-case.
const esTemplateID = "804339ad-1553-4478-a742-138fb5807418_1"

var esTemplateSettings = func() []string {
	var out []string
	for k := 0; k < 8; k++ {
		id := deterministicUUID("es-av-template-setting", k)
		if k == 5 {
			id = strings.ToUpper(id)
		}
		out = append(out, id)
	}
	return out
}()

// catalogSetting is one settings-catalog setting (the setting entity has no @odata.type; its
// abstract settingInstance has).
func catalogSetting(k, salt int) map[string]any {
	inst := map[string]any{
		"@odata.type":         graphNS + "deviceManagementConfigurationChoiceSettingInstance",
		"settingDefinitionId": fmt.Sprintf("device_vendor_msft_policy_config_sim_setting%03d", k),
		"choiceSettingValue":  map[string]any{"value": fmt.Sprintf("device_vendor_msft_policy_config_sim_setting%03d_%d", k, (k+salt)%2), "children": []any{}},
	}
	if k%4 == 3 {
		inst = map[string]any{
			"@odata.type":         graphNS + "deviceManagementConfigurationSimpleSettingInstance",
			"settingDefinitionId": fmt.Sprintf("device_vendor_msft_policy_config_sim_value%03d", k),
			"simpleSettingValue":  map[string]any{"@odata.type": graphNS + "deviceManagementConfigurationIntegerSettingValue", "value": 30 + k},
		}
	}
	return map[string]any{"id": fmt.Sprint(k), "settingInstance": inst}
}

// complianceRule is the one rule of a compliance policy: a block action (exactly one is required)
// and, for odd policies, a notification referencing a tenant notification template.
func (st *intuneStore) complianceRule(policyID string, i int) map[string]any {
	actions := []any{map[string]any{"id": st.newID("action", policyID), "gracePeriodHours": 0, "actionType": "block",
		"notificationTemplateId": "00000000-0000-0000-0000-000000000000", "notificationMessageCCList": []any{}}}
	if i%2 == 1 {
		actions = append(actions, map[string]any{"id": st.newID("action", policyID), "gracePeriodHours": 24, "actionType": "notification",
			"notificationTemplateId":    deterministicUUID("notificationTemplate", st.tenant.ID, 0),
			"notificationMessageCCList": []any{st.tenant.groups.id(i % max(1, st.tenant.groups.base))}})
	}
	return map[string]any{"id": st.newID("rule", policyID), "ruleName": nil, "scheduledActionConfigurations": actions}
}

// managedApps builds the apps navigation of an app protection / MAM configuration policy:
// managedMobileApp entities (no @odata.type, declared type) whose abstract mobileAppIdentifier
// carries its type (docs:intune-mam-targetedmanagedappprotection-targetapps example).
func managedApps(_, identifier, key string, ids ...string) []map[string]any {
	var out []map[string]any
	for _, id := range ids {
		out = append(out, managedApp(map[string]any{"@odata.type": graphNS + identifier, key: id}))
	}
	return out
}

// managedApp is one managedMobileApp; its id is the app id with the platform suffix Intune uses
// ("com.microsoft.office.outlook.ios").
func managedApp(identifier map[string]any) map[string]any {
	typ, _ := identifier["@odata.type"].(string)
	platform := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(typ, "#"), "microsoft.graph."), "MobileAppIdentifier")
	platform = strings.TrimSuffix(platform, "AppIdentifier")
	var appID string
	for _, k := range []string{"bundleId", "packageId", "windowsAppId"} {
		if v, ok := identifier[k].(string); ok {
			appID = v
		}
	}
	return map[string]any{"id": appID + "." + platform, "version": "-1", "mobileAppIdentifier": identifier}
}

// intentTemplates are two Microsoft security templates (same ids in every tenant) with the
// settings their intents carry (docs:intune-deviceintent-devicemanagementtemplate-createinstance).
var intentTemplates = []struct {
	id       string
	settings []map[string]any
}{
	{id: deterministicUUID("template", 0), settings: []map[string]any{
		{"@odata.type": graphNS + "deviceManagementBooleanSettingInstance",
			"definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_firewallBlockStatefulFTP", "valueJson": "true", "value": true},
		{"@odata.type": graphNS + "deviceManagementIntegerSettingInstance",
			"definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_firewallIdleTimeoutForSecurityAssociationInSeconds", "valueJson": "300", "value": 300},
	}},
	{id: deterministicUUID("template", 1), settings: []map[string]any{
		{"@odata.type": graphNS + "deviceManagementStringSettingInstance",
			"definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_defenderSecurityCenterOrganizationDisplayName", "valueJson": `"Contoso IT"`, "value": "Contoso IT"},
		{"@odata.type": graphNS + "deviceManagementBooleanSettingInstance",
			"definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_defenderSecurityCenterBlockExploitProtectionOverride", "valueJson": "false", "value": false},
	}},
}

const admxBuiltIns = 8

// generateADMXCatalog builds the tenant's groupPolicyDefinitions: built-in ones (ids shared by
// every tenant) and one custom definition from an uploaded ADMX file (id of this tenant only).
func (st *intuneStore) generateADMXCatalog() {
	for k := 0; k < admxBuiltIns; k++ {
		id := deterministicUUID("admx", k)
		st.admx[id] = admxDefinition{
			def: map[string]any{"id": id, "displayName": fmt.Sprintf("Sim ADMX setting %d", k), "classType": []string{"machine", "user"}[k%2],
				"categoryPath": `\Windows Components\Sim`, "policyType": "admxBacked"},
			pres: map[string]any{"@odata.type": graphNS + "groupPolicyPresentationTextBox", "id": deterministicUUID("pres", k), "label": "Value"},
		}
	}
	id := deterministicUUID("admx-custom", st.tenant.ID, 0)
	st.admx[id] = admxDefinition{
		def: map[string]any{"id": id, "displayName": "Contoso: map the home drive", "classType": "user",
			"categoryPath": `\Contoso\Drives`, "policyType": "admxIngested"},
		pres: map[string]any{"@odata.type": graphNS + "groupPolicyPresentationTextBox", "id": deterministicUUID("pres-custom", st.tenant.ID, 0), "label": "Drive"},
	}
}

func (st *intuneStore) addDefinitionValue(obj *intuneObject, defID string, i, k int) {
	d := st.admx[defID]
	dvID := st.newID("dv", obj.id(), k)
	obj.children["definitionValues"] = append(obj.children["definitionValues"], map[string]any{
		"id": dvID, "enabled": true, "configurationType": "policy", "createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i),
		"definition": maps.Clone(d.def)})
	if k%2 == 1 { // an enabled-only definition has no presentation values
		obj.presentation[dvID] = []map[string]any{}
		return
	}
	obj.presentation[dvID] = []map[string]any{{"@odata.type": graphNS + "groupPolicyPresentationValueText",
		"id": st.newID("pv", dvID), "value": fmt.Sprintf("value-%d", k), "createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i),
		"presentation": maps.Clone(d.pres)}}
}

// generateEnrollment builds the type-collision set of docs/graph.md#enrollment-type-collision: the {tenantId}_Default* objects
// (priority 0, epoch createdDateTime, enum reporting the non-default kind) and custom objects.
func (st *intuneStore) generateEnrollment(per int) {
	f := graph.FamilyDeviceEnrollmentConfigurations
	tid := st.tenant.ID
	def := func(suffix, typ, kind, name string, extra map[string]any) {
		o := map[string]any{"@odata.type": graphNS + typ, "id": tid + "_" + suffix, "displayName": name,
			"description": "This is the default " + name + " configuration applied with the lowest priority to all users regardless of group membership.",
			"priority":    0, "version": 0, "roleScopeTagIds": []any{}, "deviceEnrollmentConfigurationType": kind,
			"createdDateTime": "0001-01-01T00:00:00Z", "lastModifiedDateTime": "0001-01-01T00:00:00Z"}
		maps.Copy(o, extra)
		st.fam[f] = append(st.fam[f], newObject(o))
	}
	def("DefaultLimit", "deviceEnrollmentLimitConfiguration", "limit", "All users and all devices", map[string]any{"limit": 5})
	def("DefaultPlatformRestrictions", "deviceEnrollmentPlatformRestrictionsConfiguration", "platformRestrictions", "All users and all devices",
		map[string]any{"windowsRestriction": map[string]any{"platformBlocked": false, "personalDeviceEnrollmentBlocked": false}})
	def("DefaultWindowsHelloForBusiness", "deviceEnrollmentWindowsHelloForBusinessConfiguration", "windowsHelloForBusiness", "All users and all devices",
		map[string]any{"state": "enabled", "pinMinimumLength": 6})
	def("DefaultWindows10EnrollmentCompletionPageConfiguration", "windows10EnrollmentCompletionPageConfiguration",
		"windows10EnrollmentCompletionPageConfiguration", "All users and all devices",
		map[string]any{"selectedMobileAppIds": []any{}, "showInstallationProgress": false})
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
		o := map[string]any{"@odata.type": graphNS + c.typ, "id": id, "displayName": fmt.Sprintf("Enrollment %s %02d", c.kind, i),
			"description": "", "priority": 1 + i/len(customs), "version": 1, "roleScopeTagIds": []any{"0"},
			"deviceEnrollmentConfigurationType": c.kind, "createdDateTime": stamp(i), "lastModifiedDateTime": stamp(i + 1)}
		switch c.typ {
		case "deviceEnrollmentPlatformRestrictionConfiguration":
			o["platformType"] = "windows"
			o["platformRestriction"] = map[string]any{"platformBlocked": false, "personalDeviceEnrollmentBlocked": true}
		case "deviceEnrollmentLimitConfiguration":
			o["limit"] = 3
		case "windows10EnrollmentCompletionPageConfiguration":
			// mobileApp ids of this tenant (ICD EnrollmentStatusPage maps them by app name)
			o["selectedMobileAppIds"] = []any{deterministicUUID("mobileApp", tid, 1)}
			o["showInstallationProgress"] = true
			o["installProgressTimeoutInMinutes"] = 60
		case "deviceComanagementAuthorityConfiguration":
			o["managedDeviceAuthority"] = 1
			o["installConfigurationManagerAgent"] = true
			o["configurationManagerAgentCommandLineArgument"] = "SMSSITECODE=CTO"
		case "deviceEnrollmentNotificationConfiguration":
			o["platformType"], o["templateType"] = "windows", "email"
			o["notificationMessageTemplateId"] = deterministicUUID("notificationTemplate", tid, 1)
			o["brandingOptions"] = "includeCompanyLogo"
		case "deviceEnrollmentWindowsHelloForBusinessConfiguration":
			o["state"], o["pinMinimumLength"] = "enabled", 8
		}
		obj := newObject(o)
		n := i % 3
		if i == 0 {
			n = bigSubCollection
		}
		obj.assignments = st.makeAssignments(f, strings.SplitN(id, "_", 2)[0], n, i)
		st.fam[f] = append(st.fam[f], obj)
	}
}

func (st *intuneStore) makeAssignments(f graph.Family, policyID string, n, salt int) []map[string]any {
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
		var extra map[string]any
		switch assignmentTypes[f] {
		case "deviceHealthScriptAssignment": // BETA: runRemediationScript, runSchedule, target
			extra = map[string]any{"runRemediationScript": f == graph.FamilyDeviceHealthScripts, "runSchedule": map[string]any{
				"@odata.type": graphNS + "deviceHealthScriptDailySchedule", "interval": 1 + k%2, "useUtc": false, "time": "09:00:00.0000000"}}
		case "deviceConfigurationAssignment":
			extra = map[string]any{"intent": "apply"}
		}
		out = append(out, assignment(policyID, target, extra))
	}
	return out
}
