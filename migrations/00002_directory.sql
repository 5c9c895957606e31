-- +goose Up
-- Cached directory data per tenant (docs/design.md#domain): groups and directory role definitions, refreshed only
-- by sync runs. Deleted objects are kept (deleted_at) for history and hidden by default.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE directory_groups (
    tenant_id             bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    graph_id              text NOT NULL,
    display_name          text NOT NULL DEFAULT '',
    description           text NOT NULL DEFAULT '',
    group_types           text[] NOT NULL DEFAULT '{}',
    security_enabled      boolean,
    mail_enabled          boolean,
    membership_rule       text,
    is_assignable_to_role boolean,
    on_prem_sync_enabled  boolean,
    created_date_time     timestamptz,
    content_hash          bytea NOT NULL,     -- of the synced fields: unchanged objects are not rewritten
    deleted_at            timestamptz,
    synced_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, graph_id)
);
-- Substring search (ILIKE '%q%') at 500k+ groups.
CREATE INDEX directory_groups_name_trgm_idx ON directory_groups USING gin (display_name gin_trgm_ops);
-- Listing by name with keyset pagination.
CREATE INDEX directory_groups_name_idx ON directory_groups (tenant_id, display_name, graph_id) WHERE deleted_at IS NULL;

CREATE TABLE directory_role_definitions (
    tenant_id        bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    graph_id         text NOT NULL,
    display_name     text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    is_built_in      boolean,
    is_enabled       boolean,
    template_id      text,
    version          text,
    role_permissions jsonb NOT NULL DEFAULT '[]',   -- allowedResourceActions + condition, as Graph sends them
    content_hash     bytea NOT NULL,
    deleted_at       timestamptz,
    synced_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, graph_id)
);
CREATE INDEX directory_role_definitions_name_trgm_idx ON directory_role_definitions USING gin (display_name gin_trgm_ops);

-- Per tenant and collection: the stored delta link and when the cache was last refreshed.
CREATE TABLE directory_sync_state (
    tenant_id         bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    collection        text NOT NULL CHECK (collection IN ('groups', 'role_definitions')),
    delta_link        text,
    last_full_sync_at timestamptz,
    synced_at         timestamptz,
    item_count        bigint NOT NULL DEFAULT 0,
    last_run_id       bigint REFERENCES operation_runs(id) ON DELETE SET NULL,
    PRIMARY KEY (tenant_id, collection)
);

-- +goose Down
DROP TABLE directory_sync_state, directory_role_definitions, directory_groups;
