package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/op/backup"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestBackupReads (issue #24): the cheap reads — assignments with the list ($expand, where the
// descriptor says Graph answers them complete) or with the GET by id a backup makes anyway — back
// up exactly what the per-object reads do (every payload hash equal), with no per-object
// assignments read left for the families that allow it.
func TestBackupReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupIntune(t, graphsim.TenantSpec{PoliciesPerFamily: 4, Groups: 60})
	assignmentReads := func() int {
		n := 0
		for _, c := range graph.Contracts() {
			if c.Kind == graph.KindAssignments {
				n += b.simT.RequestCount(c.Name)
			}
		}
		return n
	}
	backupWith := func(params map[string]any) (store.BackupSet, int) {
		before := assignmentReads()
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: b.tenantID, Params: params})
		require.NoError(t, err)
		run := b.waitRun(t, res.Run.ID, completed)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		sets, err := b.svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{TenantID: b.tenantID, Limit: 1})
		require.NoError(t, err)
		return sets[0], assignmentReads() - before
	}
	perObject, perObjectReads := backupWith(map[string]any{"reads": backup.ReadsPerObject})
	cheap, cheapReads := backupWith(nil)

	hashes := func(setID int64) map[string]string {
		out := map[string]string{}
		for _, it := range rtItems(t, b.testBundle, setID) {
			out[it.Family+"/"+it.GraphID] = it.PayloadHash
		}
		return out
	}
	require.Equal(t, hashes(perObject.ID), hashes(cheap.ID), "the cheap reads back up the same payloads")
	require.Positive(t, perObjectReads)
	require.Zero(t, cheapReads, "no assignments read one by one (%d before)", perObjectReads)

}
