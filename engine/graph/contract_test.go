package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

func TestRegistryCoversEveryFamily(t *testing.T) {
	t.Parallel()
	want := []graph.Family{graph.FamilyGroups, graph.FamilyDirectoryRoleDefinitions, graph.FamilyDeviceConfigurations,
		graph.FamilyConfigurationPolicies, graph.FamilyDeviceCompliancePolicies, graph.FamilyCompliancePolicies, graph.FamilyIntents,
		graph.FamilyGroupPolicyConfigurations, graph.FamilyManagedAppPolicies, graph.FamilyMobileAppConfigurations,
		graph.FamilyTargetedManagedAppConfigurations, graph.FamilyDeviceEnrollmentConfigurations, graph.FamilyWindowsAutopilotDeploymentProfiles,
		graph.FamilyDeviceManagementScripts, graph.FamilyDeviceShellScripts, graph.FamilyDeviceHealthScripts, graph.FamilyDeviceComplianceScripts,
		graph.FamilyWindowsFeatureUpdateProfiles, graph.FamilyWindowsQualityUpdateProfiles, graph.FamilyWindowsDriverUpdateProfiles,
		graph.FamilyAssignmentFilters, graph.FamilyRoleScopeTags, graph.FamilyDeviceCategories, graph.FamilyTermsAndConditions,
		graph.FamilyDeviceCustomAttributeShellScripts, graph.FamilyReusablePolicySettings, graph.FamilyRoleDefinitions, graph.FamilyNotificationMessageTemplates,
		graph.FamilyRoleAssignments, graph.FamilyMobileApps,
		graph.FamilyConditionalAccessPolicies, graph.FamilyNamedLocations,
		graph.FamilyAuthenticationStrengthPolicies, graph.FamilyAuthenticationContextClassReferences}
	var got []graph.Family
	for _, fi := range graph.Families() {
		got = append(got, fi.Family)
	}
	require.ElementsMatch(t, want, got)

	for _, fi := range graph.Families() {
		t.Run(string(fi.Family), func(t *testing.T) {
			t.Parallel()
			list, ok := graph.Lookup(string(fi.Family) + ".list")
			require.True(t, ok)
			probe, ok := graph.Lookup(string(fi.Family) + ".probe")
			require.True(t, ok)
			require.Equal(t, 1, probe.PageSize)
			if fi.Service == graph.ServiceIntune {
				require.Equal(t, graph.Beta, list.Version, "Intune families use beta")
			} else {
				require.Equal(t, graph.V1, list.Version, "directory uses v1.0")
				require.True(t, list.LowPriority)
			}
			for _, c := range graph.ContractsOf(fi.Family) {
				require.Equal(t, fi.Family, c.Family)
				require.NotEmpty(t, c.Permission, c.Name)
				require.NotEmpty(t, c.Doc, c.Name)
				if c.IsWrite() {
					require.Equal(t, fi.WritePermission, c.Permission, c.Name)
				} else if c.Name != "deviceConfigurations.omaSettingPlainTextValue" && c.Name != "groups.getByIds" {
					// the exceptions: plaintext OMA values need ReadWrite even to read (Learn);
					// getByIds only Directory.Read.All (Learn directoryobject-getbyids)
					require.Equal(t, fi.ReadPermission, c.Permission, c.Name)
				}
				if c.Kind == graph.KindAssign {
					require.NotEmpty(t, c.AssignKey, c.Name)
				}
			}
		})
	}
}

func TestRegistryLookups(t *testing.T) {
	t.Parallel()
	c, ok := graph.Lookup("groups.delta")
	require.True(t, ok)
	require.Equal(t, graph.KindDelta, c.Kind)
	require.Equal(t, http.MethodGet, c.Method)
	require.Equal(t, "/groups/delta", c.Path)
	require.Equal(t, graph.GroupSelect, c.Select)

	_, ok = graph.Lookup("nope")
	require.False(t, ok)

	enroll, _ := graph.Lookup("deviceEnrollmentConfigurations.assign")
	require.Equal(t, "enrollmentConfigurationAssignments", enroll.AssignKey)
	sc, _ := graph.Lookup("configurationPolicies.replace")
	require.Equal(t, http.MethodPut, sc.Method)
	pv, _ := graph.Lookup("groupPolicyConfigurations.presentationValues")
	require.Equal(t, []string{"id", "definitionValueId"}, pv.Placeholders())

	all := graph.Contracts()
	require.Greater(t, len(all), 150)
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].Name, all[i].Name, "sorted, unique")
	}
	for _, p := range graph.Probes() {
		require.Equal(t, graph.KindProbe, p.Kind)
	}
	for _, name := range []string{"deviceEnrollmentConfigurations.setPriority", "configurationPolicies.create", "deviceConfigurations.update",
		"deviceConfigurations.assign", "intents.create", "groupPolicyConfigurations.updateDefinitionValues", "iosManagedAppProtections.assign",
		"token.acquire", "deviceCompliancePolicies.scheduledActionsForRule", "configurationPolicies.settings"} {
		_, ok := graph.Lookup(name)
		require.True(t, ok, name)
	}
}

func TestRequiredPermissions(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"Group.Read.All"}, graph.RequiredPermissions(graph.FamilyGroups))
	require.Equal(t, []string{"DeviceManagementConfiguration.Read.All", "Group.Read.All"},
		graph.RequiredPermissions(graph.FamilyGroups, graph.FamilyConfigurationPolicies, graph.FamilyDeviceConfigurations))
	all := graph.RequiredPermissions()
	require.ElementsMatch(t, []string{"Group.Read.All", "RoleManagement.Read.Directory", "DeviceManagementConfiguration.Read.All",
		"DeviceManagementServiceConfig.Read.All", "DeviceManagementApps.Read.All",
		"DeviceManagementScripts.Read.All", "Policy.Read.All", "Policy.Read.AuthenticationMethod", "AuthenticationContext.Read.All",
		"DeviceManagementRBAC.Read.All"}, all, "DeviceManagementRBAC for Intune role definitions only (scope tags: TestLeastPrivilegedPermissions)")
	fi, _ := graph.FamilyOf(graph.FamilyRoleDefinitions)
	require.True(t, fi.Optional(), "a permission apps were not asked for before is optional")
	for _, p := range graph.RequiredWritePermissions() {
		// Policy.Read.All: Conditional Access writes need it besides Policy.ReadWrite.ConditionalAccess.
		require.True(t, strings.Contains(p, "ReadWrite") || p == "Group.Create" || p == "Policy.Read.All", p)
	}
}

// TestConditionalAccessPermissions: the least-privileged permissions of the v1.0 Learn pages
// (contract_ca.go): policies and named locations read with Policy.Read.All and written with
// "Policy.Read.All and Policy.ReadWrite.ConditionalAccess"; authentication strengths read with
// Policy.Read.AuthenticationMethod (Policy.Read.All also does) and created with
// Policy.ReadWrite.ConditionalAccess; authentication contexts read with
// AuthenticationContext.Read.All (Policy.Read.All does not) and written with
// AuthenticationContext.ReadWrite.All.
func TestConditionalAccessPermissions(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"},
		graph.RequiredWritePermissions(graph.FamilyConditionalAccessPolicies, graph.FamilyNamedLocations))
	require.Equal(t, []string{"Policy.ReadWrite.ConditionalAccess"}, graph.RequiredWritePermissions(graph.FamilyAuthenticationStrengthPolicies))
	require.Equal(t, []string{"AuthenticationContext.ReadWrite.All"}, graph.RequiredWritePermissions(graph.FamilyAuthenticationContextClassReferences))
	c, ok := graph.Lookup("conditionalAccessPolicies.create")
	require.True(t, ok)
	require.Equal(t, graph.V1, c.Version)
	require.Equal(t, "/identity/conditionalAccess/policies", c.Path)
	require.Equal(t, "Policy.ReadWrite.ConditionalAccess", c.Permission)
	require.Equal(t, "Policy.Read.All", c.AlsoRequires)
	_, ok = graph.Lookup("authenticationContextClassReferences.create")
	require.False(t, ok, "contexts are created by PATCHing their id")
	require.True(t, graph.Granted([]string{"Policy.Read.All"}, "Policy.Read.AuthenticationMethod"))
	require.False(t, graph.Granted([]string{"Policy.Read.All"}, "AuthenticationContext.Read.All"))
	require.True(t, graph.Granted([]string{"Policy.ReadWrite.ConditionalAccess"}, "AuthenticationContext.Read.All"))
	require.Contains(t, graph.IntuneFamilies(), graph.FamilyConditionalAccessPolicies, "backed up like the Intune families")
}

// TestLeastPrivilegedPermissions: scope tags are read and written with
// DeviceManagementConfiguration.* (docs:intune-rbac-rolescopetag-list/-create list it as least
// privileged), a group is created with Group.Create (v1.0 docs group-post-groups).
func TestLeastPrivilegedPermissions(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"DeviceManagementConfiguration.Read.All"}, graph.RequiredPermissions(graph.FamilyRoleScopeTags))
	require.Equal(t, []string{"DeviceManagementConfiguration.ReadWrite.All"}, graph.RequiredWritePermissions(graph.FamilyRoleScopeTags))
	c, ok := graph.Lookup("groups.create")
	require.True(t, ok)
	require.Equal(t, "Group.Create", c.Permission)
	require.True(t, graph.Granted([]string{"Group.ReadWrite.All"}, "Group.Create"))
	require.False(t, graph.Granted([]string{"Group.Read.All"}, "Group.Create"))
}

func TestGranted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles []string
		perm  string
		want  bool
	}{
		{[]string{"Group.Read.All"}, "Group.Read.All", true},
		{[]string{"Group.ReadWrite.All"}, "Group.Read.All", true},
		{[]string{"GroupMember.Read.All"}, "Group.Read.All", true},
		{[]string{"Directory.Read.All"}, "Group.Read.All", true},
		{[]string{"Directory.ReadWrite.All"}, "RoleManagement.Read.Directory", true},
		{[]string{"RoleManagement.ReadWrite.Directory"}, "RoleManagement.Read.Directory", true},
		{[]string{"DeviceManagementConfiguration.ReadWrite.All"}, "DeviceManagementConfiguration.Read.All", true},
		{[]string{"DeviceManagementConfiguration.Read.All"}, "DeviceManagementConfiguration.ReadWrite.All", false},
		{[]string{"Directory.Read.All"}, "DeviceManagementConfiguration.Read.All", false},
		{nil, "Group.Read.All", false},
		{nil, "", true},
	} {
		require.Equal(t, tc.want, graph.Granted(tc.roles, tc.perm), "%v grants %s", tc.roles, tc.perm)
	}
	require.Equal(t, []string{"DeviceManagementApps.Read.All"},
		graph.MissingPermissions([]string{"Group.Read.All"}, []string{"Group.Read.All", "DeviceManagementApps.Read.All"}))
}
