package graphsim

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// POST /directoryObjects/getByIds as Learn directoryobject-getbyids describes it: up to 1,000 ids,
// ids that match nothing left out, the types filter honoured (case-insensitive), full objects with
// their @odata.type, Directory.Read.All required, and not counted by the Intune throttle model.
func TestGetByIDsFollowsTheDocs(t *testing.T) {
	t.Parallel()
	limits := IntuneThrottleLimits()
	srv, err := New(Options{Seed: 7, Tenants: []TenantSpec{{PoliciesPerFamily: 1, Groups: 1200}, {PoliciesPerFamily: 1, Groups: 10}},
		Throttle: &limits})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Close() })
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}, Timeout: 10 * time.Second}
	b := &testBundle{srv: srv, tenant: srv.Tenants()[0], http: hc}
	b.tenant.GrantRoles("Directory.Read.All")
	tok := b.token(t)
	deleted := b.tenant.GroupID(3)
	require.NoError(t, b.tenant.DeleteGroup(deleted))
	unknown := "00000000-0000-0000-0000-000000000001"

	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = b.tenant.GroupID(i)
		}
		return out
	}
	thousand := append(ids(998), unknown, b.tenant.GroupID(1100)) // 1,000 ids: group 3 deleted, one unknown
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		found  int
	}{
		{"1,000 ids, deleted and unknown left out", map[string]any{"ids": thousand, "types": []string{"group"}}, 200, 998},
		{"types is case-insensitive", map[string]any{"ids": ids(5), "types": []string{"Group"}}, 200, 4},
		{"no types: every directory object", map[string]any{"ids": ids(5)}, 200, 4},
		{"directoryObject type", map[string]any{"ids": ids(5), "types": []string{"directoryObject"}}, 200, 4},
		{"other types find no group", map[string]any{"ids": ids(5), "types": []string{"user", "device"}}, 200, 0},
		{"1,001 ids", map[string]any{"ids": append(thousand, b.tenant.GroupID(1101)), "types": []string{"group"}}, 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out struct {
				Context string           `json:"@odata.context"`
				Value   []map[string]any `json:"value"`
				Error   *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.Equal(t, tc.status, b.send(t, http.MethodPost, "/v1.0/directoryObjects/getByIds", tok, tc.body, &out))
			if tc.status != 200 {
				require.Equal(t, "Request_BadRequest", out.Error.Code)
				require.Contains(t, out.Error.Message, "at most 1000")
				return
			}
			require.Contains(t, out.Context, "$metadata#directoryObjects")
			require.Len(t, out.Value, tc.found)
			for _, g := range out.Value {
				require.Equal(t, "#microsoft.graph.group", g["@odata.type"])
				require.NotEqual(t, deleted, g["id"])
				require.NotEqual(t, unknown, g["id"])
				var one map[string]any
				require.Equal(t, 200, b.send(t, http.MethodGet, "/v1.0/groups/"+g["id"].(string), tok, nil, &one))
				for _, k := range graph.GroupSelect {
					require.Equal(t, one[k], g[k], k)
				}
			}
		})
	}

	t.Run("Directory.Read.All required", func(t *testing.T) {
		t.Parallel()
		other := &testBundle{srv: srv, tenant: srv.Tenants()[1], http: b.http}
		require.True(t, graph.Granted(other.tenant.Roles(), "Group.Read.All"))
		var out errBody
		require.Equal(t, http.StatusForbidden, other.send(t, http.MethodPost, "/v1.0/directoryObjects/getByIds", other.token(t),
			map[string]any{"ids": []string{other.tenant.GroupID(0)}, "types": []string{"group"}}, &out))
		require.Equal(t, "Authorization_RequestDenied", out.Error.Code)
	})

	t.Run("a directory request, not an Intune one", func(t *testing.T) {
		t.Parallel()
		before := srv.throttleCount.requests.Load()
		require.Equal(t, 200, b.send(t, http.MethodPost, "/v1.0/directoryObjects/getByIds", tok, map[string]any{"ids": ids(2)}, nil))
		require.Equal(t, before, srv.throttleCount.requests.Load())
		require.Equal(t, 200, b.send(t, http.MethodGet, "/beta/deviceManagement/deviceConfigurations", tok, nil, nil))
		require.Equal(t, before+1, srv.throttleCount.requests.Load(), "an Intune request is counted")
	})
}
