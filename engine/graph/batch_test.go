package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// assignmentRequests builds one assignments read per device configuration plus one per group.
func assignmentRequests(t *testing.T, b *testBundle, groups int) []graph.BatchRequest {
	t.Helper()
	var reqs []graph.BatchRequest
	for _, p := range b.tenant.Policies(graph.FamilyDeviceConfigurations) {
		reqs = append(reqs, graph.BatchRequest{ID: "a-" + p["id"].(string), Contract: "deviceConfigurations.assignments", Args: []string{p["id"].(string)}})
	}
	for i := range groups {
		reqs = append(reqs, graph.BatchRequest{Contract: "groups.get", Args: []string{b.tenant.GroupID(i)}})
	}
	return reqs
}

func TestBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{spec: graphsim.TenantSpec{PoliciesPerFamily: 25}})
	reqs := assignmentRequests(t, b, 20)
	reqs = append(reqs, graph.BatchRequest{ID: "missing", Contract: "deviceConfigurations.get", Args: []string{"00000000-0000-4000-8000-00000000dead"}})
	out, err := b.client.Batch(context.Background(), reqs)
	require.NoError(t, err)
	require.Len(t, out, len(reqs))

	for i, r := range out[:25] {
		require.NoError(t, r.Err)
		require.Equal(t, reqs[i].ID, r.ID, "results keep the input order")
		require.Equal(t, 200, r.Status)
	}
	// The first policy has 30 assignments: the batched read returns the first page and its link.
	require.NotEmpty(t, out[0].NextLink())
	rest := 0
	for _, err := range b.client.ListLink(context.Background(), "deviceConfigurations.assignments", out[0].NextLink()) {
		require.NoError(t, err)
		rest++
	}
	require.Equal(t, 5, rest)
	for _, r := range out[25:45] {
		require.NoError(t, r.Err)
		var g struct{ ID string }
		require.NoError(t, json.Unmarshal(r.Body, &g))
		require.NotEmpty(t, g.ID)
	}
	last := out[len(out)-1]
	require.Equal(t, 404, last.Status)
	require.Equal(t, reason.ProviderNotFound, graph.ReasonOf(last.Err))
	// 26 beta sub-requests in 2 envelopes, 20 v1.0 in one.
	require.Equal(t, 3, b.tenant.RequestCount("$batch"))
}

func TestBatchThrottledSubRequestsRequeued(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups.get", Count: 3, RetryAfter: 1})
	reqs := assignmentRequests(t, b, 10)
	start := time.Now()
	out, err := b.client.Batch(context.Background(), reqs)
	require.NoError(t, err)
	for _, r := range out {
		require.NoError(t, r.Err, r.ID)
	}
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	require.Equal(t, 3, b.tenant.RequestCount("$batch"), "beta envelope, v1.0 envelope, one re-queue of the 3 throttled")
	require.Equal(t, 13, b.tenant.RequestCount("groups.get"))
}

func TestBatchBudgetExhausted(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups.get", RetryAfter: 1})
	ctx := graph.WithRetryBudget(context.Background(), graph.NewRetryBudget(1500*time.Millisecond))
	start := time.Now()
	var reqs []graph.BatchRequest
	for i := range 3 {
		reqs = append(reqs, graph.BatchRequest{ID: fmt.Sprint("g", i), Contract: "groups.get", Args: []string{b.tenant.GroupID(i)}})
	}
	out, err := b.client.Batch(ctx, reqs)
	require.NoError(t, err)
	for _, r := range out {
		require.Equal(t, 429, r.Status)
		require.Equal(t, reason.ProviderThrottled, graph.ReasonOf(r.Err))
		require.ErrorIs(t, r.Err, graph.ErrRetryBudgetExhausted)
	}
	require.Less(t, time.Since(start), 3*time.Second)
}
