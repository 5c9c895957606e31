package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

func TestThrottleStormWithinBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups.list", Count: 2, RetryAfter: 1})
	budget := graph.NewRetryBudget(10 * time.Second)
	ctx := graph.WithRetryBudget(context.Background(), budget)

	start := time.Now()
	n := 0
	for _, err := range b.client.List(ctx, "groups.list", nil, nil) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 250, n)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Retry-After: 1 honoured twice")
	require.Equal(t, 2*time.Second, budget.Spent())
	require.False(t, budget.Exhausted())

	var attempts []string
	for _, r := range b.tenant.Requests() {
		if r.Contract == "groups.list" {
			attempts = append(attempts, r.Header["Retry-Attempt"]...)
		}
	}
	require.Equal(t, []string{"1", "2"}, attempts, "kiota's retry handler sent the retries")
}

func TestThrottleStormExhaustsBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "deviceConfigurations", RetryAfter: 1})
	budget := graph.NewRetryBudget(2 * time.Second)
	ctx := graph.WithRetryBudget(context.Background(), budget)

	start := time.Now()
	var last error
	for _, err := range b.client.List(ctx, "deviceConfigurations.list", nil, nil) {
		last = err
	}
	elapsed := time.Since(start)
	var ge *graph.Error
	require.ErrorAs(t, last, &ge)
	require.Equal(t, reason.ProviderThrottled, ge.Reason)
	require.ErrorIs(t, last, graph.ErrRetryBudgetExhausted)
	require.Equal(t, time.Second, ge.RetryAfter)
	require.Less(t, elapsed, 4*time.Second, "bounded by the 2 s budget")
	require.True(t, budget.Exhausted())

	// The run's budget is spent: the next throttled call fails at once.
	start = time.Now()
	_, err := b.client.Get(ctx, "deviceConfigurations.probe", nil, nil)
	require.Equal(t, reason.ProviderThrottled, graph.ReasonOf(err))
	require.Less(t, time.Since(start), 500*time.Millisecond)
	require.Contains(t, graph.HintOf(err), "retry budget")
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fault    graphsim.Fault
		want     reason.Code
		attempts int
	}{
		{"503 with Retry-After is retried", graphsim.Fault{Kind: graphsim.FaultServerError, Status: 503, RetryAfter: 1, Count: 1}, "", 2},
		{"504 is retried", graphsim.Fault{Kind: graphsim.FaultServerError, Status: 504, RetryAfter: 1, Count: 1}, "", 2},
		{"500 is not retried", graphsim.Fault{Kind: graphsim.FaultServerError, Status: 500, Count: 1}, reason.ProviderUnavailable, 1},
		{"503 forever ends unavailable", graphsim.Fault{Kind: graphsim.FaultServerError, Status: 503, RetryAfter: 1}, reason.ProviderUnavailable, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{retry: graph.RetryPolicy{MaxRetries: 2}})
			tc.fault.Endpoint = "groups.get"
			b.tenant.AddFault(tc.fault)
			_, err := b.client.Get(context.Background(), "groups.get", []string{b.tenant.GroupID(0)}, nil)
			if tc.want == "" {
				require.NoError(t, err)
			} else {
				require.Equal(t, tc.want, graph.ReasonOf(err), "%v", err)
			}
			require.Equal(t, tc.attempts, b.tenant.RequestCount("groups.get"))
		})
	}
}

// TestGzipPostRetried checks the reason for the explicit middleware order: a throttled POST is
// retried with the same gzip body, which the service can still decode.
func TestGzipPostRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "deviceConfigurations.create", Count: 2, RetryAfter: 1})
	payload := map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Restored baseline",
		"description": "from backup", "passwordRequired": true}

	raw, err := b.client.Post(context.Background(), "deviceConfigurations.create", nil, payload)
	require.NoError(t, err)
	var created struct{ ID, DisplayName string }
	require.NoError(t, json.Unmarshal(raw, &created))
	require.NotEmpty(t, created.ID)
	require.Equal(t, "Restored baseline", created.DisplayName)

	var statuses []int
	for _, r := range b.tenant.Requests() {
		if r.Contract != "deviceConfigurations.create" {
			continue
		}
		statuses = append(statuses, r.Status)
		require.True(t, r.Gzip, "every attempt is gzip-compressed")
		var got map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &got), "every attempt's body decodes")
		require.Equal(t, "Restored baseline", got["displayName"])
	}
	require.Equal(t, []int{429, 429, 201}, statuses)
}

// TestGzipRefusedSentPlain: a service that refuses the gzip body (415 Unsupported Media Type, RFC
// 7694) gets the same request once more, uncompressed, as kiota's CompressionHandler does; the
// write is made once.
func TestGzipRefusedSentPlain(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultServerError, Status: http.StatusUnsupportedMediaType, Endpoint: "deviceConfigurations.create", Count: 1})
	payload := map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Plain baseline"}

	raw, err := b.client.Post(context.Background(), "deviceConfigurations.create", nil, payload)
	require.NoError(t, err)
	var created struct{ DisplayName string }
	require.NoError(t, json.Unmarshal(raw, &created))
	require.Equal(t, "Plain baseline", created.DisplayName)

	var statuses []int
	var gzipped []bool
	for _, r := range b.tenant.Requests() {
		if r.Contract != "deviceConfigurations.create" {
			continue
		}
		statuses, gzipped = append(statuses, r.Status), append(gzipped, r.Gzip)
		var got map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &got), "every attempt's body decodes")
		require.Equal(t, "Plain baseline", got["displayName"])
	}
	require.Equal(t, []int{http.StatusUnsupportedMediaType, http.StatusCreated}, statuses)
	require.Equal(t, []bool{true, false}, gzipped, "gzip first, then the plain body")
}

// TestRateLimiterSharedPerTenant: two clients of one tenant share its buckets, and the directory
// and Intune have a bucket each (the directory's quota is its own, and far larger).
func TestRateLimiterSharedPerTenant(t *testing.T) {
	t.Parallel()
	slow := 20.0   // requests/s with burst 1: ten requests take at least 450 ms
	glacial := 0.5 // requests/s with burst 1: ten requests would take 18 s
	tests := []struct {
		name     string
		limits   graph.Limits
		contract string
		atLeast  time.Duration
	}{
		{name: "directory requests wait for the directory bucket", contract: "groups.probe", atLeast: 400 * time.Millisecond,
			limits: graph.Limits{RequestsPerSecond: 10_000, Burst: 10_000, DirectoryRequestsPerSecond: slow, DirectoryBurst: 1}},
		{name: "directory requests do not take Intune tokens", contract: "groups.probe",
			limits: graph.Limits{RequestsPerSecond: glacial, Burst: 1, DirectoryRequestsPerSecond: 10_000, DirectoryBurst: 10_000}},
		{name: "Intune requests wait for the Intune bucket", contract: "deviceConfigurations.probe", atLeast: 400 * time.Millisecond,
			limits: graph.Limits{RequestsPerSecond: slow, Burst: 1, DirectoryRequestsPerSecond: 10_000, DirectoryBurst: 10_000}},
		{name: "Intune requests do not take directory tokens", contract: "deviceConfigurations.probe",
			limits: graph.Limits{RequestsPerSecond: 10_000, Burst: 10_000, DirectoryRequestsPerSecond: glacial, DirectoryBurst: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			tt.limits.WritesPerSecond, tt.limits.WriteBurst = 1000, 1000
			limiters := graph.NewLimiters(tt.limits)
			cfg := b.sim.GraphConfig()
			c1, err := graph.NewClient(cfg, b.tenant.Credentials(), limiters)
			require.NoError(t, err)
			c2, err := graph.NewClient(cfg, b.tenant.Credentials(), limiters)
			require.NoError(t, err)
			ctx := context.Background()
			_, err = c1.Token(ctx, false) // sign-in is not rate limited; warm both before timing
			require.NoError(t, err)
			_, err = c2.Token(ctx, false)
			require.NoError(t, err)

			start := time.Now()
			done := make(chan error, 2)
			for _, c := range []*graph.Client{c1, c2} {
				go func() {
					for range 5 {
						if _, err := c.Get(ctx, tt.contract, nil, nil); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
			}
			require.NoError(t, <-done)
			require.NoError(t, <-done)
			if tt.atLeast > 0 {
				require.GreaterOrEqual(t, time.Since(start), tt.atLeast)
			} else {
				require.Less(t, time.Since(start), 5*time.Second, "not held back by the other service's bucket")
			}
		})
	}
}

func TestThrottlePriorityHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	for _, contract := range []string{"groups.list", "directoryRoleDefinitions.list", "configurationPolicies.list"} {
		for _, err := range b.client.List(ctx, contract, nil, nil) {
			require.NoError(t, err)
		}
	}
	seen := map[string]string{}
	for _, r := range b.tenant.Requests() {
		if v := r.Header["X-Ms-Throttle-Priority"]; len(v) > 0 {
			seen[r.Contract] = v[0]
		} else {
			seen[r.Contract] = ""
		}
	}
	require.Equal(t, "low", seen["groups.list"])
	require.Equal(t, "low", seen["directoryRoleDefinitions.list"])
	require.Equal(t, "", seen["configurationPolicies.list"], "Intune ignores the header; it is only sent to the directory")
}
