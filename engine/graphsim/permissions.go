package graphsim

import (
	"slices"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Which application permissions Microsoft accepts for a call. The contract's own permission
// (the engine registry's choice) is always accepted; docsAccepted adds the other permissions
// Microsoft's permission tables list for the same call, so a least-privileged app the engine
// does not expect is answered as Graph answers it.
type acceptedPermissions struct{ read, write, create []string }

var docsAccepted = map[graph.Family]acceptedPermissions{
	// docs:intune-rbac-rolescopetag-list "DeviceManagementConfiguration.Read.All, …,
	// DeviceManagementRBAC.Read.All" (least to most privileged); intune-rbac-rolescopetag-create
	// "DeviceManagementConfiguration.ReadWrite.All, DeviceManagementRBAC.ReadWrite.All".
	graph.FamilyRoleScopeTags: {
		read:  []string{"DeviceManagementConfiguration.Read.All", "DeviceManagementRBAC.Read.All"},
		write: []string{"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementRBAC.ReadWrite.All"}},
	// v1.0 docs group-post-groups: "Application | Group.Create | Directory.ReadWrite.All,
	// Group.ReadWrite.All" — Group.Create creates groups and nothing else.
	graph.FamilyGroups: {create: []string{"Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All"}},
	// docs:intune-enrollment-windowsautopilotdeploymentprofile-assign: "DeviceManagementServiceConfig.ReadWrite.All,
	// DeviceManagementConfiguration.ReadWrite.All".
	graph.FamilyWindowsAutopilotDeploymentProfiles: {write: []string{"DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All"}},
	// docs:intune-mam-targetedmanagedappprotection-targetapps: "DeviceManagementConfiguration.ReadWrite.All,
	// DeviceManagementApps.ReadWrite.All".
	graph.FamilyManagedAppPolicies:               {write: []string{"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementApps.ReadWrite.All"}},
	graph.FamilyTargetedManagedAppConfigurations: {write: []string{"DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementApps.ReadWrite.All"}},
}

// permitted reports whether the token's roles allow the call.
func permitted(roles []string, c *graph.Contract) bool {
	if ok, handled := caPermitted(roles, c); handled {
		return ok
	}
	if graph.Granted(roles, c.Permission) {
		return true
	}
	acc := docsAccepted[c.Family]
	alts := acc.read
	if c.IsWrite() {
		alts = acc.write
		if c.Kind == graph.KindCreate && acc.create != nil {
			alts = acc.create
		}
	}
	return slices.ContainsFunc(alts, func(p string) bool { return graph.Granted(roles, p) })
}
