package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// deltaRound runs one round and returns the entries by id.
func deltaRound(t *testing.T, c *graph.Client, link string) (map[string]graph.DeltaItem, string) {
	t.Helper()
	got := map[string]graph.DeltaItem{}
	next, err := c.Delta(context.Background(), "groups.delta", link, nil, func(it graph.DeltaItem) error {
		require.NotContains(t, got, it.ID, "an id appears once per round")
		got[it.ID] = it
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, next)
	return got, next
}

func displayName(t *testing.T, it graph.DeltaItem) string {
	t.Helper()
	var m struct{ DisplayName string }
	require.NoError(t, json.Unmarshal(it.Raw, &m))
	return m.DisplayName
}

func TestDeltaAddsRenamesDeletes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: 450}})
	tn := b.tenant

	full, link1 := deltaRound(t, b.client, "")
	require.Len(t, full, 450)
	require.Equal(t, 3, tn.RequestCount("groups.delta"), "450 groups in pages of 200")
	for _, it := range full {
		require.False(t, it.Removed)
	}

	added := tn.AddGroup("New group")
	addedThenDeleted := tn.AddGroup("Short-lived")
	require.NoError(t, tn.DeleteGroup(addedThenDeleted))
	renamed := tn.GroupID(3)
	require.NoError(t, tn.RenameGroup(renamed, "Renamed once"))
	require.NoError(t, tn.RenameGroup(renamed, "Renamed twice"))
	deleted := tn.GroupID(7)
	require.NoError(t, tn.DeleteGroup(deleted))
	renamedThenDeleted := tn.GroupID(9)
	require.NoError(t, tn.RenameGroup(renamedThenDeleted, "Doomed"))
	require.NoError(t, tn.DeleteGroup(renamedThenDeleted))

	changes, link2 := deltaRound(t, b.client, link1)
	require.Len(t, changes, 5, "exactly the changes since the first round")
	require.Equal(t, "New group", displayName(t, changes[added]))
	require.Equal(t, "Renamed twice", displayName(t, changes[renamed]))
	for _, id := range []string{deleted, renamedThenDeleted, addedThenDeleted} {
		require.True(t, changes[id].Removed, id)
		require.Equal(t, "deleted", changes[id].RemovedReason)
	}
	require.ElementsMatch(t, graph.GroupSelect, keysOf(t, changes[added].Raw), "the first call's $select is kept in the tokens")

	none, link3 := deltaRound(t, b.client, link2)
	require.Empty(t, none)
	require.NotEmpty(t, link3)

	// A round whose changes span pages.
	for i := 0; i < 250; i++ {
		require.NoError(t, tn.RenameGroup(tn.GroupID(100+i), "bulk"))
	}
	bulk, _ := deltaRound(t, b.client, link3)
	require.Len(t, bulk, 250)
}

func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDeltaExpired(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		resync bool
		status int
	}{
		{"400 syncStateNotFound", false, http.StatusBadRequest},
		{"410 resyncRequired", true, http.StatusGone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: 20}})
			_, link := deltaRound(t, b.client, "")
			b.tenant.ExpireDeltaTokens(tc.resync)

			_, err := b.client.Delta(context.Background(), "groups.delta", link, nil, func(graph.DeltaItem) error { return nil })
			require.ErrorIs(t, err, graph.ErrDeltaExpired)
			var ge *graph.Error
			require.ErrorAs(t, err, &ge)
			require.Equal(t, tc.status, ge.Status)

			// The documented recovery: drop the link and start over.
			full, _ := deltaRound(t, b.client, "")
			require.Len(t, full, 20)
		})
	}
}

func TestDeltaLatestAndCallbackError(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{spec: graphsim.TenantSpec{Groups: 30}})
	ctx := context.Background()
	link, err := b.client.DeltaLatest(ctx, "groups.delta", nil)
	require.NoError(t, err)
	id := b.tenant.AddGroup("after latest")
	changes, _ := deltaRound(t, b.client, link)
	require.Len(t, changes, 1)
	require.Contains(t, changes, id)

	boom := errors.New("store down")
	_, err = b.client.Delta(ctx, "groups.delta", "", nil, func(graph.DeltaItem) error { return boom })
	require.ErrorIs(t, err, boom)

	_, err = b.client.Delta(ctx, "groups.list", "", nil, func(graph.DeltaItem) error { return nil })
	require.Equal(t, reason.InternalError, graph.ReasonOf(err))

	_, err = b.client.Delta(ctx, "groups.delta", "https://evil.example.com/v1.0/groups/delta?$deltatoken=x", nil, func(graph.DeltaItem) error { return nil })
	require.Equal(t, reason.ProviderMalformedResponse, graph.ReasonOf(err), "a link to another host is never followed")
}
