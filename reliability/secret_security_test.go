package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/tui"
)

// TestSecuritySecretsAtRest reads the stored credential: it is AES-256-GCM ciphertext that does not
// contain the secret, opens only with the key that sealed it, detects tampering, and an engine with
// another key blocks the run with provider_secret_undecryptable instead of using it.
func TestSecuritySecretsAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	secret := "TA-PLANTED-SECRET-" + fmt.Sprint(time.Now().UnixNano())
	var ciphertexts, aads [][]byte
	for i := range 2 { // the same secret twice: the nonce makes the ciphertexts differ
		_, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: fmt.Sprintf("rest-%d", i),
			TenantGUID: fmt.Sprintf("6e0c1a2b-0000-4000-8000-%012d", i), ClientID: "3f2a0000-0000-4000-8000-000000000002", ClientSecret: []byte(secret)})
		require.NoError(t, err)
	}
	rows, err := b.db.Pool.Query(ctx, `SELECT id, tenant_id, credential_ciphertext, credential_key_id FROM provider_connections ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close() // a failed assertion mid-loop must not leave the connection checked out
	for rows.Next() {
		var ct []byte
		var keyID string
		var id, tenantID int64
		require.NoError(t, rows.Scan(&id, &tenantID, &ct, &keyID))
		aads = append(aads, engine.CredentialAAD(id, tenantID))
		require.False(t, bytes.Contains(ct, []byte(secret)), "the plaintext secret is in the ciphertext")
		require.False(t, bytes.Contains(ct, []byte(secret[:12])), "a prefix of the secret is in the ciphertext")
		require.Equal(t, b.sealer.KeyID(), keyID)
		ciphertexts = append(ciphertexts, ct)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ciphertexts, 2)
	require.NotEqual(t, ciphertexts[0], ciphertexts[1], "a fresh nonce per seal")

	plain, err := b.sealer.OpenWith(ciphertexts[0], aads[0])
	require.NoError(t, err)
	require.Contains(t, string(plain), secret, "the right key opens it on its own row")
	_, err = b.sealer.OpenWith(ciphertexts[0], aads[1])
	require.ErrorIs(t, err, engine.ErrUndecryptable, "not on another row")
	other := newBundle(t, b.db, b.dsn, nil)
	_, err = other.sealer.OpenWith(ciphertexts[0], aads[0])
	require.ErrorIs(t, err, engine.ErrUndecryptable, "another key does not")
	tampered := bytes.Clone(ciphertexts[0])
	tampered[len(tampered)-1] ^= 1
	_, err = b.sealer.OpenWith(tampered, aads[0])
	require.ErrorIs(t, err, engine.ErrUndecryptable, "GCM detects tampering")
	_, err = b.sealer.OpenWith(ciphertexts[0][:5], aads[0])
	require.ErrorIs(t, err, engine.ErrUndecryptable)

	// An engine holding another key refuses the credential: the run is blocked, not sent garbage.
	other.startEngine(t, engine.Config{})
	tenants, err := other.svc.ListTenants(ctx, other.admin)
	require.NoError(t, err)
	res, err := other.svc.Start(ctx, other.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: tenants[0].ID})
	require.NoError(t, err)
	run := other.waitRun(t, res.Run.ID, completed, 30*time.Second)
	require.Equal(t, store.OutcomeBlocked, deref(run.Outcome))
	require.Equal(t, "provider_secret_undecryptable", deref(run.ReasonCode))
	require.NotContains(t, deref(run.ReasonDetail), secret)
}

// TestSecuritySecretNeverLeaks plants distinctive secrets (working ones, a rejected one, one in a
// certificate's private key) and runs syncs, verifications, backups and failures with every logger
// at debug. The secrets appear in no log line, no row of any table (run events, audit details,
// params, results, reasons), no JSON the Service returns and no dashboard screen.
func TestSecuritySecretNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t)
	b = newBundle(t, b.db, b.dsn, &engine.ServiceOptions{Logger: logger})
	sim, err := graphsim.New(graphsim.Options{Seed: 99, Tenants: []graphsim.TenantSpec{{Groups: 30, PoliciesPerFamily: 1}, {Groups: 5}, {Groups: 5}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	b.startEngine(t, engine.Config{Graph: sim.GraphConfig(), Logger: logger, RetryBudget: 3 * time.Second})

	sts := sim.Tenants()
	var secrets []string
	var tenantIDs []int64
	for i, st := range sts {
		creds := st.Credentials()
		req := engine.AddTenantRequest{Name: fmt.Sprintf("leak-%d", i), TenantGUID: creds.TenantID, ClientID: creds.ClientID}
		switch i {
		case 0:
			req.ClientSecret = []byte(creds.ClientSecret)
			secrets = append(secrets, creds.ClientSecret)
		case 1: // a rejected secret: the sign-in error must not echo it
			wrong := "TA-WRONG-SECRET-" + fmt.Sprint(time.Now().UnixNano())
			req.ClientSecret = []byte(wrong)
			secrets = append(secrets, wrong)
		case 2:
			pem, err := st.CertificatePEM()
			require.NoError(t, err)
			req.CertificatePEM = pem
			key := pem[bytes.Index(pem, []byte("PRIVATE KEY-----"))+17:]
			secrets = append(secrets, string(key[:64])) // a line of the private key
		}
		v, err := b.svc.AddTenant(ctx, b.admin, req)
		require.NoError(t, err)
		tenantIDs = append(tenantIDs, v.ID)
	}
	for i, id := range tenantIDs {
		types := []string{engine.TypeProviderVerification, engine.TypeDirectoryGroupsSync}
		if i == 0 {
			types = append(types, engine.TypeDirectoryRoleDefsSync, engine.TypeInventorySync, engine.TypeBackupRun)
		}
		for _, typ := range types {
			res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: typ, TenantID: id})
			require.NoError(t, err)
			b.waitRun(t, res.Run.ID, completed, 60*time.Second)
		}
	}
	sts[0].AddFault(graphsim.Fault{Kind: graphsim.FaultServerError, Status: 500})
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: tenantIDs[0]})
	require.NoError(t, err)
	b.waitRun(t, res.Run.ID, completed, 30*time.Second)

	check := func(where, text string) {
		t.Helper()
		for _, s := range secrets {
			require.NotContains(t, text, s, "a secret leaked into %s", where)
		}
	}
	check("the engine and service logs", logs.String())
	require.NotEmpty(t, logs.String(), "the logs were captured")

	// Every row of every table, as text.
	tables, err := b.db.Pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	require.NoError(t, err)
	defer tables.Close() // a failed assertion mid-loop must not leave the connection checked out
	var names []string
	for tables.Next() {
		var n string
		require.NoError(t, tables.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, tables.Err())
	for _, n := range names {
		var dump string
		require.NoError(t, b.db.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(string_agg(t::text, E'\n'), '') FROM %q t`, n)).Scan(&dump))
		check("table "+n, dump)
	}
	metric(t, "secrets.tables_scanned", len(names), "tables")

	// Everything the Service returns, as the CLI's --json would print it.
	var out []any
	tenants, err := b.svc.ListTenants(ctx, b.admin)
	require.NoError(t, err)
	out = append(out, tenants)
	for _, id := range tenantIDs {
		v, err := b.svc.GetTenantByID(ctx, b.admin, id)
		require.NoError(t, err)
		out = append(out, v)
	}
	runs, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Limit: 1000})
	require.NoError(t, err)
	out = append(out, runs)
	for _, r := range runs {
		ev, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: r.ID})
		require.NoError(t, err)
		out = append(out, ev)
	}
	audit, err := b.svc.ListAudit(ctx, b.admin, store.AuditFilter{Limit: 1000})
	require.NoError(t, err)
	out = append(out, audit)
	js, err := json.Marshal(out)
	require.NoError(t, err)
	check("the Service's JSON", string(js))

	// Every dashboard screen, including a failed run's detail and the audit log.
	dash := newDashboard(t, &tui.Env{Svc: b.svc, Actor: b.admin, Theme: tui.ThemeNamed("dark"), Width: 200, Height: 60})
	screens := []string{dash.waitFor(10*time.Second, containsAll("CONNECTIONS"))}
	for _, keys := range [][]string{{":", "tenants", "enter"}, {"enter"}, {"esc", ":", "runs all", "enter"}, {"enter"},
		{"esc", ":", "audit", "enter"}, {":", "groups leak-0", "enter"}, {":", "roles leak-0", "enter"}, {":", "backups", "enter"},
		{":", "tenant leak-1", "enter"}, {":", fmt.Sprintf("run %d", res.Run.ID), "enter"}} {
		dash.press(keys...)
		dash.settle(100 * time.Millisecond)
		screens = append(screens, dash.screen())
	}
	for i, s := range screens {
		check(fmt.Sprintf("dashboard screen %d", i), s)
	}
	require.Contains(t, screens[len(screens)-1], fmt.Sprintf("Run %d", res.Run.ID), "the screens were really visited")
	metric(t, "secrets.dashboard_screens", len(screens), "screens")
	metric(t, "secrets.log_bytes", len(logs.String()), "bytes")
}
