-- +goose Up
-- Restores (issue #7, docs/design.md#domain): which backup items go to which tenant, in which mode. Executed as
-- a restore.execute run; restore_items is the per-item ledger that makes a crashed or interrupted
-- restore resumable without ever writing an item twice.

CREATE TABLE restores (
    id               bigserial PRIMARY KEY,
    workspace_id     bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    backup_set_id    bigint REFERENCES backup_sets(id) ON DELETE SET NULL,
    source_tenant_id bigint REFERENCES tenants(id) ON DELETE SET NULL,
    target_tenant_id bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    mode             text NOT NULL CHECK (mode IN ('create_copy', 'overwrite')),
    -- Appended to the names of copies (create_copy), fixed at start so a resumed run names alike.
    name_suffix      text NOT NULL DEFAULT '',
    -- The run executing it now (a retry of an interrupted run takes it over).
    run_id           bigint UNIQUE REFERENCES operation_runs(id) ON DELETE SET NULL,
    created_by       bigint REFERENCES users(id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX restores_workspace_idx ON restores (workspace_id, id DESC);
CREATE INDEX restores_set_idx ON restores (backup_set_id, id DESC);

-- One row per item to restore, and its ledger. state moves pending -> writing (recorded BEFORE the
-- object write, committed) -> written (AFTER it, with the target id) -> applied (follow-ups done:
-- settings actions, priority, assignments), or ends failed (Graph rejected it: nothing written, or
-- only the object when written_at is set), skipped (nothing to do), or uncertain (the write's result
-- is unknown: never retried, the operator checks the target).
CREATE TABLE restore_items (
    id               bigserial PRIMARY KEY,
    restore_id       bigint NOT NULL REFERENCES restores(id) ON DELETE CASCADE,
    backup_item_id   bigint REFERENCES backup_items(id) ON DELETE SET NULL,
    family           text NOT NULL,
    policy_type      text NOT NULL DEFAULT '',
    is_default       boolean NOT NULL DEFAULT false,
    source_graph_id  text NOT NULL,
    display_name     text NOT NULL DEFAULT '',
    odata_type       text NOT NULL DEFAULT '',
    -- Not a foreign key: retention may prune the payload; the run then fails the item and says so.
    payload_hash     text NOT NULL,
    sensitive        boolean NOT NULL DEFAULT false,
    action           text NOT NULL CHECK (action IN ('create', 'update', 'skip')),
    target_name      text NOT NULL DEFAULT '',
    target_graph_id  text,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'writing', 'written', 'applied', 'failed', 'skipped', 'uncertain')),
    reason_code      text,
    detail           text,
    mapping          jsonb NOT NULL DEFAULT '[]',   -- the assignment / scope-tag mapping report
    unresolved       integer NOT NULL DEFAULT 0,
    writing_at       timestamptz,
    written_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (restore_id, family, source_graph_id)
);
CREATE INDEX restore_items_restore_idx ON restore_items (restore_id, id);

CREATE TRIGGER restores_notify AFTER INSERT OR UPDATE OR DELETE ON restores
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();
CREATE TRIGGER restore_items_notify AFTER UPDATE ON restore_items
    FOR EACH ROW EXECUTE FUNCTION tenantatlas_notify();

-- +goose Down
DROP TABLE restore_items, restores CASCADE;
