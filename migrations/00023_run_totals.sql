-- +goose Up
-- Finished runs counted for all time per workspace, tenant, type, outcome and reason code (issue #20
-- item 4): the operations screen's tab counts. Summed from the runs-per-hour rollup they read a row
-- per hour of the whole history (at 10M runs over two years, millions of rows for each count);
-- here a row per tenant, type, outcome and reason, whatever the history holds. The rollup's trigger
-- function keeps both in the transaction that finishes, changes or deletes a run, so retention's
-- deletes take their runs out of the counts too. Expand only: a new table, and a trigger function
-- that does what it did and one thing more; engines of 00022 write runs as before.
CREATE TABLE operation_run_totals (
    workspace_id bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id    bigint,               -- NULL: runs of the workspace itself
    type         text NOT NULL,
    outcome      text NOT NULL,
    reason_code  text,
    runs         bigint NOT NULL
);
CREATE UNIQUE INDEX operation_run_totals_key ON operation_run_totals
    (workspace_id, tenant_id, type, outcome, reason_code) NULLS NOT DISTINCT;
-- Rows whose runs all left: found at once and removed.
CREATE INDEX operation_run_totals_empty_idx ON operation_run_totals (workspace_id) WHERE runs <= 0;

-- No run may finish or go between the function's swap and the count below: writers of
-- operation_runs wait (for as long as the count of the rollup takes, seconds at 10M runs), and
-- when they go on they run the new function.
LOCK TABLE operation_runs IN SHARE MODE;

-- +goose StatementBegin
-- tenantatlas_run_hours_count moves one run in the rollup and in the totals: out of its old rows (an
-- update or a delete of a finished run), into its new ones (a run finishing, or written finished).
-- The triggers' WHEN clauses call it only then: starting a run, progress and heartbeats never do.
CREATE OR REPLACE FUNCTION tenantatlas_run_hours_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
        UPDATE operation_run_totals SET runs = runs - 1
        WHERE workspace_id = OLD.workspace_id AND tenant_id IS NOT DISTINCT FROM OLD.tenant_id
          AND type = OLD.type AND outcome = OLD.outcome AND reason_code IS NOT DISTINCT FROM OLD.reason_code;
        DELETE FROM operation_run_totals WHERE runs <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'completed' THEN
        INSERT INTO operation_run_hours AS h (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
        VALUES (NEW.workspace_id, date_trunc('hour', coalesce(NEW.finished_at, NEW.created_at), 'UTC'), NEW.tenant_id, NEW.type,
                NEW.outcome, NEW.reason_code, 1, NEW.id, coalesce(NEW.finished_at, NEW.created_at))
        ON CONFLICT (workspace_id, hour, tenant_id, type, outcome, reason_code) DO UPDATE
            SET runs = h.runs + 1,
                last_run_id = greatest(h.last_run_id, excluded.last_run_id),
                last_at = greatest(h.last_at, excluded.last_at);
        INSERT INTO operation_run_totals AS s (workspace_id, tenant_id, type, outcome, reason_code, runs)
        VALUES (NEW.workspace_id, NEW.tenant_id, NEW.type, NEW.outcome, NEW.reason_code, 1)
        ON CONFLICT (workspace_id, tenant_id, type, outcome, reason_code) DO UPDATE SET runs = s.runs + 1;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- The history so far, from the rollup (exact: its triggers counted every run).
INSERT INTO operation_run_totals (workspace_id, tenant_id, type, outcome, reason_code, runs)
SELECT workspace_id, tenant_id, type, outcome, reason_code, sum(runs)
FROM operation_run_hours GROUP BY 1, 2, 3, 4, 5 HAVING sum(runs) > 0;

-- +goose Down
LOCK TABLE operation_runs IN SHARE MODE;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantatlas_run_hours_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
            UPDATE operation_run_hours h SET (last_run_id, last_at) = (
                SELECT coalesce(max(r.id), 0), coalesce(max(r.finished_at), h.hour) FROM operation_runs r
                WHERE r.status = 'completed' AND r.id <> OLD.id AND r.workspace_id = h.workspace_id
                  AND r.finished_at >= h.hour AND r.finished_at < h.hour + interval '1 hour'
                  AND r.tenant_id IS NOT DISTINCT FROM h.tenant_id AND r.type = h.type AND r.outcome = h.outcome
                  AND r.reason_code IS NOT DISTINCT FROM h.reason_code)
            WHERE workspace_id = OLD.workspace_id AND hour = old_hour AND tenant_id IS NOT DISTINCT FROM OLD.tenant_id
              AND type = OLD.type AND outcome = OLD.outcome AND reason_code IS NOT DISTINCT FROM OLD.reason_code AND runs > 0;
        END IF;
        DELETE FROM operation_run_hours WHERE runs <= 0;
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
DROP TABLE operation_run_totals;
