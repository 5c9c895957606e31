package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InventoryItem is the latest known state of one Intune object of a tenant.
type InventoryItem struct {
	ID            int64           `json:"id"`
	TenantID      int64           `json:"tenant_id"`
	Family        string          `json:"family"`
	GraphID       string          `json:"graph_id"`
	PolicyType    string          `json:"policy_type"`
	IsDefault     bool            `json:"is_default"`
	DisplayName   string          `json:"display_name"`
	ODataType     string          `json:"odata_type"`
	LastModified  *time.Time      `json:"last_modified"`
	PayloadHash   string          `json:"payload_hash"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	LastSeenRunID *int64          `json:"last_seen_run_id"`
	FirstSeenAt   time.Time       `json:"first_seen_at"`
	ChangedAt     time.Time       `json:"changed_at"`
	DeletedAt     *time.Time      `json:"deleted_at"`
}

// InventoryRow is what a sync writes for one listed object.
type InventoryRow struct {
	Family       string
	GraphID      string
	PolicyType   string
	IsDefault    bool
	DisplayName  string
	ODataType    string
	LastModified *time.Time
	PayloadHash  string
	Payload      []byte // canonical JSON
}

// MergeInventory writes one batch of listed objects: COPY into a temporary table, then one
// INSERT … ON CONFLICT merge. Rows whose hash is unchanged only get their last_seen_run_id moved.
// Call it inside a transaction (the temporary table is dropped on commit).
func MergeInventory(ctx context.Context, tx pgx.Tx, tenantID, runID int64, rows []InventoryRow) (MergeCounts, error) {
	var mc MergeCounts
	if len(rows) == 0 {
		return mc, nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE inventory_batch (family text, graph_id text, policy_type text, is_default boolean,
		display_name text, odata_type text, last_modified timestamptz, payload_hash text, payload jsonb) ON COMMIT DROP`); err != nil {
		return mc, fmt.Errorf("error creating inventory batch table: %w", err)
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"inventory_batch"},
		[]string{"family", "graph_id", "policy_type", "is_default", "display_name", "odata_type", "last_modified", "payload_hash", "payload"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{r.Family, r.GraphID, r.PolicyType, r.IsDefault, r.DisplayName, r.ODataType, r.LastModified, r.PayloadHash, string(r.Payload)}, nil
		}))
	if err != nil {
		return mc, fmt.Errorf("error copying %d inventory rows: %w", len(rows), err)
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE i.id IS NULL),
		count(*) FILTER (WHERE i.id IS NOT NULL AND (i.payload_hash <> b.payload_hash OR i.deleted_at IS NOT NULL OR i.policy_type <> b.policy_type)),
		count(*) FILTER (WHERE i.id IS NOT NULL AND i.payload_hash = b.payload_hash AND i.deleted_at IS NULL AND i.policy_type = b.policy_type)
		FROM inventory_batch b LEFT JOIN inventory_items i ON i.tenant_id = $1 AND i.family = b.family AND i.graph_id = b.graph_id`,
		tenantID).Scan(&mc.Created, &mc.Updated, &mc.Unchanged)
	if err != nil {
		return mc, fmt.Errorf("error comparing inventory rows: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO inventory_items AS i (tenant_id, family, graph_id, policy_type, is_default, display_name, odata_type,
		last_modified, payload_hash, payload, last_seen_run_id)
		SELECT DISTINCT ON (family, graph_id) $1::bigint, family, graph_id, policy_type, is_default, display_name, odata_type, last_modified, payload_hash, payload, NULLIF($2::bigint, 0)
		FROM inventory_batch
		ON CONFLICT (tenant_id, family, graph_id) DO UPDATE SET
			last_seen_run_id = EXCLUDED.last_seen_run_id,
			policy_type = EXCLUDED.policy_type, is_default = EXCLUDED.is_default, display_name = EXCLUDED.display_name,
			odata_type = EXCLUDED.odata_type, last_modified = EXCLUDED.last_modified,
			payload_hash = EXCLUDED.payload_hash,
			payload = CASE WHEN i.payload_hash = EXCLUDED.payload_hash THEN i.payload ELSE EXCLUDED.payload END,
			changed_at = CASE WHEN i.payload_hash <> EXCLUDED.payload_hash OR i.deleted_at IS NOT NULL THEN now() ELSE i.changed_at END,
			deleted_at = NULL`, tenantID, runID)
	if err != nil {
		return mc, fmt.Errorf("error merging inventory rows: %w", err)
	}
	return mc, nil
}

// MarkInventoryDeleted marks the family's objects that the run did not see as deleted. Call it only
// after the family was listed to the end.
func MarkInventoryDeleted(ctx context.Context, q Querier, tenantID int64, family string, runID int64) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE inventory_items SET deleted_at = now(), changed_at = now()
		WHERE tenant_id = $1 AND family = $2 AND deleted_at IS NULL AND last_seen_run_id IS DISTINCT FROM $3`, tenantID, family, runID)
	if err != nil {
		return 0, fmt.Errorf("error marking deleted %s items: %w", family, err)
	}
	return tag.RowsAffected(), nil
}

// InventoryFilter selects inventory items, keyset-paginated by id descending.
type InventoryFilter struct {
	TenantID       int64
	Family         string
	PolicyType     string
	Search         string
	IncludeDeleted bool
	WithPayload    bool
	BeforeID       int64
	Limit          int
}

const inventoryColumns = `id, tenant_id, family, graph_id, policy_type, is_default, display_name, odata_type, last_modified,
	payload_hash, last_seen_run_id, first_seen_at, changed_at, deleted_at`

func scanInventory(row pgx.Row, withPayload bool) (InventoryItem, error) {
	var it InventoryItem
	dest := []any{&it.ID, &it.TenantID, &it.Family, &it.GraphID, &it.PolicyType, &it.IsDefault, &it.DisplayName, &it.ODataType,
		&it.LastModified, &it.PayloadHash, &it.LastSeenRunID, &it.FirstSeenAt, &it.ChangedAt, &it.DeletedAt}
	var payload []byte
	if withPayload {
		dest = append(dest, &payload)
	}
	err := row.Scan(dest...)
	if len(payload) > 0 {
		it.Payload = payload
	}
	return it, err
}

// ListInventory returns one page of a tenant's inventory.
func ListInventory(ctx context.Context, q Querier, f InventoryFilter) ([]InventoryItem, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	cols := inventoryColumns
	if f.WithPayload {
		cols += ", payload::text"
	}
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM inventory_items
		WHERE tenant_id = $1 AND ($2 = '' OR family = $2) AND ($3 = '' OR policy_type = $3)
		AND ($4 = '' OR display_name ILIKE $4 OR graph_id ILIKE $4 OR odata_type ILIKE $4 OR policy_type ILIKE $4)
		AND ($5 OR deleted_at IS NULL) AND ($6 = 0 OR id < $6)
		ORDER BY id DESC LIMIT $7`,
		f.TenantID, f.Family, f.PolicyType, likePattern(f.Search), f.IncludeDeleted, f.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing inventory: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (InventoryItem, error) { return scanInventory(r, f.WithPayload) })
}

// InventoryTypeCount is how many live objects a tenant has of one policy type.
type InventoryTypeCount struct {
	Family     string `json:"family"`
	PolicyType string `json:"policy_type"`
	Count      int64  `json:"count"`
	Deleted    int64  `json:"deleted"`
}

// CountInventory summarises a tenant's inventory per (family, policy type).
func CountInventory(ctx context.Context, q Querier, tenantID int64) ([]InventoryTypeCount, error) {
	rows, err := q.Query(ctx, `SELECT family, policy_type, count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)
		FROM inventory_items WHERE tenant_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("error counting inventory: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (InventoryTypeCount, error) {
		var c InventoryTypeCount
		return c, r.Scan(&c.Family, &c.PolicyType, &c.Count, &c.Deleted)
	})
}

func likePattern(s string) string {
	if s == "" {
		return ""
	}
	return "%" + escapeLike(s) + "%"
}
