package engine

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/op/backup"
	"github.com/tenantatlas/tenantatlas/engine/op/directory"
	"github.com/tenantatlas/tenantatlas/engine/op/inventory"
	"github.com/tenantatlas/tenantatlas/engine/op/noop"
	"github.com/tenantatlas/tenantatlas/engine/op/restore"
	"github.com/tenantatlas/tenantatlas/engine/op/verify"
	"github.com/tenantatlas/tenantatlas/engine/run"
)

// Operation types (docs/architecture.md#operation-registry).
const (
	TypeDirectoryGroupsSync   = "directory_groups.sync"
	TypeDirectoryRoleDefsSync = "directory_role_definitions.sync"
	TypeInventorySync         = "inventory.sync"
	TypeProviderVerification  = "provider.verification"
	TypeBackupRun             = "backup_schedule.run"
	TypeBackupScheduled       = "backup_schedule.scheduled"
	TypeRestoreExecute        = "restore.execute"
	// TypeDriftCheck compares a tenant's latest inventory and payloads with its baseline backup set
	// and records the drifted items on the run (docs/design.md#baselines-and-drift-watch).
	TypeDriftCheck = "drift.check"
	// TypeNoop is hidden: a configurable no-op that exercises the run lifecycle (params: duration
	// such as "2s", fail true|false, blocked true|false, steps n).
	TypeNoop = "system.noop"
)

// IdentityRule decides whether Start creates a new run or returns an existing one.
type IdentityRule string

const (
	// IdentityDedupeTenant: one active (queued or running) run per (type, tenant); a second start
	// returns the active run.
	IdentityDedupeTenant IdentityRule = "dedupe_tenant"
	// IdentityDedupeConnection: one active run per (type, provider connection).
	IdentityDedupeConnection IdentityRule = "dedupe_connection"
	// IdentityPerClick: every start creates a new run.
	IdentityPerClick IdentityRule = "per_click"
	// IdentityStrictSchedule: at most one run ever per (schedule, tenant, intended fire time), across
	// restarts and engine processes.
	IdentityStrictSchedule IdentityRule = "strict_schedule"
)

// Queues. MaxWorkers per queue is per engine process.
const (
	QueueDefault   = "default"
	QueueDirectory = "directory"
	QueueIntune    = "intune"
	QueueRestore   = "restore"
)

// Operation is one row of the operation registry: everything the engine needs to know about a type.
type Operation struct {
	Type  string
	Title string
	// Capability is needed to start the run and, unless ViewCapability says otherwise, to view it.
	Capability     access.Capability
	ViewCapability access.Capability
	Identity       IdentityRule
	Queue          string
	Timeout        time.Duration
	MaxAttempts    int
	// Idempotent operations are resumed after a crash; the others end failed with run_interrupted
	// unless Resumable.
	Idempotent bool
	// Resumable operations are not idempotent but are resumed after a crash all the same: they keep
	// their own per-item ledger and skip what was applied (restore: restore_items, recorded before
	// and after each write; an item whose write was in flight is never written again).
	Resumable bool
	// NeedsTenant operations act on one tenant through its default provider connection.
	NeedsTenant bool
	// SystemOnly operations are started by the scheduler, never by a user.
	SystemOnly bool
	// Hidden operations are left out of pickers and help.
	Hidden bool
	// Families are the Graph families the operation reads (nil: none, or chosen per run).
	Families []graph.Family
	// Names are the families the operation reads only to name what its objects refer to (a
	// backup names the groups of assignments and Conditional Access with groups.get): their read
	// permission is needed too.
	Names []graph.Family
	// Writes reports whether the operation writes to Graph (needs write permissions).
	Writes bool
	// Run performs the operation (Config.Executors may replace it in one engine).
	Run run.Executor
}

// operations is the registry: one entry per operation type, carrying its executor.
var operations = map[string]Operation{
	TypeDirectoryGroupsSync: {Title: "Group sync", Capability: access.DirectorySync, Identity: IdentityDedupeTenant,
		Queue: QueueDirectory, Timeout: 2 * time.Hour, MaxAttempts: 5, Idempotent: true, NeedsTenant: true,
		Families: []graph.Family{graph.FamilyGroups}, Run: directory.SyncGroups},
	TypeDirectoryRoleDefsSync: {Title: "Role definition sync", Capability: access.DirectorySync, Identity: IdentityDedupeTenant,
		Queue: QueueDirectory, Timeout: 30 * time.Minute, MaxAttempts: 5, Idempotent: true, NeedsTenant: true,
		Families: []graph.Family{graph.FamilyDirectoryRoleDefinitions}, Run: directory.SyncRoleDefinitions},
	TypeInventorySync: {Title: "Inventory sync", Capability: access.InventorySync, Identity: IdentityDedupeTenant,
		Queue: QueueIntune, Timeout: 2 * time.Hour, MaxAttempts: 5, Idempotent: true, NeedsTenant: true,
		Families: graph.IntuneFamilies(), Run: inventory.Sync},
	TypeProviderVerification: {Title: "Connection verification", Capability: access.ProviderVerify, ViewCapability: access.TenantView,
		Identity: IdentityDedupeConnection, Queue: QueueDefault, Timeout: 5 * time.Minute, MaxAttempts: 3, Idempotent: true,
		NeedsTenant: true, Run: verify.Run},
	TypeBackupRun: {Title: "Backup (manual)", Capability: access.BackupRun, Identity: IdentityPerClick,
		Queue: QueueIntune, Timeout: 4 * time.Hour, MaxAttempts: 5, Idempotent: true, NeedsTenant: true,
		Families: graph.IntuneFamilies(), Names: []graph.Family{graph.FamilyGroups}, Run: backup.Run},
	TypeBackupScheduled: {Title: "Backup (scheduled)", Capability: access.BackupRun, Identity: IdentityStrictSchedule,
		Queue: QueueIntune, Timeout: 4 * time.Hour, MaxAttempts: 5, Idempotent: true, NeedsTenant: true, SystemOnly: true,
		Families: graph.IntuneFamilies(), Names: []graph.Family{graph.FamilyGroups}, Run: backup.Run},
	TypeRestoreExecute: {Title: "Restore", Capability: access.RestoreExecute, Identity: IdentityPerClick,
		Queue: QueueRestore, Timeout: 4 * time.Hour, MaxAttempts: 3, Idempotent: false, Resumable: true, NeedsTenant: true, Writes: true,
		Run: restore.Run},
	// drift.check's executor is Engine.driftCheck (set in NewEngine): it runs Service.DiffBackups.
	TypeDriftCheck: {Title: "Drift check", Capability: access.BackupRun, Identity: IdentityDedupeTenant,
		Queue: QueueIntune, Timeout: 30 * time.Minute, MaxAttempts: 3, Idempotent: true, NeedsTenant: true},
	TypeNoop: {Title: "No-op (diagnostic)", Capability: access.TenantManage, Identity: IdentityPerClick,
		Queue: QueueDefault, Timeout: 10 * time.Minute, MaxAttempts: 3, Idempotent: true, Hidden: true, Run: noop.Run},
}

func init() {
	for t, op := range operations {
		op.Type = t
		if op.ViewCapability == "" {
			op.ViewCapability = op.Capability
		}
		operations[t] = op
	}
}

// LookupOperation returns the registry entry of an operation type.
func LookupOperation(typ string) (Operation, error) {
	op, ok := operations[typ]
	if !ok {
		return Operation{}, fmt.Errorf("%w: unknown operation type %q (expected one of %s)", ErrInvalid, typ, operationTypeList())
	}
	return op, nil
}

// Operations lists the registry sorted by type, hidden ones included.
func Operations() []Operation {
	out := make([]Operation, 0, len(operations))
	for _, op := range operations {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// resumes reports whether a run of the operation is resumed after a crash or shutdown.
func (op Operation) resumes() bool { return op.Idempotent || op.Resumable }

// Permissions returns the Graph application permissions the operation needs, from the contract registry.
func (op Operation) Permissions() []string {
	if op.Type == TypeProviderVerification {
		return graph.RequiredPermissions()
	}
	if len(op.Families) == 0 {
		return nil
	}
	if op.Writes {
		return graph.RequiredWritePermissions(op.Families...)
	}
	perms := graph.RequiredPermissions(op.Families...)
	if len(op.Names) == 0 { // (no families at all would mean every family's)
		return perms
	}
	for _, p := range graph.RequiredPermissions(op.Names...) {
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	slices.Sort(perms)
	return perms
}

func operationTypeList() string {
	var names []string
	for _, op := range Operations() {
		if !op.Hidden {
			names = append(names, op.Type)
		}
	}
	return fmt.Sprint(names)
}
