package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backup set statuses.
const (
	BackupRunning  = "running"
	BackupComplete = "complete"
	BackupFailed   = "failed"
)

// BackupSet is one snapshot run's items.
type BackupSet struct {
	ID          int64      `json:"id"`
	WorkspaceID int64      `json:"workspace_id"`
	TenantID    int64      `json:"tenant_id"`
	RunID       *int64     `json:"run_id"`
	ScheduleID  *int64     `json:"schedule_id"`
	Status      string     `json:"status"`
	Families    []string   `json:"families"`
	ItemCount   int        `json:"item_count"`
	Sensitive   bool       `json:"sensitive"`
	NewPayloads int        `json:"new_payloads"`
	NewBytes    int64      `json:"new_bytes"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"`

	// Joined for display.
	TenantName   string `json:"tenant_name,omitempty"`
	ScheduleName string `json:"schedule_name,omitempty"`
	RunOutcome   string `json:"run_outcome,omitempty"` // the outcome of the run that took the set, once it ended
}

// State is the set's status as an operator reads it: a failed set whose run was cancelled is
// "cancelled".
func (b BackupSet) State() string {
	if b.Status == BackupFailed && b.RunOutcome == string(OutcomeCancelled) {
		return string(OutcomeCancelled)
	}
	return b.Status
}

// BackupItem is one object in a set; its payload is stored once per hash in backup_payloads.
type BackupItem struct {
	ID          int64  `json:"id"`
	SetID       int64  `json:"set_id"`
	Family      string `json:"family"`
	GraphID     string `json:"graph_id"`
	PolicyType  string `json:"policy_type"`
	IsDefault   bool   `json:"is_default"`
	DisplayName string `json:"display_name"`
	ODataType   string `json:"odata_type"`
	PayloadHash string `json:"payload_hash"`
	Sensitive   bool   `json:"sensitive"`
}

const setColumns = `b.id, b.workspace_id, b.tenant_id, b.run_id, b.schedule_id, b.status, b.families, b.item_count, b.sensitive,
	b.new_payloads, b.new_bytes, b.created_at, b.completed_at, t.name, coalesce(s.name, ''), coalesce(r.outcome, '')`

const setFrom = ` FROM backup_sets b JOIN tenants t ON t.id = b.tenant_id LEFT JOIN backup_schedules s ON s.id = b.schedule_id
	LEFT JOIN operation_runs r ON r.id = b.run_id`

func scanSet(row pgx.Row) (BackupSet, error) {
	var b BackupSet
	err := row.Scan(&b.ID, &b.WorkspaceID, &b.TenantID, &b.RunID, &b.ScheduleID, &b.Status, &b.Families, &b.ItemCount, &b.Sensitive,
		&b.NewPayloads, &b.NewBytes, &b.CreatedAt, &b.CompletedAt, &b.TenantName, &b.ScheduleName, &b.RunOutcome)
	if b.Families == nil {
		b.Families = []string{}
	}
	return b, err
}

// StartBackupSet creates the run's set, or resets the set a crashed attempt of the same run left
// behind (its items are removed: the run starts again from the beginning).
func StartBackupSet(ctx context.Context, q Querier, b BackupSet) (BackupSet, error) {
	if b.Families == nil {
		b.Families = []string{}
	}
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO backup_sets (workspace_id, tenant_id, run_id, schedule_id, families)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (run_id) DO UPDATE SET status = 'running', item_count = 0, sensitive = false, new_payloads = 0, new_bytes = 0,
			families = EXCLUDED.families, completed_at = NULL
		RETURNING id`, b.WorkspaceID, b.TenantID, b.RunID, b.ScheduleID, b.Families).Scan(&id)
	if err != nil {
		return b, fmt.Errorf("error creating backup set: %w", err)
	}
	if _, err := q.Exec(ctx, `DELETE FROM backup_items WHERE set_id = $1`, id); err != nil {
		return b, fmt.Errorf("error resetting backup set %d: %w", id, err)
	}
	return GetBackupSet(ctx, q, id)
}

func GetBackupSet(ctx context.Context, q Querier, id int64) (BackupSet, error) {
	b, err := scanSet(q.QueryRow(ctx, `SELECT `+setColumns+setFrom+` WHERE b.id = $1`, id))
	if err != nil {
		return b, notFound(err, fmt.Sprintf("backup set %d", id))
	}
	return b, nil
}

// BackupItemRow is one item a backup writes, with its canonical payload. PayloadHash is the content
// hash (intune.HashCanonical); AddBackupItems stores the payload under its workspace's key
// (ScopedPayloadHash) and seals it when Sensitive.
type BackupItemRow struct {
	Family      string
	GraphID     string
	PolicyType  string
	IsDefault   bool
	DisplayName string
	ODataType   string
	PayloadHash string
	Payload     []byte
	Sensitive   bool
}

// AddBackupItems writes a batch of items: payloads not yet stored in the set's workspace are added
// (INSERT … ON CONFLICT DO NOTHING on the key), then the items, and the set's count of new
// payloads — one statement over the batch's columns as arrays, so a chunk costs one round trip
// and no temporary table (creating and dropping one per chunk cost the fleet night ~15 ms of
// catalog work each, BENCHMARKS.md). A sensitive item's payload is sealed with the context's
// PayloadSealer (WithPayloadSealer); without one the batch is refused, never stored in plaintext.
// It returns how many payloads and bytes were new. The statement is atomic on its own: q may be
// the pool or a transaction.
func AddBackupItems(ctx context.Context, q Querier, setID int64, rows []BackupItemRow) (newPayloads int, newBytes int64, err error) {
	if len(rows) == 0 {
		return 0, 0, nil
	}
	var workspaceID int64
	if err := q.QueryRow(ctx, `SELECT workspace_id FROM backup_sets WHERE id = $1`, setID).Scan(&workspaceID); err != nil {
		return 0, 0, fmt.Errorf("error reading backup set %d: %w", setID, err)
	}
	sealer := payloadSealer(ctx)
	n := len(rows)
	var (
		families, graphIDs, policyTypes, names, types, keys = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		defaults, sensitive                                 = make([]bool, n), make([]bool, n)
		payloads, keyIDs                                    = make([]*string, n), make([]*string, n)
		sealed                                              = make([][]byte, n)
		sizes                                               = make([]int32, n)
	)
	for i := range rows {
		r := &rows[i]
		key := ScopedPayloadHash(workspaceID, r.PayloadHash)
		if r.Sensitive {
			if sealer == nil {
				return 0, 0, ErrNoPayloadKey
			}
			if sealed[i], err = sealer.SealWith(r.Payload, payloadAAD(key)); err != nil {
				return 0, 0, fmt.Errorf("error sealing a backup payload: %w", err)
			}
			keyIDs[i] = new(sealer.KeyID())
		} else {
			payloads[i] = new(string(r.Payload))
		}
		families[i], graphIDs[i], policyTypes[i], names[i], types[i], keys[i] = r.Family, r.GraphID, r.PolicyType, r.DisplayName, r.ODataType, key
		defaults[i], sensitive[i], sizes[i] = r.IsDefault, r.Sensitive, int32(len(r.Payload))
	}
	err = q.QueryRow(ctx, `WITH batch AS (
			SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::text[], $8::text[],
				$9::text[], $10::bytea[], $11::text[], $12::integer[], $13::boolean[])
				AS b (family, graph_id, policy_type, is_default, display_name, odata_type, payload_hash, payload, sealed, key_id, size_bytes, sensitive)),
		ins AS (
			INSERT INTO backup_payloads (hash, payload, sealed, key_id, size_bytes)
			SELECT DISTINCT ON (payload_hash) payload_hash, payload::jsonb, sealed, key_id, size_bytes FROM batch
			WHERE NOT EXISTS (SELECT 1 FROM backup_payloads p WHERE p.hash = batch.payload_hash)
			ON CONFLICT (hash) DO NOTHING RETURNING size_bytes),
		items AS (
			INSERT INTO backup_items (set_id, family, graph_id, policy_type, is_default, display_name, odata_type, payload_hash, sensitive)
			SELECT DISTINCT ON (family, graph_id) $1::bigint, family, graph_id, policy_type, is_default, display_name, odata_type, payload_hash, sensitive FROM batch
			ON CONFLICT (set_id, family, graph_id) DO UPDATE SET payload_hash = EXCLUDED.payload_hash, sensitive = EXCLUDED.sensitive),
		counted AS (SELECT count(*)::integer AS payloads, coalesce(sum(size_bytes), 0)::bigint AS bytes FROM ins),
		counts AS (
			UPDATE backup_sets s SET new_payloads = s.new_payloads + c.payloads, new_bytes = s.new_bytes + c.bytes
			FROM counted c WHERE s.id = $1)
		SELECT payloads, bytes FROM counted`,
		setID, families, graphIDs, policyTypes, defaults, names, types, keys, payloads, sealed, keyIDs, sizes, sensitive).Scan(&newPayloads, &newBytes)
	if err != nil {
		return 0, 0, fmt.Errorf("error storing %d backup items: %w", len(rows), err)
	}
	return newPayloads, newBytes, nil
}

// FinishBackupSet records the set's end state, item count and sensitivity.
func FinishBackupSet(ctx context.Context, q Querier, setID int64, status string) (BackupSet, error) {
	_, err := q.Exec(ctx, `UPDATE backup_sets b SET status = $2, completed_at = now(),
		item_count = (SELECT count(*) FROM backup_items i WHERE i.set_id = b.id),
		sensitive = EXISTS (SELECT 1 FROM backup_items i WHERE i.set_id = b.id AND i.sensitive)
		WHERE id = $1`, setID, status)
	if err != nil {
		return BackupSet{}, fmt.Errorf("error finishing backup set %d: %w", setID, err)
	}
	return GetBackupSet(ctx, q, setID)
}

// BackupSetFilter selects sets, newest first, keyset-paginated by BeforeID.
type BackupSetFilter struct {
	WorkspaceIDs []int64
	TenantID     int64
	ScheduleID   int64
	Status       string
	BeforeID     int64
	Limit        int
}

func ListBackupSets(ctx context.Context, q Querier, f BackupSetFilter) ([]BackupSet, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.Query(ctx, `SELECT `+setColumns+setFrom+`
		WHERE b.workspace_id = ANY($1) AND ($2 = 0 OR b.tenant_id = $2) AND ($3 = 0 OR b.schedule_id = $3)
		AND ($4 = '' OR b.status = $4) AND ($5 = 0 OR b.id < $5)
		ORDER BY b.id DESC LIMIT $6`, f.WorkspaceIDs, f.TenantID, f.ScheduleID, f.Status, f.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing backup sets: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (BackupSet, error) { return scanSet(r) })
}

// ListBackupItems returns every item of a set, ordered by family and name.
func ListBackupItems(ctx context.Context, q Querier, setID int64) ([]BackupItem, error) {
	rows, err := q.Query(ctx, `SELECT id, set_id, family, graph_id, policy_type, is_default, display_name, odata_type, payload_hash, sensitive
		FROM backup_items WHERE set_id = $1 ORDER BY family, policy_type, display_name, graph_id`, setID)
	if err != nil {
		return nil, fmt.Errorf("error listing items of backup set %d: %w", setID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (BackupItem, error) {
		var it BackupItem
		return it, r.Scan(&it.ID, &it.SetID, &it.Family, &it.GraphID, &it.PolicyType, &it.IsDefault, &it.DisplayName, &it.ODataType, &it.PayloadHash, &it.Sensitive)
	})
}

// BackupPayloads loads payloads by key (BackupItem.PayloadHash); sealed ones are opened with the
// context's PayloadSealer (WithPayloadSealer), and without it loading them fails with ErrNoPayloadKey.
func BackupPayloads(ctx context.Context, q Querier, hashes []string) (map[string]json.RawMessage, error) {
	rows, err := q.Query(ctx, `SELECT hash, payload::text, sealed, coalesce(key_id, '') FROM backup_payloads WHERE hash = ANY($1)`, hashes)
	if err != nil {
		return nil, fmt.Errorf("error loading backup payloads: %w", err)
	}
	defer rows.Close()
	sealer := payloadSealer(ctx)
	out := make(map[string]json.RawMessage, len(hashes))
	for rows.Next() {
		var h, keyID string
		var p *string
		var sealed []byte
		if err := rows.Scan(&h, &p, &sealed, &keyID); err != nil {
			return nil, err
		}
		if p != nil {
			out[h] = json.RawMessage(*p)
			continue
		}
		if sealer == nil {
			return nil, ErrNoPayloadKey
		}
		plain, err := sealer.OpenWith(sealed, payloadAAD(h))
		if err != nil {
			return nil, fmt.Errorf("cannot open a sealed backup payload (sealed with key %s, this process has key %s): %w", keyID, sealer.KeyID(), err)
		}
		out[h] = plain
	}
	return out, rows.Err()
}

// SealPlaintextPayloads seals sensitive payloads still stored in plaintext (written before migration
// 00007) and returns how many it sealed. Every process that opens the database with the secret key
// runs it; it is idempotent and cheap when nothing is left.
func SealPlaintextPayloads(ctx context.Context, db *DB, sealer PayloadSealer) (int, error) {
	rows, err := db.Pool.Query(ctx, `SELECT p.hash, p.payload::text FROM backup_payloads p
		WHERE p.payload IS NOT NULL AND EXISTS (SELECT 1 FROM backup_items i WHERE i.payload_hash = p.hash AND i.sensitive)`)
	if err != nil {
		return 0, fmt.Errorf("error finding plaintext sensitive payloads: %w", err)
	}
	type plain struct{ hash, payload string }
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (plain, error) {
		var p plain
		return p, r.Scan(&p.hash, &p.payload)
	})
	if err != nil {
		return 0, err
	}
	for _, p := range found {
		sealed, err := sealer.SealWith([]byte(p.payload), payloadAAD(p.hash))
		if err != nil {
			return 0, err
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE backup_payloads SET payload = NULL, sealed = $2, key_id = $3 WHERE hash = $1 AND payload IS NOT NULL`,
			p.hash, sealed, sealer.KeyID()); err != nil {
			return 0, fmt.Errorf("error sealing a backup payload: %w", err)
		}
	}
	return len(found), nil
}

// PruneResult says what retention removed.
type PruneResult struct {
	Sets     int64 `json:"sets"`
	Payloads int64 `json:"payloads"`
	Bytes    int64 `json:"bytes"`
}

// PruneBackupSets applies a schedule's retention to one tenant's sets of it (a fleet schedule keeps
// keepCount sets per tenant): complete sets beyond the newest keepCount, and sets older than
// keepDays, are deleted (the newest complete set is always kept); failed sets of the schedule and
// tenant older than the newest complete one go too. Payloads no set references any more are
// removed. Zero keepCount/keepDays do not limit.
func PruneBackupSets(ctx context.Context, tx pgx.Tx, scheduleID, tenantID int64, keepCount, keepDays int) (PruneResult, error) {
	var pr PruneResult
	tag, err := tx.Exec(ctx, `WITH ranked AS (
			SELECT id, status, created_at, row_number() OVER (ORDER BY id DESC) AS rn
			FROM backup_sets WHERE schedule_id = $1 AND tenant_id = $4 AND status = 'complete')
		DELETE FROM backup_sets b USING ranked r WHERE b.id = r.id AND r.rn > 1
			AND (($2 > 0 AND r.rn > $2) OR ($3 > 0 AND r.created_at < now() - make_interval(days => $3)))`,
		scheduleID, keepCount, keepDays, tenantID)
	if err != nil {
		return pr, fmt.Errorf("error pruning backup sets of schedule %d: %w", scheduleID, err)
	}
	pr.Sets = tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM backup_sets WHERE schedule_id = $1 AND tenant_id = $2 AND status = 'failed'
		AND id < coalesce((SELECT max(id) FROM backup_sets WHERE schedule_id = $1 AND tenant_id = $2 AND status = 'complete'), 0)`,
		scheduleID, tenantID)
	if err != nil {
		return pr, fmt.Errorf("error pruning failed backup sets of schedule %d: %w", scheduleID, err)
	}
	pr.Sets += tag.RowsAffected()
	if pr.Sets == 0 {
		return pr, nil
	}
	pr.Payloads, pr.Bytes, err = PruneUnreferencedPayloads(ctx, tx)
	return pr, err
}

// PruneUnreferencedPayloads deletes payloads no backup item references.
func PruneUnreferencedPayloads(ctx context.Context, q Querier) (int64, int64, error) {
	var n, bytes int64
	err := q.QueryRow(ctx, `WITH del AS (
			DELETE FROM backup_payloads p WHERE NOT EXISTS (SELECT 1 FROM backup_items i WHERE i.payload_hash = p.hash)
			RETURNING size_bytes)
		SELECT count(*), coalesce(sum(size_bytes), 0) FROM del`).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("error pruning unreferenced payloads: %w", err)
	}
	return n, bytes, nil
}

// PayloadStats is the size of the payload store.
func PayloadStats(ctx context.Context, q Querier) (count, bytes int64, err error) {
	err = q.QueryRow(ctx, `SELECT count(*), coalesce(sum(size_bytes), 0) FROM backup_payloads`).Scan(&count, &bytes)
	return count, bytes, err
}

// NewSize is NewBytes for people: "512 B", "3.4 KiB", "1.2 MiB" (the CLI and the dashboard show it).
func (b BackupSet) NewSize() string {
	switch n := b.NewBytes; {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/1024/1024)
	}
}
