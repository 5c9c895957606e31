package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// The restore crash test runs an engine, pointed at the parent's graphsim, in a child process (the
// test binary re-executed) and SIGKILLs it mid-restore.
const restoreChildEnv = "TENANTATLAS_RESTORE_CHILD"

func runRestoreChild() int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Println("error", err)
		return 1
	}
	key, err := hex.DecodeString(os.Getenv(restoreChildEnv + "_KEY"))
	if err != nil {
		return fail(err)
	}
	sealer, err := engine.NewSealer(key)
	if err != nil {
		return fail(err)
	}
	db, err := store.Open(ctx, os.Getenv(restoreChildEnv), store.Options{})
	if err != nil {
		return fail(err)
	}
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer})
	if err != nil {
		return fail(err)
	}
	ca, err := os.ReadFile(os.Getenv(restoreChildEnv + "_CA"))
	if err != nil {
		return fail(err)
	}
	url := os.Getenv(restoreChildEnv + "_GRAPH")
	e, err := engine.NewEngine(svc, engine.Config{Name: "doomed", HeartbeatInterval: 50 * time.Millisecond,
		Graph: graph.Config{GraphURL: url, LoginURL: url, CAPEM: ca}})
	if err != nil {
		return fail(err)
	}
	if err := e.Start(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	select {}
}

func TestRestoreKilledEngineNeverAppliesAnItemTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := engine.NewSealer(key)
	require.NoError(t, err)
	dsn := pgtest.NewDSN(t)
	db, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer})
	require.NoError(t, err)
	b := &testBundle{db: db, svc: svc}
	b.admin, err = svc.ActorByName(ctx, "")
	require.NoError(t, err)

	sim, err := graphsim.New(graphsim.Options{Seed: 7, Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: 8, Groups: 60}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	st := sim.Tenants()[0]
	creds := st.Credentials()
	tenant, err := svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: "crashy", TenantGUID: creds.TenantID,
		ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
	require.NoError(t, err)

	// Sync and back up with an engine of this process, then stop it: the child gets the restore.
	first := b.startEngine(t, engine.Config{Graph: sim.GraphConfig()})
	for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeInventorySync} {
		res, err := svc.Start(ctx, b.admin, engine.StartRequest{Type: typ, TenantID: tenant.ID})
		require.NoError(t, err)
		require.Equal(t, store.OutcomeSucceeded, outcome(b.waitRun(t, res.Run.ID, completed)))
	}
	backup, err := svc.StartBackup(ctx, b.admin, "", tenant.ID, []string{"deviceConfigurations"})
	require.NoError(t, err)
	require.Equal(t, store.OutcomeSucceeded, outcome(b.waitRun(t, backup.Run.ID, completed)))
	first.Stop()
	sets, err := svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{TenantID: tenant.ID, Limit: 1})
	require.NoError(t, err)
	set, err := svc.GetBackupSet(ctx, b.admin, sets[0].ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(set.Items), 8)

	// Every create takes a while, so the kill lands mid-restore.
	st.AddFault(graphsim.Fault{Kind: graphsim.FaultSlow, Endpoint: "deviceConfigurations.create", Delay: 300 * time.Millisecond})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, sim.CAPEM(), 0o600))
	child := startChild(t, restoreChildEnv+"="+dsn, restoreChildEnv+"_KEY="+hex.EncodeToString(key),
		restoreChildEnv+"_CA="+caFile, restoreChildEnv+"_GRAPH="+sim.GraphURL())

	started, err := svc.StartRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: set.ID})
	require.NoError(t, err)
	b.waitRun(t, started.Run.ID, func(r store.Run) bool { return r.Status == store.StatusRunning && r.ProgressProcessed >= 2 })
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	st.ClearFaults()

	b.startEngine(t, engine.Config{Name: "survivor", StaleAfter: 500 * time.Millisecond, Graph: sim.GraphConfig()})
	run := b.waitRun(t, started.Run.ID, completed)
	require.Equal(t, 2, run.Attempt, "resumed, not restarted")
	require.Contains(t, []store.Outcome{store.OutcomeSucceeded, store.OutcomePartiallySucceeded}, outcome(run), deref(run.ReasonDetail))

	view, err := svc.GetRestore(ctx, b.admin, started.Restore.ID)
	require.NoError(t, err)
	copies := map[string]int{}
	for _, p := range st.Policies(graph.FamilyDeviceConfigurations) {
		if name, _ := p["displayName"].(string); strings.HasSuffix(name, view.NameSuffix) {
			copies[strings.TrimSuffix(name, view.NameSuffix)]++
		}
	}
	var applied, uncertain int
	for _, it := range view.Items {
		require.LessOrEqual(t, copies[it.DisplayName], 1, "%s was created twice", it.DisplayName)
		switch it.State {
		case store.RestoreApplied:
			applied++
			require.Equal(t, 1, copies[it.DisplayName], "%s: applied means exactly one copy", it.DisplayName)
		case store.RestoreUncertain:
			uncertain++
			require.Equal(t, "run_interrupted", deref(it.ReasonCode))
		default:
			t.Fatalf("%s ended %s: %s", it.DisplayName, it.State, deref(it.Detail))
		}
	}
	t.Logf("%d applied, %d uncertain (%s)", applied, uncertain, outcome(run))
	require.LessOrEqual(t, uncertain, 1, "only the write in flight at the kill is uncertain")
	require.Equal(t, len(view.Items), applied+uncertain)
	var audits int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'restore.item'`).Scan(&audits))
	require.Equal(t, applied, audits, "one audit event per item written")
	events, err := svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
	require.NoError(t, err)
	var timeline []string
	for _, e := range events {
		timeline = append(timeline, e.Message)
	}
	joined := strings.Join(timeline, "|")
	require.Contains(t, joined, "started on doomed")
	require.Contains(t, joined, "resumed on survivor (attempt 2)")
}
