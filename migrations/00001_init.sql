-- +goose Up
-- Core tables of docs/design.md#domain and docs/architecture.md#run-lifecycle. Every list the dashboard shows is read newest first with keyset
-- pagination on id (WHERE id < $cursor ORDER BY id DESC), so each has an index ending in id.

CREATE TABLE workspaces (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$'),
    is_bootstrap boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ssh_keys (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fingerprint  text NOT NULL UNIQUE,          -- SHA256:... of the public key
    public_key   text NOT NULL,                 -- authorized_keys line, without comment
    comment      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ssh_keys_user_idx ON ssh_keys (user_id, id);

CREATE TABLE memberships (
    workspace_id bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'manager', 'operator', 'readonly')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE tenants (
    id           bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    tenant_guid  text NOT NULL,                 -- Entra tenant id (GUID) or verified domain
    display_name text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name),
    UNIQUE (workspace_id, tenant_guid)
);
CREATE INDEX tenants_workspace_idx ON tenants (workspace_id, id DESC);

-- A tenant's app registration. Secrets and certificate keys are AES-256-GCM ciphertext only; the
-- plaintext never reaches the database.
CREATE TABLE provider_connections (
    id                  bigserial PRIMARY KEY,
    tenant_id           bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    is_default          boolean NOT NULL DEFAULT true,
    client_id           text NOT NULL,
    auth_kind           text NOT NULL CHECK (auth_kind IN ('secret', 'certificate')),
    credential_ciphertext bytea NOT NULL,
    credential_key_id   text NOT NULL,          -- which secret key sealed it (first 8 hex of its SHA-256)
    secret_expires_at   timestamptz,
    status              text NOT NULL DEFAULT 'unverified'
                        CHECK (status IN ('unverified', 'verifying', 'ok', 'blocked', 'error')),
    status_reason_code  text,
    missing_permissions text[] NOT NULL DEFAULT '{}',
    granted_permissions text[] NOT NULL DEFAULT '{}',
    verification        jsonb NOT NULL DEFAULT '{}',  -- per-capability result table of the last verification
    last_verified_at    timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX provider_connections_default_idx ON provider_connections (tenant_id) WHERE is_default;
CREATE INDEX provider_connections_tenant_idx ON provider_connections (tenant_id, id DESC);

-- docs/architecture.md#run-lifecycle: the single source of truth for execution tracking.
CREATE TABLE operation_runs (
    id                     bigserial PRIMARY KEY,
    workspace_id           bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id              bigint REFERENCES tenants(id) ON DELETE CASCADE,
    provider_connection_id bigint REFERENCES provider_connections(id) ON DELETE SET NULL,
    type                   text NOT NULL,
    status                 text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed')),
    outcome                text CHECK (outcome IN ('succeeded', 'partially_succeeded', 'failed', 'blocked', 'cancelled')),
    -- Dedupe identity (type + tenant or connection). Unique among active runs only.
    identity_key           text,
    initiator_kind         text NOT NULL CHECK (initiator_kind IN ('user', 'schedule', 'system')),
    initiator_user_id      bigint REFERENCES users(id) ON DELETE SET NULL,
    schedule_id            bigint,
    intended_fire_time     timestamptz,
    is_late                boolean NOT NULL DEFAULT false,
    params                 jsonb NOT NULL DEFAULT '{}',
    progress_processed     bigint NOT NULL DEFAULT 0,
    progress_total         bigint,
    count_succeeded        bigint NOT NULL DEFAULT 0,
    count_failed           bigint NOT NULL DEFAULT 0,
    count_skipped          bigint NOT NULL DEFAULT 0,
    count_created          bigint NOT NULL DEFAULT 0,
    count_updated          bigint NOT NULL DEFAULT 0,
    count_deleted          bigint NOT NULL DEFAULT 0,
    count_unchanged        bigint NOT NULL DEFAULT 0,
    reason_code            text,
    reason_detail          text,
    result                 jsonb NOT NULL DEFAULT '{}',
    retry_of_run_id        bigint REFERENCES operation_runs(id) ON DELETE SET NULL,
    river_job_id           bigint,
    attempt                integer NOT NULL DEFAULT 0,
    cancel_requested_at    timestamptz,
    cancel_requested_by    bigint REFERENCES users(id) ON DELETE SET NULL,
    heartbeat_at           timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    started_at             timestamptz,
    finished_at            timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'completed') = (outcome IS NOT NULL)),
    CHECK ((schedule_id IS NULL) = (intended_fire_time IS NULL))
);
-- Identity rule "dedupe": at most one queued/running run per identity.
CREATE UNIQUE INDEX operation_runs_active_identity_idx ON operation_runs (identity_key)
    WHERE identity_key IS NOT NULL AND status IN ('queued', 'running');
-- Identity rule "strict": at most one run ever per (schedule, intended fire time).
CREATE UNIQUE INDEX operation_runs_schedule_fire_idx ON operation_runs (schedule_id, intended_fire_time)
    WHERE schedule_id IS NOT NULL;
-- Lists: newest first per workspace, per status tab, per tenant, per type, per outcome.
CREATE INDEX operation_runs_workspace_idx ON operation_runs (workspace_id, id DESC);
CREATE INDEX operation_runs_workspace_status_idx ON operation_runs (workspace_id, status, id DESC);
CREATE INDEX operation_runs_workspace_outcome_idx ON operation_runs (workspace_id, outcome, id DESC) WHERE outcome IS NOT NULL;
CREATE INDEX operation_runs_workspace_type_idx ON operation_runs (workspace_id, type, id DESC);
CREATE INDEX operation_runs_tenant_idx ON operation_runs (tenant_id, id DESC);
CREATE INDEX operation_runs_tenant_type_idx ON operation_runs (tenant_id, type, id DESC);
-- Stuck-run detection reads active runs by heartbeat.
CREATE INDEX operation_runs_active_idx ON operation_runs (heartbeat_at) WHERE status IN ('queued', 'running');

CREATE TABLE run_events (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES operation_runs(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text NOT NULL DEFAULT 'log' CHECK (kind IN ('timeline', 'log', 'item')),
    level       text NOT NULL DEFAULT 'info' CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message     text NOT NULL,
    reason_code text,
    item_ref    text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX run_events_run_idx ON run_events (run_id, id);

-- Append-only: every mutation, who, what, target, when.
CREATE TABLE audit_events (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint REFERENCES workspaces(id) ON DELETE SET NULL,
    actor_kind    text NOT NULL CHECK (actor_kind IN ('user', 'schedule', 'system')),
    actor_user_id bigint,
    actor_name    text NOT NULL DEFAULT '',
    action        text NOT NULL,
    target_kind   text NOT NULL DEFAULT '',
    target_id     text NOT NULL DEFAULT '',
    details       jsonb NOT NULL DEFAULT '{}',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_workspace_idx ON audit_events (workspace_id, id DESC);
CREATE INDEX audit_events_target_idx ON audit_events (target_kind, target_id, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Read-only history imported from the older per-family run trackers (`tenantatlas legacy import`).
-- The engine never writes these; only the importer inserts, and nothing updates or deletes.
CREATE TABLE legacy_runs (
    id              bigserial PRIMARY KEY,
    workspace_id    bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    source          text NOT NULL CHECK (source IN ('inventory_sync', 'group_sync', 'backup_schedule')),
    legacy_id       text NOT NULL,
    tenant_ref      text NOT NULL DEFAULT '',   -- the tenant as the old tracker named it
    tenant_id       bigint REFERENCES tenants(id) ON DELETE SET NULL,
    status          text NOT NULL,              -- verbatim legacy status
    outcome         text CHECK (outcome IN ('succeeded', 'partially_succeeded', 'failed', 'blocked', 'cancelled')),
    legacy_reason   text NOT NULL DEFAULT '',   -- verbatim legacy failure reason
    reason_code     text,                       -- mapped onto the taxonomy; NULL when unknown
    items_total     bigint,
    items_failed    bigint,
    started_at      timestamptz,
    finished_at     timestamptz,
    details         jsonb NOT NULL DEFAULT '{}',
    imported_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, source, legacy_id)
);
CREATE INDEX legacy_runs_workspace_idx ON legacy_runs (workspace_id, id DESC);

-- +goose StatementBegin
CREATE FUNCTION legacy_runs_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'legacy run history is read-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER legacy_runs_no_update BEFORE UPDATE OR DELETE ON legacy_runs
    FOR EACH ROW EXECUTE FUNCTION legacy_runs_read_only();

-- Live updates (docs/architecture.md#live-updates): one channel, small JSON payloads; listeners reload what they show.
-- +goose StatementBegin
CREATE FUNCTION tenantatlas_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec record;
    payload jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
    payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP), 'id', rec.id);
    IF TG_TABLE_NAME = 'operation_runs' THEN
        payload := payload || jsonb_build_object('workspace_id', rec.workspace_id, 'tenant_id', rec.tenant_id,
            'status', rec.status, 'type', rec.type);
    ELSIF TG_TABLE_NAME = 'run_events' THEN
        payload := payload || jsonb_build_object('run_id', rec.run_id);
    ELSIF TG_TABLE_NAME = 'tenants' THEN
        payload := payload || jsonb_build_object('workspace_id', rec.workspace_id, 'tenant_id', rec.id);
    ELSIF TG_TABLE_NAME = 'provider_connections' THEN
        payload := payload || jsonb_build_object('tenant_id', rec.tenant_id);
    END IF;
    PERFORM pg_notify('tenantatlas', payload::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER operation_runs_notify AFTER INSERT OR UPDATE ON operation_runs
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER run_events_notify AFTER INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER provider_connections_notify AFTER INSERT OR UPDATE OR DELETE ON provider_connections
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();

-- Bootstrap: the admin user that local commands act as by default, and a default workspace it owns.
INSERT INTO users (name, is_bootstrap) VALUES ('admin', true);
INSERT INTO workspaces (name) VALUES ('default');
INSERT INTO memberships (workspace_id, user_id, role)
    SELECT w.id, u.id, 'owner' FROM workspaces w, users u WHERE w.name = 'default' AND u.name = 'admin';

-- +goose Down
DROP TABLE legacy_runs, audit_events, run_events, operation_runs, provider_connections, tenants,
    memberships, ssh_keys, users, workspaces CASCADE;
DROP FUNCTION tenantatlas_notify(), legacy_runs_read_only(), audit_events_append_only();
