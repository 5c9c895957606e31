package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
)

// TestOperationPermissions: what an operation needs comes from the families it reads and those it
// reads only for names — a backup names assignment groups with groups.get, so it needs Group.Read.All
// although groups are no family it backs up; an operation that names nothing gets no more than its
// families' permissions.
func TestOperationPermissions(t *testing.T) {
	t.Parallel()
	byType := map[string]engine.Operation{}
	for _, op := range engine.Operations() {
		byType[op.Type] = op
	}
	tests := []struct {
		op       string
		has, not []string
	}{
		{op: engine.TypeBackupRun, has: []string{"Group.Read.All", "DeviceManagementConfiguration.Read.All"}, not: []string{"RoleManagement.Read.Directory"}},
		{op: engine.TypeBackupScheduled, has: []string{"Group.Read.All", "DeviceManagementConfiguration.Read.All"}},
		{op: engine.TypeInventorySync, has: []string{"DeviceManagementConfiguration.Read.All"}, not: []string{"Group.Read.All"}},
		{op: engine.TypeDirectoryGroupsSync, has: []string{"Group.Read.All"}, not: []string{"DeviceManagementConfiguration.Read.All"}},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			t.Parallel()
			op, ok := byType[tc.op]
			require.True(t, ok)
			perms := op.Permissions()
			for _, p := range tc.has {
				require.Contains(t, perms, p)
			}
			for _, p := range tc.not {
				require.NotContains(t, perms, p)
			}
			require.IsNonDecreasing(t, perms)
		})
	}
}
