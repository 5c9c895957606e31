-- +goose Up
-- The state a restore writes Conditional Access policies in (issue #18, docs/graph.md#conditional-access):
-- report_only (default: an enabled policy is restored enabledForReportingButNotEnforced) or
-- original (the backed-up state, asked for explicitly). Expand only: a column with a default,
-- which engines of earlier migrations ignore.
ALTER TABLE restores ADD COLUMN ca_state text NOT NULL DEFAULT 'report_only'
    CHECK (ca_state IN ('report_only', 'original'));

-- +goose Down
ALTER TABLE restores DROP COLUMN ca_state;
