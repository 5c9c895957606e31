-- +goose Up
-- Triage reads "runs finished in the last 24 hours" by outcome and reason: a covering index keeps that
-- an index-only range scan however long the history grows.
CREATE INDEX operation_runs_finished_idx ON operation_runs (finished_at DESC)
    INCLUDE (workspace_id, type, tenant_id, outcome, reason_code)
    WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX operation_runs_finished_idx;
