package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// TestNameGroupsByIDs: N groups to name cost ceil(N/1000) directoryObjects/getByIds requests and
// no groups.get; every existing group gets the name Graph has for it, a deleted or unknown one "",
// as a 404 of groups.get gives today.
func TestNameGroupsByIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		from, n  int
		requests int
	}{
		{"one group", 0, 1, 1},
		{"1,000 groups", 100, 1000, 1},
		{"1,001 groups", 1100, 1001, 2},
		{"2,400 groups", 0, 2400, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nameGroupsCase(t, tc.from, tc.n, tc.requests)
		})
	}
}

// nameGroupsCase names groups from..from+n-1 of a fresh simulated tenant (the last one replaced by
// an unknown id, group 7 deleted) and checks the requests and names.
func nameGroupsCase(t *testing.T, from, n, requests int) {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{Seed: 7, Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: 1, Groups: 2600}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	st := sim.Tenants()[0]
	st.GrantRoles("Directory.Read.All")
	deleted := st.GroupID(7)
	require.NoError(t, st.DeleteGroup(deleted))
	c, err := graph.NewClient(sim.GraphConfig(), st.Credentials(), graph.NewLimiters(graph.Limits{RequestsPerSecond: 10_000, Burst: 10_000,
		WritesPerSecond: 1000, WriteBurst: 1000, DirectoryRequestsPerSecond: 10_000, DirectoryBurst: 10_000}))
	require.NoError(t, err)
	t.Cleanup(c.Close)

	ids := make([]string, n)
	for i := range ids {
		ids[i] = st.GroupID(from + i)
	}
	if n > 1 {
		ids[len(ids)-1] = fmt.Sprintf("00000000-0000-0000-0000-%012d", n) // unknown to the tenant
	}
	b := &backupper{client: c, groups: map[string]string{}}
	byIDs, get := st.RequestCount("groups.getByIds"), st.RequestCount("groups.get")
	require.NoError(t, b.nameGroups(context.Background(), ids))
	require.Equal(t, requests, st.RequestCount("groups.getByIds")-byIDs)
	require.Equal(t, get, st.RequestCount("groups.get"), "no group read one by one")
	require.Len(t, b.groups, n)
	for i, id := range ids {
		if id != deleted && id == st.GroupID(from+i) && i%50 != 0 {
			require.NotEmpty(t, b.groups[id], id)
			continue
		}
		want := "" // deleted, unknown, or every 50th compared with groups.get
		if id == st.GroupID(from+i) && id != deleted {
			body, err := c.Get(context.Background(), "groups.get", []string{id}, nil)
			require.NoError(t, err)
			var g struct {
				DisplayName string `json:"displayName"`
			}
			require.NoError(t, json.Unmarshal(body, &g))
			want = g.DisplayName
			require.NotEmpty(t, want)
		}
		require.Equal(t, want, b.groups[id], id)
	}
}

// TestGroupsOneByOneUnnamed: a group Graph refuses to name (403, the run not knowing beforehand)
// is left unnamed with provider_permission_denied, a
// deleted one (404) is named "" and not listed as unnamed; with groups.get known not granted,
// nothing is sent and every group is left unnamed for that reason.
func TestGroupsOneByOneUnnamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, err := graphsim.New(graphsim.Options{Seed: 7, Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: 1, Groups: 10}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	st := sim.Tenants()[0]
	c, err := graph.NewClient(sim.GraphConfig(), st.Credentials(), graph.NewLimiters(graph.Limits{DirectoryRequestsPerSecond: 10_000, DirectoryBurst: 10_000}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	deleted, kept := st.GroupID(1), st.GroupID(2)
	require.NoError(t, st.DeleteGroup(deleted))

	b := &backupper{client: c, groups: map[string]string{}}
	names := map[string]string{}
	require.NoError(t, b.groupsOneByOne(ctx, []string{deleted}, names))
	require.Equal(t, map[string]string{deleted: ""}, names)
	require.Empty(t, b.unnamedGroups, "a deleted group is no unnamed one")

	st.RemoveRoles("Group.Read.All", "Group.ReadWrite.All")
	without, err := graph.NewClient(sim.GraphConfig(), st.Credentials(), graph.NewLimiters(graph.Limits{DirectoryRequestsPerSecond: 10_000, DirectoryBurst: 10_000}))
	require.NoError(t, err)
	t.Cleanup(without.Close)
	b.client = without // groupsGetRefused unset: as when the token's roles could not be read
	require.NoError(t, b.groupsOneByOne(ctx, []string{kept}, names))
	require.NotContains(t, names, kept, "an unnamed group is not named \"\"")
	require.Equal(t, "", b.groups[kept])
	require.Equal(t, map[string]reason.Code{kept: reason.ProviderPermissionDenied}, b.unnamedGroups)
	require.Contains(t, b.unnamedError[reason.ProviderPermissionDenied], "cannot name group "+kept)

	refused := &backupper{client: without, groups: map[string]string{}, groupsGetRefused: true}
	sent := st.RequestCount("groups.get")
	require.NoError(t, refused.groupsOneByOne(ctx, []string{deleted, kept}, map[string]string{}))
	require.Equal(t, sent, st.RequestCount("groups.get"), "nothing sent to be refused")
	require.Equal(t, map[string]reason.Code{deleted: reason.ProviderPermissionDenied, kept: reason.ProviderPermissionDenied}, refused.unnamedGroups)
}

// TestNamesReadOncePerRun: families of a run that need the same names side by side share one
// read: eight families naming the same 50 groups send one getByIds, and eight naming assignment
// filters list them once — the first claims the read, the others wait for it (no lock is held
// over the request), and every one of them gets every name.
func TestNamesReadOncePerRun(t *testing.T) {
	t.Parallel()
	sim, err := graphsim.New(graphsim.Options{Seed: 9, Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: 3, Groups: 60}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	st := sim.Tenants()[0]
	st.GrantRoles("Directory.Read.All")
	c, err := graph.NewClient(sim.GraphConfig(), st.Credentials(), graph.NewLimiters(graph.Limits{RequestsPerSecond: 10_000, Burst: 10_000,
		WritesPerSecond: 1000, WriteBurst: 1000, DirectoryRequestsPerSecond: 10_000, DirectoryBurst: 10_000}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = st.GroupID(i)
	}
	filters := st.Policies(graph.FamilyAssignmentFilters)
	require.NotEmpty(t, filters)

	b := &backupper{client: c, groups: map[string]string{}}
	byIDs, lists := st.RequestCount("groups.getByIds"), st.RequestCount("assignmentFilters.list")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	names := make([][]string, 8)
	for i := range 8 {
		wg.Go(func() {
			errs[i] = b.nameGroups(context.Background(), ids)
			for _, f := range filters {
				names[i] = append(names[i], b.named(context.Background(), graph.FamilyAssignmentFilters, f["id"].(string)).Name)
			}
		})
	}
	wg.Wait()
	for i := range 8 {
		require.NoError(t, errs[i])
		for j, f := range filters {
			require.Equal(t, f["displayName"], names[i][j], "family %d, filter %d", i, j)
		}
	}
	require.Equal(t, 1, st.RequestCount("groups.getByIds")-byIDs, "one getByIds for all eight")
	require.Equal(t, 1, st.RequestCount("assignmentFilters.list")-lists, "one listing for all eight")
	for _, id := range ids {
		require.NotEmpty(t, b.groups[id], id)
	}
}
