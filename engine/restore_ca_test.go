package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// caFamilies are the Conditional Access families, what these tests back up.
var caFamilies = []string{string(graph.FamilyNamedLocations), string(graph.FamilyAuthenticationStrengthPolicies),
	string(graph.FamilyAuthenticationContextClassReferences), string(graph.FamilyConditionalAccessPolicies)}

// setupCA starts the engine against a simulator with the given tenants, registered in order.
func setupCA(t *testing.T, specs ...graphsim.TenantSpec) []*intuneBundle {
	t.Helper()
	return setupIntuneSim(t, graphsim.Options{Seed: 18, Tenants: specs}, nil, func(i int, _ *graphsim.Tenant) string { return fmt.Sprintf("ca-%d", i) })
}

func (b *intuneBundle) syncCA(t *testing.T) {
	t.Helper()
	for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeDirectoryRoleDefsSync, engine.TypeInventorySync} {
		run := b.run(t, engine.StartRequest{Type: typ})
		require.Equal(t, store.OutcomeSucceeded, outcome(run), "%s: %s", typ, deref(run.ReasonDetail))
	}
}

func (b *intuneBundle) backupCA(t *testing.T) store.BackupSet {
	t.Helper()
	run, set := b.backup(t, caFamilies...)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	return set
}

func previewItemNamed(t *testing.T, pv engine.RestorePreview, name string) engine.RestorePreviewItem {
	t.Helper()
	for _, it := range pv.Items {
		if it.DisplayName == name {
			return it
		}
	}
	t.Fatalf("no item %q in the preview", name)
	return engine.RestorePreviewItem{}
}

// TestCALockoutWarning: the preview names a policy that blocks (or requires a grant) for all
// users with no excluded user, group or role, and only such policies; an exclusion added
// (a break-glass account) makes the warning go away.
func TestCALockoutWarning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setupCA(t, graphsim.TenantSpec{Groups: 10})[0]
	a.syncCA(t)
	set := a.backupCA(t)
	pv, err := a.svc.PreviewRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	var lockouts []string
	for _, w := range pv.Warnings {
		if strings.Contains(w, "no break-glass account") {
			lockouts = append(lockouts, w)
		}
	}
	require.Len(t, lockouts, 1, "%v", pv.Warnings)
	require.Contains(t, lockouts[0], `"Block sign-ins from blocked countries (restored 2026-12-01)" blocks access for all users with no excluded user, group or role`)
	require.Contains(t, lockouts[0], "restored report-only")
	require.Contains(t, previewItemNamed(t, pv, "Block sign-ins from blocked countries").Notes, lockouts[0], "the item says so too")
	legacy := previewItemNamed(t, pv, "Block legacy authentication") // blocks all users, break-glass group excluded
	for _, n := range legacy.Notes {
		require.NotContains(t, n, "no break-glass account")
	}

	// A break-glass user excluded: no warning any more.
	id := a.simT.CAPolicyByName("Block sign-ins from blocked countries")["id"].(string)
	cond := a.simT.CAPolicyByName("Block sign-ins from blocked countries")["conditions"].(map[string]any)
	cond["users"].(map[string]any)["excludeUsers"] = []any{"5c7a1b7e-0000-4000-8000-00000000b6a5"}
	require.NoError(t, a.simT.UpdateCAObject(graph.FamilyConditionalAccessPolicies, id, map[string]any{"conditions": cond}))
	set = a.backupCA(t)
	pv, err = a.svc.PreviewRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID})
	require.NoError(t, err)
	for _, w := range pv.Warnings {
		require.NotContains(t, w, "no break-glass account")
	}
}

// TestCAUnmappableExcludeBlocksOnlyItsPolicy: into a tenant that lacks the break-glass group,
// every policy excluding it is not restored (the preview says why: dropping an exclusion widens
// the policy) while the others are; a user id is never copied across tenants — listed
// unresolved with its id and left out of the include list.
func TestCAUnmappableExcludeBlocksOnlyItsPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bs := setupCA(t, graphsim.TenantSpec{Groups: 10}, graphsim.TenantSpec{Groups: 3})
	a, b := bs[0], bs[1]
	const user = "d2b0c6f1-7c1e-4a51-9d1a-5b0e3f4c2a10"
	_, err := a.simT.AddCAObject(graph.FamilyConditionalAccessPolicies, map[string]any{"displayName": "Pilot users MFA", "state": "enabled",
		"conditions": map[string]any{"clientAppTypes": []any{"all"}, "applications": map[string]any{"includeApplications": []any{"All"}},
			"users": map[string]any{"includeUsers": []any{user}, "includeGroups": []any{a.simT.GroupID(3)}}},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}})
	require.NoError(t, err)
	a.syncCA(t)
	set := a.backupCA(t)
	items := rtItems(t, a.testBundle, set.ID)
	breakGlass := ""
	for _, name := range referencedGroupNames(t, a.testBundle, set.ID, items) {
		p := rtPayload(t, a.testBundle, set.ID, itemNamed(t, items, "Block legacy authentication"))
		if p.References.Groups[a.simT.GroupID(0)] == name {
			breakGlass = name
			continue // B has every referenced group but the break-glass one
		}
		b.simT.AddGroup(name)
	}
	require.NotEmpty(t, breakGlass)
	b.syncCA(t)

	pv, err := a.svc.PreviewRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: b.tenantID})
	require.NoError(t, err)
	blocked := map[string]bool{"Require MFA for administrators": true, "Block legacy authentication": true, "Passwordless for sensitive apps": true}
	for _, it := range pv.Items {
		if it.Family != string(graph.FamilyConditionalAccessPolicies) {
			continue
		}
		if blocked[it.DisplayName] {
			require.Equal(t, store.RestoreActionSkip, it.Action, it.DisplayName)
			require.Contains(t, it.Error, fmt.Sprintf("exclude group %q (%s) unresolved", breakGlass, a.simT.GroupID(0)))
			require.Contains(t, it.Error, "would widen it")
			continue
		}
		require.Equal(t, store.RestoreActionCreate, it.Action, "%s: %s", it.DisplayName, it.Error)
	}
	pilot := previewItemNamed(t, pv, "Pilot users MFA")
	require.Equal(t, 1, pilot.Unresolved)
	var userEntry engine.MappingEntry
	for _, m := range pilot.Mapping {
		if m.Kind == "user" {
			userEntry = m
		}
	}
	require.Equal(t, engine.MappingEntry{Kind: "user", Role: "include", SourceID: user, Status: engine.MappingUnresolved}, userEntry)

	started, err := a.svc.StartRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, TenantID: b.tenantID})
	require.NoError(t, err)
	run := a.waitRun(t, started.Run.ID, completed)
	require.Equal(t, store.OutcomePartiallySucceeded, outcome(run), deref(run.ReasonDetail))
	view, err := a.svc.GetRestore(ctx, a.admin, started.Restore.ID)
	require.NoError(t, err)
	for _, it := range view.Items {
		if it.Family != string(graph.FamilyConditionalAccessPolicies) {
			continue
		}
		switch {
		case blocked[it.DisplayName]:
			require.Equal(t, store.RestoreFailed, it.State, it.DisplayName)
			require.Nil(t, it.WrittenAt, "%s was never written", it.DisplayName)
		default:
			require.Equal(t, store.RestoreApplied, it.State, "%s: %s", it.DisplayName, deref(it.Detail))
		}
	}
	copyOf := b.simT.CAPolicyByName("Pilot users MFA" + view.NameSuffix)
	require.NotNil(t, copyOf)
	users := copyOf["conditions"].(map[string]any)["users"].(map[string]any)
	require.Equal(t, []any{}, users["includeUsers"], "A's user id is not copied")
	require.Len(t, users["includeGroups"], 1)
	for name := range blocked {
		require.Nil(t, b.simT.CAPolicyByName(name+view.NameSuffix), "%s is not in B", name)
	}
}

func itemNamed(t *testing.T, items []store.BackupItem, name string) store.BackupItem {
	t.Helper()
	for _, it := range items {
		if it.DisplayName == name {
			return it
		}
	}
	t.Fatalf("no backup item %q", name)
	return store.BackupItem{}
}

// TestCARestoreNeverEnablesWithoutOption: a restore writes every enabled policy report-only and
// says so per item; only --ca-state original restores the enabled state; an unknown state is
// refused before anything is recorded.
func TestCARestoreNeverEnablesWithoutOption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setupCA(t, graphsim.TenantSpec{Groups: 10})[0]
	a.syncCA(t)
	set := a.backupCA(t)
	enabled := map[string]bool{}
	for _, p := range a.simT.CAObjects(graph.FamilyConditionalAccessPolicies) {
		if p["state"] == intune.CAStateEnabled {
			enabled[p["displayName"].(string)] = true
		}
	}
	require.NotEmpty(t, enabled)

	_, err := a.svc.PreviewRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, CAState: "enabled"})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, `unknown Conditional Access state "enabled" (expected report_only or original)`)

	for _, tc := range []struct {
		state, want string
		day         int
	}{{"", intune.CAStateReportOnly, 1}, {engine.CAStateOriginal, intune.CAStateEnabled, 2}} {
		now := time.Date(2026, 12, tc.day, 0, 0, 0, 0, time.UTC)
		started, err := a.svc.StartRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, CAState: tc.state, Now: now,
			Items: []string{string(graph.FamilyConditionalAccessPolicies) + "/" + itemNamed(t, rtItems(t, a.testBundle, set.ID), "Block legacy authentication").GraphID}})
		require.NoError(t, err)
		if tc.state == "" {
			require.Equal(t, engine.CAStateReportOnly, started.Restore.CAState, "recorded on the restore")
			note := started.Preview.Items[0].Notes
			require.Contains(t, strings.Join(note, "\n"), "restored report-only (enabledForReportingButNotEnforced) instead of enabled")
		}
		run := a.waitRun(t, started.Run.ID, completed)
		require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
		copyOf := a.simT.CAPolicyByName("Block legacy authentication" + started.Preview.NameSuffix)
		require.NotNil(t, copyOf)
		require.Equal(t, tc.want, copyOf["state"], "ca_state %q", tc.state)
	}
	// The whole set, default state: no policy written enabled.
	before := len(a.simT.Requests())
	started, err := a.svc.StartRestore(ctx, a.admin, engine.RestoreRequest{BackupSetID: set.ID, Now: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	run := a.waitRun(t, started.Run.ID, completed)
	require.Contains(t, []store.Outcome{store.OutcomeSucceeded, store.OutcomePartiallySucceeded}, outcome(run), deref(run.ReasonDetail))
	var written int
	for _, r := range a.simT.Requests()[before:] {
		if r.Contract == "conditionalAccessPolicies.create" && r.Status == 201 {
			var body map[string]any
			require.NoError(t, json.Unmarshal(r.Body, &body))
			require.NotEqual(t, intune.CAStateEnabled, body["state"], "only the explicit option writes an enabled policy")
			written++
		}
	}
	require.Equal(t, 5, written, "every policy of the set was written")
}

// TestCAOptionalWithoutConsent: an app consented for Intune only keeps a healthy connection, its
// inventory sync and backup succeed without the Conditional Access families (a warning names the
// permissions to grant), and a backup asking for them by name ends blocked naming the permission.
func TestCAOptionalWithoutConsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setupCA(t, graphsim.TenantSpec{Groups: 5, PoliciesPerFamily: 1})[0]
	var intuneOnly []string
	for _, r := range graphsim.AllPermissions() {
		if !strings.HasPrefix(r, "Policy.") && !strings.HasPrefix(r, "AuthenticationContext.") {
			intuneOnly = append(intuneOnly, r)
		}
	}
	a.simT.SetRoles(intuneOnly)
	verify := a.run(t, engine.StartRequest{Type: engine.TypeProviderVerification})
	require.Equal(t, store.OutcomeSucceeded, outcome(verify), deref(verify.ReasonDetail))

	inv := a.run(t, engine.StartRequest{Type: engine.TypeInventorySync})
	require.Equal(t, store.OutcomeSucceeded, outcome(inv), deref(inv.ReasonDetail))
	events, err := a.svc.RunEvents(ctx, a.admin, store.EventFilter{RunID: inv.ID})
	require.NoError(t, err)
	require.Contains(t, strings.Join(messages(events), "\n"),
		"conditionalAccessPolicies, namedLocations, authenticationStrengthPolicies, authenticationContextClassReferences not covered: the app is not granted Policy.Read.All, Policy.Read.AuthenticationMethod, AuthenticationContext.Read.All")
	for _, it := range a.inventory(t) {
		fi, _ := graph.FamilyOf(graph.Family(it.Family))
		require.False(t, fi.Entra, "%s inventoried without consent", it.Family)
	}
	run, _ := a.backup(t)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))

	res, err := a.svc.StartBackup(ctx, a.admin, "", a.tenantID, []string{string(graph.FamilyConditionalAccessPolicies)})
	require.NoError(t, err)
	blocked := a.waitRun(t, res.Run.ID, completed)
	require.Equal(t, store.OutcomeBlocked, outcome(blocked))
	require.Contains(t, deref(blocked.ReasonDetail), "Policy.Read.All")
}

// TestCABackupsDiffReadable: a changed CA policy diffs as fields — its conditions and grant
// controls by path, id lists as named labels — not as one JSON blob or per array index.
func TestCABackupsDiffReadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setupCA(t, graphsim.TenantSpec{Groups: 10, PoliciesPerFamily: 1})[0]
	a.syncCA(t)
	set1 := a.backupCA(t)
	p := a.simT.CAPolicyByName("Block legacy authentication")
	cond := p["conditions"].(map[string]any)
	cond["users"].(map[string]any)["excludeGroups"] = []any{}
	require.NoError(t, a.simT.UpdateCAObject(graph.FamilyConditionalAccessPolicies, p["id"].(string), map[string]any{"conditions": cond,
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}}))
	set2 := a.backupCA(t)
	d, err := a.svc.DiffBackups(ctx, a.admin, set1.ID, set2.ID)
	require.NoError(t, err)
	require.Equal(t, 1, d.Changed)
	got := map[string]intune.FieldChange{}
	for _, c := range d.Items[0].Changes {
		got[c.Path] = c
	}
	ex := got["object.conditions.users.excludeGroups"]
	require.Contains(t, ex.From, "("+a.simT.GroupID(0)+")", "the break-glass group, named: %+v", d.Items[0].Changes)
	require.NotEqual(t, `"`+a.simT.GroupID(0)+`"`, ex.From, "with its name")
	require.Equal(t, `""`, ex.To)
	require.Equal(t, intune.FieldChange{Path: "object.grantControls.builtInControls[0]", From: `"block"`, To: `"mfa"`}, got["object.grantControls.builtInControls[0]"])
}
