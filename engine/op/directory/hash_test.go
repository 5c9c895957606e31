package directory

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupContentHash: the hash that decides whether a cached group is rewritten changes with every
// synced field (a null is not an empty value) and not with key order or whitespace.
func TestGroupContentHash(t *testing.T) {
	t.Parallel()
	const base = `{"id":"g1","displayName":"Sales","description":"d","groupTypes":["Unified"],"securityEnabled":true,` +
		`"mailEnabled":false,"membershipRule":null,"membershipRuleProcessingState":null,"onPremisesSyncEnabled":null,` +
		`"isAssignableToRole":false,"createdDateTime":"2024-01-02T03:04:05Z"}`
	tests := []struct {
		name string
		raw  string
		same bool
	}{
		{name: "identical", raw: base, same: true},
		{name: "reordered with whitespace", same: true, raw: `{ "displayName": "Sales", "id": "g1", "description": "d",
			"groupTypes": ["Unified"], "securityEnabled": true, "mailEnabled": false, "isAssignableToRole": false,
			"createdDateTime": "2024-01-02T03:04:05Z" }`},
		{name: "renamed", raw: strings.ReplaceAll(base, `"Sales"`, `"Sales EU"`)},
		{name: "description emptied", raw: strings.ReplaceAll(base, `"description":"d"`, `"description":""`)},
		{name: "description null", raw: strings.ReplaceAll(base, `"description":"d"`, `"description":null`)},
		{name: "group type removed", raw: strings.ReplaceAll(base, `["Unified"]`, `[]`)},
		{name: "group type added", raw: strings.ReplaceAll(base, `["Unified"]`, `["Unified","DynamicMembership"]`)},
		{name: "security disabled", raw: strings.ReplaceAll(base, `"securityEnabled":true`, `"securityEnabled":false`)},
		{name: "mail unknown", raw: strings.ReplaceAll(base, `"mailEnabled":false`, `"mailEnabled":null`)},
		{name: "rule set", raw: strings.ReplaceAll(base, `"membershipRule":null`, `"membershipRule":"user.department -eq \"Sales\""`)},
		{name: "rule paused", raw: strings.ReplaceAll(base, `"membershipRuleProcessingState":null`, `"membershipRuleProcessingState":"Paused"`)},
		{name: "synced from on-premises", raw: strings.ReplaceAll(base, `"onPremisesSyncEnabled":null`, `"onPremisesSyncEnabled":true`)},
		{name: "role-assignable", raw: strings.ReplaceAll(base, `"isAssignableToRole":false`, `"isAssignableToRole":true`)},
		{name: "created later", raw: strings.ReplaceAll(base, `03:04:05Z`, `03:04:06Z`)},
		{name: "fields shifted between neighbours", raw: strings.ReplaceAll(base, `"displayName":"Sales","description":"d"`, `"displayName":"Salesd","description":""`)},
	}
	want, err := decodeGroup([]byte(base))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeGroup([]byte(tt.raw))
			require.NoError(t, err)
			if tt.same {
				require.Equal(t, want.ContentHash, got.ContentHash)
			} else {
				require.NotEqual(t, want.ContentHash, got.ContentHash)
			}
		})
	}
}
