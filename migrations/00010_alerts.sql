-- +goose Up
-- Alerts (docs/design.md#alerts): rules say which condition to watch on which tenants, routes say
-- where to send, incidents are one per (rule, subject) while the condition lasts, deliveries are one
-- per (incident state change, route), each sent by a River job inserted in the same transaction as
-- the change. Expand only: new tables, which engines of 00008 ignore.
CREATE TABLE alert_routes (
    id                bigserial PRIMARY KEY,
    workspace_id      bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('webhook', 'slack', 'teams', 'pagerduty', 'email')),
    -- Settings that are not secret: a webhook's URL, PagerDuty's endpoint, SMTP host, port, sender,
    -- recipients and user name.
    config            jsonb NOT NULL DEFAULT '{}',
    -- The secret of the route, sealed like provider secrets: the webhook's HMAC key, the Slack or
    -- Teams webhook URL (its path is the credential), PagerDuty's routing key, the SMTP password.
    secret_ciphertext bytea,
    secret_key_id     text NOT NULL DEFAULT '',
    last_error        text,
    last_error_at     timestamptz,
    last_delivered_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE alert_rules (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          text NOT NULL,
    condition     text NOT NULL CHECK (condition IN ('run_failed', 'connection_blocked', 'no_success', 'drift', 'run_stuck')),
    -- NULL: every tenant of the workspace.
    tenant_id     bigint REFERENCES tenants(id) ON DELETE CASCADE,
    -- run_failed: run types ('' none = every type), outcomes (failed, blocked) and reason codes
    -- (none = every code). no_success: the types that count as a success (backup, sync).
    run_types     text[] NOT NULL DEFAULT '{}',
    outcomes      text[] NOT NULL DEFAULT '{}',
    reason_codes  text[] NOT NULL DEFAULT '{}',
    -- no_success: hours without a successful run; run_stuck: minutes queued or without heartbeat.
    threshold     integer NOT NULL DEFAULT 0,
    -- How long the condition must stay clear before the incident resolves (flap damping).
    resolve_after interval NOT NULL DEFAULT '0',
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE alert_rule_routes (
    rule_id  bigint NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    route_id bigint NOT NULL REFERENCES alert_routes(id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, route_id)
);

CREATE TABLE alert_incidents (
    id              bigserial PRIMARY KEY,
    workspace_id    bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    rule_id         bigint NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    -- What the incident is about, e.g. run:backup_schedule.run:tenant:7 or connection:3.
    subject         text NOT NULL,
    tenant_id       bigint REFERENCES tenants(id) ON DELETE CASCADE,
    run_id          bigint REFERENCES operation_runs(id) ON DELETE SET NULL,
    state           text NOT NULL CHECK (state IN ('open', 'resolved')),
    summary         text NOT NULL,
    detail          text NOT NULL DEFAULT '',
    -- Times the condition fired again while open.
    updates         integer NOT NULL DEFAULT 0,
    -- Bumped at every state change; (incident, version, route) is a delivery's idempotency key.
    version         integer NOT NULL DEFAULT 1,
    -- Set while the condition is clear but resolve_after has not yet passed.
    clear_since     timestamptz,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    silenced_until  timestamptz
);
-- One open incident per (rule, subject), however many engines evaluate at once.
CREATE UNIQUE INDEX alert_incidents_open_idx ON alert_incidents (rule_id, subject) WHERE state = 'open';
CREATE INDEX alert_incidents_workspace_idx ON alert_incidents (workspace_id, opened_at DESC);

CREATE TABLE alert_deliveries (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES alert_incidents(id) ON DELETE CASCADE,
    route_id     bigint NOT NULL REFERENCES alert_routes(id) ON DELETE CASCADE,
    version      integer NOT NULL,
    event        text NOT NULL CHECK (event IN ('trigger', 'update', 'acknowledge', 'resolve')),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    -- The River job that owns the delivery; a job that is not its owner stands down.
    job_id       bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (incident_id, version, route_id)
);

CREATE TABLE alert_delivery_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES alert_deliveries(id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean NOT NULL,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX alert_delivery_attempts_delivery_idx ON alert_delivery_attempts (delivery_id, attempt);

CREATE TRIGGER alert_incidents_notify AFTER INSERT OR UPDATE ON alert_incidents
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER alert_deliveries_notify AFTER INSERT OR UPDATE ON alert_deliveries
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER alert_routes_notify AFTER INSERT OR UPDATE OR DELETE ON alert_routes
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER alert_rules_notify AFTER INSERT OR UPDATE OR DELETE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();

-- +goose Down
DROP TABLE alert_delivery_attempts, alert_deliveries, alert_incidents, alert_rule_routes, alert_rules, alert_routes;
