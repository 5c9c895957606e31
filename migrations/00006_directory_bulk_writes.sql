-- +goose Up
-- A full sync writes up to millions of cache rows in one transaction. A foreign key to tenants checked
-- each of them (a look-up and a row lock on the same tenant, per row: about a seventh of the database's
-- work in a 1M-group sync). The sync now locks its tenant once (FOR KEY SHARE, as the foreign key
-- did, so the tenant cannot be deleted under it) and a trigger on tenants removes a deleted tenant's
-- cache, as ON DELETE CASCADE did. Only store.DirectoryWriter writes these tables.
ALTER TABLE directory_groups DROP CONSTRAINT directory_groups_tenant_id_fkey;
ALTER TABLE directory_role_definitions DROP CONSTRAINT directory_role_definitions_tenant_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION tenantatlas_drop_directory_cache() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM directory_groups WHERE tenant_id = OLD.id;
    DELETE FROM directory_role_definitions WHERE tenant_id = OLD.id;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER tenants_drop_directory_cache AFTER DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_drop_directory_cache();

-- +goose Down
DROP TRIGGER tenants_drop_directory_cache ON tenants;
DROP FUNCTION tenantatlas_drop_directory_cache();
DELETE FROM directory_groups g WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = g.tenant_id);
DELETE FROM directory_role_definitions d WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id);
ALTER TABLE directory_groups ADD CONSTRAINT directory_groups_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE;
ALTER TABLE directory_role_definitions ADD CONSTRAINT directory_role_definitions_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE;
