package reliability_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// authzKind says how a method answers an actor without the capability.
type authzKind int

const (
	// object: a non-member gets ErrNotFound, a member without the capability ErrForbidden.
	object authzKind = iota
	// scopedList: the result only holds what the actor may see: empty for a non-member and for a
	// member without the capability, no error.
	scopedList
	// adminOnly: only the bootstrap administrator; everybody else gets ErrForbidden (or ErrNotFound).
	adminOnly
	// self: answers about the actor itself (its workspaces, roles); never another's data.
	self
)

// authzFixture is a workspace with a tenant synced, inventoried and backed up against graphsim, a
// schedule and a restore, so every read has something to find and every command something to act on.
type authzFixture struct {
	b        *bundle
	ws       store.Workspace
	tenant   engine.TenantView
	set      store.BackupSet
	itemID   string
	schedule engine.ScheduleView
	restore  int64
	ranRun   int64            // a run an engine of the registry ran
	graph    graph.Config     // the simulator's
	roles    map[int64]string // user id -> role in ws
	counter  atomic.Int64
}

// authzCase is one exported Service method. call runs it as actor and returns a result whose
// emptiness matters for scoped lists (nil means "not a list").
type authzCase struct {
	method string
	kind   authzKind
	cap    access.Capability
	call   func(fx *authzFixture, actor engine.Actor) (any, error)
}

// notActorScoped are Service methods that take no actor: wiring, identity resolution and counters
// (SharedReadStats: how many reads answered how many callers, no data).
var notActorScoped = []string{"DB", "ActorByName", "ActorByKeyFingerprint", "AliveEngines", "EvaluateAlerts", "SharedReadStats"}

func authzCases() []authzCase {
	ctx := context.Background()
	fresh := func(fx *authzFixture, prefix string) string { return fmt.Sprintf("%s-%d", prefix, fx.counter.Add(1)) }
	// activeSync is a queued groups sync nobody works on (the fixture's engine is stopped).
	activeSync := func(fx *authzFixture) store.Run {
		res, err := fx.b.svc.Start(ctx, fx.b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: fx.tenant.ID})
		if err != nil {
			panic(err)
		}
		return res.Run
	}
	failedRun := func(fx *authzFixture) store.Run {
		r := activeSync(fx)
		if _, err := fx.b.svc.Cancel(ctx, fx.b.admin, r.ID); err != nil {
			panic(err)
		}
		return r
	}
	return []authzCase{
		// Runs.
		{"Start", object, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.Start(ctx, a, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: fx.tenant.ID})
		}},
		{"Cancel", object, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			r := activeSync(fx)
			defer func() { _, _ = fx.b.svc.Cancel(ctx, fx.b.admin, r.ID) }()
			return fx.b.svc.Cancel(ctx, a, r.ID)
		}},
		{"Retry", object, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			r := failedRun(fx)
			res, err := fx.b.svc.Retry(ctx, a, r.ID)
			if err == nil {
				_, _ = fx.b.svc.Cancel(ctx, fx.b.admin, res.Run.ID)
			}
			return res, err
		}},
		{"GetRun", object, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GetRun(ctx, a, failedRun(fx).ID)
		}},
		{"RunEvents", object, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.RunEvents(ctx, a, store.EventFilter{RunID: failedRun(fx).ID})
		}},
		{"ListRuns", scopedList, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListRuns(ctx, a, engine.RunQuery{Types: []string{engine.TypeDirectoryGroupsSync}})
		}},
		{"CountRuns", scopedList, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.CountRuns(ctx, a, engine.RunQuery{Types: []string{engine.TypeDirectoryGroupsSync}})
		}},
		{"Triage", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			tr, err := fx.b.svc.Triage(ctx, a, time.Now())
			if err != nil {
				return nil, err
			}
			return triageItems(tr), nil
		}},
		// Alerts: rules, routes, incidents (docs/design.md#alerts).
		{"AddAlertRoute", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.AddAlertRoute(ctx, a, engine.AlertRouteRequest{Workspace: fx.ws.Name, Name: fresh(fx, "route"), Kind: engine.RouteSlack, URL: "https://hooks.slack.com/services/x"})
		}},
		{"EditAlertRoute", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.EditAlertRoute(ctx, a, engine.AlertRouteRequest{Workspace: fx.ws.Name, Name: authzRoute(fx, fresh), URL: "https://hooks.slack.com/services/y"})
		}},
		{"RemoveAlertRoute", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return nil, fx.b.svc.RemoveAlertRoute(ctx, a, fx.ws.Name, authzRoute(fx, fresh))
		}},
		{"TestAlertRoute", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			defer rcv.Close()
			name := fresh(fx, "hook")
			if _, err := fx.b.svc.AddAlertRoute(ctx, fx.b.admin, engine.AlertRouteRequest{Workspace: fx.ws.Name, Name: name,
				Kind: engine.RouteWebhook, URL: rcv.URL, Secret: "k"}); err != nil {
				panic(err)
			}
			return nil, fx.b.svc.TestAlertRoute(ctx, a, fx.ws.Name, name)
		}},
		{"ListAlertRoutes", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			authzRoute(fx, fresh)
			return fx.b.svc.ListAlertRoutes(ctx, a)
		}},
		{"AddAlertRule", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.AddAlertRule(ctx, a, engine.AlertRuleRequest{Workspace: fx.ws.Name, Name: fresh(fx, "rule"), Condition: engine.ConditionRunFailed})
		}},
		{"EditAlertRule", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			off := false
			return fx.b.svc.EditAlertRule(ctx, a, engine.AlertRuleEdit{Workspace: fx.ws.Name, Name: authzIncident(fx, fresh).RuleName, Enabled: &off})
		}},
		{"RemoveAlertRule", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return nil, fx.b.svc.RemoveAlertRule(ctx, a, fx.ws.Name, authzIncident(fx, fresh).RuleName)
		}},
		{"ListAlertRules", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			authzIncident(fx, fresh)
			return fx.b.svc.ListAlertRules(ctx, a)
		}},
		{"Incidents", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			authzIncident(fx, fresh)
			return fx.b.svc.Incidents(ctx, a, engine.IncidentFilter{})
		}},
		{"AlertHistory", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			authzIncident(fx, fresh)
			h, err := fx.b.svc.AlertHistory(ctx, a, 50)
			return h.Incidents, err
		}},
		{"SetBaseline", object, access.ScheduleManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.SetBaseline(ctx, a, fx.tenant.Name, 0)
		}},
		{"TenantDrift", scopedList, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.TenantDrift(ctx, a)
		}},
		{"Incident", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.Incident(ctx, a, authzIncident(fx, fresh).ID)
		}},
		{"AcknowledgeIncident", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.AcknowledgeIncident(ctx, a, authzIncident(fx, fresh).ID)
		}},
		{"SilenceIncident", object, access.AlertManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.SilenceIncident(ctx, a, authzIncident(fx, fresh).ID, time.Hour)
		}},
		// Workspaces, members, audit.
		{"Workspaces", self, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) { return fx.b.svc.Workspaces(ctx, a) }},
		{"ResolveWorkspace", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ResolveWorkspace(ctx, a, fx.ws.Name)
		}},
		{"Role", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) { return fx.b.svc.Role(ctx, a, fx.ws.ID) }},
		{"Can", self, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			for _, c := range []access.Capability{access.TenantView, access.DirectorySync, access.RestoreExecute, access.MemberManage} {
				want := false
				if role, ok := fx.roles[a.UserID]; ok {
					want = access.Role(role).Can(c)
				}
				if got := fx.b.svc.Can(ctx, a, fx.ws.ID, c); got != want && !a.Admin {
					return nil, fmt.Errorf("Can(%s) = %v for %s, want %v", c, got, a.Name, want)
				}
			}
			return nil, nil
		}},
		{"ListAudit", scopedList, access.TenantManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListAudit(ctx, a, store.AuditFilter{})
		}},
		{"ListMembers", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListMembers(ctx, a, fx.ws.Name)
		}},
		{"AddMember", object, access.MemberManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			name := fresh(fx, "member")
			if _, err := fx.b.svc.CreateUser(ctx, fx.b.admin, name); err != nil {
				panic(err)
			}
			return fx.b.svc.AddMember(ctx, a, fx.ws.Name, name, "readonly")
		}},
		{"RemoveMember", object, access.MemberManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			name := fresh(fx, "leaver")
			if _, err := fx.b.svc.CreateUser(ctx, fx.b.admin, name); err != nil {
				panic(err)
			}
			if _, err := fx.b.svc.AddMember(ctx, fx.b.admin, fx.ws.Name, name, "readonly"); err != nil {
				panic(err)
			}
			return nil, fx.b.svc.RemoveMember(ctx, a, fx.ws.Name, name)
		}},
		{"TagTenant", object, access.TenantManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.TagTenant(ctx, a, fx.tenant.Name, []string{"authz"}, nil)
		}},
		{"FleetTenants", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.FleetTenants(ctx, a, engine.FleetTarget{All: true, Workspace: fx.ws.Name})
		}},
		{"FleetHealth", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.FleetHealth(ctx, a, time.Now())
		}},
		{"StartFleet", object, access.InventorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			starts, err := fx.b.svc.StartFleet(ctx, a, engine.FleetTarget{All: true, Workspace: fx.ws.Name}, engine.StartRequest{Type: engine.TypeInventorySync})
			for _, s := range starts {
				if err == nil && s.Err != nil {
					err = s.Err // each tenant's Start authorizes on its own: its refusal is the answer
				}
			}
			return starts, err
		}},
		{"Retention", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.Retention(ctx, a, fx.ws.ID)
		}},
		{"SetRetention", object, access.RetentionManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.SetRetention(ctx, a, fx.ws.ID, store.Retention{Runs: store.DefaultRunRetention, RunEvents: store.DefaultRunEventRetention})
		}},
		{"Prune", object, access.RetentionManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.Prune(ctx, a, fx.ws.ID)
		}},
		{"CreateWorkspace", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.CreateWorkspace(ctx, a, fresh(fx, "ws"))
		}},
		{"CreateUser", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.CreateUser(ctx, a, fresh(fx, "user"))
		}},
		{"ListUsers", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) { return fx.b.svc.ListUsers(ctx, a) }},
		{"AddKey", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.AddKey(ctx, a, "authz-keyholder", newAuthorizedKey(fx))
		}},
		{"RemoveKey", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			k, err := fx.b.svc.AddKey(ctx, fx.b.admin, "authz-keyholder", newAuthorizedKey(fx))
			if err != nil {
				panic(err)
			}
			return nil, fx.b.svc.RemoveKey(ctx, a, "authz-keyholder", k.Fingerprint)
		}},
		{"ListKeys", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListKeys(ctx, a, "authz-keyholder")
		}},
		// Tenants and directory cache.
		{"AddTenant", object, access.TenantManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			n := fx.counter.Add(1)
			return fx.b.svc.AddTenant(ctx, a, engine.AddTenantRequest{Workspace: fx.ws.Name, Name: fmt.Sprintf("added-%d", n),
				TenantGUID: fmt.Sprintf("6e0c1a2b-0000-4000-8000-%012d", n), ClientID: "3f2a0000-0000-4000-8000-000000000002",
				ClientSecret: []byte("authz-secret")})
		}},
		{"SetCredential", object, access.TenantManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			t := fx.extraTenant()
			return fx.b.svc.SetCredential(ctx, a, engine.SetCredentialRequest{TenantID: t.ID, ClientSecret: []byte("authz-rotated"), NoVerify: true})
		}},
		{"RemoveTenant", object, access.TenantManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			t := fx.extraTenant()
			return fx.b.svc.RemoveTenant(ctx, a, engine.RemoveTenantRequest{TenantID: t.ID, Confirm: t.Name})
		}},
		{"ListTenants", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) { return fx.b.svc.ListTenants(ctx, a) }},
		{"GetTenant", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GetTenant(ctx, a, fx.tenant.Name)
		}},
		{"GetTenantByID", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GetTenantByID(ctx, a, fx.tenant.ID)
		}},
		{"SearchGroups", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.SearchGroups(ctx, a, fx.tenant.ID, "", store.GroupQuery{Limit: 5})
		}},
		{"GroupLabels", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GroupLabels(ctx, a, fx.tenant.ID, []string{"x"})
		}},
		{"RoleDefinitions", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.RoleDefinitions(ctx, a, fx.tenant.ID, "", "", false)
		}},
		{"DirectoryCacheState", object, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.DirectoryCacheState(ctx, a, fx.tenant.ID)
		}},
		// Inventory, backups, drift, restores.
		{"ListInventory", object, access.InventorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListInventory(ctx, a, fx.tenant.ID, engine.InventoryQuery{Limit: 5})
		}},
		{"InventorySummary", object, access.InventorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.InventorySummary(ctx, a, fx.tenant.ID)
		}},
		{"ConditionalAccessStates", object, access.InventorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ConditionalAccessStates(ctx, a, fx.tenant.ID)
		}},
		{"StartBackup", object, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			res, err := fx.b.svc.StartBackup(ctx, a, "", fx.tenant.ID, nil)
			if err == nil {
				_, _ = fx.b.svc.Cancel(ctx, fx.b.admin, res.Run.ID)
			}
			return res, err
		}},
		{"ListBackupSets", scopedList, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListBackupSets(ctx, a, engine.BackupQuery{})
		}},
		{"GetBackupSet", object, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GetBackupSet(ctx, a, fx.set.ID)
		}},
		{"BackupItemPayload", object, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.BackupItemPayload(ctx, a, fx.set.ID, fx.itemID)
		}},
		{"DiffBackups", object, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.DiffBackups(ctx, a, fx.set.ID, fx.set.ID)
		}},
		{"PreviewRestore", object, access.RestoreExecute, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.PreviewRestore(ctx, a, engine.RestoreRequest{BackupSetID: fx.set.ID, Items: []string{fx.itemID}})
		}},
		{"StartRestore", object, access.RestoreExecute, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.StartRestore(ctx, a, engine.RestoreRequest{BackupSetID: fx.set.ID, Items: []string{fx.itemID}})
		}},
		{"GetRestore", object, access.RestoreExecute, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GetRestore(ctx, a, fx.restore)
		}},
		{"ListRestores", scopedList, access.RestoreExecute, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListRestores(ctx, a, 0, 10)
		}},
		// Schedules.
		{"CreateSchedule", object, access.ScheduleManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.CreateSchedule(ctx, a, engine.ScheduleRequest{TenantID: fx.tenant.ID, Name: fresh(fx, "sched"), Cron: "0 3 * * *"})
		}},
		{"UpdateSchedule", object, access.ScheduleManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			keep := 3
			return fx.b.svc.UpdateSchedule(ctx, a, fx.schedule.Name, engine.ScheduleUpdate{KeepCount: &keep})
		}},
		{"PauseSchedule", object, access.ScheduleManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.PauseSchedule(ctx, a, fx.schedule.Name)
		}},
		{"ResumeSchedule", object, access.ScheduleManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ResumeSchedule(ctx, a, fx.schedule.Name)
		}},
		{"GetSchedule", object, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.GetSchedule(ctx, a, fx.schedule.Name)
		}},
		{"ListSchedules", scopedList, access.BackupRun, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListSchedules(ctx, a, 0)
		}},
		// Operations: the engines registry and doctor's checks.
		{"Engines", self, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) { return fx.b.svc.Engines(ctx, a, true) }},
		{"RunEngine", object, access.DirectorySync, func(fx *authzFixture, a engine.Actor) (any, error) {
			_, _, err := fx.b.svc.RunEngine(ctx, a, fx.ranRun)
			return nil, err
		}},
		{"CheckCredentials", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.CheckCredentials(ctx, a, time.Now())
		}},
		{"DiagnoseTenant", object, access.ProviderVerify, func(fx *authzFixture, a engine.Actor) (any, error) {
			svc, err := engine.NewService(fx.b.db, engine.ServiceOptions{Sealer: fx.b.sealer, Graph: fx.graph}) // sign in to the simulator
			if err != nil {
				return nil, err
			}
			return svc.DiagnoseTenant(ctx, a, fx.tenant.ID)
		}},
		{"Rekey", adminOnly, "", func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.Rekey(ctx, a, engine.RekeyRequest{IgnoreEngines: true})
		}},
		{"CheckTenantTokens", scopedList, access.ProviderVerify, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.CheckTenantTokens(ctx, a, "", fx.graph)
		}},
		// Legacy history.
		{"ImportLegacy", object, access.TenantManage, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ImportLegacy(ctx, a, fx.ws.Name, nil)
		}},
		{"ListLegacyRuns", scopedList, access.TenantView, func(fx *authzFixture, a engine.Actor) (any, error) {
			return fx.b.svc.ListLegacyRuns(ctx, a, store.LegacyFilter{})
		}},
	}
}

func triageItems(tr engine.Triage) []any {
	var out []any
	v := reflect.ValueOf(tr)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			for j := range f.Len() {
				out = append(out, f.Index(j).Interface())
			}
		}
	}
	return out
}

// extraTenant adds a tenant (as the administrator) for a call that changes or removes it.
func (fx *authzFixture) extraTenant() engine.TenantView {
	n := fx.counter.Add(1)
	v, err := fx.b.svc.AddTenant(context.Background(), fx.b.admin, engine.AddTenantRequest{Workspace: fx.ws.Name, Name: fmt.Sprintf("extra-%d", n),
		TenantGUID: fmt.Sprintf("7e0c1a2b-0000-4000-8000-%012d", n), ClientID: "3f2a0000-0000-4000-8000-000000000002",
		ClientSecret: []byte("authz-secret")})
	if err != nil {
		panic(err)
	}
	return v
}

var keyCounter atomic.Int64

func newAuthorizedKey(fx *authzFixture) string {
	// Distinct valid ed25519 public keys: 32 key bytes after the fixed 19-byte header.
	n := keyCounter.Add(1)
	raw := append([]byte{0, 0, 0, 11}, "ssh-ed25519"...)
	raw = append(raw, 0, 0, 0, 32)
	key := make([]byte, 32)
	copy(key, fmt.Sprintf("authz-key-%022d", n))
	raw = append(raw, key...)
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(raw) + " authz@test"
}

// TestSecurityAuthorizationEveryServiceMethod calls every exported engine.Service method as a
// non-member, as each role and as the administrator: a non-member gets not found (or sees
// nothing), a member without the capability forbidden (or sees nothing), the others succeed
// (docs/architecture.md#authorization). A new Service method fails this test until it is added to the table.
//
// The subtests run one after another on purpose: they share one fixture (which some of the calls
// change) and the checks counter.
func TestSecurityAuthorizationEveryServiceMethod(t *testing.T) { //nolint:tparallel // see above
	t.Parallel()
	fx := newAuthzFixture(t)
	cases := authzCases()

	t.Run("EveryMethodIsCovered", func(t *testing.T) {
		covered := map[string]bool{}
		for _, c := range cases {
			covered[c.method] = true
		}
		typ := reflect.TypeFor[*engine.Service]()
		var missing []string
		for i := range typ.NumMethod() {
			m := typ.Method(i).Name
			if !covered[m] && !slices.Contains(notActorScoped, m) {
				missing = append(missing, m)
			}
		}
		require.Empty(t, missing, "exported Service methods without an authorization row")
		metric(t, "authz.methods", len(cases), "methods")
	})

	ctx := context.Background()
	actors := map[string]engine.Actor{"admin": fx.b.admin}
	for _, role := range access.Roles {
		actors[string(role)] = addMember(t, fx, "authz-"+string(role), string(role))
	}
	actors["non-member"] = addMember(t, fx, "authz-stranger", "")
	_, err := fx.b.svc.CreateUser(ctx, fx.b.admin, "authz-keyholder")
	require.NoError(t, err)

	checks := 0
	for _, c := range cases {
		for _, name := range []string{"non-member", "readonly", "operator", "manager", "owner", "admin"} {
			actor := actors[name]
			t.Run(c.method+"/"+name, func(t *testing.T) {
				got, err := c.call(fx, actor)
				checks++
				allowed := name == "admin" || (c.kind != adminOnly && name != "non-member" && access.Role(name).Can(c.cap))
				switch {
				case c.kind == self:
					require.NoError(t, err)
				case allowed:
					require.NoError(t, err)
				case c.kind == scopedList:
					require.NoError(t, err)
					require.Zero(t, reflect.ValueOf(got).Len(), "a %s sees nothing here", name)
				case c.kind == adminOnly:
					require.True(t, errors.Is(err, engine.ErrForbidden) || errors.Is(err, engine.ErrNotFound), "%v", err)
				case name == "non-member":
					require.ErrorIs(t, err, engine.ErrNotFound)
				default:
					require.ErrorIs(t, err, engine.ErrForbidden)
				}
			})
		}
	}
	metric(t, "authz.checks", checks, "calls")
}

func addMember(t *testing.T, fx *authzFixture, name, role string) engine.Actor {
	t.Helper()
	ctx := context.Background()
	_, err := fx.b.svc.CreateUser(ctx, fx.b.admin, name)
	require.NoError(t, err)
	if role != "" {
		_, err = fx.b.svc.AddMember(ctx, fx.b.admin, fx.ws.Name, name, role)
		require.NoError(t, err)
	}
	a, err := fx.b.svc.ActorByName(ctx, name)
	require.NoError(t, err)
	if role != "" {
		fx.roles[a.UserID] = role
	}
	return a
}

func newAuthzFixture(t *testing.T) *authzFixture {
	t.Helper()
	ctx := context.Background()
	b := setup(t)
	sim, err := graphsim.New(graphsim.Options{Seed: 5, Tenants: []graphsim.TenantSpec{{Groups: 20, PoliciesPerFamily: 1}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	// The workspace under test is not the admin's default one, so "default" memberships play no part.
	ws, err := b.svc.CreateWorkspace(ctx, b.admin, "authz")
	require.NoError(t, err)
	creds := sim.Tenants()[0].Credentials()
	tenant, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Workspace: ws.Name, Name: "authz-tenant", TenantGUID: creds.TenantID,
		ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
	require.NoError(t, err)
	e, err := engine.NewEngine(b.svc, engine.Config{Graph: sim.GraphConfig(), HeartbeatInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx))
	var ranRun int64
	for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeDirectoryRoleDefsSync, engine.TypeBackupRun} {
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: typ, TenantID: tenant.ID})
		require.NoError(t, err)
		if ranRun == 0 {
			ranRun = res.Run.ID // the groups sync: seen with directory.sync
		}
		run := b.waitRun(t, res.Run.ID, completed, 60*time.Second)
		require.Equal(t, store.OutcomeSucceeded, deref(run.Outcome), "%s: %s", typ, deref(run.ReasonDetail))
	}
	// Commands under test must not be worked on: the engine stops before the matrix runs.
	e.Stop()
	sets, err := b.svc.ListBackupSets(ctx, b.admin, engine.BackupQuery{TenantID: tenant.ID})
	require.NoError(t, err)
	require.NotEmpty(t, sets)
	view, err := b.svc.GetBackupSet(ctx, b.admin, sets[0].ID)
	require.NoError(t, err)
	require.NotEmpty(t, view.Items)
	sch, err := b.svc.CreateSchedule(ctx, b.admin, engine.ScheduleRequest{TenantID: tenant.ID, Name: "authz-nightly", Cron: "0 3 * * *"})
	require.NoError(t, err)
	fx := &authzFixture{b: b, ws: ws, tenant: tenant, set: sets[0], itemID: view.Items[0].GraphID, schedule: sch, roles: map[int64]string{},
		ranRun: ranRun, graph: sim.GraphConfig()}
	started, err := b.svc.StartRestore(ctx, b.admin, engine.RestoreRequest{BackupSetID: fx.set.ID, Items: []string{fx.itemID}})
	require.NoError(t, err)
	fx.restore = started.Restore.ID
	return fx
}

// authzRoute adds a fresh Slack route to the fixture's workspace and returns its name.
func authzRoute(fx *authzFixture, fresh func(*authzFixture, string) string) string {
	name := fresh(fx, "route")
	if _, err := fx.b.svc.AddAlertRoute(context.Background(), fx.b.admin, engine.AlertRouteRequest{Workspace: fx.ws.Name, Name: name,
		Kind: engine.RouteSlack, URL: "https://hooks.slack.com/services/x"}); err != nil {
		panic(err)
	}
	return name
}

// authzIncident adds a fresh rule to the fixture's workspace with one open incident.
func authzIncident(fx *authzFixture, fresh func(*authzFixture, string) string) store.AlertIncident {
	ctx := context.Background()
	rule, err := fx.b.svc.AddAlertRule(ctx, fx.b.admin, engine.AlertRuleRequest{Workspace: fx.ws.Name, Name: fresh(fx, "rule"), Condition: engine.ConditionDrift})
	if err != nil {
		panic(err)
	}
	inc, _, err := store.FireIncident(ctx, fx.b.db.Pool, store.IncidentFiring{WorkspaceID: fx.ws.ID, RuleID: rule.ID, Subject: "drift:tenant:1",
		TenantID: &fx.tenant.ID, Summary: "drifted"})
	if err != nil {
		panic(err)
	}
	return inc
}
