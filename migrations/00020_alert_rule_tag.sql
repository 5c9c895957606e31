-- +goose Up
-- Alert rules scoped to a tenant tag (docs/design.md#alerts): the rule covers whichever tenants carry
-- the tag when a condition is evaluated. Expand only: a column with a constant default, which
-- engines of 00018 do not select (they evaluate a tag rule as one for every tenant: add tag rules
-- once those engines are restarted), and a check that a rule has one scope, which every existing
-- row passes. The tag follows the tenants' rule (tenant_tags_valid, migration 00018).
ALTER TABLE alert_rules ADD COLUMN tag text NOT NULL DEFAULT ''
    CHECK (tag = '' OR tenant_tags_valid(ARRAY[tag]));
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_one_scope CHECK (tenant_id IS NULL OR tag = '');

-- +goose Down
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_one_scope;
ALTER TABLE alert_rules DROP COLUMN tag;
