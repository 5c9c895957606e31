package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// seedRestoreSet writes a complete backup set of contoso with one device configuration.
func seedRestoreSet(t *testing.T, c *cli) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, c.env["TENANTATLAS_DATABASE_URL"], store.Options{})
	require.NoError(t, err)
	defer db.Close()
	tenants, err := store.FindTenants(ctx, db.Pool, []int64{storetest.DefaultWorkspace(ctx, t, db.Pool).ID}, "contoso")
	require.NoError(t, err)
	require.Len(t, tenants, 1)
	set := storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: tenants[0].ID, Families: []string{"deviceConfigurations"},
		Items: []store.BackupItemRow{{Family: "deviceConfigurations", GraphID: "dc-1",
			PolicyType: "deviceConfiguration", DisplayName: "Baseline", ODataType: "#microsoft.graph.windows10GeneralConfiguration",
			PayloadHash: "cli-restore-hash", Payload: []byte(`{"object":{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration",` +
				`"displayName":"Baseline","passwordRequired":true},"assignments":[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget",` +
				`"groupId":"g-1"}}],"references":{"groups":{"g-1":"Sales Team"}}}`)}}})
	return set.ID
}

func TestCLIRestore(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("s3cret-value", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	set := fmt.Sprint(seedRestoreSet(t, c))

	var pv struct {
		Mode       string `json:"mode"`
		Creates    int    `json:"creates"`
		Unresolved int    `json:"unresolved"`
		Items      []struct {
			Action     string `json:"action"`
			TargetName string `json:"target_name"`
			Mapping    []struct {
				SourceName string `json:"source_name"`
				Status     string `json:"status"`
			} `json:"mapping"`
		} `json:"items"`
	}
	c.jsonOut(&pv, "restore", "preview", "--backup", set, "--tenant", "contoso")
	require.Equal(t, "create_copy", pv.Mode)
	require.Equal(t, 1, pv.Creates)
	require.Equal(t, 1, pv.Unresolved, "the group is not in the (never synced) cache")
	require.Equal(t, "unresolved", pv.Items[0].Mapping[0].Status)
	require.Equal(t, "Sales Team", pv.Items[0].Mapping[0].SourceName)
	require.Contains(t, pv.Items[0].TargetName, "Baseline (restored ")

	out := c.ok("restore", "preview", "--backup", set, "--tenant", "contoso", "--item", "dc-1")
	require.Contains(t, out, "1 create, 0 update, 0 skip, 1 unresolved")
	require.Contains(t, out, `group include "Sales Team" (g-1): UNRESOLVED`)
	require.Contains(t, out, "groups were never synced")

	var started struct {
		ID        int64  `json:"id"`
		Type      string `json:"type"`
		Status    string `json:"status"`
		RestoreID int64  `json:"restore_id"`
		Created   bool   `json:"created"`
	}
	c.jsonOut(&started, "restore", "run", "--backup", set, "--tenant", "contoso")
	require.Equal(t, "restore.execute", started.Type)
	require.Equal(t, "queued", started.Status)
	require.NotZero(t, started.RestoreID)
	require.True(t, started.Created)

	r = c.run("", "users", "add", "viewer")
	require.Equal(t, 0, r.code, r.stderr)
	r = c.run("", "members", "add", "default", "viewer", "operator")
	require.Equal(t, 0, r.code, r.stderr)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"restore", "preview", "--tenant", "contoso"}, 2, "--backup SET and --tenant T are required"},
		{[]string{"restore", "run", "--backup", set, "--tenant", "contoso", "--mode", "merge"}, 2, "expected create_copy or overwrite"},
		{[]string{"restore", "run", "--backup", set, "--tenant", "contoso", "--ca-state", "enabled"}, 2, "--ca-state \"enabled\": expected report_only or original"},
		{[]string{"restore", "preview", "--backup", "999", "--tenant", "contoso"}, 4, "backup set 999"},
		{[]string{"restore", "preview", "--backup", set, "--tenant", "contoso", "--item", "nope"}, 2, `item "nope" is not in backup set`},
		{[]string{"restore", "run", "--backup", set, "--tenant", "contoso", "--as", "viewer"}, 3, "restore.execute"},
	} {
		r := c.run("", tc.args...)
		require.Equal(t, tc.code, r.code, "%v: %s", tc.args, r.stderr)
		require.Contains(t, r.stderr, tc.msg)
	}
}
