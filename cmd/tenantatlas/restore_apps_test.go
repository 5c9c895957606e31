package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// TestCLIRestorePreviewAppsAndRoleAssignments: `restore preview` shows the families of issue #18
// like the others and says why an item cannot be restored: a Win32 app whose package is not in
// the backup (not created as an empty shell), a role assignment whose admin group and role cannot
// be mapped (blocked); a missing web link is created under its own name.
func TestCLIRestorePreviewAppsAndRoleAssignments(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("s3cret-value", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	ctx := context.Background()
	db, err := store.Open(ctx, c.env["TENANTATLAS_DATABASE_URL"], store.Options{})
	require.NoError(t, err)
	defer db.Close()
	tenants, err := store.FindTenants(ctx, db.Pool, []int64{storetest.DefaultWorkspace(ctx, t, db.Pool).ID}, "contoso")
	require.NoError(t, err)
	require.Len(t, tenants, 1)
	set := storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: tenants[0].ID,
		Families: []string{"mobileApps", "roleAssignments"}, Items: []store.BackupItemRow{
			{Family: "mobileApps", GraphID: "app-1", PolicyType: "mobileApp", DisplayName: "Contoso VPN", ODataType: "#microsoft.graph.win32LobApp",
				PayloadHash: "cli-app-1", Payload: []byte(`{"object":{"@odata.type":"#microsoft.graph.win32LobApp","displayName":"Contoso VPN",` +
					`"fileName":"vpn.intunewin","installCommandLine":"setup.exe /quiet"}}`)},
			{Family: "mobileApps", GraphID: "app-2", PolicyType: "mobileApp", DisplayName: "Contoso intranet", ODataType: "#microsoft.graph.webApp",
				PayloadHash: "cli-app-2", Payload: []byte(`{"object":{"@odata.type":"#microsoft.graph.webApp","displayName":"Contoso intranet",` +
					`"appUrl":"https://intranet.contoso.com"}}`)},
			{Family: "roleAssignments", GraphID: "ra-1", PolicyType: "roleAssignments", DisplayName: "Help desk (EMEA)",
				ODataType: "#microsoft.graph.deviceAndAppManagementRoleAssignment", PayloadHash: "cli-ra-1",
				Payload: []byte(`{"object":{"displayName":"Help desk (EMEA)","members":["g-9"],"resourceScopes":[],"scopeType":"allDevices",` +
					`"roleDefinition":{"id":"rd-1","displayName":"Help Desk Operator","isBuiltIn":true}},"references":{"groups":{"g-9":"Help desk admins"}}}`)},
		}})

	out := c.ok("restore", "preview", "--backup", fmt.Sprint(set.ID), "--tenant", "contoso")
	require.Contains(t, out, "1 create, 0 update, 2 skip")
	require.Contains(t, out, "cannot restore: not created: package not in backup — upload the app to the target, then restore again to apply its metadata and assignments")
	require.Contains(t, out, `admin group "Help desk admins" (g-9) unresolved`)
	require.Contains(t, out, `built-in role definition "Help Desk Operator" (rd-1) unresolved`)
	require.Contains(t, out, "would change who administers what")
	require.Regexp(t, `create\s+Contoso intranet\s+mobileApps`, out, "a web link is created under its own name")
	require.Contains(t, out, "note: does not round-trip whole: the package binaries")
}
