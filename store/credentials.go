package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewCredential is a sealed credential that replaces a connection's (`tenants set-credential`).
type NewCredential struct {
	AuthKind        string // "secret" or "certificate"
	Ciphertext      []byte // sealed with the connection as associated data
	KeyID           string
	SecretExpiresAt *time.Time
}

// ReplaceCredential swaps connection id's credential for c and resets its verification: what was
// verified was the old credential. It returns the connection as stored.
func ReplaceCredential(ctx context.Context, q Querier, id int64, c NewCredential) (ProviderConnection, error) {
	out, err := scanConnection(q.QueryRow(ctx, `UPDATE provider_connections SET auth_kind = $2, credential_ciphertext = $3,
			credential_key_id = $4, credential_bound = true, secret_expires_at = $5, status = 'unverified', status_reason_code = NULL,
			missing_permissions = '{}', granted_permissions = '{}', verification = '{}', updated_at = now()
		WHERE id = $1 RETURNING `+connectionColumns, id, c.AuthKind, c.Ciphertext, c.KeyID, c.SecretExpiresAt))
	if err != nil {
		return out, notFound(err, fmt.Sprintf("provider connection %d", id))
	}
	return out, nil
}

// CredentialsToReseal lists the sealed credentials that are not under keyID or not bound to their
// row, oldest first: what `rekey` re-seals.
func CredentialsToReseal(ctx context.Context, q Querier, keyID string) ([]SealedCredential, error) {
	rows, err := q.Query(ctx, `SELECT c.id, c.tenant_id, t.name, c.credential_key_id, c.credential_bound, c.credential_ciphertext, c.secret_expires_at
		FROM provider_connections c JOIN tenants t ON t.id = c.tenant_id
		WHERE c.credential_key_id <> $1 OR NOT c.credential_bound ORDER BY c.id`, keyID)
	if err != nil {
		return nil, fmt.Errorf("error listing credentials to re-seal: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SealedCredential, error) {
		var c SealedCredential
		return c, r.Scan(&c.ConnectionID, &c.TenantID, &c.TenantName, &c.KeyID, &c.Bound, &c.Ciphertext, &c.SecretExpiresAt)
	})
}

// ResealCredential replaces connection id's ciphertext old by sealed (under keyID, bound to the
// row) only if it is still old: a credential replaced meanwhile (`set-credential`) is newer and
// wins. It reports whether it replaced it.
func ResealCredential(ctx context.Context, q Querier, id int64, old, sealed []byte, keyID string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE provider_connections SET credential_ciphertext = $3, credential_key_id = $4, credential_bound = true
		WHERE id = $1 AND credential_ciphertext = $2`, id, old, sealed, keyID)
	if err != nil {
		return false, fmt.Errorf("error re-sealing the credential of connection %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// resealBatch is how many payloads one round of ResealPayloads reads.
const resealBatch = 200

// ResealPayloads re-seals every sealed backup payload not under sealer's primary key with it,
// keeping its binding to its hash, batch by batch, each row compare-and-swapped so a concurrent
// writer is never overwritten. It returns how many it re-sealed; rows it cannot open are an error
// naming the key they were sealed with.
func ResealPayloads(ctx context.Context, q Querier, sealer PayloadSealer) (int, error) {
	done := 0
	after := ""
	for {
		rows, err := q.Query(ctx, `SELECT hash, sealed, coalesce(key_id, '') FROM backup_payloads
			WHERE sealed IS NOT NULL AND key_id IS DISTINCT FROM $1 AND hash > $2 ORDER BY hash LIMIT $3`, sealer.KeyID(), after, resealBatch)
		if err != nil {
			return done, fmt.Errorf("error listing payloads to re-seal: %w", err)
		}
		type sealedRow struct {
			hash, keyID string
			sealed      []byte
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedRow, error) {
			var s sealedRow
			return s, r.Scan(&s.hash, &s.sealed, &s.keyID)
		})
		if err != nil {
			return done, fmt.Errorf("error listing payloads to re-seal: %w", err)
		}
		if len(batch) == 0 {
			return done, nil
		}
		for _, p := range batch {
			after = p.hash
			plain, err := sealer.OpenWith(p.sealed, payloadAAD(p.hash))
			if err != nil {
				return done, fmt.Errorf("cannot open backup payload %s (sealed with key %s): %w", p.hash, p.keyID, err)
			}
			resealed, err := sealer.SealWith(plain, payloadAAD(p.hash))
			if err != nil {
				return done, err
			}
			tag, err := q.Exec(ctx, `UPDATE backup_payloads SET sealed = $3, key_id = $4 WHERE hash = $1 AND sealed = $2`,
				p.hash, p.sealed, resealed, sealer.KeyID())
			if err != nil {
				return done, fmt.Errorf("error re-sealing backup payload %s: %w", p.hash, err)
			}
			done += int(tag.RowsAffected())
		}
	}
}

// SealedKeyCount is how many ciphertexts of one kind a key sealed.
type SealedKeyCount struct {
	Kind  string `json:"kind"` // "credential" or "payload"
	KeyID string `json:"key_id"`
	Count int64  `json:"count"`
}

// SealedKeyCounts counts every ciphertext by kind and the key that sealed it: what `rekey` reports
// before and after.
func SealedKeyCounts(ctx context.Context, q Querier) ([]SealedKeyCount, error) {
	rows, err := q.Query(ctx, `SELECT 'credential', credential_key_id, count(*) FROM provider_connections GROUP BY 2
		UNION ALL SELECT 'payload', coalesce(key_id, ''), count(*) FROM backup_payloads WHERE sealed IS NOT NULL GROUP BY 2
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("error counting sealed secrets: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SealedKeyCount, error) {
		var c SealedKeyCount
		return c, r.Scan(&c.Kind, &c.KeyID, &c.Count)
	})
}

// ActiveTenantRuns lists the ids of tenant's queued or running runs.
func ActiveTenantRuns(ctx context.Context, q Querier, tenantID int64) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT id FROM operation_runs WHERE tenant_id = $1 AND status <> 'completed' ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("error listing the active runs of tenant %d: %w", tenantID, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// LockTenant locks tenant id's row until tx ends: a run cannot start for it meanwhile (inserting a
// run takes a key-share lock on its tenant).
func LockTenant(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, id); err != nil {
		return fmt.Errorf("error locking tenant %d: %w", id, err)
	}
	return nil
}

// RemovedTenant counts what DeleteTenant removed and kept.
type RemovedTenant struct {
	RunsKept         int64 `json:"runs_kept"`
	BackupSets       int64 `json:"backup_sets"`
	PayloadsRemoved  int64 `json:"payloads_removed"`
	InventoryItems   int64 `json:"inventory_items"`
	DirectoryObjects int64 `json:"directory_objects"`
}

// DeleteTenant deletes tenant id with its connection and cached data (directory, inventory,
// backups and the payloads only they used, schedules, restores); its runs stay, naming the tenant
// by its name, and so does the audit. Run it in the transaction that writes the audit event.
func DeleteTenant(ctx context.Context, tx pgx.Tx, id int64) (RemovedTenant, error) {
	var out RemovedTenant
	err := tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM operation_runs WHERE tenant_id = $1),
		(SELECT count(*) FROM backup_sets WHERE tenant_id = $1),
		(SELECT count(*) FROM inventory_items WHERE tenant_id = $1),
		(SELECT count(*) FROM directory_groups WHERE tenant_id = $1) + (SELECT count(*) FROM directory_role_definitions WHERE tenant_id = $1)`,
		id).Scan(&out.RunsKept, &out.BackupSets, &out.InventoryItems, &out.DirectoryObjects)
	if err != nil {
		return out, fmt.Errorf("error counting the data of tenant %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE operation_runs r SET removed_tenant_name = t.name FROM tenants t
		WHERE t.id = $1 AND r.tenant_id = t.id`, id); err != nil {
		return out, fmt.Errorf("error keeping the runs of tenant %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE removed_payloads ON COMMIT DROP AS
		SELECT DISTINCT i.payload_hash AS hash FROM backup_items i JOIN backup_sets s ON s.id = i.set_id WHERE s.tenant_id = $1`, id); err != nil {
		return out, fmt.Errorf("error listing the payloads of tenant %d: %w", id, err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
	if err != nil {
		return out, fmt.Errorf("error deleting tenant %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return out, fmt.Errorf("tenant %d: %w", id, ErrNotFound)
	}
	tag, err = tx.Exec(ctx, `DELETE FROM backup_payloads p USING removed_payloads r WHERE p.hash = r.hash
		AND NOT EXISTS (SELECT 1 FROM backup_items i WHERE i.payload_hash = p.hash)
		AND NOT EXISTS (SELECT 1 FROM restore_items ri WHERE ri.payload_hash = p.hash)`)
	if err != nil {
		return out, fmt.Errorf("error deleting the payloads of tenant %d: %w", id, err)
	}
	out.PayloadsRemoved = tag.RowsAffected()
	return out, nil
}
