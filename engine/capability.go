package engine

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

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w: unknown role %q (expected owner, manager, operator or readonly)", ErrInvalid, s)
}

// Capability is something a role allows. These constants are the only capability names in the code.
type Capability string

const (
	CapTenantView     Capability = "tenant.view"
	CapDirectorySync  Capability = "directory.sync"
	CapInventorySync  Capability = "inventory.sync"
	CapProviderVerify Capability = "provider.verify"
	CapBackupRun      Capability = "backup.run"
	CapRestoreExecute Capability = "restore.execute"
	CapScheduleManage Capability = "schedule.manage"
	CapTenantManage   Capability = "tenant.manage"
	CapMemberManage   Capability = "member.manage"
)

// Capabilities lists every capability in the order of DESIGN §2's table.
var Capabilities = []Capability{CapTenantView, CapDirectorySync, CapInventorySync, CapProviderVerify, CapBackupRun,
	CapRestoreExecute, CapScheduleManage, CapTenantManage, CapMemberManage}

// roleCapabilities is the capability table of DESIGN §2, the one place it exists.
var roleCapabilities = map[Role]map[Capability]bool{
	RoleOwner: set(CapTenantView, CapDirectorySync, CapInventorySync, CapProviderVerify, CapBackupRun,
		CapRestoreExecute, CapScheduleManage, CapTenantManage, CapMemberManage),
	RoleManager: set(CapTenantView, CapDirectorySync, CapInventorySync, CapProviderVerify, CapBackupRun,
		CapRestoreExecute, CapScheduleManage, CapTenantManage),
	RoleOperator: set(CapTenantView, CapDirectorySync, CapInventorySync, CapProviderVerify, CapBackupRun),
	RoleReadonly: set(CapTenantView),
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
