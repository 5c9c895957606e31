-- +goose Up
-- Imported legacy history stays read-only, but the database's own referential actions on it must
-- go through: removing a tenant sets the tenant of its legacy runs to NULL (ON DELETE SET NULL; the
-- runs keep tenant_ref, the name the old tracker gave), and deleting a workspace deletes its legacy
-- runs (ON DELETE CASCADE). Before, both were refused by the read-only trigger, so a tenant with
-- imported history could not be removed at all. Every other UPDATE or DELETE is still refused.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION legacy_runs_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The tenant's removal: the same row with only its tenant link cleared.
    IF TG_OP = 'UPDATE' AND OLD.tenant_id IS NOT NULL AND NEW.tenant_id IS NULL
        AND (to_jsonb(NEW) - 'tenant_id') = (to_jsonb(OLD) - 'tenant_id')
        AND NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
        RETURN NEW;
    END IF;
    -- The workspace's deletion: its row is gone by the time the cascade reaches its history.
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM workspaces WHERE id = OLD.workspace_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'legacy run history is read-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION legacy_runs_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'legacy run history is read-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
