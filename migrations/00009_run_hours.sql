-- +goose Up
-- Runs per hour (issue #23, item 6): finished runs counted per hour, workspace, tenant, type, outcome
-- and reason code. The home screen's sparkline and its problems by reason, and the operations tabs'
-- counts of finished runs, read this rollup instead of scanning the runs: tens of rows an hour
-- whatever the history holds. Triggers keep it exact in the transaction that finishes (or changes, or
-- deletes) a run; bulk writes that disable them rebuild it (store.RebuildRunHours). Runs still queued or running are not in it: they are few, and counting them here
-- would make every Start update one shared row.
-- Expand only: a new table and triggers; engines of 00008 write runs as before and the triggers count them.
CREATE TABLE operation_run_hours (
    workspace_id bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hour         timestamptz NOT NULL, -- date_trunc('hour', finished_at, 'UTC')
    tenant_id    bigint,               -- NULL: runs of the workspace itself
    type         text NOT NULL,
    outcome      text NOT NULL,
    reason_code  text,
    runs         bigint NOT NULL,
    last_run_id  bigint NOT NULL,      -- the newest run counted here
    last_at      timestamptz NOT NULL  -- when it finished
);
CREATE UNIQUE INDEX operation_run_hours_key ON operation_run_hours
    (workspace_id, hour, tenant_id, type, outcome, reason_code) NULLS NOT DISTINCT;
CREATE INDEX operation_run_hours_hour_idx ON operation_run_hours (hour DESC);
-- Rows whose runs all left (an outcome rewritten, runs deleted): found at once and removed.
CREATE INDEX operation_run_hours_empty_idx ON operation_run_hours (workspace_id) WHERE runs <= 0;

-- +goose StatementBegin
-- tenantatlas_run_hours_count moves one run in the rollup: out of its old row (an update or a delete
-- of a finished run), into its new one (a run finishing, or written finished). The triggers' WHEN
-- clauses call it only then: starting a run, progress and heartbeats never do.
CREATE FUNCTION tenantatlas_run_hours_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_hour timestamptz;
    newest   bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'completed' THEN
        old_hour := date_trunc('hour', coalesce(OLD.finished_at, OLD.created_at), 'UTC');
        UPDATE operation_run_hours SET runs = runs - 1
        WHERE workspace_id = OLD.workspace_id AND hour = old_hour AND tenant_id IS NOT DISTINCT FROM OLD.tenant_id
          AND type = OLD.type AND outcome = OLD.outcome AND reason_code IS NOT DISTINCT FROM OLD.reason_code
        RETURNING last_run_id INTO newest;
        IF newest = OLD.id THEN
            -- The newest run of the row left it: the newest of those that stay, from that hour's runs.
            UPDATE operation_run_hours h SET (last_run_id, last_at) = (
                SELECT coalesce(max(r.id), 0), coalesce(max(r.finished_at), h.hour) FROM operation_runs r
                WHERE r.status = 'completed' AND r.id <> OLD.id AND r.workspace_id = h.workspace_id
                  AND r.finished_at >= h.hour AND r.finished_at < h.hour + interval '1 hour'
                  AND r.tenant_id IS NOT DISTINCT FROM h.tenant_id AND r.type = h.type AND r.outcome = h.outcome
                  AND r.reason_code IS NOT DISTINCT FROM h.reason_code)
            WHERE workspace_id = OLD.workspace_id AND hour = old_hour AND tenant_id IS NOT DISTINCT FROM OLD.tenant_id
              AND type = OLD.type AND outcome = OLD.outcome AND reason_code IS NOT DISTINCT FROM OLD.reason_code AND runs > 0;
        END IF;
        DELETE FROM operation_run_hours WHERE runs <= 0; -- through the partial index
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'completed' THEN
        INSERT INTO operation_run_hours AS h (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
        VALUES (NEW.workspace_id, date_trunc('hour', coalesce(NEW.finished_at, NEW.created_at), 'UTC'), NEW.tenant_id, NEW.type,
                NEW.outcome, NEW.reason_code, 1, NEW.id, coalesce(NEW.finished_at, NEW.created_at))
        ON CONFLICT (workspace_id, hour, tenant_id, type, outcome, reason_code) DO UPDATE
            SET runs = h.runs + 1,
                last_run_id = greatest(h.last_run_id, excluded.last_run_id),
                last_at = greatest(h.last_at, excluded.last_at);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER operation_runs_hours_insert AFTER INSERT ON operation_runs
    FOR EACH ROW WHEN (NEW.status = 'completed') EXECUTE FUNCTION tenantatlas_run_hours_count();
CREATE TRIGGER operation_runs_hours_update AFTER UPDATE ON operation_runs
    FOR EACH ROW WHEN ((OLD.status = 'completed' OR NEW.status = 'completed') AND
        (OLD.status, OLD.outcome, OLD.reason_code, OLD.finished_at, OLD.tenant_id, OLD.type, OLD.workspace_id) IS DISTINCT FROM
        (NEW.status, NEW.outcome, NEW.reason_code, NEW.finished_at, NEW.tenant_id, NEW.type, NEW.workspace_id))
    EXECUTE FUNCTION tenantatlas_run_hours_count();
CREATE TRIGGER operation_runs_hours_delete AFTER DELETE ON operation_runs
    FOR EACH ROW WHEN (OLD.status = 'completed') EXECUTE FUNCTION tenantatlas_run_hours_count();

-- The history so far.
INSERT INTO operation_run_hours (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
SELECT workspace_id, date_trunc('hour', coalesce(finished_at, created_at), 'UTC'), tenant_id, type, outcome, reason_code,
       count(*), max(id), max(coalesce(finished_at, created_at))
FROM operation_runs WHERE status = 'completed'
GROUP BY 1, 2, 3, 4, 5, 6;

-- +goose Down
DROP TRIGGER operation_runs_hours_insert ON operation_runs;
DROP TRIGGER operation_runs_hours_update ON operation_runs;
DROP TRIGGER operation_runs_hours_delete ON operation_runs;
DROP FUNCTION tenantatlas_run_hours_count();
DROP TABLE operation_run_hours;
