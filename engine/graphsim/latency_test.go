package graphsim

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLatencyDistribution: over many draws the sampler's median, p99 and mean are the model's
// (log-normal: mean = median × exp(σ²/2)), and a seed gives the same draws every time.
func TestLatencyDistribution(t *testing.T) {
	t.Parallel()
	const n = 40_000
	cases := []struct {
		name  string
		model Latency
	}{
		{"Default", DefaultLatency()},
		{"LongTail", Latency{Median: 200 * time.Millisecond, P99: 3 * time.Second}},
		{"Fixed", Latency{Median: 50 * time.Millisecond, P99: 50 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newLatencySampler(c.model, 42)
			draws := make([]time.Duration, n)
			var sum time.Duration
			for i := range draws {
				draws[i] = s.next()
				sum += draws[i]
			}
			slices.Sort(draws)
			within := func(what string, got, want time.Duration, tol float64) {
				t.Helper()
				require.InEpsilon(t, float64(want), float64(got), tol, "%s: got %s, want %s", what, got, want)
			}
			within("median", draws[n/2], c.model.Median, 0.03)
			within("p99", draws[n*99/100], c.model.P99, 0.06)
			within("mean", sum/n, c.model.Mean(), 0.03)

			again, other := newLatencySampler(c.model, 42), newLatencySampler(c.model, 43)
			first, same, different := make([]time.Duration, 50), make([]time.Duration, 50), make([]time.Duration, 50)
			s = newLatencySampler(c.model, 42)
			for i := range first {
				first[i], same[i], different[i] = s.next(), again.next(), other.next()
			}
			require.Equal(t, first, same, "same seed, same draws")
			if c.model.P99 > c.model.Median {
				require.NotEqual(t, first, different, "another seed, other draws")
			}
		})
	}
	require.Equal(t, 101, int(DefaultLatency().Mean()/time.Millisecond), "DefaultLatency's mean, as documented")
}

func TestLatencyModelRejected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		model Latency
		msg   string
	}{
		{"NoMedian", Latency{P99: time.Second}, "Latency.Median must be positive"},
		{"P99BelowMedian", Latency{Median: time.Second, P99: time.Millisecond}, "Latency.P99 1ms is below the median 1s"},
	}
	for _, c := range cases {
		_, err := New(Options{Latency: &c.model})
		require.ErrorContains(t, err, c.msg, c.name)
	}
}

// TestBatchLatency: a request waits for its draw; a $batch envelope draws one latency per
// sub-request and waits once, for the largest (its sub-requests run in parallel, as Graph's do),
// not for their sum. The draws are the tenant's seeded sequence, in the order requests arrive.
func TestBatchLatency(t *testing.T) {
	t.Parallel()
	model := Latency{Median: 15 * time.Millisecond, P99: 60 * time.Millisecond}
	srv, err := New(Options{Seed: 7, Latency: &model})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Close() })
	b := &testBundle{srv: srv, tenant: srv.Tenants()[0],
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}, Timeout: 10 * time.Second}}
	tok := b.token(t)
	twin := newLatencySampler(model, b.tenant.seed) // predicts the tenant's draws

	start := time.Now()
	resp := b.do(t, http.MethodGet, "/v1.0/groups", tok, nil, nil)
	single := time.Since(start)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	wantSingle := twin.next()

	var reqs []map[string]any
	for i := range 20 {
		reqs = append(reqs, map[string]any{"id": strconv.Itoa(i), "method": "GET", "url": "/groups"})
	}
	body, _ := json.Marshal(map[string]any{"requests": reqs})
	start = time.Now()
	resp = b.do(t, http.MethodPost, "/v1.0/$batch", tok, bytes.NewReader(body), nil)
	batch := time.Since(start)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	wantEnvelope, wantSubs := twin.envelope(20)

	recs := b.tenant.Requests()
	require.Len(t, recs, 22)
	require.Equal(t, "groups.list", recs[0].Contract)
	require.Equal(t, wantSingle, recs[0].Latency)
	require.GreaterOrEqual(t, single, wantSingle, "answered after its draw")
	var subs []time.Duration
	var sum time.Duration
	for _, r := range recs[1:21] {
		require.Equal(t, "groups.list", r.Contract)
		subs = append(subs, r.Latency)
		sum += r.Latency
	}
	require.Equal(t, wantSubs, subs, "one draw per sub-request")
	env := recs[21]
	require.Equal(t, "$batch", env.Contract)
	require.Equal(t, wantEnvelope, env.Latency)
	require.Equal(t, slices.Max(subs), env.Latency, "the envelope costs its slowest sub-request")
	require.Less(t, env.Latency, sum/4, "not their sum")
	require.GreaterOrEqual(t, batch, env.Latency, "answered after its slowest sub-request")
}
