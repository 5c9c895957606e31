-- +goose Up
-- Fleet schedules (docs/design.md#fleet, #scheduling): a schedule targets one tenant, the tenants
-- carrying a tag, or every tenant of its workspace; one firing starts one run per tenant. Expand
-- only (docs/operations.md#safe-upgrades):
--  * tenant_id becomes NULL for a tag or all-tenants schedule. Older engines read schedules with an
--    inner join on tenants, so they do not see fleet schedules at all and keep firing the others.
--  * the strict identity becomes (schedule, tenant, intended fire time). The index keeps its name:
--    older engines recognise the race of two engines by that constraint name. For a one-tenant
--    schedule every run has the schedule's tenant, so the rule is the same one for them.
--  * names stay unique per tenant for one-tenant schedules, and are unique per workspace among
--    fleet schedules.
ALTER TABLE backup_schedules ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE backup_schedules ADD COLUMN target_tag text CHECK (target_tag IS NULL OR tenant_tags_valid(ARRAY[target_tag]));
ALTER TABLE backup_schedules ADD COLUMN target_all boolean NOT NULL DEFAULT false;
ALTER TABLE backup_schedules ADD CONSTRAINT backup_schedules_one_target
    CHECK (num_nonnulls(tenant_id, target_tag) + target_all::int = 1);
CREATE UNIQUE INDEX backup_schedules_fleet_name_idx ON backup_schedules (workspace_id, name) WHERE tenant_id IS NULL;
-- What the schedule's last firing could not do (a tag that matched no tenant, tenants refused);
-- NULL when it started a run for every tenant.
ALTER TABLE backup_schedules ADD COLUMN last_fire_note text;

CREATE UNIQUE INDEX operation_runs_schedule_fire_next_idx ON operation_runs (schedule_id, tenant_id, intended_fire_time)
    WHERE schedule_id IS NOT NULL;
DROP INDEX operation_runs_schedule_fire_idx;
ALTER INDEX operation_runs_schedule_fire_next_idx RENAME TO operation_runs_schedule_fire_idx;

-- +goose Down
-- Runs of fleet schedules keep their history but lose the schedule link (the older index cannot
-- hold several tenants per fire time).
UPDATE operation_runs SET schedule_id = NULL, intended_fire_time = NULL
    WHERE schedule_id IN (SELECT id FROM backup_schedules WHERE tenant_id IS NULL);
DELETE FROM backup_schedules WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX operation_runs_schedule_fire_prev_idx ON operation_runs (schedule_id, intended_fire_time)
    WHERE schedule_id IS NOT NULL;
DROP INDEX operation_runs_schedule_fire_idx;
ALTER INDEX operation_runs_schedule_fire_prev_idx RENAME TO operation_runs_schedule_fire_idx;
ALTER TABLE backup_schedules DROP COLUMN last_fire_note;
DROP INDEX backup_schedules_fleet_name_idx;
ALTER TABLE backup_schedules DROP CONSTRAINT backup_schedules_one_target;
ALTER TABLE backup_schedules DROP COLUMN target_all;
ALTER TABLE backup_schedules DROP COLUMN target_tag;
ALTER TABLE backup_schedules ALTER COLUMN tenant_id SET NOT NULL;
