package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// credentialRow reads a connection's sealed credential as stored.
func credentialRow(t *testing.T, db *store.DB, tenantID int64) store.ProviderConnection {
	t.Helper()
	c, err := store.GetDefaultConnection(context.Background(), db.Pool, tenantID)
	require.NoError(t, err)
	return c
}

func auditActions(t *testing.T, db *store.DB, action string) []store.AuditEvent {
	t.Helper()
	w, err := store.GetWorkspaceByName(context.Background(), db.Pool, "default")
	require.NoError(t, err)
	evs, err := store.ListAudit(context.Background(), db.Pool, store.AuditFilter{WorkspaceIDs: []int64{w.ID}, Action: action})
	require.NoError(t, err)
	return evs
}

// TestSecurityCredentialBoundToItsRow reproduces the moved-ciphertext attack: someone with write
// access to the database copies tenant A's sealed credential onto tenant B's connection so B's runs
// sign in as A. The credential is sealed with its row as AES-GCM associated data, so it does not
// open there — whether the flag says bound or not — and B's run is blocked, never sent A's secret.
func TestSecurityCredentialBoundToItsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	a, victim := b.addTenant(t), b.addTenant(t)
	ca := credentialRow(t, b.db, a.ID)
	require.True(t, ca.CredentialBound)
	_, err := b.sealer.OpenWith(ca.CredentialCiphertext, engine.CredentialAAD(ca.ID, a.ID))
	require.NoError(t, err, "opens on its own row")

	attempts := 0
	for _, bound := range []bool{true, false} {
		attempts++
		_, err := b.db.Pool.Exec(ctx, `UPDATE provider_connections SET credential_ciphertext = $1, credential_bound = $2 WHERE tenant_id = $3`,
			ca.CredentialCiphertext, bound, victim.ID)
		require.NoError(t, err)
		check, err := b.svc.CheckCredentials(ctx, b.admin, time.Now())
		require.NoError(t, err)
		require.Len(t, check.Undecryptable, 1, "bound=%v", bound)
		require.Equal(t, victim.Name, check.Undecryptable[0].Tenant)
	}
	b.startEngine(t, engine.Config{})
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: victim.ID})
	require.NoError(t, err)
	r := b.waitRun(t, res.Run.ID, completed)
	require.Equal(t, store.OutcomeBlocked, outcome(r))
	require.Equal(t, "provider_secret_undecryptable", deref(r.ReasonCode))
	t.Logf("METRIC security.moved_credential_refused %d of %d attempts (+1 run blocked)", attempts, attempts)
}

// TestLegacyCredentialsBoundAtEngineStart: a credential sealed before migration 00013 (no
// associated data) still opens, and the first engine of this release re-seals it bound to its row.
func TestLegacyCredentialsBoundAtEngineStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	v := b.addTenant(t)
	legacy, err := b.sealer.Seal([]byte("legacy-secret"))
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE provider_connections SET credential_ciphertext = $1, credential_bound = false WHERE tenant_id = $2`, legacy, v.ID)
	require.NoError(t, err)
	check, err := b.svc.CheckCredentials(ctx, b.admin, time.Now())
	require.NoError(t, err)
	require.Empty(t, check.Undecryptable, "an unbound legacy credential opens")

	b.startEngine(t, engine.Config{})
	c := credentialRow(t, b.db, v.ID)
	require.True(t, c.CredentialBound)
	require.NotEqual(t, legacy, c.CredentialCiphertext)
	plain, err := b.sealer.OpenWith(c.CredentialCiphertext, engine.CredentialAAD(c.ID, v.ID))
	require.NoError(t, err)
	require.Equal(t, "legacy-secret", string(plain))
}

// simService is a service whose own Graph checks (SetCredential's sign-in) reach the simulator.
func simService(t *testing.T, b *simBundle) *engine.Service {
	t.Helper()
	svc, err := engine.NewService(b.db, engine.ServiceOptions{Sealer: b.sealer, Graph: b.sim.GraphConfig()})
	require.NoError(t, err)
	return svc
}

func TestSetCredential(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSim(t, graphsim.TenantSpec{Profile: graphsim.ProfileHealthy, Groups: 3})
	svc := simService(t, b)
	v, st := b.addSimTenant(t, 0, "contoso")
	before := credentialRow(t, b.db, v.ID)

	// A wrong secret: refused with Entra's reason, the old credential untouched, nothing audited.
	_, err := svc.SetCredential(ctx, b.admin, engine.SetCredentialRequest{TenantRef: "contoso", ClientSecret: []byte("not-the-secret")})
	require.ErrorIs(t, err, engine.ErrCredentialRejected)
	require.Contains(t, err.Error(), "AADSTS7000215")
	require.Contains(t, err.Error(), "the old credential stays in place")
	after := credentialRow(t, b.db, v.ID)
	require.Equal(t, before.CredentialCiphertext, after.CredentialCiphertext)
	require.Equal(t, before.AuthKind, after.AuthKind)
	require.Empty(t, auditActions(t, b.db, "tenant.set_credential"))

	// A readonly member may not, whatever the credential; the service says which capability.
	reader := b.addUser(t, "rita", "readonly")
	_, err = svc.SetCredential(ctx, reader, engine.SetCredentialRequest{TenantRef: "contoso", ClientSecret: []byte(st.Credentials().ClientSecret)})
	require.ErrorIs(t, err, engine.ErrForbidden)
	require.Contains(t, err.Error(), "tenant.manage")

	// A certificate that signs in replaces the secret, audited, and a verification starts.
	pem, err := st.CertificatePEM()
	require.NoError(t, err)
	res, err := svc.SetCredential(ctx, b.admin, engine.SetCredentialRequest{TenantRef: "contoso", CertificatePEM: pem})
	require.NoError(t, err)
	require.NotNil(t, res.SignIn)
	require.True(t, res.SignIn.OK)
	require.NotNil(t, res.Verification)
	c := credentialRow(t, b.db, v.ID)
	require.Equal(t, "certificate", c.AuthKind)
	require.True(t, c.CredentialBound)
	plain, err := b.sealer.OpenWith(c.CredentialCiphertext, engine.CredentialAAD(c.ID, v.ID))
	require.NoError(t, err)
	require.Equal(t, pem, plain)
	evs := auditActions(t, b.db, "tenant.set_credential")
	require.Len(t, evs, 1)
	require.Equal(t, "certificate", evs[0].Details["auth_kind"])
	require.Equal(t, true, evs[0].Details["verified"])
	require.False(t, bytes.Contains([]byte(evs[0].Details["key_id"].(string)), pem[:20]))
	r := b.waitRun(t, res.Verification.ID, completed)
	require.Equal(t, store.OutcomeSucceeded, outcome(r), deref(r.ReasonDetail))

	// --no-verify stores even a credential Entra would refuse.
	_, err = svc.SetCredential(ctx, b.admin, engine.SetCredentialRequest{TenantRef: "contoso", ClientSecret: []byte("unchecked"), NoVerify: true})
	require.NoError(t, err)
	require.Equal(t, "secret", credentialRow(t, b.db, v.ID).AuthKind)
	require.Len(t, auditActions(t, b.db, "tenant.set_credential"), 2)
}

func TestRemoveTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	keep, gone := b.addTenant(t), b.addTenant(t)
	for _, v := range []engine.TenantView{keep, gone} {
		set := storetest.BackupSet(ctx, t, b.db.Pool, &storetest.BackupSetOpts{TenantID: v.ID,
			Items: []store.BackupItemRow{{Family: "deviceConfigurations", GraphID: "p-" + v.Name, DisplayName: "p", PayloadHash: "h-" + v.Name, Payload: []byte(`{"a":1}`)}}})
		require.NotZero(t, set.ID)
	}
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: gone.ID})
	require.NoError(t, err)

	reader := b.addUser(t, "rita", "readonly")
	tests := []struct {
		name    string
		actor   engine.Actor
		confirm string
		is      error
		want    string
	}{
		{name: "Readonly", actor: reader, confirm: gone.Name, is: engine.ErrForbidden, want: "tenant.manage"},
		{name: "NoConfirmation", actor: b.admin, confirm: "", is: engine.ErrInvalid, want: "confirm by giving its name"},
		{name: "WrongConfirmation", actor: b.admin, confirm: keep.Name, is: engine.ErrInvalid, want: "confirm by giving its name"},
		{name: "ActiveRun", actor: b.admin, confirm: gone.Name, is: engine.ErrTenantBusy, want: "queued or running run(s)"},
	}
	for _, tt := range tests {
		_, err := b.svc.RemoveTenant(ctx, tt.actor, engine.RemoveTenantRequest{TenantRef: gone.Name, Confirm: tt.confirm})
		require.ErrorIs(t, err, tt.is, tt.name)
		require.Contains(t, err.Error(), tt.want, tt.name)
		_, err = b.svc.GetTenant(ctx, b.admin, gone.Name)
		require.NoError(t, err, "%s: nothing lost", tt.name)
	}

	_, err = b.svc.Cancel(ctx, b.admin, res.Run.ID)
	require.NoError(t, err)
	removed, err := b.svc.RemoveTenant(ctx, b.admin, engine.RemoveTenantRequest{TenantRef: gone.Name, Confirm: gone.Name})
	require.NoError(t, err)
	require.EqualValues(t, 1, removed.RunsKept)
	require.EqualValues(t, 1, removed.BackupSets)

	_, err = b.svc.GetTenant(ctx, b.admin, gone.Name)
	require.ErrorIs(t, err, engine.ErrNotFound)
	run, err := b.svc.GetRun(ctx, b.admin, res.Run.ID)
	require.NoError(t, err, "the run is kept")
	require.Equal(t, gone.Name, run.TenantName, "and still names its tenant")
	require.Len(t, auditActions(t, b.db, "tenant.remove"), 1)
	require.NotEmpty(t, auditActions(t, b.db, "run.start"), "earlier audit is kept")
	var sets, conns int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM backup_sets WHERE tenant_id = $1),
		(SELECT count(*) FROM provider_connections WHERE tenant_id = $1)`, gone.ID).Scan(&sets, &conns))
	require.Zero(t, sets+conns)
	_, err = b.svc.GetTenant(ctx, b.admin, keep.Name)
	require.NoError(t, err, "the other tenant is untouched")
}

// TestSecurityKeyRotation rotates the secret key while the data is live: every credential and sealed payload is
// re-sealed under the new key (the old and new key both open during the rotation), a sealer with
// only the new key then opens everything, and rekey refuses while an engine lacks the new key.
func TestSecurityKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oldKey, nextKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(nextKey)
	oldSealer, err := engine.NewSealer(oldKey)
	require.NoError(t, err)
	newKey, err := engine.NewSealer(nextKey)
	require.NoError(t, err)
	both, err := engine.NewSealer(nextKey, oldKey)
	require.NoError(t, err)
	require.Equal(t, []string{oldSealer.KeyID()}, both.PreviousKeyIDs())

	db := pgtest.NewDB(t)
	oldSvc, err := engine.NewService(db, engine.ServiceOptions{Sealer: oldSealer})
	require.NoError(t, err)
	admin, err := oldSvc.ActorByName(ctx, "")
	require.NoError(t, err)
	b := &testBundle{db: db, svc: oldSvc, admin: admin, sealer: oldSealer}
	v1, _ := b.addTenant(t), b.addTenant(t)
	secretItem := store.BackupItemRow{Family: "deviceConfigurations", GraphID: "omacp-1", DisplayName: "OMA-URI with a secret",
		PayloadHash: "h-secret", Payload: []byte(`{"omaSettings":[{"value":"TA-PLANTED-OMA-SECRET"}]}`), Sensitive: true}
	set := storetest.BackupSet(store.WithPayloadSealer(ctx, oldSealer), t, db.Pool, &storetest.BackupSetOpts{TenantID: v1.ID,
		Items: []store.BackupItemRow{secretItem}})
	oldEngine := b.startEngine(t, engine.Config{Name: "old-key-engine"})

	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: both})
	require.NoError(t, err)

	_, err = svc.Rekey(ctx, b.admin, engine.RekeyRequest{})
	require.ErrorIs(t, err, engine.ErrRekeyUnsafe)
	require.Contains(t, err.Error(), "old-key-engine")
	oldEngine.Stop()

	owner := b.addUser(t, "rita", "owner")
	_, err = svc.Rekey(ctx, owner, engine.RekeyRequest{})
	require.ErrorIs(t, err, engine.ErrForbidden, "only the administrator")

	began := time.Now()
	res, err := svc.Rekey(ctx, b.admin, engine.RekeyRequest{})
	took := time.Since(began)
	require.NoError(t, err)
	require.Equal(t, 2, res.Credentials)
	t.Logf("METRIC rekey.resealed %d secrets", res.Credentials+res.Payloads)
	t.Logf("METRIC rekey.duration %.1f ms", float64(took.Microseconds())/1000)
	require.Positive(t, res.Payloads)
	for _, c := range res.After {
		require.Equal(t, newKey.KeyID(), c.KeyID, "%s still under another key", c.Kind)
	}
	again, err := svc.Rekey(ctx, b.admin, engine.RekeyRequest{})
	require.NoError(t, err)
	require.Zero(t, again.Credentials+again.Payloads, "nothing left to re-seal")

	onlyNew, err := engine.NewService(db, engine.ServiceOptions{Sealer: newKey})
	require.NoError(t, err)
	check, err := onlyNew.CheckCredentials(ctx, b.admin, time.Now())
	require.NoError(t, err)
	require.Empty(t, check.Undecryptable)
	require.Equal(t, 2, check.Connections)
	payload, err := onlyNew.BackupItemPayload(ctx, b.admin, set.ID, secretItem.GraphID)
	require.NoError(t, err, "sealed payloads open with the new key alone")
	require.Contains(t, string(payload), "omaSettings")
	plain, err := store.BackupPayloads(store.WithPayloadSealer(ctx, newKey), db.Pool, []string{store.ScopedPayloadHash(v1.WorkspaceID, secretItem.PayloadHash)})
	require.NoError(t, err)
	require.Len(t, plain, 1)
	for _, p := range plain {
		require.Contains(t, string(p), "TA-PLANTED-OMA-SECRET")
	}
	oldOnly, err := oldSvc.CheckCredentials(ctx, b.admin, time.Now())
	require.NoError(t, err)
	require.Len(t, oldOnly.Undecryptable, 2, "the old key alone no longer opens them")
	var plainLeft int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads WHERE position('TA-PLANTED' in encode(coalesce(sealed, ''), 'escape')) > 0`).Scan(&plainLeft))
	require.Zero(t, plainLeft)
}
