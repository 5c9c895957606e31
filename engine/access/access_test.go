package access

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCapabilityTable pins the table in docs/architecture.md#roles-and-capabilities: each role's capabilities, most powerful role first.
func TestCapabilityTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		role Role
		can  []Capability
	}{
		{RoleOwner, Capabilities},
		{RoleManager, []Capability{TenantView, DirectorySync, InventorySync, ProviderVerify, BackupRun, RestoreExecute, ScheduleManage, TenantManage, AlertManage}},
		{RoleOperator, []Capability{TenantView, DirectorySync, InventorySync, ProviderVerify, BackupRun}},
		{RoleReadonly, []Capability{TenantView}},
		{Role(""), nil},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			t.Parallel()
			var got []Capability
			for _, c := range Capabilities {
				if tc.role.Can(c) {
					got = append(got, c)
				}
			}
			require.Equal(t, tc.can, got)
		})
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range Roles {
		got, err := ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	_, err := ParseRole("admin")
	require.ErrorContains(t, err, `unknown role "admin" (expected owner, manager, operator or readonly)`)
}
