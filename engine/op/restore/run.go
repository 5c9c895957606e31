package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// Run executes a restore (restore.execute). Before any write it checks that the target's
// token holds the write permissions the contract registry lists for the restored families (missing:
// the run ends blocked naming them). Then it applies the items one by one through the restore_items
// ledger: "writing" is committed before each object write and "written" (with the target id and the
// audit event) after it, so a run resumed after a crash, or a later run of the same restore
// (retry), skips applied items, finishes the follow-ups of written ones and never writes an object
// whose write was in flight again (it ends "uncertain" for the operator to check).
func Run(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	r, err := claim(ctx, rc)
	if err != nil {
		return run.Result{}, err
	}
	db := rc.DB.Pool
	items, err := store.ListRestoreItems(ctx, db, r.ID)
	if err != nil {
		return run.Result{}, err
	}
	data := map[string]any{"restore_id": r.ID}
	client, err := rc.GraphClient()
	if err != nil {
		return run.Result{Data: data}, err
	}
	defer client.Close()
	if err := checkWritePermissions(ctx, rc, client, items, data); err != nil {
		return run.Result{Data: data}, err
	}
	payloads, all, err := ledgerPayloads(ctx, db, items)
	if err != nil {
		return run.Result{Data: data}, err
	}
	restoreOrder(items, func(it store.RestoreItem) int64 { return payloadPriority(payloads[it.PayloadHash]) })
	sourceID := r.TargetTenantID
	if r.SourceTenantID != nil {
		sourceID = *r.SourceTenantID
	}
	resolver, err := newRestoreResolver(ctx, db, sourceID, r.TargetTenantID, all)
	if err != nil {
		return run.Result{Data: data}, err
	}
	resolver.setCA(r.CAState, nil)
	for _, w := range resolver.warnings {
		rc.Logf(ctx, store.LevelWarn, "%s", w)
	}
	x := &restorer{rc: rc, client: client, restore: r, resolver: resolver, targetGUID: rc.Tenant.TenantGUID, graphURL: rc.GraphURL}
	rc.Logf(ctx, store.LevelInfo, "restore %d: %d item(s) into %s (%s)", r.ID, len(items), rc.Tenant.Name, r.Mode)
	if err := x.progress(ctx); err != nil {
		return run.Result{Data: data}, err
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return run.Result{Data: data}, err
		}
		p, ok := payloads[it.PayloadHash]
		if err := x.item(ctx, it, p, ok); err != nil {
			_ = x.progress(ctx)
			return run.Result{Data: data}, err
		}
		if err := x.progress(ctx); err != nil {
			return run.Result{Data: data}, err
		}
	}
	return x.result(ctx, data)
}

// claim loads the run's restore and makes this run its executor: a restore targets the run's
// tenant and is executed by one run at a time.
func claim(ctx context.Context, rc *run.RunContext) (store.Restore, error) {
	restoreID, ok := restoreIDParam(rc.Run.Params)
	if !ok {
		return store.Restore{}, run.Failure(reason.InternalError, "a restore run needs a restore_id: start restores with `tenantatlas restore run` or from the dashboard")
	}
	r, err := store.GetRestore(ctx, rc.DB.Pool, restoreID)
	if err != nil {
		return store.Restore{}, err
	}
	if r.WorkspaceID != rc.Run.WorkspaceID || rc.Run.TenantID == nil || *rc.Run.TenantID != r.TargetTenantID {
		return store.Restore{}, run.Failure(reason.InternalError, "run %d does not target restore %d's tenant", rc.Run.ID, r.ID)
	}
	claimed, err := store.ClaimRestore(ctx, rc.DB.Pool, r.ID, rc.Run.ID)
	if err != nil {
		return store.Restore{}, err
	}
	if !claimed {
		var by int64
		if r.RunID != nil {
			by = *r.RunID
		}
		return store.Restore{}, run.Failure(reason.InternalError, "restore %d is being executed by run %d", r.ID, by)
	}
	return r, nil
}

// checkWritePermissions ends the run blocked, before any write, when the target's token lacks a
// write permission the restored families need (naming them in data["missing_permissions"]).
func checkWritePermissions(ctx context.Context, rc *run.RunContext, client *graph.Client, items []store.RestoreItem, data map[string]any) error {
	var families []graph.Family
	for _, it := range items {
		if f := graph.Family(it.Family); !slices.Contains(families, f) {
			families = append(families, f)
		}
	}
	token, err := client.Token(ctx, false)
	if err != nil {
		return err
	}
	need := graph.RequiredWritePermissions(families...)
	if missing := graph.MissingPermissions(token.Roles, need); len(missing) > 0 {
		data["missing_permissions"] = missing
		return run.Failure(reason.ProviderPermissionDenied,
			"restoring %s into %s needs %s; the app lacks %s (nothing was written)",
			familyList(families), rc.Tenant.Name, strings.Join(need, ", "), strings.Join(missing, ", "))
	}
	return nil
}

// ledgerPayloads decodes the payloads the ledger's items refer to, by content hash, and lists them
// for the resolver. A payload that is gone or unreadable is left out: its item ends failed.
func ledgerPayloads(ctx context.Context, q store.Querier, items []store.RestoreItem) (map[string]intune.Payload, []intune.Payload, error) {
	hashes := make([]string, 0, len(items))
	for _, it := range items {
		hashes = append(hashes, it.PayloadHash)
	}
	raw, err := store.BackupPayloads(ctx, q, hashes)
	if err != nil {
		return nil, nil, err
	}
	payloads := map[string]intune.Payload{}
	var all []intune.Payload
	for h, b := range raw {
		if p, err := intune.DecodePayload(b); err == nil {
			payloads[h] = p
			all = append(all, p)
		}
	}
	return payloads, all, nil
}

func familyList(fs []graph.Family) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// restorer is one restore run's state.
type restorer struct {
	rc         *run.RunContext
	client     *graph.Client
	restore    store.Restore
	resolver   *restoreResolver
	targetGUID string
	graphURL   string
}

// plan plans an item for the action its ledger row records: an overwrite whose object was gone
// from the target is recreated under its own name.
func (x *restorer) plan(it store.RestoreItem, p intune.Payload, action string) (*itemPlan, error) {
	mode, suffix := x.restore.Mode, x.restore.NameSuffix
	if mode == store.RestoreOverwrite && action == store.RestoreActionCreate && !it.IsDefault {
		mode, suffix = store.RestoreCreateCopy, ""
	}
	return planItem(it, p, mode, suffix, x.targetGUID, x.resolver)
}

// item applies one item according to its ledger state. It returns an error only when the run
// cannot go on (a blocking reason such as a missing permission, or the database). Its phases: the
// ledger says whether anything is left to do (settled), the item is planned, its object written
// (write) unless an earlier attempt did, then its follow-ups, and the ledger row ends applied.
func (x *restorer) item(ctx context.Context, it store.RestoreItem, p intune.Payload, havePayload bool) error {
	if done, err := x.settled(ctx, it, havePayload); done || err != nil {
		return err
	}
	written := it.WrittenAt != nil
	action := it.Action
	if !written && action == store.RestoreActionSkip {
		action = ""
	}
	plan, err := x.plan(it, p, action)
	if errors.Is(err, errBuiltIn) || errors.Is(err, errLeftAsIs) {
		x.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelInfo, Message: "skipped: " + err.Error(),
			ItemRef: new(it.Family + "/" + it.SourceGraphID)})
		return store.FinishRestoreItem(context.WithoutCancel(ctx), x.rc.DB.Pool, it.ID, store.RestoreItemEnd{State: store.RestoreSkipped,
			Detail: err.Error()})
	}
	if errors.Is(err, errNotCreated) {
		// A missing app whose package is not in the backup: named, skipped, the restore goes on.
		detail := err.Error()
		x.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, Message: "skipped: " + detail,
			ItemRef: new(it.Family + "/" + it.SourceGraphID)})
		return store.FinishRestoreItem(context.WithoutCancel(ctx), x.rc.DB.Pool, it.ID, store.RestoreItemEnd{State: store.RestoreSkipped,
			Detail: detail})
	}
	if err != nil {
		detail := "cannot be restored: " + err.Error()
		return x.end(ctx, it, reason.ProviderInvalidRequest, detail, store.RestoreFailed)
	}
	var targetID string
	if it.TargetGraphID != nil {
		targetID = *it.TargetGraphID
	}
	summary := "object written by an earlier attempt: finishing its follow-ups"
	if !written {
		var ok bool
		if plan, targetID, summary, ok, err = x.write(ctx, it, p, plan); !ok || err != nil {
			return err
		}
	}
	x.resolver.learn(it, p, plan, targetID)
	if err := x.followUps(ctx, plan, targetID); err != nil {
		return x.failed(ctx, it, plan, err, "follow-up", false)
	}
	return x.applied(ctx, it, plan, targetID, summary)
}

// settled reports whether the item's ledger row leaves nothing to do: already applied, skipped or
// uncertain; caught mid-write by a crash (it ends uncertain, never written again); or without a
// payload to write (it ends failed).
func (x *restorer) settled(ctx context.Context, it store.RestoreItem, havePayload bool) (bool, error) {
	switch {
	case it.State == store.RestoreApplied || it.State == store.RestoreSkipped || it.State == store.RestoreUncertain:
		return true, nil
	case it.State == store.RestoreWriting && it.WrittenAt == nil:
		name := it.TargetName
		if name == "" {
			name = it.DisplayName
		}
		detail := fmt.Sprintf("the engine stopped while writing it, so whether Graph applied it is unknown: it is not written again; check %q in the target", name)
		return true, x.end(ctx, it, reason.RunInterrupted, detail, store.RestoreUncertain)
	case !havePayload:
		detail := "its backup payload is gone (pruned by retention): nothing was written"
		return true, x.end(ctx, it, reason.ProviderNotFound, detail, store.RestoreFailed)
	}
	return false, nil
}

// end records an item's end without a write: an error event and its ledger row's final state.
func (x *restorer) end(ctx context.Context, it store.RestoreItem, code reason.Code, detail, state string) error {
	x.event(ctx, it, store.LevelError, code, detail)
	return store.FinishRestoreItem(context.WithoutCancel(ctx), x.rc.DB.Pool, it.ID, store.RestoreItemEnd{State: state,
		ReasonCode: string(code), Detail: detail})
}

// write performs the object write of a planned item: the pre-flight read of an update (an object
// gone from the target is recreated instead), "writing" in the ledger, the create, PATCH or PUT,
// and "written" with the target id. ok is false when the item ended here (failed, uncertain, or its
// ledger row changed under this run); the plan returned is the one written.
func (x *restorer) write(ctx context.Context, it store.RestoreItem, p intune.Payload, plan *itemPlan) (_ *itemPlan, targetID, summary string, ok bool, err error) {
	lctx := context.WithoutCancel(ctx)
	var currentPriority int64 = -1
	if plan.action == store.RestoreActionUpdate {
		cur, err := x.client.Get(ctx, plan.contracts.get, []string{plan.targetID}, nil)
		switch {
		case err == nil:
			if v, derr := intune.DecodeJSON(cur); derr == nil {
				if obj, ok := v.(map[string]any); ok {
					if n, err := json.Number(fmt.Sprint(obj["priority"])).Int64(); err == nil {
						currentPriority = n
					}
					changes, _ := objectDiff(intune.NormalizeObject(obj), plan.desired, plan.contracts.put, false)
					summary = fmt.Sprintf("%d field(s) differed", len(changes))
				}
			}
		case graph.ReasonOf(err) == reason.ProviderNotFound && !plan.isDefault:
			x.resolver.markGone(plan.targetID) // a matched app gone since the inventory: not matched again
			replanned, perr := x.plan(it, p, store.RestoreActionCreate)
			if errors.Is(perr, errNotCreated) {
				detail := "gone from the target since its inventory, and " + perr.Error()
				x.event(ctx, it, store.LevelWarn, "", detail)
				return plan, "", "", false, store.FinishRestoreItem(lctx, x.rc.DB.Pool, it.ID, store.RestoreItemEnd{State: store.RestoreSkipped, Detail: detail})
			}
			if perr != nil {
				return plan, "", "", false, x.end(ctx, it, reason.ProviderInvalidRequest, "cannot be restored: "+perr.Error(), store.RestoreFailed)
			}
			plan = replanned
			summary = "gone from the target: recreated"
		default:
			return plan, "", "", false, x.failed(ctx, it, plan, err, "pre-flight read", false)
		}
	}
	marked, err := store.MarkRestoreItemWriting(lctx, x.rc.DB.Pool, it.ID, plan.action, plan.targetName)
	if err != nil {
		return plan, "", "", false, err
	}
	if !marked {
		x.rc.Logf(ctx, store.LevelWarn, "%s/%s: its ledger row changed under this run; left alone", it.Family, it.SourceGraphID)
		return plan, "", "", false, nil
	}
	switch plan.action {
	case store.RestoreActionCreate:
		if plan.desc.Create == intune.CreateUpsert {
			// Authentication contexts: PATCH of the id the plan chose creates it (204, no body).
			targetID = plan.createArgs[0]
			_, err = x.client.Patch(ctx, plan.contracts.create, plan.createArgs, plan.wireBody(x.graphURL))
			break
		}
		var resp json.RawMessage
		resp, err = x.client.Post(ctx, plan.contracts.create, plan.createArgs, plan.wireBody(x.graphURL))
		if err == nil {
			var created struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(resp, &created) != nil || created.ID == "" {
				err = run.Failure(reason.ProviderMalformedResponse, "the create answered without the new object's id")
			}
			targetID = created.ID
		}
	default:
		targetID = plan.targetID
		if plan.contracts.put {
			_, err = x.client.Put(ctx, plan.contracts.update, []string{targetID}, plan.wireBody(x.graphURL))
		} else {
			_, err = x.client.Patch(ctx, plan.contracts.update, []string{targetID}, plan.wireBody(x.graphURL))
		}
		if err == nil && plan.priority > 0 && plan.priority == currentPriority {
			plan.priority = 0 // already where it belongs
		}
	}
	if err != nil {
		return plan, "", "", false, x.failed(ctx, it, plan, err, plan.action, true)
	}
	if err := x.recordWritten(lctx, it, plan, targetID); err != nil {
		return plan, "", "", false, err
	}
	return plan, targetID, summary, true, nil
}

// applied ends an item whose write and follow-ups succeeded: its item event (with the mapping) and
// its ledger row, applied (with mapping_unresolved when references stayed unresolved).
func (x *restorer) applied(ctx context.Context, it store.RestoreItem, plan *itemPlan, targetID, summary string) error {
	ref := it.Family + "/" + it.SourceGraphID
	end := store.RestoreItemEnd{State: store.RestoreApplied, Mapping: plan.mapping, Unresolved: plan.unresolved}
	verb := "created"
	if plan.action == store.RestoreActionUpdate {
		verb = "updated"
	}
	msg := fmt.Sprintf("%s %q (%s)", verb, plan.targetName, targetID)
	if summary != "" {
		msg += ": " + summary
	}
	if len(plan.notes) > 0 {
		msg += "; " + strings.Join(plan.notes, "; ")
	}
	level := store.LevelInfo
	if plan.unresolved > 0 {
		level, end.ReasonCode = store.LevelWarn, string(reason.MappingUnresolved)
		end.Detail = unresolvedDetail(plan)
		msg += "; " + end.Detail
	}
	x.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: level, Message: msg, ReasonCode: optCode(reason.Code(end.ReasonCode)), ItemRef: &ref,
		Details: map[string]any{"target_id": targetID, "action": plan.action, "mapping": plan.mapping}})
	return store.FinishRestoreItem(context.WithoutCancel(ctx), x.rc.DB.Pool, it.ID, end)
}

// unresolvedDetail lists an item's unresolved references.
func unresolvedDetail(plan *itemPlan) string {
	var parts []string
	for _, m := range plan.mapping {
		if m.Status == MappingResolved {
			continue
		}
		name := m.SourceName
		if name == "" {
			name = "(unnamed)"
		}
		part := fmt.Sprintf("%s %q %s (%s)", strings.ReplaceAll(m.Kind, "_", " "), name, m.Status, m.SourceID)
		if m.Note != "" {
			part += ": " + m.Note
		}
		parts = append(parts, part)
	}
	what := "assignments not applied"
	switch {
	case plan.fi.Entra:
		what = "left out of the write"
	case plan.contracts.assign == "" || plan.isDefault || len(plan.assignments) == 0:
		what = "default scope tag used"
	}
	return fmt.Sprintf("%d unresolved reference(s), %s: %s", plan.unresolved, what, strings.Join(parts, ", "))
}

func optCode(c reason.Code) *string {
	if c == "" {
		return nil
	}
	s := string(c)
	return &s
}

// rejected reports whether Graph definitely refused a write (a 4xx answer): nothing was applied,
// so a later run may try again. Anything else (no answer, a server error, an unreadable answer to a
// create) leaves the outcome unknown.
func rejected(err error) bool {
	var ge *graph.Error
	if errors.As(err, &ge) {
		return ge.Status >= 400 && ge.Status < 500
	}
	return false
}

// recordWritten commits, right after the object write, its target id and the audit event.
func (x *restorer) recordWritten(ctx context.Context, it store.RestoreItem, plan *itemPlan, targetID string) error {
	r := x.rc.Run
	actorName := r.InitiatorName
	if actorName == "" {
		actorName = r.InitiatorKind
	}
	return x.rc.DB.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.MarkRestoreItemWritten(ctx, tx, it.ID, targetID); err != nil {
			return err
		}
		return store.InsertAudit(ctx, tx, store.AuditEvent{WorkspaceID: &x.restore.WorkspaceID, ActorKind: r.InitiatorKind,
			ActorUserID: r.InitiatorUserID, ActorName: actorName, Action: "restore.item", TargetKind: "policy", TargetID: targetID,
			Details: map[string]any{"restore_id": x.restore.ID, "run_id": r.ID, "target_tenant": x.rc.Tenant.Name,
				"target_tenant_id": x.rc.Tenant.ID, "family": it.Family, "source_id": it.SourceGraphID, "new_id": targetID,
				"action": plan.action, "mode": x.restore.Mode, "name": plan.targetName}})
	})
}

// followUps are the writes after the object: compliance actions, ADMX definition values, enrollment
// priority and the assignment set. Each replaces what it sets, so finishing them again after a crash
// writes the same state.
func (x *restorer) followUps(ctx context.Context, plan *itemPlan, targetID string) error {
	args := []string{targetID}
	d := plan.desc
	if plan.scheduledActions != nil {
		var err error
		if d.HasFollowUp(intune.FollowSetScheduledActions) {
			_, err = x.client.Post(ctx, plan.contracts.prefix+".setScheduledActions", args, map[string]any{"scheduledActions": plan.scheduledActions})
		} else {
			_, err = x.client.Post(ctx, plan.contracts.prefix+".scheduleActionsForRules", args,
				map[string]any{"deviceComplianceScheduledActionForRules": plan.scheduledActions})
		}
		if err != nil {
			return err
		}
	}
	if plan.intentSettings != nil {
		if _, err := x.client.Post(ctx, "intents.updateSettings", args, map[string]any{"settings": plan.intentSettings}); err != nil {
			return err
		}
		if err := x.deleteExtraIntentSettings(ctx, plan, targetID); err != nil {
			return err
		}
	}
	if plan.privacyControls != nil {
		if _, err := x.client.Post(ctx, plan.contracts.prefix+".windowsPrivacyAccessControls", args,
			map[string]any{"windowsPrivacyAccessControls": plan.privacyControls}); err != nil {
			return err
		}
	}
	if plan.localizedMessages != nil {
		if err := x.writeLocalizedMessages(ctx, plan, targetID); err != nil {
			return err
		}
	}
	if plan.ca != nil && plan.ca.combinations != nil && d.HasFollowUp(intune.FollowUpdateAllowedCombinations) {
		body := map[string]any{"allowedCombinations": plan.ca.combinations}
		if _, err := x.client.Post(ctx, plan.contracts.prefix+".updateAllowedCombinations", args, body); err != nil {
			return err
		}
	}
	if plan.targetApps != nil {
		if _, err := x.client.Post(ctx, plan.contracts.prefix+".targetApps", args, plan.targetApps); err != nil {
			return err
		}
	}
	if d.HasFollowUp(intune.FollowUpdateDefinitionValues) {
		var existing []string
		if plan.action == store.RestoreActionUpdate {
			for raw, err := range x.client.List(ctx, "groupPolicyConfigurations.definitionValues", args, nil) {
				if err != nil {
					return err
				}
				var dv struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(raw, &dv) == nil && dv.ID != "" {
					existing = append(existing, dv.ID)
				}
			}
		}
		if len(plan.definitionValues) > 0 || len(existing) > 0 {
			body := definitionValuesBody(x.graphURL, plan.definitionValues, existing)
			if _, err := x.client.Post(ctx, "groupPolicyConfigurations.updateDefinitionValues", args, body); err != nil {
				return err
			}
		}
	}
	if plan.priority > 0 && d.HasFollowUp(intune.FollowSetPriority) && !plan.isDefault {
		if _, err := x.client.Post(ctx, "deviceEnrollmentConfigurations.setPriority", args, map[string]any{"priority": plan.priority}); err != nil {
			return err
		}
	}
	if plan.assign && d.Assign == intune.AssignOneByOne {
		// Autopilot: one POST /assignments per group target (201); assign takes deviceIds
		// (docs:intune-enrollment-windowsautopilotdeploymentprofileassignment-create). Targets the
		// profile already has are not posted again (a retry or an overwrite never duplicates one);
		// on an overwrite, direct assignments the backup does not hold are deleted one by one, so
		// the profile ends with exactly the backed-up set (assign would have replaced it).
		want := map[string]bool{}
		for _, a := range plan.assignments {
			k, _ := intune.CanonicalJSON(asMap(a)["target"])
			want[string(k)] = true
		}
		have := map[string]bool{}
		var extra []string
		for raw, err := range x.client.List(ctx, plan.contracts.prefix+".assignments", args, nil) {
			if err != nil {
				return err
			}
			var cur struct {
				ID     string         `json:"id"`
				Source string         `json:"source"`
				Target map[string]any `json:"target"`
			}
			if json.Unmarshal(raw, &cur) != nil {
				continue
			}
			k, _ := intune.CanonicalJSON(assignmentTarget(cur.Target))
			have[string(k)] = true
			if !want[string(k)] && (cur.Source == "" || cur.Source == "direct") && cur.ID != "" {
				extra = append(extra, cur.ID)
			}
		}
		if plan.action == store.RestoreActionUpdate {
			for _, id := range extra {
				if err := x.client.Delete(ctx, plan.contracts.prefix+".deleteAssignment", []string{targetID, id}); err != nil && graph.ReasonOf(err) != reason.ProviderNotFound {
					return err // gone already (a retry, or an admin): nothing left to delete
				}
			}
		}
		for _, a := range plan.assignments {
			k, _ := intune.CanonicalJSON(asMap(a)["target"])
			if have[string(k)] {
				continue
			}
			if _, err := x.client.Post(ctx, plan.contracts.assign, args, a); err != nil {
				return err
			}
		}
		return nil
	}
	if plan.assign {
		c, _ := graph.Lookup(plan.contracts.assign)
		if _, err := x.client.Post(ctx, plan.contracts.assign, args, map[string]any{c.AssignKey: plan.assignments}); err != nil {
			return err
		}
	}
	return nil
}

// assignmentTarget is a listed assignment target reduced to the properties an assign body
// keeps (assignmentTargetKeys), so it compares with a planned one.
func assignmentTarget(target map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range assignmentTargetKeys {
		if v, ok := target[k]; ok {
			out[k] = v
		}
	}
	return out
}

// deleteExtraIntentSettings deletes, after updateSettings of an overwrite, the intent's settings
// the backup does not hold (by definitionId): updateSettings only adds and replaces (IM README),
// each setting instance is deleted on its own
// (docs:intune-deviceintent-devicemanagementsettinginstance-delete).
func (x *restorer) deleteExtraIntentSettings(ctx context.Context, plan *itemPlan, targetID string) error {
	keep := map[string]bool{}
	for _, in := range plan.intentSettings {
		if d, _ := asMap(in)["definitionId"].(string); d != "" {
			keep[d] = true
		}
	}
	var extra []string
	for raw, err := range x.client.List(ctx, "intents.settings", []string{targetID}, nil) {
		if err != nil {
			return err
		}
		var cur struct {
			ID           string `json:"id"`
			DefinitionID string `json:"definitionId"`
		}
		if json.Unmarshal(raw, &cur) == nil && cur.ID != "" && !keep[cur.DefinitionID] {
			extra = append(extra, cur.ID)
		}
	}
	for _, id := range extra {
		if err := x.client.Delete(ctx, "intents.deleteSetting", []string{targetID, id}); err != nil && graph.ReasonOf(err) != reason.ProviderNotFound {
			return err // gone already: nothing left to delete
		}
	}
	return nil
}

// failed ends an item after a Graph error: failed when Graph refused it (nothing applied; a later
// run may try again), uncertain when an object write has no clear result. A blocking reason (a
// missing permission, say) ends the whole run.
func (x *restorer) failed(ctx context.Context, it store.RestoreItem, plan *itemPlan, err error, step string, objectWrite bool) error {
	code := run.CodeOf(err)
	state := store.RestoreFailed
	detail := fmt.Sprintf("%s failed: %v — %s", step, err, graph.HintOf(err))
	switch {
	case objectWrite && !rejected(err):
		state = store.RestoreUncertain
		detail = fmt.Sprintf("%s answered no clear result (%v): it may have been applied, so it is not written again; check %q in the target",
			step, err, plan.targetName)
	case step == "follow-up":
		detail = "the object was written; " + detail
	}
	x.event(ctx, it, store.LevelError, code, detail)
	end := store.RestoreItemEnd{State: state, ReasonCode: string(code), Detail: detail, Mapping: plan.mapping, Unresolved: plan.unresolved}
	if ferr := store.FinishRestoreItem(context.WithoutCancel(ctx), x.rc.DB.Pool, it.ID, end); ferr != nil {
		return ferr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if info, _ := reason.Lookup(code); info.Blocking {
		return run.Failure(code, "%s of %s: %v", step, it.Family+"/"+it.SourceGraphID, err)
	}
	return nil
}

func (x *restorer) event(ctx context.Context, it store.RestoreItem, level store.Level, code reason.Code, msg string) {
	ref := it.Family + "/" + it.SourceGraphID
	x.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: level, Message: msg, ReasonCode: optCode(code), ItemRef: &ref})
}

// restoreTally counts a restore's ledger.
type restoreTally struct {
	total, applied, clean, partial, failed, uncertain, skipped, created, updated int64
	firstReason                                                                  reason.Code
}

func tallyRestore(items []store.RestoreItem) restoreTally {
	var t restoreTally
	for _, it := range items {
		t.total++
		if it.WrittenAt != nil {
			if it.Action == store.RestoreActionCreate {
				t.created++
			} else {
				t.updated++
			}
		}
		switch it.State {
		case store.RestoreApplied:
			t.applied++
			if it.Unresolved > 0 {
				t.partial++
			} else {
				t.clean++
			}
		case store.RestoreFailed, store.RestoreUncertain:
			if it.State == store.RestoreFailed {
				t.failed++
			} else {
				t.uncertain++
			}
			if t.firstReason == "" && it.ReasonCode != nil {
				t.firstReason = reason.Code(*it.ReasonCode)
			}
		case store.RestoreSkipped:
			t.skipped++
		}
	}
	return t
}

// progress rewrites the run's progress and counts from the ledger (so a resumed run never counts
// an item twice).
func (x *restorer) progress(ctx context.Context) error {
	items, err := store.ListRestoreItems(context.WithoutCancel(ctx), x.rc.DB.Pool, x.restore.ID)
	if err != nil {
		return err
	}
	t := tallyRestore(items)
	x.rc.Update(ctx, func(p *store.Progress) {
		total := t.total
		p.Total = &total
		p.Processed = t.applied + t.failed + t.uncertain + t.skipped
		p.Succeeded, p.Failed, p.Skipped = t.clean, t.failed+t.uncertain, t.skipped+t.partial
		p.Created, p.Updated = t.created, t.updated
	})
	return nil
}

// result decides the run's outcome from the ledger.
func (x *restorer) result(ctx context.Context, data map[string]any) (run.Result, error) {
	items, err := store.ListRestoreItems(context.WithoutCancel(ctx), x.rc.DB.Pool, x.restore.ID)
	if err != nil {
		return run.Result{Data: data}, err
	}
	t := tallyRestore(items)
	data["applied"], data["failed"], data["uncertain"], data["unresolved_items"] = t.applied, t.failed, t.uncertain, t.partial
	detail := fmt.Sprintf("%d of %d item(s) applied", t.applied, t.total)
	if t.partial > 0 {
		detail += fmt.Sprintf(", %d with unresolved assignment references (see the mapping report)", t.partial)
	}
	if t.failed > 0 {
		detail += fmt.Sprintf(", %d failed", t.failed)
	}
	if t.uncertain > 0 {
		detail += fmt.Sprintf(", %d uncertain (check them in the target)", t.uncertain)
	}
	switch {
	case t.failed+t.uncertain == 0 && t.partial == 0:
		return run.Result{Data: data}, nil
	case t.applied == 0:
		code := t.firstReason
		if code == "" {
			code = reason.InternalError
		}
		return run.Result{Outcome: store.OutcomeFailed, Reason: code, Detail: detail, Data: data}, nil
	}
	code := t.firstReason
	if code == "" {
		code = reason.MappingUnresolved
	}
	return run.Result{Outcome: store.OutcomePartiallySucceeded, Reason: code, Detail: detail, Data: data}, nil
}

// payloadPriority is an enrollment configuration's priority (0 otherwise), for restore order.
func payloadPriority(p intune.Payload) int64 {
	n, err := json.Number(fmt.Sprint(p.Object["priority"])).Int64()
	if err != nil {
		return 0
	}
	return n
}

// restoreIDParam reads the restore_id run parameter (a JSON number once stored).
func restoreIDParam(params map[string]any) (int64, bool) {
	switch v := params["restore_id"].(type) {
	case float64:
		return int64(v), v > 0
	case int64:
		return v, v > 0
	case int:
		return int64(v), v > 0
	case json.Number:
		n, err := v.Int64()
		return n, err == nil && n > 0
	case string:
		var n int64
		_, err := fmt.Sscan(v, &n)
		return n, err == nil && n > 0
	}
	return 0, false
}

// writeLocalizedMessages writes a notification message template's localized messages, one POST
// each (docs:intune-notification-localizednotificationmessage-create, 201). On an overwrite the
// target's messages are deleted first (…-delete, 204), so the template ends with exactly the
// backed-up set; the default flag "can only be set" (BETA localizedNotificationMessage.isDefault),
// which the backed-up default message does when posted.
func (x *restorer) writeLocalizedMessages(ctx context.Context, plan *itemPlan, targetID string) error {
	args := []string{targetID}
	if plan.action == store.RestoreActionUpdate {
		var existing []string
		for raw, err := range x.client.List(ctx, "notificationMessageTemplates.localizedNotificationMessages", args, nil) {
			if err != nil {
				return err
			}
			var m struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &m) == nil && m.ID != "" {
				existing = append(existing, m.ID)
			}
		}
		for _, id := range existing {
			if err := x.client.Delete(ctx, "notificationMessageTemplates.deleteLocalizedMessage", []string{targetID, id}); err != nil && graph.ReasonOf(err) != reason.ProviderNotFound {
				return err
			}
		}
	}
	for _, m := range plan.localizedMessages {
		if _, err := x.client.Post(ctx, "notificationMessageTemplates.createLocalizedMessage", args, m); err != nil {
			return err
		}
	}
	return nil
}
