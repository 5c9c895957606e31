package graph_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

func TestRestoreWrites(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	c := b.client

	// Settings catalog: create with settings, PUT replaces the whole policy.
	raw, err := c.Post(ctx, "configurationPolicies.create", nil, map[string]any{
		"name": "Restored SC", "platforms": "windows10", "technologies": "mdm",
		"settings": []any{map[string]any{"settingInstance": map[string]any{"settingDefinitionId": "a"}}}})
	require.NoError(t, err)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal(raw, &created))
	_, err = c.Put(ctx, "configurationPolicies.replace", []string{created.ID}, map[string]any{
		"name": "Restored SC v2", "settings": []any{map[string]any{"id": "0"}, map[string]any{"id": "1"}}})
	require.NoError(t, err)
	n := 0
	for _, err := range c.List(ctx, "configurationPolicies.settings", []string{created.ID}, nil) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 2, n)

	// PATCH in place, then assign replaces the whole set.
	id := b.tenant.Policies(graph.FamilyDeviceConfigurations)[0]["id"].(string)
	out, err := c.Patch(ctx, "deviceConfigurations.update", []string{id}, json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","description":"patched"}`))
	require.NoError(t, err)
	require.Nil(t, out, "204 No Content")
	_, err = c.Post(ctx, "deviceConfigurations.assign", []string{id}, map[string]any{"assignments": []any{
		map[string]any{"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": b.tenant.GroupID(5)}}}})
	require.NoError(t, err)
	got, err := b.tenant.Assignments(graph.FamilyDeviceConfigurations, id)
	require.NoError(t, err)
	require.Len(t, got, 1, "assign replaces the 30 assignments")

	// Enrollment: custom priority via setPriority; the defaults are immutable there.
	var custom, def string
	for _, p := range b.tenant.Policies(graph.FamilyDeviceEnrollmentConfigurations) {
		if strings.HasSuffix(p["id"].(string), "_DefaultLimit") {
			def = p["id"].(string)
		} else if custom == "" && p["priority"] != 0 {
			custom = p["id"].(string)
		}
	}
	_, err = c.Post(ctx, "deviceEnrollmentConfigurations.setPriority", []string{custom}, map[string]any{"priority": 3})
	require.NoError(t, err)
	_, err = c.Post(ctx, "deviceEnrollmentConfigurations.setPriority", []string{def}, map[string]any{"priority": 3})
	require.Equal(t, reason.ProviderInvalidRequest, graph.ReasonOf(err))
	_, err = c.Post(ctx, "deviceEnrollmentConfigurations.assign", []string{custom}, map[string]any{"enrollmentConfigurationAssignments": []any{}})
	require.NoError(t, err)

	// Calling a contract with the wrong method is a programming error, not a Graph call.
	_, err = c.Post(ctx, "groups.list", nil, nil)
	require.Equal(t, reason.InternalError, graph.ReasonOf(err))
}

func TestRestoreValidationErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	enrollDefault := b.tenant.ID + "_DefaultLimit"
	var enrollCustom string
	for _, p := range b.tenant.Policies(graph.FamilyDeviceEnrollmentConfigurations) {
		if p["priority"] != 0 {
			enrollCustom = p["id"].(string)
			break
		}
	}
	for _, tc := range []struct {
		name     string
		contract string
		args     []string
		body     string
		code     string
	}{
		{"wrong @odata.type for the endpoint", "deviceCompliancePolicies.create", nil,
			`{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"x"}`, "ModelValidationFailure"},
		{"read-only id", "deviceConfigurations.create", nil,
			`{"@odata.type":"#microsoft.graph.windows10GeneralConfiguration","displayName":"x","id":"1"}`, "ModelValidationFailure"},
		{"read-only createdDateTime", "assignmentFilters.create", nil,
			`{"displayName":"x","createdDateTime":"2024-01-01T00:00:00Z"}`, "ModelValidationFailure"},
		{"abstract type", "deviceConfigurations.create", nil, `{"displayName":"x"}`, "ModelValidationFailure"},
		{"encrypted OMA value", "deviceConfigurations.create", nil,
			`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"secretReferenceValueId":"abc"}]}`, "NotSupported"},
		{"missing name", "configurationPolicies.create", nil, `{"platforms":"windows10"}`, "ModelValidationFailure"},
		{"assign with the wrong body key", "deviceEnrollmentConfigurations.assign", []string{enrollCustom}, `{"assignments":[]}`, "ModelValidationFailure"},
		{"assign to an enrollment default", "deviceEnrollmentConfigurations.assign", []string{enrollDefault},
			`{"enrollmentConfigurationAssignments":[]}`, "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.client.Post(context.Background(), tc.contract, tc.args, json.RawMessage(tc.body))
			var ge *graph.Error
			require.ErrorAs(t, err, &ge)
			require.Equal(t, reason.ProviderInvalidRequest, ge.Reason, err.Error())
			require.Equal(t, 400, ge.Status)
			require.Equal(t, tc.code, ge.GraphCode)
			require.NotContains(t, ge.Message, "_version", "Intune's inner Message is unwrapped")
		})
	}
}

func TestPermissionAndLicenseErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		profile  string
		prepare  func(*graphsim.Tenant)
		contract string
		want     reason.Code
		missing  []string
	}{
		{name: "lost-permission profile blocks Intune inventory", profile: graphsim.ProfileLostPermission, contract: "configurationPolicies.probe",
			want: reason.ProviderPermissionDenied, missing: []string{"DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"}},
		{name: "directory 403 names the contract permission", prepare: func(t *graphsim.Tenant) { t.RemoveRoles("Group.Read.All", "Group.ReadWrite.All") },
			contract: "groups.probe", want: reason.ProviderPermissionDenied, missing: []string{"Group.Read.All"}},
		{name: "Directory.Read.All reads role definitions", prepare: func(t *graphsim.Tenant) { t.SetRoles([]string{"Directory.Read.All"}) },
			contract: "directoryRoleDefinitions.probe"},
		{name: "ReadWrite implies Read", prepare: func(t *graphsim.Tenant) { t.SetRoles([]string{"DeviceManagementServiceConfig.ReadWrite.All"}) },
			contract: "deviceEnrollmentConfigurations.probe"},
		{name: "unlicensed tenant", prepare: func(t *graphsim.Tenant) { t.SetIntuneLicensed(false) },
			contract: "deviceConfigurations.probe", want: reason.ProviderLicenseMissing},
		{name: "not found", contract: "groups.get", want: reason.ProviderNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{spec: graphsim.TenantSpec{Profile: tc.profile}})
			if tc.prepare != nil {
				tc.prepare(b.tenant)
			}
			c := b.newClient(t, b.tenant.Credentials(), setupOpts{}) // a token with the new roles
			var args []string
			if tc.contract == "groups.get" {
				args = []string{"00000000-0000-4000-8000-000000000000"}
			}
			_, err := c.Get(ctx, tc.contract, args, nil)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			var ge *graph.Error
			require.ErrorAs(t, err, &ge)
			require.Equal(t, tc.want, ge.Reason, err.Error())
			require.Equal(t, tc.missing, ge.MissingPermissions)
			for _, p := range tc.missing {
				require.Contains(t, ge.Hint(), p)
				require.Contains(t, err.Error(), p)
			}
		})
	}
}

// TestDeleteChild: Delete sends a DELETE without a body and answers nil on 204; deleting what is
// not there is provider_not_found (the restore treats it as already done).
func TestDeleteChild(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	profile := b.tenant.Policies(graph.FamilyWindowsAutopilotDeploymentProfiles)[0]["id"].(string)
	as, err := b.tenant.Assignments(graph.FamilyWindowsAutopilotDeploymentProfiles, profile)
	require.NoError(t, err)
	require.NotEmpty(t, as)
	id := as[0]["id"].(string)
	require.NoError(t, b.client.Delete(ctx, "windowsAutopilotDeploymentProfiles.deleteAssignment", []string{profile, id}))
	after, err := b.tenant.Assignments(graph.FamilyWindowsAutopilotDeploymentProfiles, profile)
	require.NoError(t, err)
	require.Len(t, after, len(as)-1)
	err = b.client.Delete(ctx, "windowsAutopilotDeploymentProfiles.deleteAssignment", []string{profile, id})
	require.Equal(t, reason.ProviderNotFound, graph.ReasonOf(err))
	for _, r := range b.tenant.Requests() {
		if r.Contract == "windowsAutopilotDeploymentProfiles.deleteAssignment" {
			require.Equal(t, "DELETE", r.Method)
			require.Empty(t, r.Body)
		}
	}
}
