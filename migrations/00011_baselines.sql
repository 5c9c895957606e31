-- +goose Up
-- Baselines (docs/design.md#baselines-and-drift-watch): the backup set a tenant's drift.check runs
-- compare its latest inventory with; backup_set_id NULL means "the latest complete set at the time
-- of the check". Expand only: a new table, which engines of 00010 ignore.
CREATE TABLE tenant_baselines (
    tenant_id     bigint PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    backup_set_id bigint REFERENCES backup_sets(id) ON DELETE SET NULL,
    set_by        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tenant_baselines;
