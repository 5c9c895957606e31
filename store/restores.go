package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Restore modes.
const (
	RestoreCreateCopy = "create_copy"
	RestoreOverwrite  = "overwrite"
)

// Restore item actions.
const (
	RestoreActionCreate = "create"
	RestoreActionUpdate = "update"
	RestoreActionSkip   = "skip"
)

// Restore item ledger states (see migrations/00004_restore.sql).
const (
	RestorePending   = "pending"
	RestoreWriting   = "writing"
	RestoreWritten   = "written"
	RestoreApplied   = "applied"
	RestoreFailed    = "failed"
	RestoreSkipped   = "skipped"
	RestoreUncertain = "uncertain"
)

// Restore is which backup items go to which tenant, in which mode.
type Restore struct {
	ID             int64  `json:"id"`
	WorkspaceID    int64  `json:"workspace_id"`
	BackupSetID    *int64 `json:"backup_set_id"`
	SourceTenantID *int64 `json:"source_tenant_id"`
	TargetTenantID int64  `json:"target_tenant_id"`
	Mode           string `json:"mode"`
	NameSuffix     string `json:"name_suffix"`
	// CAState is the state Conditional Access policies are restored in: "report_only" (default) or "original".
	CAState   string    `json:"ca_state"`
	RunID     *int64    `json:"run_id"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`

	// Joined for display.
	SourceTenantName string  `json:"source_tenant_name,omitempty"`
	TargetTenantName string  `json:"target_tenant_name,omitempty"`
	CreatedByName    string  `json:"created_by_name,omitempty"`
	RunStatus        *string `json:"run_status,omitempty"`
	RunOutcome       *string `json:"run_outcome,omitempty"`
}

// RestoreItem is one item of a restore and its ledger state.
type RestoreItem struct {
	ID            int64           `json:"id"`
	RestoreID     int64           `json:"restore_id"`
	BackupItemID  *int64          `json:"backup_item_id"`
	Family        string          `json:"family"`
	PolicyType    string          `json:"policy_type"`
	IsDefault     bool            `json:"is_default"`
	SourceGraphID string          `json:"source_graph_id"`
	DisplayName   string          `json:"display_name"`
	ODataType     string          `json:"odata_type"`
	PayloadHash   string          `json:"payload_hash"`
	Sensitive     bool            `json:"sensitive"`
	Action        string          `json:"action"`
	TargetName    string          `json:"target_name"`
	TargetGraphID *string         `json:"target_graph_id"`
	State         string          `json:"state"`
	ReasonCode    *string         `json:"reason_code"`
	Detail        *string         `json:"detail"`
	Mapping       json.RawMessage `json:"mapping"`
	Unresolved    int             `json:"unresolved"`
	WritingAt     *time.Time      `json:"writing_at"`
	WrittenAt     *time.Time      `json:"written_at"`
	FinishedAt    *time.Time      `json:"finished_at"`
}

const restoreColumns = `r.id, r.workspace_id, r.backup_set_id, r.source_tenant_id, r.target_tenant_id, r.mode, r.name_suffix, r.ca_state, r.run_id,
	r.created_by, r.created_at, coalesce(st.name, ''), tt.name, coalesce(u.name, ''), o.status, o.outcome`

const restoreFrom = ` FROM restores r JOIN tenants tt ON tt.id = r.target_tenant_id LEFT JOIN tenants st ON st.id = r.source_tenant_id
	LEFT JOIN users u ON u.id = r.created_by LEFT JOIN operation_runs o ON o.id = r.run_id`

func scanRestore(row pgx.Row) (Restore, error) {
	var r Restore
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.BackupSetID, &r.SourceTenantID, &r.TargetTenantID, &r.Mode, &r.NameSuffix, &r.CAState, &r.RunID,
		&r.CreatedBy, &r.CreatedAt, &r.SourceTenantName, &r.TargetTenantName, &r.CreatedByName, &r.RunStatus, &r.RunOutcome)
	return r, err
}

// InsertRestore creates a restore (its run id set) and returns it.
func InsertRestore(ctx context.Context, q Querier, r Restore) (Restore, error) {
	var id int64
	caState := r.CAState
	if caState == "" {
		caState = "report_only"
	}
	err := q.QueryRow(ctx, `INSERT INTO restores (workspace_id, backup_set_id, source_tenant_id, target_tenant_id, mode, name_suffix, ca_state, run_id, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		r.WorkspaceID, r.BackupSetID, r.SourceTenantID, r.TargetTenantID, r.Mode, r.NameSuffix, caState, r.RunID, r.CreatedBy).Scan(&id)
	if err != nil {
		return r, fmt.Errorf("error creating restore: %w", err)
	}
	return GetRestore(ctx, q, id)
}

func GetRestore(ctx context.Context, q Querier, id int64) (Restore, error) {
	r, err := scanRestore(q.QueryRow(ctx, `SELECT `+restoreColumns+restoreFrom+` WHERE r.id = $1`, id))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("restore %d", id))
	}
	return r, nil
}

// RestoreFilter selects restores, newest first, keyset-paginated by BeforeID.
type RestoreFilter struct {
	WorkspaceIDs []int64
	BackupSetID  int64
	BeforeID     int64
	Limit        int
}

func ListRestores(ctx context.Context, q Querier, f RestoreFilter) ([]Restore, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.Query(ctx, `SELECT `+restoreColumns+restoreFrom+`
		WHERE r.workspace_id = ANY($1) AND ($2 = 0 OR r.backup_set_id = $2) AND ($3 = 0 OR r.id < $3)
		ORDER BY r.id DESC LIMIT $4`, f.WorkspaceIDs, f.BackupSetID, f.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing restores: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Restore, error) { return scanRestore(r) })
}

// ClaimRestore makes runID the restore's executing run, unless another run that is still active
// holds it. It reports whether the claim succeeded.
func ClaimRestore(ctx context.Context, q Querier, restoreID, runID int64) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE restores r SET run_id = $2 WHERE id = $1 AND (run_id IS NULL OR run_id = $2
		OR EXISTS (SELECT 1 FROM operation_runs o WHERE o.id = r.run_id AND o.status = 'completed'))`, restoreID, runID)
	if err != nil {
		return false, fmt.Errorf("error claiming restore %d for run %d: %w", restoreID, runID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// InsertRestoreItems writes a restore's items (state pending).
func InsertRestoreItems(ctx context.Context, q Querier, restoreID int64, items []RestoreItem) error {
	batch := &pgx.Batch{}
	for _, it := range items {
		batch.Queue(`INSERT INTO restore_items (restore_id, backup_item_id, family, policy_type, is_default, source_graph_id, display_name,
			odata_type, payload_hash, sensitive, action, target_name, target_graph_id, state, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			restoreID, it.BackupItemID, it.Family, it.PolicyType, it.IsDefault, it.SourceGraphID, it.DisplayName, it.ODataType,
			it.PayloadHash, it.Sensitive, it.Action, it.TargetName, it.TargetGraphID, defaultString(it.State, RestorePending), it.Detail)
	}
	if err := q.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("error writing %d items of restore %d: %w", len(items), restoreID, err)
	}
	return nil
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

const restoreItemColumns = `id, restore_id, backup_item_id, family, policy_type, is_default, source_graph_id, display_name, odata_type,
	payload_hash, sensitive, action, target_name, target_graph_id, state, reason_code, detail, mapping, unresolved, writing_at, written_at, finished_at`

func scanRestoreItem(row pgx.Row) (RestoreItem, error) {
	var it RestoreItem
	var mapping []byte
	err := row.Scan(&it.ID, &it.RestoreID, &it.BackupItemID, &it.Family, &it.PolicyType, &it.IsDefault, &it.SourceGraphID, &it.DisplayName,
		&it.ODataType, &it.PayloadHash, &it.Sensitive, &it.Action, &it.TargetName, &it.TargetGraphID, &it.State, &it.ReasonCode, &it.Detail,
		&mapping, &it.Unresolved, &it.WritingAt, &it.WrittenAt, &it.FinishedAt)
	it.Mapping = mapping
	return it, err
}

// ListRestoreItems returns a restore's items in the order they are applied.
func ListRestoreItems(ctx context.Context, q Querier, restoreID int64) ([]RestoreItem, error) {
	rows, err := q.Query(ctx, `SELECT `+restoreItemColumns+` FROM restore_items WHERE restore_id = $1 ORDER BY id`, restoreID)
	if err != nil {
		return nil, fmt.Errorf("error listing items of restore %d: %w", restoreID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RestoreItem, error) { return scanRestoreItem(r) })
}

// MarkRestoreItemWriting records, before the object write, that it is about to happen. It fails
// (false) unless the item is still pending or failed without a written object: the ledger is the
// guard that no item is written twice.
func MarkRestoreItemWriting(ctx context.Context, q Querier, itemID int64, action, targetName string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE restore_items SET state = 'writing', writing_at = now(), action = $2, target_name = $3,
		reason_code = NULL, detail = NULL
		WHERE id = $1 AND written_at IS NULL AND state IN ('pending', 'failed')`, itemID, action, targetName)
	if err != nil {
		return false, fmt.Errorf("error recording the write of restore item %d: %w", itemID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// MarkRestoreItemWritten records, after the object write, the object's id in the target.
func MarkRestoreItemWritten(ctx context.Context, q Querier, itemID int64, targetGraphID string) error {
	_, err := q.Exec(ctx, `UPDATE restore_items SET state = 'written', written_at = now(), target_graph_id = $2 WHERE id = $1`,
		itemID, targetGraphID)
	if err != nil {
		return fmt.Errorf("error recording restore item %d as written: %w", itemID, err)
	}
	return nil
}

// RestoreItemEnd is how an item ends.
type RestoreItemEnd struct {
	State      string
	ReasonCode string
	Detail     string
	Mapping    any // the mapping report (marshalled to JSON); nil keeps the stored one
	Unresolved int
}

// FinishRestoreItem records an item's end state.
func FinishRestoreItem(ctx context.Context, q Querier, itemID int64, end RestoreItemEnd) error {
	var mapping []byte
	if end.Mapping != nil {
		var err error
		if mapping, err = json.Marshal(end.Mapping); err != nil {
			return fmt.Errorf("error encoding the mapping of restore item %d: %w", itemID, err)
		}
	}
	_, err := q.Exec(ctx, `UPDATE restore_items SET state = $2, reason_code = nullif($3, ''), detail = nullif($4, ''),
		mapping = coalesce($5::jsonb, mapping), unresolved = $6, finished_at = now() WHERE id = $1`,
		itemID, end.State, end.ReasonCode, end.Detail, nullJSON(mapping), end.Unresolved)
	if err != nil {
		return fmt.Errorf("error recording the end of restore item %d: %w", itemID, err)
	}
	return nil
}

func nullJSON(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// GroupsByName finds a tenant's live cached groups by exact display name (case-insensitive), for
// restore's mapping by name. The map is keyed by the lower-cased name.
func GroupsByName(ctx context.Context, q Querier, tenantID int64, names []string) (map[string][]Group, error) {
	rows, err := q.Query(ctx, `SELECT `+groupColumns+` FROM directory_groups WHERE tenant_id = $1 AND deleted_at IS NULL
		AND lower(display_name) = ANY($2) ORDER BY display_name, graph_id`, tenantID, lowerAll(names))
	if err != nil {
		return nil, fmt.Errorf("error finding groups by name: %w", err)
	}
	out := map[string][]Group{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		k := strings.ToLower(g.DisplayName)
		out[k] = append(out[k], g)
	}
	return out, rows.Err()
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
