package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// TestListFlatMemory pages 250,000 groups and checks that the heap does not grow with the
// collection. It deliberately does not run in parallel: HeapInuse is process-wide, and the other
// tests (which only start once the sequential ones are done) would pollute the measurement.
func TestListFlatMemory(t *testing.T) {
	const total = 250_000
	b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: total}})
	ctx := context.Background()

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	peak := before
	n := 0
	q := &graph.Query{Select: []string{"id", "displayName"}}
	for item, err := range b.client.List(ctx, "groups.list", nil, q) {
		require.NoError(t, err)
		n++
		if n%20_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		_ = item
	}
	require.Equal(t, total, n)
	require.Equal(t, (total+998)/999, b.tenant.RequestCount("groups.list"), "pages of 999")
	growth := int64(peak) - int64(before)
	t.Logf("heap in use: before %d KiB, peak %d KiB (growth %d KiB) for %d items", before>>10, peak>>10, growth>>10, n)
	// 250k items of ~90 bytes are ~22 MB of JSON; holding them would exceed the bound many times.
	require.Less(t, growth, int64(12<<20), "listing must not accumulate items")
}

//nolint:tparallel // the subtests count the shared simulated tenant's requests before and after: in order
func TestListPagingAndSelect(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: 2100}})
	ctx := context.Background()

	for _, tc := range []struct {
		name   string
		q      *graph.Query
		pages  int
		fields []string
	}{
		{"contract defaults: $top=999 and the sync $select", nil, 3, graph.GroupSelect},
		{"custom select and top", &graph.Query{Select: []string{"id", "displayName"}, Top: 500}, 5, []string{"id", "displayName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.tenant.RequestCount("groups.list")
			ids := map[string]bool{}
			for item, err := range b.client.List(ctx, "groups.list", nil, tc.q) {
				require.NoError(t, err)
				var m map[string]any
				require.NoError(t, json.Unmarshal(item, &m))
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				require.ElementsMatch(t, tc.fields, keys)
				ids[m["id"].(string)] = true
			}
			require.Len(t, ids, 2100, "every group exactly once")
			require.Equal(t, tc.pages, b.tenant.RequestCount("groups.list")-before)
		})
	}
}

func TestListStopEarly(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	n := 0
	for _, err := range b.client.List(context.Background(), "groups.list", nil, &graph.Query{Top: 10}) {
		require.NoError(t, err)
		n++
		if n == 15 {
			break
		}
	}
	require.Equal(t, 15, n)
	// Pages 1 and 2 were read; page 3 may have been requested ahead while page 2 was being read (its
	// link comes before its items), and abandoned. Nothing beyond it.
	require.Contains(t, []int{2, 3}, b.tenant.RequestCount("groups.list"))
}

// TestEveryFamilyReads walks every Intune family of the registry through the simulator: list,
// get of each object, and its paged assignments (the first object of a family has 30: two pages).
func TestEveryFamilyReads(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	for _, fi := range graph.Families() {
		if fi.Service != graph.ServiceIntune {
			continue
		}
		var ids, types []string
		for item, err := range b.client.List(ctx, string(fi.Family)+".list", nil, nil) {
			require.NoError(t, err, fi.Family)
			var m struct {
				ID   string `json:"id"`
				Type string `json:"@odata.type"`
			}
			require.NoError(t, json.Unmarshal(item, &m))
			ids, types = append(ids, m.ID), append(types, m.Type)
		}
		require.NotEmpty(t, ids, fi.Family)
		if fi.Family == graph.FamilyManagedAppPolicies {
			for i, id := range ids {
				col := graph.ManagedAppProtectionCollections[types[i]]
				_, err := b.client.Get(ctx, col+".get", []string{id}, nil)
				require.NoError(t, err, col)
			}
			continue
		}
		maxAssignments := 0
		for _, id := range ids {
			raw, err := b.client.Get(ctx, string(fi.Family)+".get", []string{id}, nil)
			require.NoError(t, err, fi.Family)
			require.Contains(t, string(raw), id)
			if fi.HasAssignments {
				n := 0
				for _, err := range b.client.List(ctx, string(fi.Family)+".assignments", []string{id}, nil) {
					require.NoError(t, err)
					n++
				}
				maxAssignments = max(maxAssignments, n)
			}
		}
		if fi.HasAssignments {
			require.Equal(t, 30, maxAssignments, "%s: >25 assignments must be paged through", fi.Family)
		}
	}
}

func TestListSubCollections(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	first := func(contract string) string {
		for item, err := range b.client.List(ctx, contract, nil, nil) {
			require.NoError(t, err)
			var m struct{ ID string }
			require.NoError(t, json.Unmarshal(item, &m))
			return m.ID
		}
		t.Fatalf("%s is empty", contract)
		return ""
	}
	count := func(contract string, args ...string) int {
		n := 0
		for _, err := range b.client.List(ctx, contract, args, nil) {
			require.NoError(t, err)
			n++
		}
		return n
	}
	require.Equal(t, 60, count("configurationPolicies.settings", first("configurationPolicies.list")))
	require.Equal(t, 60, count("compliancePolicies.settings", first("compliancePolicies.list")))
	require.Equal(t, 1, count("deviceCompliancePolicies.scheduledActionsForRule", first("deviceCompliancePolicies.list")))
	gp := first("groupPolicyConfigurations.list")
	require.Equal(t, 30, count("groupPolicyConfigurations.definitionValues", gp))
	var dv string
	for item, err := range b.client.List(ctx, "groupPolicyConfigurations.definitionValues", []string{gp}, nil) {
		require.NoError(t, err)
		require.Contains(t, string(item), `"definition"`, "$expand=definition is sent")
		var m struct{ ID string }
		require.NoError(t, json.Unmarshal(item, &m))
		dv = m.ID
		break
	}
	require.Equal(t, 1, count("groupPolicyConfigurations.presentationValues", gp, dv))
}

func TestListMalformedAndTruncated(t *testing.T) {
	t.Parallel()
	for _, kind := range []graphsim.FaultKind{graphsim.FaultMalformedJSON, graphsim.FaultTruncated} {
		for _, contract := range []string{"groups.list", "deviceConfigurations.list"} {
			t.Run(string(kind)+" "+contract, func(t *testing.T) {
				t.Parallel()
				b := setup(t, setupOpts{})
				b.tenant.AddFault(graphsim.Fault{Kind: kind, Endpoint: contract, Count: 1})
				var last error
				for _, err := range b.client.List(context.Background(), contract, nil, nil) {
					last = err
				}
				require.Error(t, last)
				require.Equal(t, reason.ProviderMalformedResponse, graph.ReasonOf(last), "%v", last)
			})
		}
	}
	t.Run("get", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		b.tenant.AddFault(graphsim.Fault{Kind: graphsim.FaultTruncated, Endpoint: "groups.get", Count: 1})
		_, err := b.client.Get(context.Background(), "groups.get", []string{b.tenant.GroupID(1)}, nil)
		require.Equal(t, reason.ProviderMalformedResponse, graph.ReasonOf(err), "%v", err)
	})
}

// TestListRequestsNextPageAhead: a directory page names its next page before its items, so the
// client requests that page while the consumer is still on the current one (Graph's latency overlaps
// with the work on each page). A consumer that stops early abandons the page requested ahead, and
// nothing is requested beyond it.
//
//nolint:tparallel // the subtests count the shared simulated tenant's requests before and after: in order
func TestListRequestsNextPageAhead(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: 1500}})
	ctx := context.Background()
	q := &graph.Query{Select: []string{"id", "displayName"}, Top: 500}

	tests := []struct {
		name      string
		stopAfter int // items read before breaking out; 0 reads everything
		requests  int // groups.list requests in all
	}{
		{name: "read to the end", stopAfter: 0, requests: 3},
		{name: "stop on the first page", stopAfter: 10, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.tenant.RequestCount("groups.list")
			n := 0
			for _, err := range b.client.List(ctx, "groups.list", nil, q) {
				require.NoError(t, err)
				n++
				if n == 1 {
					require.Eventually(t, func() bool { return b.tenant.RequestCount("groups.list")-before == 2 },
						5*time.Second, time.Millisecond, "page 2 is requested while page 1 is being read")
				}
				if n == tt.stopAfter {
					break
				}
			}
			if tt.stopAfter == 0 {
				require.Equal(t, 1500, n)
			}
			require.Equal(t, tt.requests, b.tenant.RequestCount("groups.list")-before)
		})
	}
}

// TestListAs: elements decode straight into a struct; one whose property has an unexpected type is
// reported as an *ItemError and the listing goes on; a broken page still ends it.
func TestListAs(t *testing.T) {
	t.Parallel()
	type group struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	}
	tests := []struct {
		name     string
		fault    *graphsim.Fault
		items    int // decoded without error (when the listing completes)
		mismatch int // *ItemError yielded
		wantErr  reason.Code
	}{
		{name: "every element decodes", items: 1500},
		{name: "a mistyped element is skipped", fault: &graphsim.Fault{Kind: graphsim.FaultMistypedItem, Endpoint: "groups.list", Every: 2, Count: 1},
			items: 1499, mismatch: 1},
		{name: "a broken page ends the listing", fault: &graphsim.Fault{Kind: graphsim.FaultTruncated, Endpoint: "groups.list", Every: 2, Count: 1},
			wantErr: reason.ProviderMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: 1500}})
			if tt.fault != nil {
				b.tenant.AddFault(*tt.fault)
			}
			items, mismatches := 0, 0
			var last error
			for g, err := range graph.ListAs[group](context.Background(), b.client, "groups.list", nil, &graph.Query{Top: 500}) {
				var mismatch *graph.ItemError
				switch {
				case errors.As(err, &mismatch):
					mismatches++
					require.Equal(t, 500, mismatch.Index, "the first element of the second page")
				case err != nil:
					last = err
				default:
					require.NotEmpty(t, g.ID)
					require.NotEmpty(t, g.DisplayName)
					items++
				}
			}
			require.Equal(t, tt.mismatch, mismatches)
			if tt.wantErr == "" {
				require.NoError(t, last)
				require.Equal(t, tt.items, items)
			} else {
				require.Less(t, items, 1000, "nothing after the broken second page")
				var gerr *graph.Error
				require.ErrorAs(t, last, &gerr)
				require.Equal(t, tt.wantErr, gerr.Reason)
			}
		})
	}
}
