-- +goose Up
-- The latest finished run of each tenant and operation type (docs/design.md#fleet): the tenants
-- screen's FAILING column counts a tenant's types whose latest run failed or was blocked. Read from
-- the runs-per-hour rollup it scanned every row of the last 24 hours — 50,000 rows at 2,000 tenants
-- and a million runs, a quarter of a second (BenchmarkFleetHealths); here it is one row per tenant
-- and type. A trigger keeps it in the transaction that finishes a run; a cancelled run proves
-- nothing either way and leaves the row as it was. Bulk writes that disable the trigger rebuild it
-- (store.RebuildTenantRunLatest). Expand only: a new table and a trigger; engines of 00020 write
-- runs as before and the trigger records them.
CREATE TABLE tenant_run_latest (
    tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type        text NOT NULL,
    run_id      bigint NOT NULL,
    outcome     text NOT NULL,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, type)
);

-- +goose StatementBegin
CREATE FUNCTION tenantatlas_tenant_run_latest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_run_latest AS l (tenant_id, type, run_id, outcome, finished_at)
    VALUES (NEW.tenant_id, NEW.type, NEW.id, NEW.outcome, coalesce(NEW.finished_at, NEW.created_at))
    ON CONFLICT (tenant_id, type) DO UPDATE
        SET run_id = excluded.run_id, outcome = excluded.outcome, finished_at = excluded.finished_at
        WHERE l.run_id <= excluded.run_id; -- a run finishing after a newer one does not replace it
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER operation_runs_latest AFTER INSERT OR UPDATE OF status, outcome, finished_at ON operation_runs
    FOR EACH ROW WHEN (NEW.status = 'completed' AND NEW.tenant_id IS NOT NULL AND NEW.outcome IS DISTINCT FROM 'cancelled')
    EXECUTE FUNCTION tenantatlas_tenant_run_latest();

-- The history so far.
INSERT INTO tenant_run_latest (tenant_id, type, run_id, outcome, finished_at)
SELECT DISTINCT ON (tenant_id, type) tenant_id, type, id, outcome, coalesce(finished_at, created_at)
FROM operation_runs WHERE status = 'completed' AND tenant_id IS NOT NULL AND outcome IS DISTINCT FROM 'cancelled'
  AND tenant_id IN (SELECT id FROM tenants)
ORDER BY tenant_id, type, id DESC;

-- +goose Down
DROP TRIGGER operation_runs_latest ON operation_runs;
DROP FUNCTION tenantatlas_tenant_run_latest();
DROP TABLE tenant_run_latest;
