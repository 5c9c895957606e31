-- +goose NO TRANSACTION
-- +goose Up
-- Retention (docs/operations.md#retention): how long a workspace keeps its run history and, only
-- when an owner says so, its audit trail. The maintenance job (engine/retention.go) applies it in
-- small batches, each its own short transaction, so it never holds a long lock.
-- Expand only: new columns with constant defaults (no table rewrite), a replaced trigger function
-- that refuses everything the old one refused except a retention prune, and indexes built
-- concurrently (no transaction, so they do not block writes to operation_runs while they build).

-- run_retention: completed runs (and their events) older than this go, except those that are the
-- record of something still kept (docs/operations.md#retention). run_event_retention: the routine
-- events (debug/info log and item lines) of completed runs older than this go; timeline events,
-- warnings and errors stay as long as the run. audit_retention: NULL keeps the audit trail forever.
ALTER TABLE workspaces
    ADD COLUMN IF NOT EXISTS run_retention interval NOT NULL DEFAULT '400 days',
    ADD COLUMN IF NOT EXISTS run_event_retention interval NOT NULL DEFAULT '90 days',
    ADD COLUMN IF NOT EXISTS audit_retention interval;

-- The bounds: a schedule's catch-up needs the run of its latest fire time (kept by rule), and a
-- week is the shortest history an on-call engineer can triage from.
ALTER TABLE workspaces DROP CONSTRAINT IF EXISTS workspaces_retention_bounds;
ALTER TABLE workspaces ADD CONSTRAINT workspaces_retention_bounds CHECK (
    run_retention >= interval '7 days' AND run_event_retention >= interval '1 day'
    AND run_event_retention <= run_retention
    AND (audit_retention IS NULL OR audit_retention >= interval '30 days'));

-- Runs finished before this had their routine events trimmed: each trim walks only the runs that
-- finished since the last one (a watermark, so that trimming updates no run row and wakes no
-- dashboard).
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS run_events_trimmed_until timestamptz;

-- The retention walk: completed runs of a workspace by finish time.
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_retention_idx;
CREATE INDEX CONCURRENTLY operation_runs_retention_idx ON operation_runs (workspace_id, finished_at, id)
    WHERE status = 'completed';
-- "Is this the newest run of its schedule?" for the keep rule.
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_schedule_idx;
CREATE INDEX CONCURRENTLY operation_runs_schedule_idx ON operation_runs (schedule_id, id DESC)
    WHERE schedule_id IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_retention_idx;
CREATE INDEX CONCURRENTLY audit_events_retention_idx ON audit_events (workspace_id, at, id);
-- The foreign keys that point at a run: deleting a run sets them to NULL, and without these
-- indexes each deleted run would scan the whole referencing table.
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_retry_of_idx;
CREATE INDEX CONCURRENTLY operation_runs_retry_of_idx ON operation_runs (retry_of_run_id)
    WHERE retry_of_run_id IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS inventory_items_last_seen_run_idx;
CREATE INDEX CONCURRENTLY inventory_items_last_seen_run_idx ON inventory_items (last_seen_run_id);

-- Audit events stay append-only: no UPDATE ever, no TRUNCATE, and a DELETE only from
-- prune_audit_events, only for a row older than its workspace's audit_retention.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tenantatlas.audit_prune', true) = 'on' AND EXISTS (
        SELECT 1 FROM workspaces w WHERE w.id = OLD.workspace_id AND w.audit_retention IS NOT NULL
            AND OLD.at < now() - w.audit_retention) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

-- The runtime role has no DELETE on audit_events (store.GrantRuntimeRole): it prunes through this
-- function, which runs with its owner's rights and deletes only what the trigger allows.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION prune_audit_events(ws bigint, batch integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    keep interval;
    n bigint;
BEGIN
    SELECT audit_retention INTO keep FROM workspaces WHERE id = ws;
    IF keep IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM set_config('tenantatlas.audit_prune', 'on', true);
    DELETE FROM audit_events WHERE id IN (
        SELECT id FROM audit_events WHERE workspace_id = ws AND at < now() - keep ORDER BY at, id LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('tenantatlas.audit_prune', 'off', true);
    RETURN n;
END;
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION prune_audit_events(bigint, integer) FROM PUBLIC;

-- +goose Down
DROP FUNCTION IF EXISTS prune_audit_events(bigint, integer);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
DROP INDEX CONCURRENTLY IF EXISTS inventory_items_last_seen_run_idx;
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_retry_of_idx;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_retention_idx;
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_schedule_idx;
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_retention_idx;
ALTER TABLE workspaces DROP CONSTRAINT IF EXISTS workspaces_retention_bounds;
ALTER TABLE workspaces DROP COLUMN IF EXISTS run_events_trimmed_until, DROP COLUMN IF EXISTS audit_retention, DROP COLUMN IF EXISTS run_event_retention,
    DROP COLUMN IF EXISTS run_retention;
