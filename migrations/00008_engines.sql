-- +goose Up
-- The engines registry (docs/operations.md#engines): every engine process registers at start,
-- heartbeats while it runs and marks itself stopped on shutdown. One whose heartbeat is older than
-- store.EngineStaleAfter is stale (dead without deregistering). schema_version is the newest
-- migration the engine's binary knows: `migrate` refuses a migration that breaks engines below it
-- while such engines are alive (docs/operations.md#safe-upgrades).
-- Expand only: a new table and a nullable column, which engines of 00006/00007 ignore.
CREATE TABLE engines (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    host           text NOT NULL,
    pid            integer NOT NULL,
    version        text NOT NULL,
    schema_version bigint NOT NULL,
    queues         text[] NOT NULL DEFAULT '{}',
    jobs_running   integer NOT NULL DEFAULT 0,
    started_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now(),
    stopped_at     timestamptz
);
CREATE INDEX engines_alive ON engines (heartbeat_at) WHERE stopped_at IS NULL;

-- The engine that last ran a run (no foreign key: the registry is pruned, the run keeps its id).
ALTER TABLE operation_runs ADD COLUMN engine_id bigint;

-- +goose Down
ALTER TABLE operation_runs DROP COLUMN engine_id;
DROP TABLE engines;
