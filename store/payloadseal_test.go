package store_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/migrations"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// testSealer is AES-256-GCM with associated data, as engine.Sealer.
type testSealer struct{ aead cipher.AEAD }

func newTestSealer(t *testing.T) *testSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &testSealer{aead: aead}
}

func (s *testSealer) KeyID() string { return "test" }
func (s *testSealer) SealWith(p, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, p, ad), nil
}
func (s *testSealer) OpenWith(c, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	return s.aead.Open(nil, c[:n], c[n:], ad)
}

const plainSecret = `{"object":{"omaSettings":[{"value":"sim-plaintext-38e71b67"}]}}`

// TestSecurityBackupPayloadsSealed: a sensitive payload is sealed at rest, bound to its row;
// identical configuration backed up in another workspace is stored again (no cross-workspace
// "0 new payloads" oracle); a write without the key is refused (security review finding 3).
func TestSecurityBackupPayloadsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	sealer := newTestSealer(t)
	sctx := store.WithPayloadSealer(ctx, sealer)
	other := storetest.Workspace(ctx, t, db.Pool, nil)
	mine := storetest.Tenant(ctx, t, db.Pool, nil)
	theirs := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: other.ID})
	items := []store.BackupItemRow{
		{Family: "deviceConfigurations", GraphID: "p1", PolicyType: "custom", DisplayName: "Wi-Fi key", PayloadHash: "c0ffee01",
			Payload: []byte(plainSecret), Sensitive: true},
		{Family: "deviceConfigurations", GraphID: "p2", PolicyType: "plain", DisplayName: "Plain", PayloadHash: "c0ffee02",
			Payload: []byte(`{"object":{"x":1}}`)},
	}
	set := storetest.BackupSet(sctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: mine.ID, Items: items})
	require.Equal(t, 2, set.NewPayloads)

	var plain *string
	var sealed []byte
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT p.payload::text, p.sealed FROM backup_payloads p
		JOIN backup_items i ON i.payload_hash = p.hash WHERE i.set_id = $1 AND i.graph_id = 'p1'`, set.ID).Scan(&plain, &sealed))
	require.Nil(t, plain, "no plaintext at rest")
	require.NotContains(t, string(sealed), "sim-plaintext")

	// The same configuration in another workspace is new there.
	set2 := storetest.BackupSet(sctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: theirs.ID, Items: items})
	require.Equal(t, 2, set2.NewPayloads, "deduplication is per workspace")
	// … and deduplicated within one.
	set3 := storetest.BackupSet(sctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: mine.ID, Items: items})
	require.Zero(t, set3.NewPayloads)

	list, err := store.ListBackupItems(ctx, db.Pool, set.ID)
	require.NoError(t, err)
	var keys []string
	for _, it := range list {
		keys = append(keys, it.PayloadHash)
	}
	got, err := store.BackupPayloads(sctx, db.Pool, keys)
	require.NoError(t, err)
	require.JSONEq(t, plainSecret, string(got[list[0].PayloadHash]))
	_, err = store.BackupPayloads(ctx, db.Pool, keys)
	require.ErrorIs(t, err, store.ErrNoPayloadKey, "sealed payloads do not open without the key")

	// Bound to its row: a ciphertext copied to another payload row does not open there.
	_, err = db.Pool.Exec(ctx, `UPDATE backup_payloads SET payload = NULL, sealed = $2, key_id = 'test' WHERE hash = $1`, list[1].PayloadHash, sealed)
	require.NoError(t, err)
	_, err = store.BackupPayloads(sctx, db.Pool, []string{list[1].PayloadHash})
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot open a sealed backup payload")

	// Without the key a sensitive payload is refused, never written in plaintext.
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		_, _, err := store.AddBackupItems(ctx, tx, set.ID, items[:1])
		return err
	})
	require.ErrorIs(t, err, store.ErrNoPayloadKey)
}

// TestMigrationSealsAndScopesExistingPayloads: rows written before 00007 (one payload shared by two
// workspaces, holding a secret) are split per workspace by the migration and sealed by the first
// process with the key.
func TestMigrationSealsAndScopesExistingPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	other := storetest.Workspace(ctx, t, db.Pool, nil)
	a := storetest.Tenant(ctx, t, db.Pool, nil)
	b := storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{WorkspaceID: other.ID})
	setA := storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: a.ID})
	setB := storetest.BackupSet(ctx, t, db.Pool, &storetest.BackupSetOpts{TenantID: b.ID})

	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	t.Cleanup(func() { sqlDB.Close() })
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = provider.DownTo(ctx, 6)
	require.NoError(t, err)
	// The schema of 00006: one payload row per content hash, shared by both workspaces, in plaintext.
	_, err = db.Pool.Exec(ctx, `INSERT INTO backup_payloads (hash, payload, size_bytes) VALUES ('c0ffee01', $1::jsonb, 10)`, plainSecret)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO backup_items (set_id, family, graph_id, policy_type, payload_hash, sensitive)
		VALUES ($1, 'deviceConfigurations', 'p1', 'custom', 'c0ffee01', true), ($2, 'deviceConfigurations', 'p1', 'custom', 'c0ffee01', true)`,
		setA.ID, setB.ID)
	require.NoError(t, err)
	_, err = provider.Up(ctx)
	require.NoError(t, err)

	var keys []string
	rows, err := db.Pool.Query(ctx, `SELECT payload_hash FROM backup_items ORDER BY set_id`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{store.ScopedPayloadHash(a.WorkspaceID, "c0ffee01"), store.ScopedPayloadHash(other.ID, "c0ffee01")}, keys)
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads`).Scan(&n))
	require.Equal(t, 2, n, "one payload per workspace, the shared one gone")

	sealer := newTestSealer(t)
	sealedN, err := store.SealPlaintextPayloads(ctx, db, sealer)
	require.NoError(t, err)
	require.Equal(t, 2, sealedN)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM backup_payloads WHERE payload IS NOT NULL OR sealed::text LIKE '%plaintext%'`).Scan(&n))
	require.Zero(t, n)
	got, err := store.BackupPayloads(store.WithPayloadSealer(ctx, sealer), db.Pool, keys)
	require.NoError(t, err)
	require.JSONEq(t, plainSecret, string(got[keys[1]]))
	again, err := store.SealPlaintextPayloads(ctx, db, sealer)
	require.NoError(t, err)
	require.Zero(t, again)
}
