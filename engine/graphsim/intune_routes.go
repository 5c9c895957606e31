package graphsim

import (
	"net/http"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Simulator-owned routes: Microsoft Graph endpoints the engine's contract registry does not (yet)
// list. graphsim serves Graph, not only what the engine calls today, so an engine that adopts one
// of these finds it behaving as documented. A registry contract with the same method and path
// always wins (buildRoutes), so registering one in engine/graph never conflicts.
func simContracts() []graph.Contract {
	var out []graph.Contract
	add := func(f graph.Family, name string, kind graph.Kind, method, path, doc string) {
		fi, _ := graph.FamilyOf(f)
		c := graph.Contract{Name: name, Family: f, Kind: kind, Method: method, Version: graph.Beta, Path: path,
			Service: graph.ServiceIntune, ReadPermission: fi.ReadPermission, WritePermission: fi.WritePermission, Doc: doc}
		c.Permission = fi.ReadPermission
		if method != http.MethodGet {
			c.Permission = fi.WritePermission
		}
		out = append(out, c)
	}
	dm, dam := "/deviceManagement/", "/deviceAppManagement/"
	// docs:intune-deviceconfigv2-devicemanagementconfigurationpolicy-update and
	// …-devicemanagementcompliancepolicy-update: PATCH exists beside the peers' PUT.
	add(graph.FamilyConfigurationPolicies, "configurationPolicies.update", graph.KindUpdate, http.MethodPatch, dm+"configurationPolicies/{id}", "PATCH (documented)")
	add(graph.FamilyCompliancePolicies, "compliancePolicies.update", graph.KindUpdate, http.MethodPatch, dm+"compliancePolicies/{id}", "PATCH (documented)")
	// BETA deviceManagementCompliancePolicy.scheduledActionsForRule; ICD DeviceCompliance.py.
	add(graph.FamilyCompliancePolicies, "compliancePolicies.scheduledActionsForRule", graph.KindChildren, http.MethodGet,
		dm+"compliancePolicies/{id}/scheduledActionsForRule", "non-compliance actions")
	add(graph.FamilyCompliancePolicies, "compliancePolicies.setScheduledActions", graph.KindAction, http.MethodPost,
		dm+"compliancePolicies/{id}/setScheduledActions", "docs: setScheduledActions")
	// BETA deviceManagementIntent.settings; docs:intune-deviceintent-devicemanagementintent-updatesettings.
	add(graph.FamilyIntents, "intents.settings", graph.KindChildren, http.MethodGet, dm+"intents/{id}/settings", "intent settings")
	add(graph.FamilyIntents, "intents.updateSettings", graph.KindAction, http.MethodPost, dm+"intents/{id}/updateSettings", "docs: updateSettings")
	// docs:intune-enrollment-windowsautopilotdeploymentprofileassignment-create (201).
	add(graph.FamilyWindowsAutopilotDeploymentProfiles, "windowsAutopilotDeploymentProfiles.createAssignment", graph.KindAction, http.MethodPost,
		dm+"windowsAutopilotDeploymentProfiles/{id}/assignments", "one group assignment")
	// IM Start-PostFileImportDeviceConfiguration: POST deviceConfigurations('{id}')/windowsPrivacyAccessControls
	// {"windowsPrivacyAccessControls":[…]} after the create (the navigation cannot go inline).
	add(graph.FamilyDeviceConfigurations, "deviceConfigurations.windowsPrivacyAccessControls", graph.KindAction, http.MethodPost,
		dm+"deviceConfigurations/{id}/windowsPrivacyAccessControls", "set the privacy access controls")
	// BETA: windowsManagedAppProtections is its own collection with apps and assignments.
	base := dam + "windowsManagedAppProtections"
	f := graph.FamilyManagedAppPolicies
	add(f, "windowsManagedAppProtections.list", graph.KindList, http.MethodGet, base, "Windows MAM policies")
	add(f, "windowsManagedAppProtections.get", graph.KindGet, http.MethodGet, base+"/{id}", "one Windows MAM policy")
	add(f, "windowsManagedAppProtections.assignments", graph.KindAssignments, http.MethodGet, base+"/{id}/assignments", "assignments")
	add(f, "windowsManagedAppProtections.create", graph.KindCreate, http.MethodPost, base, "create")
	add(f, "windowsManagedAppProtections.update", graph.KindUpdate, http.MethodPatch, base+"/{id}", "update")
	add(f, "windowsManagedAppProtections.assign", graph.KindAssign, http.MethodPost, base+"/{id}/assign", "assign")
	out[len(out)-1].AssignKey = "assignments"
	// The type collections and managedAppPolicies/{id} are readable like any entity set
	// (docs:intune-mam-iosmanagedappprotection-list, intune-mam-managedapppolicy-get).
	for _, col := range []string{"iosManagedAppProtections", "androidManagedAppProtections", "windowsInformationProtectionPolicies", "mdmWindowsInformationProtectionPolicies"} {
		add(f, col+".list", graph.KindList, http.MethodGet, dam+col, "list")
	}
	add(f, "managedAppPolicies.get", graph.KindGet, http.MethodGet, dam+"managedAppPolicies/{id}", "one managed app policy")
	// CSDL10 27155-27172 targetApps; IM Start-PostImportAppProtection posts it to the type collection,
	// docs to managedAppPolicies/{id}.
	for _, col := range []string{"managedAppPolicies", "iosManagedAppProtections", "androidManagedAppProtections", "windowsManagedAppProtections"} {
		add(f, col+".targetApps", graph.KindAction, http.MethodPost, dam+col+"/{id}/targetApps", "set the targeted apps")
	}
	add(graph.FamilyTargetedManagedAppConfigurations, "targetedManagedAppConfigurations.targetApps", graph.KindAction, http.MethodPost,
		dam+"targetedManagedAppConfigurations/{id}/targetApps", "set the targeted apps")
	// Read-only reference collections; permissions from their pages.
	for _, r := range []struct {
		f          graph.Family
		path, perm string
	}{
		{familyPolicyTemplates, dm + "configurationPolicyTemplates", "DeviceManagementConfiguration.Read.All"},
	} {
		for _, k := range []struct {
			kind graph.Kind
			path string
		}{{graph.KindList, r.path}, {graph.KindGet, r.path + "/{id}"}} {
			out = append(out, graph.Contract{Name: string(r.f) + "." + string(k.kind), Family: r.f, Kind: k.kind, Method: http.MethodGet,
				Version: graph.Beta, Path: k.path, Service: graph.ServiceIntune, Permission: r.perm, ReadPermission: r.perm, Doc: "reference data"})
		}
	}
	out = append(out, graph.Contract{Name: "configurationPolicyTemplates.settingTemplates", Family: familyPolicyTemplates, Kind: graph.KindChildren,
		Method: http.MethodGet, Version: graph.Beta, Path: dm + "configurationPolicyTemplates/{id}/settingTemplates", Service: graph.ServiceIntune,
		Permission: "DeviceManagementConfiguration.Read.All", ReadPermission: "DeviceManagementConfiguration.Read.All", Doc: "setting templates"})
	return out
}
