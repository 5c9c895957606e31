package graphsim

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// POST /groups as group-post-groups.md describes it: the group keeps the kind it was created with.
func TestGroupCreateFollowsTheDocs(t *testing.T) {
	t.Parallel()
	b := setup(t, TenantSpec{PoliciesPerFamily: 1, Groups: 10})
	tok := b.token(t)
	for _, tc := range []struct {
		name     string
		body     map[string]any
		status   int
		contains string
	}{
		{"dynamic device group", map[string]any{"displayName": "Autopilot devices", "mailEnabled": false, "mailNickname": "autopilot-devices",
			"securityEnabled": true, "groupTypes": []any{"DynamicMembership"}, "membershipRule": `(device.devicePhysicalIds -any (_ -contains "[ZTDId]"))`,
			"membershipRuleProcessingState": "On"}, 201, ""},
		{"assigned security group", map[string]any{"displayName": "Pilot", "mailEnabled": false, "mailNickname": "pilot", "securityEnabled": true}, 201, ""},
		{"Microsoft 365 group", map[string]any{"displayName": "Library Assist", "mailEnabled": true, "mailNickname": "library",
			"securityEnabled": false, "groupTypes": []any{"Unified"}}, 201, ""},
		{"space in the mail nickname", map[string]any{"displayName": "x", "mailEnabled": false, "mailNickname": "two words", "securityEnabled": true},
			400, "'mailNickname'"},
		{"dynamic without a rule", map[string]any{"displayName": "x", "mailEnabled": false, "mailNickname": "x", "securityEnabled": true,
			"groupTypes": []any{"DynamicMembership"}}, 400, "'membershipRule'"},
		{"role-assignable dynamic group", map[string]any{"displayName": "x", "mailEnabled": false, "mailNickname": "x", "securityEnabled": true,
			"groupTypes": []any{"DynamicMembership"}, "membershipRule": "(user.department -eq \"HR\")", "isAssignableToRole": true}, 400, "'isAssignableToRole'"},
		{"missing securityEnabled", map[string]any{"displayName": "x", "mailEnabled": false, "mailNickname": "x"}, 400, "A value is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out map[string]any
			status := b.send(t, http.MethodPost, "/v1.0/groups", tok, tc.body, &out)
			require.Equal(t, tc.status, status, "%v", out)
			if tc.status != 201 {
				require.Contains(t, fmt.Sprint(out["error"]), tc.contains)
				return
			}
			var got map[string]any
			require.Equal(t, http.StatusOK, b.send(t, http.MethodGet, "/v1.0/groups/"+fmt.Sprint(out["id"]), tok, nil, &got))
			for _, k := range []string{"displayName", "mailNickname", "mailEnabled", "securityEnabled", "membershipRule"} {
				require.Equal(t, fmt.Sprint(tc.body[k]), fmt.Sprint(got[k]), k)
			}
			types := fmt.Sprint(got["groupTypes"])
			if tc.body["groupTypes"] == nil {
				require.Equal(t, "[]", types)
			} else {
				require.Equal(t, fmt.Sprint(tc.body["groupTypes"]), types)
			}
		})
	}
}
