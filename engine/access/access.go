// Package access holds who may do what: the workspace roles, the capabilities they grant and the
// one table that maps the first to the second (docs/design.md#domain). The engine's authorization helpers and
// the dashboard's enabled/disabled keys both read it.
package access

import "fmt"

// Role is a member's role in a workspace.
type Role string

const (
	RoleOwner    Role = "owner"
	RoleManager  Role = "manager"
	RoleOperator Role = "operator"
	RoleReadonly Role = "readonly"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleManager, RoleOperator, RoleReadonly}

// ParseRole validates a role name. Its error names the valid roles; the engine wraps it as an
// invalid request.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (expected owner, manager, operator or readonly)", s)
}

// Capability is something a role allows. These constants are the only capability names in the code.
type Capability string

const (
	TenantView     Capability = "tenant.view"
	DirectorySync  Capability = "directory.sync"
	InventorySync  Capability = "inventory.sync"
	ProviderVerify Capability = "provider.verify"
	BackupRun      Capability = "backup.run"
	RestoreExecute Capability = "restore.execute"
	ScheduleManage Capability = "schedule.manage"
	TenantManage   Capability = "tenant.manage"
	MemberManage   Capability = "member.manage"
	// RetentionManage sets how long a workspace keeps its history (and its audit trail) and prunes now.
	RetentionManage Capability = "retention.manage"
	// AlertManage: add, edit and remove alert rules and routes; acknowledge and silence incidents.
	AlertManage Capability = "alert.manage"
)

// Capabilities lists every capability in the order of the table in docs/architecture.md#roles-and-capabilities.
var Capabilities = []Capability{TenantView, DirectorySync, InventorySync, ProviderVerify, BackupRun,
	RestoreExecute, ScheduleManage, TenantManage, MemberManage, RetentionManage, AlertManage}

// roleCapabilities is the capability table of docs/architecture.md#roles-and-capabilities, the one place it exists.
var roleCapabilities = map[Role]map[Capability]bool{
	RoleOwner: set(TenantView, DirectorySync, InventorySync, ProviderVerify, BackupRun,
		RestoreExecute, ScheduleManage, TenantManage, MemberManage, RetentionManage, AlertManage),
	RoleManager: set(TenantView, DirectorySync, InventorySync, ProviderVerify, BackupRun,
		RestoreExecute, ScheduleManage, TenantManage, AlertManage),
	RoleOperator: set(TenantView, DirectorySync, InventorySync, ProviderVerify, BackupRun),
	RoleReadonly: set(TenantView),
}

func set(caps ...Capability) map[Capability]bool {
	m := make(map[Capability]bool, len(caps))
	for _, c := range caps {
		m[c] = true
	}
	return m
}

// Can reports whether role grants capability.
func (r Role) Can(c Capability) bool { return roleCapabilities[r][c] }
