package storetest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/store"
)

// BackupSetOpts are the options of BackupSet.
type BackupSetOpts struct {
	TenantID    int64 // required
	WorkspaceID int64 // default: the tenant's
	RunID       *int64
	ScheduleID  *int64
	Families    []string
	Items       []store.BackupItemRow
	Status      string     // default: complete; "running" leaves the set open
	CreatedAt   *time.Time // default: now
	CompletedAt *time.Time // default: now when the set is finished
}

// BackupSet creates a backup set with its items (payloads stored once per hash, as a backup does).
// Sensitive payloads are sealed with ctx's sealer, else with FixtureSealer.
func BackupSet(ctx context.Context, tb testing.TB, q store.Querier, opts *BackupSetOpts) store.BackupSet {
	tb.Helper()
	if store.PayloadSealerFrom(ctx) == nil {
		ctx = store.WithPayloadSealer(ctx, FixtureSealer)
	}
	opts = orZero(opts)
	workspaceID := opts.WorkspaceID
	if workspaceID == 0 {
		v, err := store.GetTenant(ctx, q, opts.TenantID)
		must(tb, err)
		workspaceID = v.WorkspaceID
	}
	set, err := store.StartBackupSet(ctx, q, store.BackupSet{WorkspaceID: workspaceID, TenantID: opts.TenantID, RunID: opts.RunID,
		ScheduleID: opts.ScheduleID, Families: opts.Families})
	must(tb, err)
	inTx(ctx, tb, q, func(tx pgx.Tx) error {
		_, _, err := store.AddBackupItems(ctx, tx, set.ID, opts.Items)
		return err
	})
	if status := or(opts.Status, store.BackupComplete); status != store.BackupRunning {
		_, err = store.FinishBackupSet(ctx, q, set.ID, status)
		must(tb, err)
	}
	var u update
	if opts.CreatedAt != nil {
		u.set("created_at", *opts.CreatedAt)
	}
	if opts.CompletedAt != nil {
		u.set("completed_at", *opts.CompletedAt)
	}
	u.apply(ctx, tb, q, "backup_sets", set.ID)
	set, err = store.GetBackupSet(ctx, q, set.ID)
	must(tb, err)
	return set
}

// ScheduleOpts are the options of Schedule.
type ScheduleOpts struct {
	TenantID    int64  // required unless TargetTag or TargetAll
	TargetTag   string // a fleet schedule of the tenants carrying the tag (WorkspaceID required)
	TargetAll   bool   // a fleet schedule of every tenant of WorkspaceID
	WorkspaceID int64  // default: the tenant's
	Name        string // default: unique "schedule-N"
	Cron        string // default: "0 3 * * *"
	Timezone    string // default: "UTC"
	Families    []string
	KeepCount   *int
	KeepDays    *int
	Paused      bool
	CreatedBy   *int64
	FireFrom    *time.Time // default: now (fire times before it never count as missed)
}

// Schedule creates a backup schedule.
func Schedule(ctx context.Context, tb testing.TB, q store.Querier, opts *ScheduleOpts) store.BackupSchedule {
	tb.Helper()
	opts = orZero(opts)
	workspaceID := opts.WorkspaceID
	if workspaceID == 0 {
		v, err := store.GetTenant(ctx, q, opts.TenantID)
		must(tb, err)
		workspaceID = v.WorkspaceID
	}
	s, err := store.InsertSchedule(ctx, q, store.BackupSchedule{WorkspaceID: workspaceID, TenantID: opts.TenantID,
		TargetTag: opts.TargetTag, TargetAll: opts.TargetAll, Name: or(opts.Name, fmt.Sprintf("schedule-%d", next())), Cron: or(opts.Cron, "0 3 * * *"), Timezone: or(opts.Timezone, "UTC"),
		Families: opts.Families, KeepCount: opts.KeepCount, KeepDays: opts.KeepDays, Paused: opts.Paused, CreatedBy: opts.CreatedBy})
	must(tb, err)
	return UpdateSchedule(ctx, tb, q, s.ID, opts)
}

// UpdateSchedule forces opts.FireFrom on an existing schedule (typically one created through the
// service, backdated so that earlier fire times count as missed). The other options are ignored.
func UpdateSchedule(ctx context.Context, tb testing.TB, q store.Querier, id int64, opts *ScheduleOpts) store.BackupSchedule {
	tb.Helper()
	opts = orZero(opts)
	if opts.FireFrom != nil {
		exec(ctx, tb, q, `UPDATE backup_schedules SET fire_from = $2 WHERE id = $1`, id, *opts.FireFrom)
	}
	s, err := store.GetSchedule(ctx, q, id)
	must(tb, err)
	return s
}

// InventoryOpts are the options of Inventory.
type InventoryOpts struct {
	TenantID int64 // required
	RunID    int64 // the sync that saw the rows; 0 for none
	Rows     []store.InventoryRow
}

// Inventory merges rows into a tenant's inventory as a sync does and returns what the merge did. A
// row without a PayloadHash gets one derived from its GraphID, and one without a Payload gets {}.
func Inventory(ctx context.Context, tb testing.TB, q store.Querier, opts *InventoryOpts) store.MergeCounts {
	tb.Helper()
	opts = orZero(opts)
	rows := make([]store.InventoryRow, len(opts.Rows))
	for i, r := range opts.Rows {
		r.PayloadHash = or(r.PayloadHash, "hash-"+r.GraphID)
		r.Payload = orBytes(r.Payload, []byte(`{}`))
		rows[i] = r
	}
	var counts store.MergeCounts
	inTx(ctx, tb, q, func(tx pgx.Tx) error {
		var err error
		counts, err = store.MergeInventory(ctx, tx, opts.TenantID, opts.RunID, rows)
		return err
	})
	return counts
}

// FixtureSealer seals the sensitive payloads of fixtures when the test gives no sealer: AES-256-GCM
// under a fixed all-zero key (key id "fixture"). Read them back with
// store.WithPayloadSealer(ctx, storetest.FixtureSealer).
var FixtureSealer store.PayloadSealer = newFixtureSealer()

type fixtureSealer struct{ aead cipher.AEAD }

func newFixtureSealer() fixtureSealer {
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return fixtureSealer{aead: aead}
}

func (fixtureSealer) KeyID() string { return "fixture" }

func (s fixtureSealer) SealWith(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

func (s fixtureSealer) OpenWith(ciphertext, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, errors.New("fixture: short ciphertext")
	}
	return s.aead.Open(nil, ciphertext[:n], ciphertext[n:], ad)
}
