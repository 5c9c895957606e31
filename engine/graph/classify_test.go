package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// Bodies as docs/graph.md#throttling and docs/graph.md#errors document them.
const (
	bodyDirectory403 = `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2021-07-29T05:00:42","request-id":"788c7bdc-0000-0000-0000-000000000000","client-request-id":"788c7bdc-0000-0000-0000-000000000000"}}}`
	bodyIntune403    = `{"error":{"code":"Forbidden","message":"{\r\n \"_version\": 3,\r\n \"Message\": \"Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementConfiguration.Read.All, DeviceManagementConfiguration.ReadWrite.All - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: 2578f4a3-0000-0000-0000-000000000000 - Url: https://fef.msub05.manage.microsoft.com/x\",\r\n \"CustomApiErrorPhrase\": \"\",\r\n \"RetryAfter\": null,\r\n \"ErrorSourceService\": \"\",\r\n \"HttpHeaders\": \"{}\"\r\n}","innerError":{"date":"2021-07-29T05:00:42","request-id":"abc"}}}`
	bodyNotFound     = `{"error":{"code":"Request_ResourceNotFound","message":"Resource '1234' does not exist or one of its queried reference-property objects are not present.","innerError":{"request-id":"r1"}}}`
	bodyThrottled    = `{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51","message":"Please retry after","request-id":"94fb3b52-0000-0000-0000-000000000000","status":"429"},"message":"Please retry again later."}}`
	bodyModel        = `{"error":{"code":"ModelValidationFailure","message":"A type named 'microsoft.graph.windows10GeneralConfiguration' could not be resolved by the model.","innerError":{}}}`
	bodySecretRef    = `{"error":{"code":"NotSupported","message":"SecretReferenceValueId invalid for create","innerError":{}}}`
	bodySyncState    = `{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found. The delta token is expired and data must be synchronized again."}}`
	bodyResync       = `{"error":{"code":"resyncRequired","message":"Resync required."}}`
	bodyUnauth       = `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{}}}`
	bodyLicense      = `{"error":{"code":"BadRequest","message":"Request not applicable to target tenant.","innerError":{}}}`
	bodyAppOnly403   = `{"error":{"code":"Forbidden","message":"Application is not authorized to perform this operation as called in app only context but does not have application permissions configured","innerError":{}}}`
)

func TestClassifyResponse(t *testing.T) {
	t.Parallel()
	groups, _ := graph.Lookup("groups.list")
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		header    http.Header
		contract  *graph.Contract
		want      reason.Code
		code      string
		missing   []string
		requestID string
		delta     bool
		hint      string
	}{
		{name: "directory 403", status: 403, body: bodyDirectory403, contract: &groups, want: reason.ProviderPermissionDenied,
			code: "Authorization_RequestDenied", missing: []string{"Group.Read.All"}, requestID: "788c7bdc-0000-0000-0000-000000000000", hint: "Group.Read.All"},
		{name: "intune 403 names the scopes", status: 403, body: bodyIntune403, want: reason.ProviderPermissionDenied, code: "Forbidden",
			missing: []string{"DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All"}, requestID: "abc",
			hint: "DeviceManagementConfiguration.Read.All or DeviceManagementConfiguration.ReadWrite.All"},
		{name: "app-only 403", status: 403, body: bodyAppOnly403, want: reason.ProviderPermissionDenied, code: "Forbidden"},
		{name: "404", status: 404, body: bodyNotFound, want: reason.ProviderNotFound, code: "Request_ResourceNotFound", requestID: "r1"},
		{name: "429", status: 429, body: bodyThrottled, header: http.Header{"Retry-After": {"7"}}, want: reason.ProviderThrottled, code: "TooManyRequests",
			requestID: "94fb3b52-0000-0000-0000-000000000000"},
		{name: "model validation", status: 400, body: bodyModel, want: reason.ProviderInvalidRequest, code: "ModelValidationFailure"},
		{name: "secret reference", status: 400, body: bodySecretRef, want: reason.ProviderInvalidRequest, code: "NotSupported"},
		{name: "delta expired", status: 400, body: bodySyncState, want: reason.ProviderInvalidRequest, code: "syncStateNotFound", delta: true},
		{name: "resync required", status: 410, body: bodyResync, want: reason.ProviderInvalidRequest, code: "resyncRequired", delta: true},
		{name: "401", status: 401, body: bodyUnauth, want: reason.ProviderAuthFailed, code: "InvalidAuthenticationToken"},
		{name: "licence", status: 400, body: bodyLicense, want: reason.ProviderLicenseMissing, code: "BadRequest"},
		{name: "503", status: 503, body: `{"error":{"code":"ServiceUnavailable","message":"x"}}`, want: reason.ProviderUnavailable},
		{name: "502 HTML", status: 502, body: `<html>bad gateway</html>`, want: reason.ProviderUnavailable},
		{name: "empty 500", status: 500, want: reason.ProviderUnavailable},
		{name: "409", status: 409, body: `{"error":{"code":"Conflict","message":"x"}}`, want: reason.ProviderInvalidRequest},
		{name: "request-id header wins", status: 404, body: bodyNotFound, header: http.Header{"Request-Id": {"hdr"}}, want: reason.ProviderNotFound, requestID: "hdr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := graph.ClassifyResponse(tc.status, tc.header, []byte(tc.body), tc.contract)
			require.Equal(t, tc.want, e.Reason)
			require.Equal(t, tc.status, e.Status)
			if tc.code != "" {
				require.Equal(t, tc.code, e.GraphCode)
			}
			require.Equal(t, tc.missing, e.MissingPermissions)
			if tc.requestID != "" {
				require.Equal(t, tc.requestID, e.RequestID)
			}
			require.Equal(t, tc.delta, errors.Is(e, graph.ErrDeltaExpired))
			require.NotContains(t, e.Message, "\n")
			require.NotContains(t, e.Message, "_version")
			require.Contains(t, e.Hint(), tc.hint)
			require.NotEmpty(t, e.Error())
		})
	}
}

func TestReasonOf(t *testing.T) {
	t.Parallel()
	wrapped := fmt.Errorf("syncing groups: %w", &graph.Error{Reason: reason.ProviderThrottled})
	for _, tc := range []struct {
		name string
		err  error
		want reason.Code
	}{
		{"nil", nil, ""},
		{"wrapped *Error", wrapped, reason.ProviderThrottled},
		{"cancelled", context.Canceled, reason.RunCancelled},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), reason.RunTimedOut},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, reason.NetworkError},
		{"other", errors.New("boom"), reason.InternalError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, graph.ReasonOf(tc.err))
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()

	// A host with an untrusted certificate (no CA configured) and a closed port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "https://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	for _, tc := range []struct {
		name string
		cfg  graph.Config
	}{
		{"untrusted CA", graph.Config{GraphURL: b.sim.GraphURL(), LoginURL: b.sim.LoginURL()}},
		{"connection refused", graph.Config{GraphURL: closed, LoginURL: closed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.HTTPTimeout = 2 * time.Second
			c, err := graph.NewClient(tc.cfg, b.tenant.Credentials(), nil)
			require.NoError(t, err)
			_, err = c.Token(ctx, true)
			require.Equal(t, reason.NetworkError, graph.ReasonOf(err), "%v", err)
			_, err = c.Get(ctx, "groups.probe", nil, nil)
			require.Equal(t, reason.NetworkError, graph.ReasonOf(err), "%v", err)
		})
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.client.Get(cctx, "groups.probe", nil, nil)
	require.Equal(t, reason.RunCancelled, graph.ReasonOf(err), "%v", err)
}

func TestSlowResponseHonoursContext(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	_, err := b.client.Token(ctx, false) // sign in before the clock starts
	require.NoError(t, err)
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultSlow, Endpoint: "groups.list", Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var last error
	for _, err := range b.client.List(ctx, "groups.list", nil, nil) {
		last = err
	}
	require.Equal(t, reason.RunTimedOut, graph.ReasonOf(last), "%v", last)
	require.Less(t, time.Since(start), 2*time.Second)
}
