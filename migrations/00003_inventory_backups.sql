-- +goose Up
-- Intune inventory, backup schedules, content-addressed backups (issue #6, docs/design.md#domain).

-- The latest known state of every Intune object of a tenant, one row per (tenant, family, Graph
-- id). family is the Graph collection (graph.Family); policy_type is the classification derived
-- from @odata.type (enrollment configurations fan out into device limit, platform restrictions,
-- ESP, ...; an unrecognised type is 'unknown', never misfiled). Objects gone from Graph keep their
-- row with deleted_at set.
CREATE TABLE inventory_items (
    id               bigserial PRIMARY KEY,
    tenant_id        bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    family           text NOT NULL,
    graph_id         text NOT NULL,
    policy_type      text NOT NULL,
    is_default       boolean NOT NULL DEFAULT false,   -- a built-in default (priority 0, _Default* id)
    display_name     text NOT NULL DEFAULT '',
    odata_type       text NOT NULL DEFAULT '',
    last_modified    timestamptz,
    payload_hash     text NOT NULL,                    -- sha256 of the normalized object
    payload          jsonb NOT NULL,                   -- the normalized object as listed
    last_seen_run_id bigint REFERENCES operation_runs(id) ON DELETE SET NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    changed_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    UNIQUE (tenant_id, family, graph_id)
);
CREATE INDEX inventory_items_tenant_idx ON inventory_items (tenant_id, id DESC);
CREATE INDEX inventory_items_tenant_type_idx ON inventory_items (tenant_id, policy_type, id DESC);

CREATE TABLE backup_schedules (
    id           bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id    bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._ -]{0,62}$'),
    cron         text NOT NULL,                 -- 5 fields, or 6 with leading seconds
    timezone     text NOT NULL DEFAULT 'UTC',   -- IANA zone the cron is read in
    families     text[] NOT NULL DEFAULT '{}',  -- empty: every Intune family
    keep_count   integer CHECK (keep_count IS NULL OR keep_count > 0),
    keep_days    integer CHECK (keep_days IS NULL OR keep_days > 0),
    paused       boolean NOT NULL DEFAULT false,
    -- Fire times before fire_from never count as missed: set on create, resume and cron change.
    fire_from    timestamptz NOT NULL DEFAULT now(),
    created_by   bigint REFERENCES users(id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX backup_schedules_workspace_idx ON backup_schedules (workspace_id, id DESC);
CREATE INDEX backup_schedules_tenant_idx ON backup_schedules (tenant_id, id DESC);
CREATE INDEX backup_schedules_updated_idx ON backup_schedules (updated_at);

ALTER TABLE operation_runs ADD CONSTRAINT operation_runs_schedule_fk
    FOREIGN KEY (schedule_id) REFERENCES backup_schedules(id);

-- Normalized payloads, stored once per content hash: identical configuration is stored once
-- however many sets and tenants hold it.
CREATE TABLE backup_payloads (
    hash        text PRIMARY KEY,               -- sha256 hex of payload's canonical JSON
    payload     jsonb NOT NULL,
    size_bytes  integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One snapshot run's items. A set is 'complete' only when every chosen family was read to the end.
CREATE TABLE backup_sets (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id     bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id        bigint UNIQUE REFERENCES operation_runs(id) ON DELETE SET NULL,
    schedule_id   bigint REFERENCES backup_schedules(id) ON DELETE SET NULL,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'failed')),
    families      text[] NOT NULL DEFAULT '{}',
    item_count    integer NOT NULL DEFAULT 0,
    sensitive     boolean NOT NULL DEFAULT false,  -- holds decrypted secrets: redacted in every view
    new_payloads  integer NOT NULL DEFAULT 0,      -- payloads this set stored first
    new_bytes     bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX backup_sets_workspace_idx ON backup_sets (workspace_id, id DESC);
CREATE INDEX backup_sets_tenant_idx ON backup_sets (tenant_id, id DESC);
CREATE INDEX backup_sets_schedule_idx ON backup_sets (schedule_id, id DESC);

CREATE TABLE backup_items (
    id            bigserial PRIMARY KEY,
    set_id        bigint NOT NULL REFERENCES backup_sets(id) ON DELETE CASCADE,
    family        text NOT NULL,
    graph_id      text NOT NULL,
    policy_type   text NOT NULL,
    is_default    boolean NOT NULL DEFAULT false,
    display_name  text NOT NULL DEFAULT '',
    odata_type    text NOT NULL DEFAULT '',
    payload_hash  text NOT NULL REFERENCES backup_payloads(hash),
    sensitive     boolean NOT NULL DEFAULT false,
    UNIQUE (set_id, family, graph_id)
);
CREATE INDEX backup_items_set_idx ON backup_items (set_id, id DESC);
CREATE INDEX backup_items_payload_idx ON backup_items (payload_hash);

-- Live updates for the dashboard's backup and schedule screens.
CREATE TRIGGER backup_schedules_notify AFTER INSERT OR UPDATE OR DELETE ON backup_schedules
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER backup_sets_notify AFTER INSERT OR UPDATE OR DELETE ON backup_sets
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();

-- +goose Down
DROP TABLE backup_items, backup_sets, backup_payloads CASCADE;
ALTER TABLE operation_runs DROP CONSTRAINT operation_runs_schedule_fk;
DROP TABLE backup_schedules, inventory_items CASCADE;
