// Package verify is provider.verification: whether a provider connection signs in and holds the
// Graph permissions each capability needs.
package verify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// verifiedCapability says which Graph families a capability reads (or writes) and whether a missing
// permission blocks the connection. Restore's write permissions are optional: a read-only app is a
// healthy connection that cannot restore.
type verifiedCapability struct {
	Capability access.Capability
	Families   []graph.Family
	Write      bool
	Required   bool
}

func verifiedCapabilities() []verifiedCapability {
	directory := []graph.Family{graph.FamilyGroups, graph.FamilyDirectoryRoleDefinitions}
	return []verifiedCapability{
		{Capability: access.DirectorySync, Families: directory, Required: true},
		{Capability: access.InventorySync, Families: graph.IntuneFamilies(), Required: true},
		{Capability: access.BackupRun, Families: graph.IntuneFamilies(), Required: true},
		{Capability: access.RestoreExecute, Families: graph.IntuneFamilies(), Write: true},
	}
}

// CapabilityCheck is one row of the verification table.
type CapabilityCheck struct {
	Capability string   `json:"capability"`
	Status     string   `json:"status"` // ok, missing, probe_failed
	Required   bool     `json:"required"`
	Needs      []string `json:"needs"`
	Missing    []string `json:"missing"`
	Failed     []string `json:"failed_probes,omitempty"`
}

// ProbeResult is one family's cheap GET.
type ProbeResult struct {
	Family  string `json:"family"`
	Status  string `json:"status"` // ok, failed, skipped
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Run is provider.verification: a fresh token (sign-in failures classified), its roles
// compared with what the contract registry requires per capability (no roles at all = consent
// missing), one probe GET per family, and the per-capability table stored on the run and on the
// connection. It ends blocked, naming exactly what is missing, when a required permission is.
func Run(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	v := &verification{rc: rc}
	client, err := rc.GraphClient()
	if err != nil {
		v.tokenFailed(ctx, err)
		return run.Result{}, err
	}
	defer client.Close()
	rc.Event(ctx, store.RunEvent{Kind: store.EventTimeline, Message: "requesting a fresh token"})
	token, err := client.Token(ctx, true)
	if err != nil {
		v.tokenFailed(ctx, err)
		return run.Result{}, err
	}
	roles := slices.Sorted(slices.Values(token.Roles))
	rc.Logf(ctx, store.LevelInfo, "token issued for app %s in tenant %s with %d application permission(s)", token.AppID, token.TenantID, len(roles))
	tokenInfo := map[string]any{"ok": true, "tenant_id": token.TenantID, "app_id": token.AppID, "expires_at": token.ExpiresAt}
	if len(roles) == 0 {
		all := graph.RequiredPermissions()
		result := map[string]any{"token": tokenInfo, "roles": []string{}, "capabilities": []any{}}
		v.record(ctx, "blocked", reason.ProviderConsentMissing, all, nil, result)
		return run.Result{Data: map[string]any{"verification": result}}, run.Failure(reason.ProviderConsentMissing,
			"the token carries no application permissions (no roles claim): grant admin consent for %s", strings.Join(all, ", "))
	}

	probes := probeFamilies(ctx, rc, client, roles)
	t := checkCapabilities(roles, probes)
	result := map[string]any{"token": tokenInfo, "roles": roles, "capabilities": checksAsAny(t.checks), "probes": probes}
	reportChecks(ctx, rc, t.checks)
	data := map[string]any{"verification": result}
	switch {
	case len(t.requiredMissing) > 0:
		v.record(ctx, "blocked", reason.ProviderPermissionDenied, t.requiredMissing, roles, result)
		return run.Result{Data: data}, run.Failure(reason.ProviderPermissionDenied, "missing application permission(s): %s", strings.Join(t.requiredMissing, ", "))
	case t.blockingProbe != nil:
		code := reason.Code(t.blockingProbe.Reason)
		v.record(ctx, "blocked", code, t.requiredMissing, roles, result)
		return run.Result{Data: data}, run.Failure(code, "probe of %s failed: %s", t.blockingProbe.Family, t.blockingProbe.Message)
	}
	v.record(ctx, "ok", "", nil, roles, result)
	if len(t.missing) > 0 {
		rc.Logf(ctx, store.LevelWarn, "optional permission(s) missing (restore will be blocked): %s", strings.Join(t.missing, ", "))
	}
	return run.Result{Data: data}, nil
}

// verification records what a verification run found on its provider connection.
type verification struct {
	rc *run.RunContext
}

// record stores the verification on the connection. A failure to record is logged: the run's own
// result still holds it.
func (v *verification) record(ctx context.Context, status string, code reason.Code, missing, granted []string, result map[string]any) {
	cv := store.ConnectionVerification{Status: status, MissingPermissions: missing, GrantedPermissions: granted, Result: result}
	if code != "" {
		c := string(code)
		cv.ReasonCode = &c
	}
	if err := store.UpdateConnectionVerification(context.WithoutCancel(ctx), v.rc.DB.Pool, v.rc.Connection.ID, cv); err != nil {
		v.rc.Logger.Warn("cannot record the verification on the connection", "error", err)
	}
}

// tokenFailed records a sign-in that produced no token, classified.
func (v *verification) tokenFailed(ctx context.Context, err error) {
	outcome, code, detail := run.Classify(err)
	v.record(ctx, connectionStatus(outcome), code, nil, nil, map[string]any{"token": map[string]any{"ok": false, "reason": code, "detail": detail}})
}

// capabilityTable is the verification table and what it concludes.
type capabilityTable struct {
	checks []CapabilityCheck
	// requiredMissing are the missing permissions that block the connection, sorted.
	requiredMissing []string
	// missing is every missing permission, sorted: on a connection that passes, the optional ones
	// (restore's write permissions).
	missing []string
	// blockingProbe is the first failed probe of a required capability whose reason blocks.
	blockingProbe *ProbeResult
}

// checkCapabilities compares the token's roles and the probes with what each capability needs.
func checkCapabilities(roles []string, probes []ProbeResult) capabilityTable {
	failedByFamily := map[string]ProbeResult{}
	for _, p := range probes {
		if p.Status == "failed" {
			failedByFamily[p.Family] = p
		}
	}
	var t capabilityTable
	allMissing := map[string]bool{}
	for _, vc := range verifiedCapabilities() {
		needs := graph.RequiredPermissions(vc.Families...)
		if vc.Write {
			needs = graph.RequiredWritePermissions(vc.Families...)
		}
		check := CapabilityCheck{Capability: string(vc.Capability), Required: vc.Required, Needs: needs,
			Missing: graph.MissingPermissions(roles, needs), Status: "ok"}
		// Permissions only optional families need (Conditional Access) never block the connection.
		var mandatory []graph.Family
		for _, f := range vc.Families {
			if fi, _ := graph.FamilyOf(f); !fi.Optional() {
				mandatory = append(mandatory, f)
			}
		}
		requiredNeeds := graph.RequiredPermissions(mandatory...)
		if vc.Write {
			requiredNeeds = graph.RequiredWritePermissions(mandatory...)
		}
		if !vc.Write {
			for _, f := range vc.Families {
				if p, ok := failedByFamily[string(f)]; ok {
					check.Failed = append(check.Failed, string(f))
					fi, _ := graph.FamilyOf(f)
					if info, _ := reason.Lookup(reason.Code(p.Reason)); info.Blocking && vc.Required && !fi.Optional() && t.blockingProbe == nil {
						t.blockingProbe = &p
					}
				}
			}
		}
		switch {
		case len(check.Missing) > 0:
			check.Status = "missing"
			for _, m := range check.Missing {
				allMissing[m] = true
				if vc.Required && slices.Contains(requiredNeeds, m) && !slices.Contains(t.requiredMissing, m) {
					t.requiredMissing = append(t.requiredMissing, m)
				}
			}
		case len(check.Failed) > 0:
			check.Status = "probe_failed"
		}
		t.checks = append(t.checks, check)
	}
	t.missing = slices.Sorted(maps.Keys(allMissing))
	slices.Sort(t.requiredMissing)
	return t
}

// reportChecks counts the checks in the run's progress and logs one line per capability.
func reportChecks(ctx context.Context, rc *run.RunContext, checks []CapabilityCheck) {
	rc.Update(ctx, func(p *store.Progress) {
		p.Succeeded, p.Failed = 0, 0
		for _, c := range checks {
			if c.Status == "ok" {
				p.Succeeded++
			} else {
				p.Failed++
			}
		}
	})
	for _, c := range checks {
		level, msg := store.LevelInfo, fmt.Sprintf("%s: ok", c.Capability)
		if c.Status != "ok" {
			level = store.LevelWarn
			msg = fmt.Sprintf("%s: %s", c.Capability, c.Status)
			if len(c.Missing) > 0 {
				msg += " — missing " + strings.Join(c.Missing, ", ")
			}
			if len(c.Failed) > 0 {
				msg += " — probes failed: " + strings.Join(c.Failed, ", ")
			}
		}
		rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: level, Message: msg})
	}
}

// probeFamilies sends one cheap GET per family whose read permission the token holds.
func probeFamilies(ctx context.Context, rc *run.RunContext, client *graph.Client, roles []string) []ProbeResult {
	var out []ProbeResult
	for _, c := range graph.Probes() {
		fi, ok := graph.FamilyOf(c.Family)
		if !ok {
			continue
		}
		res := ProbeResult{Family: string(c.Family), Status: "ok"}
		if !graph.Granted(roles, fi.ReadPermission) {
			res.Status, res.Reason = "skipped", "permission missing"
			out = append(out, res)
			continue
		}
		if _, err := client.Get(ctx, c.Name, nil, nil); err != nil {
			family := string(c.Family)
			res.Status, res.Reason, res.Message = "failed", string(graph.ReasonOf(err)), graph.HintOf(err)
			rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelError, Message: "probe failed: " + err.Error(),
				ReasonCode: &res.Reason, ItemRef: &family})
		}
		out = append(out, res)
		rc.Update(ctx, func(p *store.Progress) { p.Processed++ })
	}
	return out
}

func connectionStatus(outcome store.Outcome) string {
	if outcome == store.OutcomeBlocked {
		return "blocked"
	}
	return "error"
}

func checksAsAny(checks []CapabilityCheck) []any {
	out := make([]any, len(checks))
	for i, c := range checks {
		out[i] = map[string]any{"capability": c.Capability, "status": c.Status, "required": c.Required, "needs": c.Needs,
			"missing": c.Missing, "failed_probes": c.Failed}
	}
	return out
}

// CheckRoles is the verification table for a token's roles alone, without probes (doctor uses it).
func CheckRoles(roles []string) []CapabilityCheck { return checkCapabilities(roles, nil).checks }
