package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Group is a cached Entra group.
type Group struct {
	TenantID           int64      `json:"tenant_id"`
	GraphID            string     `json:"graph_id"`
	DisplayName        string     `json:"display_name"`
	Description        string     `json:"description"`
	GroupTypes         []string   `json:"group_types"`
	SecurityEnabled    *bool      `json:"security_enabled"`
	MailEnabled        *bool      `json:"mail_enabled"`
	MembershipRule     *string    `json:"membership_rule"`
	IsAssignableToRole *bool      `json:"is_assignable_to_role"`
	OnPremSyncEnabled  *bool      `json:"on_prem_sync_enabled"`
	CreatedDateTime    *time.Time `json:"created_date_time"`
	ContentHash        []byte     `json:"-"`
	DeletedAt          *time.Time `json:"deleted_at"`
	SyncedAt           time.Time  `json:"synced_at"`
}

// RoleDefinition is a cached directory role definition with its permissions.
type RoleDefinition struct {
	TenantID        int64           `json:"tenant_id"`
	GraphID         string          `json:"graph_id"`
	DisplayName     string          `json:"display_name"`
	Description     string          `json:"description"`
	IsBuiltIn       *bool           `json:"is_built_in"`
	IsEnabled       *bool           `json:"is_enabled"`
	TemplateID      *string         `json:"template_id"`
	Version         *string         `json:"version"`
	RolePermissions json.RawMessage `json:"role_permissions"` // JSON array as Graph sent it
	ContentHash     []byte          `json:"-"`
	DeletedAt       *time.Time      `json:"deleted_at"`
	SyncedAt        time.Time       `json:"synced_at"`
}

// Directory collections with a sync state.
const (
	CollectionGroups          = "groups"
	CollectionRoleDefinitions = "role_definitions"
)

// SyncState is what a tenant's cache of one collection knows about its freshness.
type SyncState struct {
	TenantID       int64      `json:"tenant_id"`
	Collection     string     `json:"collection"`
	DeltaLink      *string    `json:"-"`
	LastFullSyncAt *time.Time `json:"last_full_sync_at"`
	SyncedAt       *time.Time `json:"synced_at"`
	ItemCount      int64      `json:"item_count"`
	LastRunID      *int64     `json:"last_run_id"`
}

// MergeCounts say what a merge changed (directory caches, inventory).
type MergeCounts struct {
	Created, Updated, Unchanged, Deleted int64
}

// ErrDirectoryCollision means a full sync into an empty cache met the same object twice (Graph listed
// it twice). The sync's transaction is aborted; run the sync again with MergeOnly.
var ErrDirectoryCollision = errors.New("an object was listed twice")

// DirectoryWriter applies one sync run to a tenant's cache inside ONE transaction on a dedicated
// connection, and nothing is visible (or lost) until Commit: a failure mid-sync rolls back, so the
// cache is never wiped or half-replaced.
//
// Rows arrive in batches. The first full sync of a tenant (its cache is empty) copies each batch
// straight into the cache: every row is new, so there is nothing to merge and, at the end, nothing
// to mark deleted. Otherwise each batch is copied into a temporary table and merged in one
// statement: new objects are created, changed ones updated, identical ones left untouched.
type DirectoryWriter struct {
	conn       *pgxpool.Conn
	tx         pgx.Tx
	tenantID   int64
	collection string
	full       bool // a full sync: objects not seen are marked deleted at Finish
	// fresh: the cache was empty when this full sync began; direct: batches are copied straight in.
	fresh, direct bool
	staged        bool  // the temporary tables exist
	written       int64 // rows copied in directly
	copier        binaryCopy
}

// BeginDirectorySync opens the writer. full means every object will be written, so objects not
// written are deleted; otherwise (delta) only the changes are applied. The tenant is locked against
// deletion until the writer ends.
func BeginDirectorySync(ctx context.Context, db *DB, tenantID int64, collection string, full bool) (*DirectoryWriter, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("error acquiring a connection for the sync: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("error starting the sync transaction: %w", err)
	}
	w := &DirectoryWriter{conn: conn, tx: tx, tenantID: tenantID, collection: collection, full: full}
	var empty bool
	err = tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+w.table()+` c WHERE c.tenant_id = t.id)
		FROM tenants t WHERE t.id = $1 FOR KEY SHARE OF t`, tenantID).Scan(&empty)
	if err != nil {
		w.Rollback(ctx)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("tenant %d %w", tenantID, ErrNotFound)
		}
		return nil, fmt.Errorf("error preparing the sync: %w", err)
	}
	w.fresh = full && empty
	w.direct = w.fresh
	return w, nil
}

// MergeOnly makes every batch go through the merge, even into an empty cache: the way to run a sync
// again after ErrDirectoryCollision. Call it before the first write.
func (w *DirectoryWriter) MergeOnly() { w.direct = false }

// stage creates the temporary tables of the merge path once.
func (w *DirectoryWriter) stage(ctx context.Context) error {
	if w.staged {
		return nil
	}
	stmts := []string{
		`CREATE TEMP TABLE tmp_groups (seq int, graph_id text, display_name text, description text, group_types text[],
			security_enabled boolean, mail_enabled boolean, membership_rule text, is_assignable_to_role boolean,
			on_prem_sync_enabled boolean, created_date_time timestamptz, content_hash bytea) ON COMMIT DROP`,
		`CREATE TEMP TABLE tmp_role_definitions (seq int, graph_id text, display_name text, description text, is_built_in boolean,
			is_enabled boolean, template_id text, version text, role_permissions jsonb, content_hash bytea) ON COMMIT DROP`,
		`CREATE TEMP TABLE tmp_seen (graph_id text PRIMARY KEY) ON COMMIT DROP`,
	}
	for _, s := range stmts {
		if _, err := w.tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("error preparing the sync: %w", err)
		}
	}
	w.staged = true
	return nil
}

// Rollback abandons the sync; the cache stays as it was. Safe after Commit.
func (w *DirectoryWriter) Rollback(ctx context.Context) {
	if w.tx != nil {
		_ = w.tx.Rollback(context.WithoutCancel(ctx))
		w.tx = nil
	}
	if w.conn != nil {
		w.conn.Release()
		w.conn = nil
	}
}

// Commit makes the sync visible.
func (w *DirectoryWriter) Commit(ctx context.Context) error {
	err := w.tx.Commit(ctx)
	w.tx = nil
	w.conn.Release()
	w.conn = nil
	if err != nil {
		return fmt.Errorf("error committing the sync: %w", err)
	}
	return nil
}

var groupCopyColumns = []string{"graph_id", "display_name", "description", "group_types", "security_enabled", "mail_enabled",
	"membership_rule", "is_assignable_to_role", "on_prem_sync_enabled", "created_date_time", "content_hash"}

// copyGroups copies rows straight into the cache (direct: tenant_id and synced_at lead) or into the
// staging table (seq leads, for the merge).
func (w *DirectoryWriter) copyGroups(ctx context.Context, rows []Group, direct bool) (int64, error) {
	c := &w.copier
	c.reset()
	table, columns := "tmp_groups", append([]string{"seq"}, groupCopyColumns...)
	if direct {
		table, columns = "directory_groups", append([]string{"tenant_id", "synced_at"}, groupCopyColumns...)
	}
	now := time.Now()
	for i, g := range rows {
		c.row(len(columns))
		if direct {
			c.int64(w.tenantID)
			c.timestamptz(now)
		} else {
			c.int4(int32(i))
		}
		c.text(g.GraphID)
		c.text(g.DisplayName)
		c.text(g.Description)
		c.textArray(g.GroupTypes)
		c.boolPtr(g.SecurityEnabled)
		c.boolPtr(g.MailEnabled)
		c.textPtr(g.MembershipRule)
		c.boolPtr(g.IsAssignableToRole)
		c.boolPtr(g.OnPremSyncEnabled)
		c.timestamptzPtr(g.CreatedDateTime)
		c.bytea(g.ContentHash)
	}
	return c.send(ctx, w.conn.Conn().PgConn(), table, columns)
}

// WriteGroups writes a batch of groups: new ones are created, changed ones updated, identical ones
// left untouched (no row is rewritten).
func (w *DirectoryWriter) WriteGroups(ctx context.Context, rows []Group) (MergeCounts, error) {
	if len(rows) == 0 {
		return MergeCounts{}, nil
	}
	if w.direct {
		copied, err := w.copyGroups(ctx, rows, true)
		return w.copiedDirect(copied, err)
	}
	if err := w.stage(ctx); err != nil {
		return MergeCounts{}, err
	}
	if _, err := w.copyGroups(ctx, rows, false); err != nil {
		return MergeCounts{}, fmt.Errorf("error copying groups: %w", err)
	}
	return w.merge(ctx, "tmp_groups", `WITH src AS (
			SELECT DISTINCT ON (graph_id) * FROM tmp_groups ORDER BY graph_id, seq DESC
		), m AS (
			INSERT INTO directory_groups AS g (tenant_id, graph_id, display_name, description, group_types, security_enabled,
				mail_enabled, membership_rule, is_assignable_to_role, on_prem_sync_enabled, created_date_time, content_hash,
				deleted_at, synced_at)
			SELECT $1, graph_id, coalesce(display_name, ''), coalesce(description, ''), coalesce(group_types, '{}'), security_enabled,
				mail_enabled, membership_rule, is_assignable_to_role, on_prem_sync_enabled, created_date_time, content_hash, NULL, now()
			FROM src
			ON CONFLICT (tenant_id, graph_id) DO UPDATE SET display_name = EXCLUDED.display_name,
				description = EXCLUDED.description, group_types = EXCLUDED.group_types,
				security_enabled = EXCLUDED.security_enabled, mail_enabled = EXCLUDED.mail_enabled,
				membership_rule = EXCLUDED.membership_rule, is_assignable_to_role = EXCLUDED.is_assignable_to_role,
				on_prem_sync_enabled = EXCLUDED.on_prem_sync_enabled, created_date_time = EXCLUDED.created_date_time,
				content_hash = EXCLUDED.content_hash, deleted_at = NULL, synced_at = EXCLUDED.synced_at
			WHERE g.content_hash <> EXCLUDED.content_hash OR g.deleted_at IS NOT NULL
			RETURNING (xmax = 0) AS inserted
		)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), (SELECT count(*) FROM src) FROM m`)
}

var roleDefinitionCopyColumns = []string{"graph_id", "display_name", "description", "is_built_in", "is_enabled", "template_id",
	"version", "role_permissions", "content_hash"}

func roleDefinitionCopyRow(r RoleDefinition) []any {
	perms := r.RolePermissions
	if len(perms) == 0 {
		perms = []byte("[]")
	}
	return []any{r.GraphID, r.DisplayName, r.Description, r.IsBuiltIn, r.IsEnabled, r.TemplateID, r.Version, string(perms), r.ContentHash}
}

// WriteRoleDefinitions writes a batch of role definitions.
func (w *DirectoryWriter) WriteRoleDefinitions(ctx context.Context, rows []RoleDefinition) (MergeCounts, error) {
	if len(rows) == 0 {
		return MergeCounts{}, nil
	}
	if w.direct {
		return w.copyDirect(ctx, "directory_role_definitions", roleDefinitionCopyColumns, len(rows),
			func(i int) []any { return roleDefinitionCopyRow(rows[i]) })
	}
	if err := w.stage(ctx); err != nil {
		return MergeCounts{}, err
	}
	_, err := w.tx.CopyFrom(ctx, pgx.Identifier{"tmp_role_definitions"}, append([]string{"seq"}, roleDefinitionCopyColumns...),
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return append([]any{i}, roleDefinitionCopyRow(rows[i])...), nil }))
	if err != nil {
		return MergeCounts{}, fmt.Errorf("error copying role definitions: %w", err)
	}
	return w.merge(ctx, "tmp_role_definitions", `WITH src AS (
			SELECT DISTINCT ON (graph_id) * FROM tmp_role_definitions ORDER BY graph_id, seq DESC
		), m AS (
			INSERT INTO directory_role_definitions AS d (tenant_id, graph_id, display_name, description, is_built_in, is_enabled,
				template_id, version, role_permissions, content_hash, deleted_at, synced_at)
			SELECT $1, graph_id, coalesce(display_name, ''), coalesce(description, ''), is_built_in, is_enabled, template_id,
				version, coalesce(role_permissions, '[]'), content_hash, NULL, now() FROM src
			ON CONFLICT (tenant_id, graph_id) DO UPDATE SET display_name = EXCLUDED.display_name,
				description = EXCLUDED.description, is_built_in = EXCLUDED.is_built_in, is_enabled = EXCLUDED.is_enabled,
				template_id = EXCLUDED.template_id, version = EXCLUDED.version, role_permissions = EXCLUDED.role_permissions,
				content_hash = EXCLUDED.content_hash, deleted_at = NULL, synced_at = EXCLUDED.synced_at
			WHERE d.content_hash <> EXCLUDED.content_hash OR d.deleted_at IS NOT NULL
			RETURNING (xmax = 0) AS inserted
		)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), (SELECT count(*) FROM src) FROM m`)
}

// copyDirect copies a batch straight into the cache table (the first full sync).
func (w *DirectoryWriter) copyDirect(ctx context.Context, table string, columns []string, n int, row func(int) []any) (MergeCounts, error) {
	now := time.Now()
	copied, err := w.tx.CopyFrom(ctx, pgx.Identifier{table}, append([]string{"tenant_id", "synced_at"}, columns...),
		pgx.CopyFromSlice(n, func(i int) ([]any, error) { return append([]any{w.tenantID, now}, row(i)...), nil }))
	return w.copiedDirect(copied, err)
}

// copiedDirect counts a batch copied straight in. An object already written in this sync has
// aborted the transaction: ErrDirectoryCollision.
func (w *DirectoryWriter) copiedDirect(copied int64, err error) (MergeCounts, error) {
	if isUniqueViolation(err, "") {
		return MergeCounts{}, fmt.Errorf("error copying %s: %w", w.collection, ErrDirectoryCollision)
	}
	if err != nil {
		return MergeCounts{}, fmt.Errorf("error copying %s: %w", w.collection, err)
	}
	w.written += copied
	return MergeCounts{Created: copied}, nil
}

func (w *DirectoryWriter) merge(ctx context.Context, tmp, sql string) (MergeCounts, error) {
	var c MergeCounts
	var total int64
	if err := w.tx.QueryRow(ctx, sql, w.tenantID).Scan(&c.Created, &c.Updated, &total); err != nil {
		return c, fmt.Errorf("error merging %s: %w", w.collection, err)
	}
	c.Unchanged = total - c.Created - c.Updated
	// Objects not seen are marked deleted at Finish, unless the cache began empty: then every row
	// in it was written by this sync.
	if w.full && !w.fresh {
		if _, err := w.tx.Exec(ctx, `INSERT INTO tmp_seen SELECT DISTINCT graph_id FROM `+tmp+` ON CONFLICT DO NOTHING`); err != nil {
			return c, fmt.Errorf("error tracking seen %s: %w", w.collection, err)
		}
	}
	if _, err := w.tx.Exec(ctx, `TRUNCATE `+tmp); err != nil {
		return c, fmt.Errorf("error clearing the batch: %w", err)
	}
	return c, nil
}

func (w *DirectoryWriter) table() string {
	if w.collection == CollectionGroups {
		return "directory_groups"
	}
	return "directory_role_definitions"
}

// Delete marks objects deleted (delta @removed entries). It returns how many were live.
func (w *DirectoryWriter) Delete(ctx context.Context, graphIDs []string) (int64, error) {
	if len(graphIDs) == 0 {
		return 0, nil
	}
	tag, err := w.tx.Exec(ctx, `UPDATE `+w.table()+` SET deleted_at = now() WHERE tenant_id = $1 AND graph_id = ANY($2)
		AND deleted_at IS NULL`, w.tenantID, graphIDs)
	if err != nil {
		return 0, fmt.Errorf("error deleting %s: %w", w.collection, err)
	}
	return tag.RowsAffected(), nil
}

// Finish completes the sync: a full sync marks every object it did not see deleted; the sync state
// records the new delta link and the time. It returns the number of objects deleted.
func (w *DirectoryWriter) Finish(ctx context.Context, deltaLink *string, runID int64) (int64, error) {
	var deleted int64
	if w.full && !w.fresh {
		if err := w.stage(ctx); err != nil { // a full sync that wrote nothing still deletes everything
			return 0, err
		}
		tag, err := w.tx.Exec(ctx, `UPDATE `+w.table()+` t SET deleted_at = now() WHERE tenant_id = $1 AND deleted_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM tmp_seen s WHERE s.graph_id = t.graph_id)`, w.tenantID)
		if err != nil {
			return 0, fmt.Errorf("error marking vanished %s deleted: %w", w.collection, err)
		}
		deleted = tag.RowsAffected()
	}
	// The live count: known when every row was copied in directly, counted otherwise.
	count := `(SELECT count(*) FROM ` + w.table() + ` WHERE tenant_id = $1 AND deleted_at IS NULL)`
	if w.fresh && w.direct {
		count = strconv.FormatInt(w.written, 10)
	}
	_, err := w.tx.Exec(ctx, `INSERT INTO directory_sync_state AS s (tenant_id, collection, delta_link, last_full_sync_at, synced_at, item_count, last_run_id)
		VALUES ($1, $2, $3, CASE WHEN $4 THEN now() END, now(), `+count+`, NULLIF($5::bigint, 0))
		ON CONFLICT (tenant_id, collection) DO UPDATE SET delta_link = EXCLUDED.delta_link,
			last_full_sync_at = coalesce(EXCLUDED.last_full_sync_at, s.last_full_sync_at), synced_at = EXCLUDED.synced_at,
			item_count = EXCLUDED.item_count, last_run_id = EXCLUDED.last_run_id`,
		w.tenantID, w.collection, deltaLink, w.full, runID)
	if err != nil {
		return deleted, fmt.Errorf("error saving the sync state: %w", err)
	}
	return deleted, nil
}

// GetSyncState returns a tenant's state for a collection (zero value when never synced).
func GetSyncState(ctx context.Context, q Querier, tenantID int64, collection string) (SyncState, error) {
	s := SyncState{TenantID: tenantID, Collection: collection}
	err := q.QueryRow(ctx, `SELECT delta_link, last_full_sync_at, synced_at, item_count, last_run_id FROM directory_sync_state
		WHERE tenant_id = $1 AND collection = $2`, tenantID, collection).Scan(&s.DeltaLink, &s.LastFullSyncAt, &s.SyncedAt, &s.ItemCount, &s.LastRunID)
	if err == pgx.ErrNoRows {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("error loading sync state: %w", err)
	}
	return s, nil
}

// ClearDeltaLink forgets a tenant's delta link (expired token): the next sync is a full one.
func ClearDeltaLink(ctx context.Context, q Querier, tenantID int64, collection string) error {
	_, err := q.Exec(ctx, `UPDATE directory_sync_state SET delta_link = NULL WHERE tenant_id = $1 AND collection = $2`, tenantID, collection)
	return err
}

// GroupQuery searches cached groups.
type GroupQuery struct {
	TenantID       int64
	Search         string // case-insensitive substring of the name, or an exact id
	IncludeDeleted bool
	AfterName      string // keyset: continue after (AfterName, AfterID)
	AfterID        string
	Limit          int
}

const groupColumns = `tenant_id, graph_id, display_name, description, group_types, security_enabled, mail_enabled, membership_rule,
	is_assignable_to_role, on_prem_sync_enabled, created_date_time, content_hash, deleted_at, synced_at`

func scanGroup(r pgx.Row) (Group, error) {
	var g Group
	err := r.Scan(&g.TenantID, &g.GraphID, &g.DisplayName, &g.Description, &g.GroupTypes, &g.SecurityEnabled, &g.MailEnabled,
		&g.MembershipRule, &g.IsAssignableToRole, &g.OnPremSyncEnabled, &g.CreatedDateTime, &g.ContentHash, &g.DeletedAt, &g.SyncedAt)
	return g, err
}

// SearchGroups returns cached groups by name, live ones only unless IncludeDeleted.
func SearchGroups(ctx context.Context, q Querier, gq GroupQuery) ([]Group, error) {
	limit := gq.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.Query(ctx, `SELECT `+groupColumns+` FROM directory_groups WHERE tenant_id = $1
		AND ($2 OR deleted_at IS NULL)
		AND ($3 = '' OR display_name ILIKE '%' || $3 || '%' OR graph_id = $4)
		AND ($5 = '' OR (display_name, graph_id) > ($5, $6))
		ORDER BY display_name, graph_id LIMIT $7`,
		gq.TenantID, gq.IncludeDeleted, escapeLike(gq.Search), gq.Search, gq.AfterName, gq.AfterID, limit)
	if err != nil {
		return nil, fmt.Errorf("error searching groups: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) { return scanGroup(r) })
}

// GroupNames resolves group ids to cached names (deleted ones included); ids not in the cache are absent.
func GroupNames(ctx context.Context, q Querier, tenantID int64, ids []string) (map[string]Group, error) {
	rows, err := q.Query(ctx, `SELECT `+groupColumns+` FROM directory_groups WHERE tenant_id = $1 AND graph_id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("error resolving groups: %w", err)
	}
	out := map[string]Group{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out[g.GraphID] = g
	}
	return out, rows.Err()
}

// SearchRoleDefinitions returns cached role definitions by name.
func SearchRoleDefinitions(ctx context.Context, q Querier, tenantID int64, search string, includeDeleted bool, limit int) ([]RoleDefinition, error) {
	if limit <= 0 || limit > 1000 {
		limit = 500
	}
	rows, err := q.Query(ctx, `SELECT tenant_id, graph_id, display_name, description, is_built_in, is_enabled, template_id, version,
		role_permissions, content_hash, deleted_at, synced_at FROM directory_role_definitions WHERE tenant_id = $1
		AND ($2 OR deleted_at IS NULL) AND ($3 = '' OR display_name ILIKE '%' || $3 || '%' OR graph_id = $4)
		ORDER BY display_name, graph_id LIMIT $5`, tenantID, includeDeleted, escapeLike(search), search, limit)
	if err != nil {
		return nil, fmt.Errorf("error searching role definitions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RoleDefinition, error) {
		var d RoleDefinition
		return d, r.Scan(&d.TenantID, &d.GraphID, &d.DisplayName, &d.Description, &d.IsBuiltIn, &d.IsEnabled, &d.TemplateID,
			&d.Version, &d.RolePermissions, &d.ContentHash, &d.DeletedAt, &d.SyncedAt)
	})
}
