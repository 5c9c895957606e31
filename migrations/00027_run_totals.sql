-- +goose NO TRANSACTION
-- +goose Up
-- Tab counts that do not grow with the history (issue #20 item 4). The operations screen's tabs
-- counted finished runs by summing the runs-per-hour rollup over all time: about one rollup row per
-- run at fleet density, so the count grew with every year kept. operation_run_totals holds the same
-- counts without the hour and the reason code: one row per workspace, tenant, type and outcome,
-- whatever the history holds. The rollup's triggers keep it, in the same transaction that finishes,
-- changes or deletes a run (store.CountRuns reads it; bulk writes that disable the triggers rebuild
-- it with store.RebuildRunHours).
--
-- Deleting runs (retention's prune: 500 a statement) moved the rollup one run at a time through a
-- row trigger; it now moves it once per statement, by the counts of the deleted runs grouped by
-- rollup row (a statement trigger with a transition table). The per-run decrement also becomes an
-- upsert on the rollup's unique key: the old UPDATE compared tenant and reason code with IS NOT
-- DISTINCT FROM, which the key's index cannot match on.
--
-- Expand only, in two short transactions (each one statement block, so this file runs outside a
-- transaction and every step can run again):
--   1. the table, the functions and the delete trigger replaced in place: CREATE OR REPLACE TRIGGER
--      takes SHARE ROW EXCLUSIVE on operation_runs (run writes wait, reads go on) until the commit
--      right after it, no scan;
--   2. the back-fill, summing the rollup (exact, and smaller than the runs) while holding EXCLUSIVE
--      on the rollup alone: reads go on, and so do Start, heartbeats and progress (they never touch
--      the rollup); only a run finishing or being deleted waits for the sum (BENCHMARKS.md,
--      "Measured separately"). Every write to the totals comes after a write to the rollup in the
--      same trigger, so once the lock is held no transaction has moved a total that the sum does not
--      see, and every one after it adds to the sum.

-- +goose StatementBegin
BEGIN;
CREATE TABLE IF NOT EXISTS operation_run_totals (
    workspace_id bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id    bigint,          -- NULL: runs of the workspace itself and of removed tenants
    type         text NOT NULL,
    outcome      text NOT NULL,
    runs         bigint NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS operation_run_totals_key ON operation_run_totals (workspace_id, tenant_id, type, outcome) NULLS NOT DISTINCT;
-- Rows whose runs all left (pruned, moved to another tenant or outcome): found at once and removed.
CREATE INDEX IF NOT EXISTS operation_run_totals_empty_idx ON operation_run_totals (workspace_id) WHERE runs <= 0;

-- tenantatlas_run_hours_count moves one run in the rollup and the totals: out of its old rows (an
-- update of a finished run), into its new ones (a run finishing, or written finished). The
-- triggers' WHEN clauses call it only then: starting a run, progress and heartbeats never do.
-- Deletes go through tenantatlas_run_hours_uncount, once per statement.
CREATE OR REPLACE FUNCTION tenantatlas_run_hours_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_hour timestamptz;
    newest   bigint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = 'completed' THEN
        old_hour := date_trunc('hour', coalesce(OLD.finished_at, OLD.created_at), 'UTC');
        -- An upsert finds the row through the unique key (NULLS NOT DISTINCT); the row exists
        -- while the rollup is exact, and a -1 row left by drift is removed below.
        INSERT INTO operation_run_hours AS h (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
        VALUES (OLD.workspace_id, old_hour, OLD.tenant_id, OLD.type, OLD.outcome, OLD.reason_code, -1, 0, old_hour)
        ON CONFLICT (workspace_id, hour, tenant_id, type, outcome, reason_code) DO UPDATE SET runs = h.runs - 1
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
        INSERT INTO operation_run_totals AS t (workspace_id, tenant_id, type, outcome, runs)
        VALUES (OLD.workspace_id, OLD.tenant_id, OLD.type, OLD.outcome, -1)
        ON CONFLICT (workspace_id, tenant_id, type, outcome) DO UPDATE SET runs = t.runs - 1;
        DELETE FROM operation_run_totals WHERE runs <= 0;
    END IF;
    IF NEW.status = 'completed' THEN
        INSERT INTO operation_run_hours AS h (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
        VALUES (NEW.workspace_id, date_trunc('hour', coalesce(NEW.finished_at, NEW.created_at), 'UTC'), NEW.tenant_id, NEW.type,
                NEW.outcome, NEW.reason_code, 1, NEW.id, coalesce(NEW.finished_at, NEW.created_at))
        ON CONFLICT (workspace_id, hour, tenant_id, type, outcome, reason_code) DO UPDATE
            SET runs = h.runs + 1,
                last_run_id = greatest(h.last_run_id, excluded.last_run_id),
                last_at = greatest(h.last_at, excluded.last_at);
        INSERT INTO operation_run_totals AS t (workspace_id, tenant_id, type, outcome, runs)
        VALUES (NEW.workspace_id, NEW.tenant_id, NEW.type, NEW.outcome, 1)
        ON CONFLICT (workspace_id, tenant_id, type, outcome) DO UPDATE SET runs = t.runs + 1;
    END IF;
    RETURN NULL;
END;
$$;

-- tenantatlas_run_hours_uncount takes the finished runs a DELETE removed out of the rollup and the
-- totals, grouped by row: one upsert each, whatever the number of runs. Rows are met in key order,
-- so two deletes at once lock them in the same order. Runs of a workspace being deleted are left
-- out: their rows go with the workspace (and a row written for them would name it).
CREATE OR REPLACE FUNCTION tenantatlas_run_hours_uncount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO operation_run_hours AS h (workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id, last_at)
    SELECT g.workspace_id, g.hour, g.tenant_id, g.type, g.outcome, g.reason_code, -g.n, 0, g.hour
    FROM (SELECT workspace_id, date_trunc('hour', coalesce(finished_at, created_at), 'UTC') AS hour, tenant_id, type, outcome,
                 reason_code, count(*) AS n
          FROM gone_runs WHERE status = 'completed' GROUP BY 1, 2, 3, 4, 5, 6) g
    WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = g.workspace_id)
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (workspace_id, hour, tenant_id, type, outcome, reason_code) DO UPDATE SET runs = h.runs + excluded.runs;
    -- Rows whose newest run left and that keep runs: the newest of those that stay. Only the hours
    -- the deleted runs finished in are looked at (through the key's first two columns).
    UPDATE operation_run_hours h SET (last_run_id, last_at) = (
        SELECT coalesce(max(r.id), 0), coalesce(max(r.finished_at), h.hour) FROM operation_runs r
        WHERE r.status = 'completed' AND r.workspace_id = h.workspace_id
          AND r.finished_at >= h.hour AND r.finished_at < h.hour + interval '1 hour'
          AND r.tenant_id IS NOT DISTINCT FROM h.tenant_id AND r.type = h.type AND r.outcome = h.outcome
          AND r.reason_code IS NOT DISTINCT FROM h.reason_code)
    FROM (SELECT DISTINCT workspace_id, date_trunc('hour', coalesce(finished_at, created_at), 'UTC') AS hour
          FROM gone_runs WHERE status = 'completed') g
    WHERE h.workspace_id = g.workspace_id AND h.hour = g.hour AND h.runs > 0
      AND h.last_run_id IN (SELECT id FROM gone_runs);
    DELETE FROM operation_run_hours WHERE runs <= 0;

    INSERT INTO operation_run_totals AS t (workspace_id, tenant_id, type, outcome, runs)
    SELECT g.workspace_id, g.tenant_id, g.type, g.outcome, -g.n
    FROM (SELECT workspace_id, tenant_id, type, outcome, count(*) AS n
          FROM gone_runs WHERE status = 'completed' GROUP BY 1, 2, 3, 4) g
    WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = g.workspace_id)
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, tenant_id, type, outcome) DO UPDATE SET runs = t.runs + excluded.runs;
    DELETE FROM operation_run_totals WHERE runs <= 0;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER operation_runs_hours_delete AFTER DELETE ON operation_runs
    REFERENCING OLD TABLE AS gone_runs FOR EACH STATEMENT EXECUTE FUNCTION tenantatlas_run_hours_uncount();
COMMIT;
-- +goose StatementEnd

-- The history so far, from the rollup, counted again if this runs again.
-- +goose StatementBegin
BEGIN;
LOCK TABLE operation_run_hours IN EXCLUSIVE MODE;
DELETE FROM operation_run_totals;
INSERT INTO operation_run_totals (workspace_id, tenant_id, type, outcome, runs)
SELECT workspace_id, tenant_id, type, outcome, sum(runs) FROM operation_run_hours GROUP BY 1, 2, 3, 4;
COMMIT;
-- +goose StatementEnd


-- +goose Down
-- +goose StatementBegin
BEGIN;
CREATE OR REPLACE TRIGGER operation_runs_hours_delete AFTER DELETE ON operation_runs
    FOR EACH ROW WHEN (OLD.status = 'completed') EXECUTE FUNCTION tenantatlas_run_hours_count();
DROP FUNCTION IF EXISTS tenantatlas_run_hours_uncount();
-- The function of 00009, which also handles DELETE.
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
DROP TABLE IF EXISTS operation_run_totals;
COMMIT;
-- +goose StatementEnd
