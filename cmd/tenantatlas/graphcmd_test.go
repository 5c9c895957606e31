package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// TestGraphContracts: `graph contracts --json` prints the whole registry, each call with its
// permission and family — the registry README's permission table is generated from.
func TestGraphContracts(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{}}
	var out []graphContract
	c.jsonOut(&out, "graph", "contracts")
	require.Len(t, out, len(graph.Contracts()))
	byName := map[string]graphContract{}
	for _, gc := range out {
		byName[gc.Name] = gc
	}
	for _, ct := range graph.Contracts() {
		gc, ok := byName[ct.Name]
		require.True(t, ok, ct.Name)
		require.Equal(t, ct.Permission, gc.Permission, ct.Name)
		require.Equal(t, string(ct.Family), gc.Family, ct.Name)
		require.Equal(t, ct.Method, gc.Method, ct.Name)
	}
	require.Equal(t, "Group.Create", byName["groups.create"].Permission)
	require.Equal(t, "DeviceManagementConfiguration.Read.All", byName["roleScopeTags.list"].Permission)
	require.Equal(t, "POST", byName["windowsAutopilotDeploymentProfiles.createAssignment"].Method)
	table := c.ok("graph", "contracts")
	require.Contains(t, table, "NAME")
	require.Contains(t, table, "/deviceAppManagement/windowsManagedAppProtections/{id}/targetApps")
}
