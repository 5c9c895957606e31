-- +goose Up
-- A schedule fires a backup or a drift check (docs/design.md#baselines-and-drift-watch). Expand
-- only: a column with a default, which engines of 00011 ignore (their schedules stay backups).
ALTER TABLE backup_schedules ADD COLUMN operation text NOT NULL DEFAULT 'backup'
    CHECK (operation IN ('backup', 'drift_check'));

-- +goose Down
ALTER TABLE backup_schedules DROP COLUMN operation;
