package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	khttp "github.com/microsoft/kiota-http-go"
	"github.com/stretchr/testify/require"
)

// TestSecurityRedirectDropsCredentialsAcrossHosts reproduces GO-2026-5224 against the client's own
// middleware pipeline: a response that redirects to another host must not carry the request's
// Authorization or Cookie there (kiota-http-go v1.5.4 forwarded the Cookie; v1.5.5 drops it).
func TestSecurityRedirectDropsCredentialsAcrossHosts(t *testing.T) {
	t.Parallel()
	seen := make(chan http.Header, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer token-for-graph", r.Header.Get("Authorization"))
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer origin.Close()

	c, err := NewClient(Config{GraphURL: origin.URL}, Credentials{TenantID: "6e0c1a2b-0000-4000-8000-000000000001",
		ClientID: "3f2a0000-0000-4000-8000-000000000002", ClientSecret: "redirect-test"}, nil)
	require.NoError(t, err)
	defer c.Close()
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, c.newPipeline()...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, origin.URL+"/v1.0/groups", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer token-for-graph")
	req.Header.Set("Cookie", "session=graph-session")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, "the redirect was followed")
	h := <-seen
	require.Empty(t, h.Get("Authorization"), "Authorization reached another host")
	require.Empty(t, h.Get("Cookie"), "Cookie reached another host")
	t.Logf("METRIC security.redirect_headers_dropped 2 of 2 headers")
}
