package intune_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
)

// TestClassify: items of a collection's declared type carry no @odata.type under minimal metadata
// (OData JSON 4.01 §4.5.3) and are classified by the declared type; derived types by their
// @odata.type; an unknown derived type is unknown; targeted app configurations listed by
// managedAppPolicies belong to their own family (IM).
func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    graph.Family
		obj  map[string]any
		want string
	}{
		{graph.FamilyConfigurationPolicies, map[string]any{"name": "x"}, "settingsCatalog"},
		{graph.FamilyConfigurationPolicies, map[string]any{"templateReference": map[string]any{"templateFamily": "endpointSecurityAntivirus"}}, "endpointSecurity"},
		{graph.FamilyDeviceManagementScripts, map[string]any{}, "deviceManagementScripts"},
		{graph.FamilyAssignmentFilters, map[string]any{}, "assignmentFilters"},
		{graph.FamilyRoleScopeTags, map[string]any{}, "roleScopeTags"},
		{graph.FamilyIntents, map[string]any{}, "intents"},
		{graph.FamilyTargetedManagedAppConfigurations, map[string]any{}, "targetedManagedAppConfigurations"},
		{graph.FamilyManagedAppPolicies, map[string]any{"@odata.type": "#microsoft.graph.windowsManagedAppProtection"}, "appProtectionWindows"},
		{graph.FamilyDeviceConfigurations, map[string]any{}, intune.PolicyTypeUnknown}, // abstract: a type is always present
		{graph.FamilyDeviceEnrollmentConfigurations, map[string]any{"@odata.type": "#microsoft.graph.deviceEnrollmentFutureConfiguration"}, intune.PolicyTypeUnknown},
		{graph.FamilyDeviceManagementScripts, map[string]any{"@odata.type": "#microsoft.graph.somethingElse"}, intune.PolicyTypeUnknown},
	} {
		require.Equal(t, tc.want, intune.Classify(tc.f, tc.obj).PolicyType, "%s %v", tc.f, tc.obj)
	}
	d := intune.DescriptorOf(graph.FamilyManagedAppPolicies)
	require.True(t, d.Skip(map[string]any{"@odata.type": "#microsoft.graph.targetedManagedAppConfiguration"}))
	col, ok := d.Collection("#microsoft.graph.windowsManagedAppProtection")
	require.True(t, ok)
	require.Equal(t, "windowsManagedAppProtections", col)
}

// TestEveryFamilyHasADescriptor: backup, restore and drift read one descriptor per family.
func TestEveryFamilyHasADescriptor(t *testing.T) {
	t.Parallel()
	for _, f := range graph.IntuneFamilies() {
		d := intune.DescriptorOf(f)
		require.NotNil(t, d, f)
		require.NotEmpty(t, d.DeclaredType, f)
		for _, c := range d.Children {
			_, ok := graph.Lookup(c.Contract)
			require.True(t, ok, "%s child %s in the registry", f, c.Contract)
		}
	}
	require.True(t, intune.DescriptorOf(graph.FamilyRoleScopeTags).IsBuiltIn(map[string]any{"id": "0", "isBuiltIn": true}))
	require.True(t, intune.DescriptorOf(graph.FamilyDeviceHealthScripts).IsBuiltIn(map[string]any{"isGlobalScript": true}))
	require.False(t, intune.DescriptorOf(graph.FamilyDeviceHealthScripts).IsBuiltIn(map[string]any{"isGlobalScript": false}))
}
