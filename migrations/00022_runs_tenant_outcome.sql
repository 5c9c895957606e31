-- +goose NO TRANSACTION
-- +goose Up
-- "Failed runs of this tenant" (`runs list --tenant T --status failed`, the tenant detail's failed
-- runs): without this index the planner walks the workspace's failed runs newest first and filters
-- the tenant, which at 2M runs took 90.7 ms against 9.1 ms at 200k for a small tenant
-- (BenchmarkHistory, BENCHMARKS.md "Measured separately"). Built concurrently, so run inserts go
-- on while it builds; expand only, so engines of the previous release keep running.
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_tenant_outcome_idx;
CREATE INDEX CONCURRENTLY operation_runs_tenant_outcome_idx ON operation_runs (tenant_id, outcome, id DESC)
    WHERE outcome IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS operation_runs_tenant_outcome_idx;
