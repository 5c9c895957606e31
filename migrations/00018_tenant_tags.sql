-- +goose Up
-- Tenant tags (docs/design.md#fleet): an MSP groups its tenants ("eu", "tier-1", "pilot") and
-- starts runs for a tag or a whole workspace at once. Expand only: a column with a constant default
-- that older engines do not select, and an index.
-- +goose StatementBegin
CREATE FUNCTION tenant_tags_valid(tags text[]) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(bool_and(t ~ '^[a-z0-9][a-z0-9._-]{0,39}$'), true) AND cardinality(tags) <= 32
    FROM unnest(tags) AS t
$$;
-- +goose StatementEnd
ALTER TABLE tenants ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (tenant_tags_valid(tags));
CREATE INDEX tenants_tags_idx ON tenants USING gin (tags);

-- +goose Down
DROP INDEX tenants_tags_idx;
ALTER TABLE tenants DROP COLUMN tags;
DROP FUNCTION tenant_tags_valid(text[]);
