-- Security hardening (docs/design.md#backups, security review finding 3).
-- +goose Up

-- Payloads that hold secrets are sealed at rest: sealed (AES-256-GCM under the secret key whose id is
-- key_id, bound to the row's hash) replaces payload. Existing sensitive payloads are sealed by the
-- first process that opens the database with the secret key (store.SealPlaintextPayloads).
ALTER TABLE backup_payloads ALTER COLUMN payload DROP NOT NULL,
    ADD COLUMN sealed bytea,
    ADD COLUMN key_id text,
    ADD CONSTRAINT backup_payloads_sealed_or_plain CHECK ((payload IS NULL) <> (sealed IS NULL));

-- Deduplication is per workspace: a payload's key becomes sha256('workspace:<id>:<content hash>')
-- (store.ScopedPayloadHash). A payload that two workspaces shared is copied into each.
CREATE TEMP TABLE payload_scope AS
    SELECT DISTINCT i.payload_hash AS old_hash, s.workspace_id,
        encode(sha256(convert_to('workspace:' || s.workspace_id || ':' || i.payload_hash, 'UTF8')), 'hex') AS new_hash
    FROM backup_items i JOIN backup_sets s ON s.id = i.set_id;
INSERT INTO backup_payloads (hash, payload, size_bytes, created_at)
    SELECT r.new_hash, p.payload, p.size_bytes, p.created_at FROM payload_scope r JOIN backup_payloads p ON p.hash = r.old_hash
    ON CONFLICT (hash) DO NOTHING;
UPDATE backup_items i SET payload_hash = r.new_hash FROM backup_sets s, payload_scope r
    WHERE s.id = i.set_id AND r.old_hash = i.payload_hash AND r.workspace_id = s.workspace_id;
-- A restore's ledger names the payload of each item: it follows its backup item's new key.
UPDATE restore_items ri SET payload_hash = bi.payload_hash FROM backup_items bi
    WHERE bi.id = ri.backup_item_id AND ri.payload_hash <> bi.payload_hash;
DELETE FROM backup_payloads p WHERE NOT EXISTS (SELECT 1 FROM backup_items i WHERE i.payload_hash = p.hash);
DROP TABLE payload_scope;

-- +goose Down
-- Sealed payloads cannot be unsealed in SQL: they go, with the items that reference them.
DELETE FROM backup_items i USING backup_payloads p WHERE p.hash = i.payload_hash AND p.sealed IS NOT NULL;
DELETE FROM backup_payloads WHERE sealed IS NOT NULL;
ALTER TABLE backup_payloads DROP CONSTRAINT backup_payloads_sealed_or_plain, DROP COLUMN key_id, DROP COLUMN sealed,
    ALTER COLUMN payload SET NOT NULL;
