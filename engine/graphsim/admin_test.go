package graphsim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, TenantSpec{Groups: 10})
	tn := b.tenant
	base := "/_sim/tenants/" + tn.ID

	var infos []TenantInfo
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/_sim/tenants", "", nil, &infos).StatusCode)
	require.Len(t, infos, 1)
	require.Equal(t, tn.ClientSecret, infos[0].ClientSecret)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/_sim/tenants/nope", "", nil, nil).StatusCode)

	// Faults: a throttle answered with the documented body and Retry-After.
	tok := b.token(t)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, base+"/faults", "",
		strings.NewReader(`{"kind":"throttle","endpoint":"groups.list","count":1,"retryAfter":2}`), nil).StatusCode)
	var e struct {
		Error struct {
			Code, Message string
			InnerError    map[string]string
		}
	}
	resp := b.do(t, http.MethodGet, "/v1.0/groups", tok, nil, &e)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Equal(t, "TooManyRequests", e.Error.Code)
	require.Equal(t, "Please retry again later.", e.Error.Message)
	require.Equal(t, "429", e.Error.InnerError["status"])
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1.0/groups", tok, nil, nil).StatusCode, "count exhausted")
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, base+"/faults", "", strings.NewReader(`{"kind":"slow","delay":"10ms"}`), nil).StatusCode)
	require.Len(t, tn.Faults(), 1)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, base+"/faults", "", nil, nil).StatusCode)
	require.Empty(t, tn.Faults())

	// Group mutations.
	var created struct{ ID string }
	require.Equal(t, http.StatusCreated, b.do(t, http.MethodPost, base+"/groups", "", strings.NewReader(`{"displayName":"Added"}`), &created).StatusCode)
	require.Equal(t, 11, tn.GroupCount())
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPatch, base+"/groups/"+created.ID, "", strings.NewReader(`{"displayName":"Renamed"}`), nil).StatusCode)
	var g struct{ DisplayName string }
	b.do(t, http.MethodGet, "/v1.0/groups/"+created.ID, tok, nil, &g)
	require.Equal(t, "Renamed", g.DisplayName)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, base+"/groups/"+created.ID, "", nil, nil).StatusCode)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodDelete, base+"/groups/"+created.ID, "", nil, nil).StatusCode)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPost, base+"/delta/expire", "", strings.NewReader(`{}`), nil).StatusCode)

	// Policy mutations.
	fam := "/policies/" + string(graph.FamilyAssignmentFilters)
	require.Equal(t, http.StatusCreated, b.do(t, http.MethodPost, base+fam, "", strings.NewReader(`{"displayName":"Portal edit"}`), &created).StatusCode)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPatch, base+fam+"/"+created.ID, "", strings.NewReader(`{"rule":"(device.model -eq \"X\")"}`), nil).StatusCode)
	var pols []map[string]any
	b.do(t, http.MethodGet, base+fam, "", nil, &pols)
	require.Equal(t, `(device.model -eq "X")`, pols[len(pols)-1]["rule"])
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, base+fam+"/"+created.ID, "", nil, nil).StatusCode)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodDelete, base+fam+"/"+created.ID, "", nil, nil).StatusCode)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, base+"/policies/groups", "", strings.NewReader(`{}`), nil).StatusCode)
	sc := tn.Policies(graph.FamilyConfigurationPolicies)[0]["id"].(string)
	var kids []map[string]any
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, base+"/policies/configurationPolicies/"+sc+"/children/settings", "", nil, &kids).StatusCode)
	require.NotEmpty(t, kids)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, base+"/policies/configurationPolicies/"+sc+"/assignments", "", nil, &kids).StatusCode)
	require.NotEmpty(t, kids)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, base+"/policies/configurationPolicies/nope/assignments", "", nil, nil).StatusCode)

	// Roles, licence, sign-in faults, certificate.
	var roles []string
	b.do(t, http.MethodDelete, base+"/roles/Group.ReadWrite.All", "", nil, &roles)
	require.NotContains(t, roles, "Group.ReadWrite.All")
	b.do(t, http.MethodPut, base+"/roles", "", strings.NewReader(`{"roles":["Group.Read.All"]}`), &roles)
	require.Equal(t, []string{"Group.Read.All"}, tn.Roles())
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPut, base+"/license", "", strings.NewReader(`{"licensed":false}`), nil).StatusCode)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPut, base+"/auth", "", strings.NewReader(`{"fault":"secret_expired"}`), nil).StatusCode)
	_, fault, licensed, _ := tn.snapshot()
	require.Equal(t, AuthSecretExpired, fault)
	require.False(t, licensed)
	resp = b.do(t, http.MethodGet, base+"/certificate", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	pem, err := tn.CertificatePEM()
	require.NoError(t, err)
	require.Contains(t, string(pem), "BEGIN PRIVATE KEY")

	var log []RequestRecord
	b.do(t, http.MethodGet, base+"/requests", "", nil, &log)
	require.NotEmpty(t, log)
	for _, r := range log {
		require.NotContains(t, r.Header, "Authorization", "tokens are not kept")
	}
}
