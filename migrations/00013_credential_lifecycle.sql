-- Credential lifecycle (security review finding 5; docs/operations.md#rotating-the-secret-key).
-- +goose Up
-- Expand only: two columns with defaults, one nullable column, and a foreign key that deletes less.

-- A credential sealed with its row as AES-GCM associated data (engine.CredentialAAD: the
-- connection's and tenant's ids), so a ciphertext copied onto another connection does not open.
-- Rows sealed before this migration are unbound until an engine of this release (or `tenantatlas
-- rekey`) re-seals them; a bound row is never opened without its associated data.
ALTER TABLE provider_connections ADD COLUMN credential_bound boolean NOT NULL DEFAULT false;

-- The ids of the secret keys each engine holds (primary first): `rekey` refuses while an alive
-- engine lacks the key it would re-seal with. NULL: an engine of an earlier release.
ALTER TABLE engines ADD COLUMN key_ids text[];

-- Removing a tenant (`tenants remove`) deletes its cached data but keeps its runs and audit: runs
-- lose the foreign key to the tenant instead of going with it, and keep its name.
ALTER TABLE operation_runs ADD COLUMN removed_tenant_name text;
ALTER TABLE operation_runs DROP CONSTRAINT operation_runs_tenant_id_fkey,
    ADD CONSTRAINT operation_runs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE operation_runs DROP CONSTRAINT operation_runs_tenant_id_fkey,
    ADD CONSTRAINT operation_runs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE;
ALTER TABLE operation_runs DROP COLUMN removed_tenant_name;
ALTER TABLE engines DROP COLUMN key_ids;
ALTER TABLE provider_connections DROP COLUMN credential_bound;
