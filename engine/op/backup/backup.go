// Package backup is the backup operation (backup_schedule.run and backup_schedule.scheduled): a
// snapshot of a tenant's Intune families into a backup set, with retention for scheduled runs.
package backup

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// backupChunk is how many objects are fetched (through $batch) and written per transaction.
const backupChunk = 100

// familiesParam reads the "families" run parameter: a list or a comma-separated string.
func familiesParam(params map[string]any) []string {
	switch v := params["families"].(type) {
	case string:
		return strings.Split(v, ",")
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	case []string:
		return v
	}
	return nil
}

// ReadsPerObject is the "reads" run parameter that makes a backup read every object's
// assignments on its own (the strategy before issue #24), for comparisons (task bench); by
// default a backup reads them with the list where the family's descriptor says Graph answers
// them complete (intune.Descriptor.ListExpand), and with the GET by id where it reads one anyway.
const ReadsPerObject = "per_object"

func readsParam(params map[string]any) string {
	s, _ := params["reads"].(string)
	return s
}

// Run snapshots the chosen families into a new backup set. Payloads are stored once per
// content hash, so an unchanged tenant adds only item rows. A failure ends the set failed and
// leaves earlier sets untouched; retention (scheduled runs) prunes only after a complete set.
func Run(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	families, err := intune.ParseFamilies(familiesParam(rc.Run.Params))
	if err != nil {
		return run.Result{}, run.Failure(reason.ProviderInvalidRequest, "%v", err)
	}
	client, err := rc.GraphClient()
	if err != nil {
		return run.Result{}, err
	}
	defer client.Close()
	if len(familiesParam(rc.Run.Params)) == 0 { // every family: the Conditional Access ones only when consented
		if families, err = run.SkipUngrantedOptional(ctx, rc, client, families); err != nil {
			return run.Result{}, err
		}
	}
	rc.Update(ctx, func(p *store.Progress) { *p = store.Progress{} })

	names := make([]string, len(families))
	for i, f := range families {
		names[i] = string(f)
	}
	runID := rc.Run.ID
	set, err := store.StartBackupSet(ctx, rc.DB.Pool, store.BackupSet{WorkspaceID: rc.Run.WorkspaceID, TenantID: rc.Tenant.ID,
		RunID: &runID, ScheduleID: rc.Run.ScheduleID, Families: names})
	if err != nil {
		return run.Result{}, err
	}
	rc.Logf(ctx, store.LevelInfo, "backup set %d: %d families", set.ID, len(families))
	b := &backupper{rc: rc, client: client, setID: set.ID, groups: map[string]string{}, perObject: readsParam(rc.Run.Params) == ReadsPerObject}
	b.groupsGetRefused = !b.granted(ctx, "groups.get")
	b.byIDsRefused.Store(!b.getByIDsGranted(ctx))
	f, err := b.families(ctx, families)
	b.reportUnnamedGroups(context.WithoutCancel(ctx))
	if err != nil {
		_, _ = store.FinishBackupSet(context.WithoutCancel(ctx), rc.DB.Pool, set.ID, store.BackupFailed)
		if ctx.Err() != nil {
			return run.Result{}, ctx.Err()
		}
		data := map[string]any{"backup_set_id": set.ID}
		return run.Result{Data: data}, run.FamiliesError([]run.FamilyFailure{{Family: f, Err: err}}, len(families))
	}
	set, err = store.FinishBackupSet(ctx, rc.DB.Pool, set.ID, store.BackupComplete)
	if err != nil {
		return run.Result{}, err
	}
	data := map[string]any{"backup_set_id": set.ID, "items": set.ItemCount, "new_payloads": set.NewPayloads,
		"new_bytes": set.NewBytes, "sensitive": set.Sensitive}
	rc.Logf(ctx, store.LevelInfo, "backup set %d complete: %d items, %d new payloads (%d bytes)", set.ID, set.ItemCount, set.NewPayloads, set.NewBytes)
	if rc.Run.ScheduleID != nil && rc.Run.TenantID != nil {
		pr, err := applyRetention(ctx, rc, *rc.Run.ScheduleID, *rc.Run.TenantID)
		if err != nil {
			return run.Result{Data: data}, err
		}
		data["pruned_sets"], data["pruned_payloads"], data["pruned_bytes"] = pr.Sets, pr.Payloads, pr.Bytes
	}
	return run.Result{Data: data}, nil
}

// applyRetention prunes the old sets of a schedule for the run's tenant (a fleet schedule keeps
// its count per tenant) and the payloads nothing references any more.
func applyRetention(ctx context.Context, rc *run.RunContext, scheduleID, tenantID int64) (store.PruneResult, error) {
	var pr store.PruneResult
	sch, err := store.GetSchedule(ctx, rc.DB.Pool, scheduleID)
	if err != nil {
		return pr, err
	}
	if sch.KeepCount == nil && sch.KeepDays == nil {
		return pr, nil
	}
	var keepCount, keepDays int
	if sch.KeepCount != nil {
		keepCount = *sch.KeepCount
	}
	if sch.KeepDays != nil {
		keepDays = *sch.KeepDays
	}
	err = rc.DB.InTx(ctx, func(tx pgx.Tx) error {
		pr, err = store.PruneBackupSets(ctx, tx, scheduleID, tenantID, keepCount, keepDays)
		return err
	})
	if err == nil && pr.Sets > 0 {
		rc.Logf(ctx, store.LevelInfo, "retention removed %d set(s) and %d unreferenced payload(s) (%d bytes)", pr.Sets, pr.Payloads, pr.Bytes)
	}
	return pr, err
}

// families backs up the families, graph.ReadsInFlight of them at a time and started in their
// order: each family reads one list page or $batch envelope at a time, and Graph answers each in
// ~80–400 ms, so one family at a time leaves most of the tenant's rate unused (BENCHMARKS.md,
// fleet night). Every request still takes its tokens from the tenant's shared limiter. It returns
// the first family in order that failed, with its error, as a backup of one family after the
// other would: a failure cancels the families after it (their errors are the cancel's) and lets
// those before it finish. A panic in one cancels all and is raised again here, for the worker to
// recover as before.
//
// A family gives its slot to the next one as soon as it has read everything, and writes its last
// chunk after (family): the database's answer is not Graph's latency, and a slot held over it
// leaves the tenant's rate unused. At most 2 × graph.ReadsInFlight families are under way at once.
func (b *backupper) families(ctx context.Context, families []graph.Family) (graph.Family, error) {
	var (
		mu       sync.Mutex
		failed   = len(families) // index of the first family in order that failed
		firstErr error
		panicked any
		cancels  []context.CancelFunc
		wg       sync.WaitGroup
	)
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	slots := make(chan struct{}, graph.ReadsInFlight)
	alive := make(chan struct{}, 2*graph.ReadsInFlight)
	for i, f := range families {
		select {
		case alive <- struct{}{}:
		case <-ctx.Done():
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		mu.Lock()
		stop := ctx.Err() != nil || failed < i || panicked != nil
		var fctx context.Context
		if !stop {
			var cancel context.CancelFunc
			fctx, cancel = context.WithCancel(ctx)
			cancels = append(cancels, cancel)
		}
		mu.Unlock()
		if stop {
			break
		}
		wg.Go(func() {
			var release sync.Once
			readsDone := func() { release.Do(func() { <-slots }) }
			defer func() { <-alive }()
			defer readsDone()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					if panicked == nil {
						panicked = p
					}
					for _, c := range cancels {
						c()
					}
					mu.Unlock()
				}
			}()
			err := b.family(fctx, f, readsDone)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if i < failed {
				failed, firstErr = i, err
				for _, c := range cancels[i+1:] {
					c()
				}
			}
		})
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
	if firstErr == nil {
		return "", ctx.Err() // nil, or the run's ctx was cancelled before any family failed
	}
	return families[failed], firstErr
}

// backupper holds one backup run's state: its client, set and name caches. Its families run
// concurrently (families): mu guards the fallback maps, refMu the name caches (groups,
// groupsPending, listings, unnamedGroups) — never held over a Graph read: each group is named once
// per run and each referenced family listed once, by the first family that needs it, and a family
// that needs the same names meanwhile waits for that read only (nameGroups, listed). One lock held
// over each chunk's naming had the families of a run queue behind each other's reads
// (BENCHMARKS.md, fleet night).
type backupper struct {
	mu     sync.Mutex
	refMu  sync.Mutex
	rc     *run.RunContext
	client *graph.Client
	setID  int64
	groups map[string]string // group id → name ("" when not found)
	// groupsPending are the groups being named, each closed when its read is over.
	groupsPending map[string]chan struct{}
	// listings name the assignment filters, scope tags and the objects of referenced families
	// (mobile apps, notification templates, compliance scripts, CA references) from one listing
	// of each per run.
	listings map[graph.Family]*listing
	// perObject reads every object's assignments on its own (ReadsPerObject).
	perObject bool
	// fellBack are the families whose cheap read of the assignments was found incomplete (logged
	// once per run); fellBackChild the same per family and child.
	fellBack      map[graph.Family]bool
	fellBackChild map[string]bool
	// byIDsRefused: directoryObjects/getByIds is not granted (the token's roles, getByIDsGranted)
	// or was refused this run; groups are named with groups.get from then on.
	byIDsRefused atomic.Bool
	// groupsGetRefused: groups.get is not granted either (no Group.Read.All or a role implying
	// it): the groups getByIds cannot name stay unnamed, without a request that would be refused.
	// Set before the families start, read only after.
	groupsGetRefused bool
	// unnamedGroups are the groups this run could not name, with why; unnamedError the first
	// error of each reason, for the one warning per reason at the end of the run.
	unnamedGroups map[string]reason.Code
	unnamedError  map[reason.Code]string
}

// listing is one referenced family's names for a run, read once.
type listing struct {
	once  sync.Once
	names map[string]intune.NamedRef
}

// pending is one object being backed up.
type pending struct {
	family      graph.Family
	raw         map[string]any
	class       intune.Classification
	graphID     string
	name        string
	odataType   string
	payload     intune.Payload
	sensitive   bool
	readVia     string // the contract prefix that reads it in full (type collection of app protection)
	definitions []any
	// haveAssignments: its assignments came complete with the list, or are asked for with the GET by id.
	haveAssignments bool
	// haveChildren are the child collections that came complete with the list (Child.ListExpand).
	haveChildren map[string]bool
}

// family backs up one family, chunk by chunk: each chunk's objects are completed (prepare), then
// written while the family reads on (chunkWriter). readsDone is called once it reads no more, before
// its last write.
func (b *backupper) family(ctx context.Context, f graph.Family, readsDone func()) (err error) {
	fi, _ := graph.FamilyOf(f)
	var w chunkWriter
	defer func() {
		if werr := w.wait(); err == nil {
			err = werr
		}
	}()
	var chunk []*pending
	var q *graph.Query
	if d := intune.DescriptorOf(f); d != nil && d.ListExpand != "" && !b.perObject {
		q = &graph.Query{Expand: d.ListExpand}
	}
	for raw, err := range b.client.List(ctx, string(f)+".list", nil, q) {
		if err != nil {
			return err
		}
		v, err := intune.DecodeJSON(raw)
		obj, ok := v.(map[string]any)
		if err != nil || !ok {
			continue
		}
		d := intune.DescriptorOf(f)
		if d != nil && d.Skip(obj) {
			continue // listed here, backed up in its own family (targeted app configurations in managedAppPolicies)
		}
		p := &pending{family: f, raw: obj, class: intune.Classify(f, obj)}
		p.graphID, _ = obj["id"].(string)
		if q != nil {
			if d.ListExpandsAssignments() {
				b.takeExpanded(ctx, p, "the list's $expand=assignments")
			}
			b.takeListedChildren(ctx, d, p)
		}
		p.odataType, _ = obj["@odata.type"].(string)
		if d != nil {
			p.odataType = d.ODataType(obj) // the declared type when minimal metadata leaves it out
		}
		p.name = intune.DisplayName(fi, obj)
		if p.class.PolicyType == intune.PolicyTypeUnknown {
			b.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, ItemRef: new(string(f) + "/" + p.graphID),
				Message: fmt.Sprintf("unrecognised @odata.type %q: backed up as listed, as %s", p.odataType, intune.PolicyTypeUnknown)})
		}
		chunk = append(chunk, p)
		if len(chunk) >= backupChunk {
			rows, err := b.prepare(ctx, fi, chunk)
			if err != nil {
				return err
			}
			if err := w.start(ctx, b, rows); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	rows, err := b.prepare(ctx, fi, chunk)
	readsDone()
	if err != nil {
		return err
	}
	return w.start(ctx, b, rows)
}

// chunkWriter writes a family's chunks one at a time, each while the family reads the next.
type chunkWriter struct {
	done chan writeResult // the write under way; nil when none
}

type writeResult struct {
	err      error
	panicked any
}

// start waits for the write under way, then starts writing rows; it returns the previous write's error.
func (w *chunkWriter) start(ctx context.Context, b *backupper, rows []store.BackupItemRow) error {
	if err := w.wait(); err != nil || len(rows) == 0 {
		return err
	}
	done := make(chan writeResult, 1)
	w.done = done
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- writeResult{panicked: p}
			}
		}()
		done <- writeResult{err: b.write(ctx, rows)}
	}()
	return nil
}

// wait waits for the write under way and returns its error; a panic in it is raised again here,
// in the family's goroutine (families recovers it).
func (w *chunkWriter) wait() error {
	if w.done == nil {
		return nil
	}
	r := <-w.done
	w.done = nil
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// takeExpanded moves the assignments a read expanded (the list's or the GET by id's) out of the
// object into the payload. An answer without them, or with a nextLink for them, is incomplete:
// the object's assignments are then read on their own, and the family's fallback is logged once
// per run (issue #24: a backup never trades completeness for speed). It reports whether they
// were complete.
func (b *backupper) takeExpanded(ctx context.Context, p *pending, via string) bool {
	obj := p.raw
	if p.payload.Object != nil {
		obj = p.payload.Object
	}
	if as, complete := takeAssignments(obj); complete {
		p.payload.Assignments, p.haveAssignments = as, true
		return true
	}
	p.haveAssignments = false
	b.mu.Lock()
	if b.fellBack == nil {
		b.fellBack = map[graph.Family]bool{}
	}
	first := !b.fellBack[p.family]
	b.fellBack[p.family] = true
	b.mu.Unlock()
	if first {
		b.rc.Logf(ctx, store.LevelWarn, "%s: %s came back incomplete (first: %s): those objects' assignments are read one by one",
			p.family, via, p.graphID)
	}
	return false
}

// takeAssignments removes an expanded assignments navigation (and its annotations) from obj and
// returns it, complete unless it is missing or carries an @odata.nextLink.
func takeAssignments(obj map[string]any) ([]any, bool) {
	as, ok := obj["assignments"].([]any)
	_, more := obj["assignments@odata.nextLink"]
	for k := range obj {
		if k == "assignments" || strings.HasPrefix(k, "assignments@") {
			delete(obj, k)
		}
	}
	return as, ok && !more
}

// takeListedChildren moves the child collections the list expanded (Child.ListExpand) out of
// the object into the payload. One that is not complete (takeChild) is read per object instead,
// and the family's fallback for that child is logged once per run.
func (b *backupper) takeListedChildren(ctx context.Context, d *intune.Descriptor, p *pending) {
	for _, c := range d.Children {
		if c.ListExpand == "" {
			continue
		}
		items, complete := takeChild(p.raw, c)
		if complete {
			if p.haveChildren == nil {
				p.haveChildren = map[string]bool{}
			}
			p.haveChildren[c.Key] = true
			p.setChild(c.Key, items)
			continue
		}
		key := string(p.family) + "/" + c.Key
		b.mu.Lock()
		if b.fellBackChild == nil {
			b.fellBackChild = map[string]bool{}
		}
		first := !b.fellBackChild[key]
		b.fellBackChild[key] = true
		b.mu.Unlock()
		if first {
			b.rc.Logf(ctx, store.LevelWarn, "%s: the list's $expand=%s came back incomplete (first: %s): those objects' %s are read one by one",
				p.family, c.ListExpand, p.graphID, c.Key)
		}
	}
}

// takeChild removes an expanded child collection (and its annotations) from obj and returns it,
// complete unless it is missing, carries an @odata.nextLink, or has another length than the
// object's count property (Child.CountKey) says, or that count is missing.
func takeChild(obj map[string]any, c intune.Child) ([]any, bool) {
	items, ok := obj[c.Key].([]any)
	_, more := obj[c.Key+"@odata.nextLink"]
	for k := range obj {
		if k == c.Key || strings.HasPrefix(k, c.Key+"@") {
			delete(obj, k)
		}
	}
	if !ok || more {
		return nil, false
	}
	if c.CountKey != "" {
		n, counted := obj[c.CountKey].(json.Number)
		want, err := n.Int64()
		if !counted || err != nil || want != int64(len(items)) {
			return nil, false
		}
	}
	return items, true
}

// setChild puts a child collection into the payload field its key names.
func (p *pending) setChild(key string, items []any) {
	switch key {
	case "settings":
		p.payload.Settings = items
	case "scheduledActionsForRule":
		p.payload.ScheduledActions = items
	case "definitionValues":
		p.payload.DefinitionValues = items
		p.definitions = items
	}
}

// subRequest is one sub-collection (or object) read of a pending object.
type subRequest struct {
	p     *pending
	kind  string // "object", "assignments", "settings", "scheduledActionsForRule", "definitionValues", "secret:<index>"
	req   graph.BatchRequest
	paged bool
}

// flush fetches the chunk's sub-collections through $batch, resolves references, normalizes and
// writes the items.
// prepare completes a chunk's objects (their reads by id, child collections, ADMX presentation
// values, reference names) and returns the rows to write.
func (b *backupper) prepare(ctx context.Context, fi graph.FamilyInfo, chunk []*pending) ([]store.BackupItemRow, error) {
	if len(chunk) == 0 {
		return nil, nil
	}
	var subs []subRequest
	for _, p := range chunk {
		subs = append(subs, b.plan(fi, p)...)
	}
	if err := b.fetch(ctx, subs); err != nil {
		return nil, err
	}
	// Presentation values of every configured ADMX setting (the N+1 of administrative templates).
	var pres []subRequest
	for _, p := range chunk {
		for _, dv := range p.definitions {
			m, _ := dv.(map[string]any)
			id, _ := m["id"].(string)
			if id == "" {
				continue
			}
			pres = append(pres, subRequest{p: p, kind: "presentation:" + id, paged: true, req: graph.BatchRequest{
				Contract: "groupPolicyConfigurations.presentationValues", Args: []string{p.graphID, id}}})
		}
	}
	if err := b.fetch(ctx, pres); err != nil {
		return nil, err
	}
	if err := b.resolveReferences(ctx, chunk); err != nil {
		return nil, err
	}
	rows := make([]store.BackupItemRow, 0, len(chunk))
	for _, p := range chunk {
		if p.payload.Object == nil {
			p.payload.Object = p.raw
		}
		p.payload.Object = intune.NormalizeFor(p.family, p.payload.Object)
		for _, list := range [][]any{p.payload.Settings, p.payload.ScheduledActions, p.payload.DefinitionValues} {
			intune.StripVolatile(list)
			intune.StripKeyDeep(list, "createdDateTime") // child entities get new timestamps when written
		}
		p.payload.Assignments = intune.NormalizeAssignments(p.payload.Assignments)
		body, hash, err := intune.HashCanonical(p.payload)
		if err != nil {
			return nil, err
		}
		rows = append(rows, store.BackupItemRow{Family: string(p.family), GraphID: p.graphID, PolicyType: p.class.PolicyType,
			IsDefault: p.class.IsDefault, DisplayName: p.name, ODataType: p.odataType, PayloadHash: hash, Payload: body, Sensitive: p.sensitive})
	}
	return rows, nil
}

// write stores a chunk's rows in the set (one statement) and counts them in the run's progress.
func (b *backupper) write(ctx context.Context, rows []store.BackupItemRow) error {
	newPayloads, _, err := store.AddBackupItems(ctx, b.rc.DB.Pool, b.setID, rows)
	if err != nil {
		return err
	}
	n := int64(len(rows))
	b.rc.Update(ctx, func(p *store.Progress) {
		p.Processed += n
		p.Succeeded += n
		p.Created += int64(newPayloads)
		p.Unchanged += n - int64(newPayloads)
	})
	return nil
}

// plan lists the reads that complete one object, from its family's descriptor: the GET by id
// (lazy script bodies; app protection through its type collection, $expand=apps), the child
// collections, the assignments and the plaintext of encrypted OMA values.
func (b *backupper) plan(fi graph.FamilyInfo, p *pending) []subRequest {
	var out []subRequest
	f, id := p.family, p.graphID
	d := intune.DescriptorOf(f)
	if id == "" || d == nil {
		return nil
	}
	col, routed := d.Collection(p.odataType)
	if !routed {
		return nil // an unrecognised app protection type: backed up as listed
	}
	p.readVia = col
	wantAssignments := d.Assign != intune.AssignNone && !p.class.IsDefault && !p.haveAssignments
	if d.ReadsByID(p.odataType) || col != string(f) {
		expand := d.ExpandFor(p.odataType)
		if wantAssignments && !b.perObject && d.ListExpandRefused != "" {
			// Read by id anyway: its $expand takes the assignments too (IM Get-GraphObject adds
			// assignments to the $expand of every object it reads; the types declare them, BETA),
			// one request instead of two.
			expand = strings.Trim(expand+",assignments", ",")
			wantAssignments, p.haveAssignments = false, true
		}
		var q *graph.Query
		if expand != "" {
			q = &graph.Query{Expand: expand}
		}
		out = append(out, subRequest{p: p, kind: "object", req: graph.BatchRequest{Contract: col + ".get", Args: []string{id}, Query: q}})
	}
	if wantAssignments {
		out = append(out, subRequest{p: p, kind: "assignments", paged: true, req: graph.BatchRequest{Contract: col + ".assignments", Args: []string{id}}})
	}
	for _, c := range d.Children {
		if p.haveChildren[c.Key] {
			continue // complete with the list (Child.ListExpand)
		}
		out = append(out, subRequest{p: p, kind: c.Key, paged: true, req: graph.BatchRequest{Contract: c.Contract, Args: []string{id}}})
	}
	// Encrypted OMA-URI values: back up the plaintext (docs/graph.md#family-write-rules); the item is then sensitive.
	settings, _ := p.raw["omaSettings"].([]any)
	for i, s := range settings {
		m, _ := s.(map[string]any)
		ref, _ := m["secretReferenceValueId"].(string)
		if enc, _ := m["isEncrypted"].(bool); enc && ref != "" {
			out = append(out, subRequest{p: p, kind: fmt.Sprintf("secret:%d", i), req: graph.BatchRequest{
				Contract: "deviceConfigurations.omaSettingPlainTextValue", Args: []string{id, ref}}})
		}
	}
	return out
}

// fetch runs the reads through $batch and follows every page to the end.
func (b *backupper) fetch(ctx context.Context, subs []subRequest) error {
	if len(subs) == 0 {
		return nil
	}
	reqs := make([]graph.BatchRequest, len(subs))
	for i, s := range subs {
		reqs[i] = s.req
		reqs[i].ID = fmt.Sprint(i)
	}
	resps, err := b.client.Batch(ctx, reqs)
	if err != nil {
		return err
	}
	var late []subRequest // assignments a GET by id did not answer complete: read on their own
	for i, r := range resps {
		s := subs[i]
		ref := string(s.p.family) + "/" + s.p.graphID
		if r.Err != nil {
			code := graph.ReasonOf(r.Err)
			switch {
			case strings.HasPrefix(s.kind, "secret:"):
				b.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, ItemRef: &ref, ReasonCode: new(string(code)),
					Message: "encrypted OMA-URI value kept encrypted (its plaintext needs DeviceManagementConfiguration.ReadWrite.All): " + r.Err.Error()})
				continue
			case code == reason.ProviderNotFound:
				b.rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, ItemRef: &ref,
					Message: fmt.Sprintf("%s gone while reading it: backed up as listed", s.kind)})
				continue
			}
			return r.Err
		}
		if strings.HasPrefix(s.kind, "secret:") {
			b.applySecret(s.p, s.kind, r.Body)
			continue
		}
		if s.kind == "object" {
			v, err := intune.DecodeJSON(r.Body)
			if m, ok := v.(map[string]any); err == nil && ok {
				if _, typed := m["@odata.type"]; !typed {
					if t, listed := s.p.raw["@odata.type"]; listed {
						m["@odata.type"] = t // IM: the type collection's GET carries no @odata.type; keep the list's
					}
				}
				s.p.payload.Object = m
				if s.p.haveAssignments && s.p.payload.Assignments == nil && !b.takeExpanded(ctx, s.p, "the GET by id's $expand=assignments") {
					late = append(late, subRequest{p: s.p, kind: "assignments", paged: true,
						req: graph.BatchRequest{Contract: s.p.readVia + ".assignments", Args: []string{s.p.graphID}}})
				}
			}
			continue
		}
		items, err := b.pageItems(ctx, s.req.Contract, r)
		if err != nil {
			return err
		}
		switch {
		case s.kind == "assignments":
			s.p.payload.Assignments = items
		case s.kind == "settings", s.kind == "scheduledActionsForRule", s.kind == "definitionValues":
			s.p.setChild(s.kind, items)
		case strings.HasPrefix(s.kind, "presentation:"):
			dvID := strings.TrimPrefix(s.kind, "presentation:")
			for _, dv := range s.p.payload.DefinitionValues {
				if m, ok := dv.(map[string]any); ok && m["id"] == dvID {
					m["presentationValues"] = items
				}
			}
		}
	}
	return b.fetch(ctx, late)
}

// pageItems returns the items of a paged sub-response, following @odata.nextLink to the end.
func (b *backupper) pageItems(ctx context.Context, contract string, r graph.BatchResponse) ([]any, error) {
	// One pass over the page, its items decoded as intune.DecodeJSON decodes (numbers kept as
	// written), not kept raw and parsed again.
	var page struct {
		Value    []any  `json:"value"`
		NextLink string `json:"@odata.nextLink"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil {
		return nil, run.Failure(reason.ProviderMalformedResponse, "%s: %v", contract, err)
	}
	items := page.Value
	if items == nil {
		items = []any{}
	}
	add := func(raw json.RawMessage) error {
		v, err := intune.DecodeJSON(raw)
		if err != nil {
			return run.Failure(reason.ProviderMalformedResponse, "%s: %v", contract, err)
		}
		items = append(items, v)
		return nil
	}
	if page.NextLink != "" {
		for raw, err := range b.client.ListLink(ctx, contract, page.NextLink) {
			if err != nil {
				return nil, err
			}
			if err := add(raw); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}

// applySecret puts a decrypted OMA-URI value into the object, as restore needs it (isEncrypted
// false, no secret reference), and marks the item sensitive.
func (b *backupper) applySecret(p *pending, kind string, body json.RawMessage) {
	var v struct {
		Value *string `json:"value"`
	}
	if json.Unmarshal(body, &v) != nil || v.Value == nil {
		return
	}
	var idx int
	if _, err := fmt.Sscanf(strings.TrimPrefix(kind, "secret:"), "%d", &idx); err != nil {
		return // not a "secret:N" kind: no setting to put the value in
	}
	settings, _ := p.raw["omaSettings"].([]any)
	if idx >= len(settings) {
		return
	}
	if m, ok := settings[idx].(map[string]any); ok {
		m["value"] = *v.Value
		if m["@odata.type"] == intune.ODataPrefix+"omaSettingStringXml" {
			// omaSettingStringXml.value is Edm.Binary (CSDL10): the plaintext is the XML text, stored
			// base64-encoded again as Graph lists and accepts it (IM Start-PostGetDeviceConfiguration).
			m["value"] = base64.StdEncoding.EncodeToString([]byte(*v.Value))
		}
		m["isEncrypted"] = false
		delete(m, "secretReferenceValueId") // a plaintext value has no secret reference (restore never sends one)
		p.sensitive = true
	}
}

// resolveReferences names the groups, filters and scope tags the chunk refers to. Names are
// best-effort: a read the app may not make leaves the id unnamed (with a warning), it does not fail
// the backup.
func (b *backupper) resolveReferences(ctx context.Context, chunk []*pending) error {
	var missingGroups []string
	for _, p := range chunk {
		for _, a := range p.payload.Assignments {
			target, _ := a.(map[string]any)["target"].(map[string]any)
			if g, _ := target["groupId"].(string); g != "" && !slices.Contains(missingGroups, g) {
				missingGroups = append(missingGroups, g)
			}
		}
		obj := p.payload.Object
		if obj == nil {
			obj = p.raw
		}
		for _, g := range slices.Concat(intune.CCGroups(p.payload.ScheduledActions), caGroupIDs(p), intune.RoleAssignmentGroups(p.family, obj)) {
			if !slices.Contains(missingGroups, g) {
				missingGroups = append(missingGroups, g)
			}
		}
	}
	if err := b.nameGroups(ctx, missingGroups); err != nil {
		return err
	}
	for _, p := range chunk {
		refs := &intune.References{}
		for _, a := range p.payload.Assignments {
			target, _ := a.(map[string]any)["target"].(map[string]any)
			if g, _ := target["groupId"].(string); g != "" {
				if refs.Groups == nil {
					refs.Groups = map[string]string{}
				}
				b.nameGroup(refs, g)
			}
			if fid, _ := target["deviceAndAppManagementAssignmentFilterId"].(string); fid != "" && fid != intune.NoFilterID {
				if refs.Filters == nil {
					refs.Filters = map[string]string{}
				}
				refs.Filters[fid] = b.named(ctx, graph.FamilyAssignmentFilters, fid).Name
			}
		}
		obj := p.payload.Object
		if obj == nil {
			obj = p.raw
		}
		for _, g := range slices.Concat(intune.CCGroups(p.payload.ScheduledActions), intune.RoleAssignmentGroups(p.family, obj)) {
			b.nameGroup(refs, g)
		}
		key := "roleScopeTagIds"
		if d := intune.DescriptorOf(p.family); d != nil {
			key = d.ScopeTagKey()
		}
		if tags, ok := obj[key].([]any); ok && key != "" {
			for _, t := range tags {
				id := fmt.Sprint(t)
				if refs.ScopeTags == nil {
					refs.ScopeTags = map[string]string{}
				}
				refs.ScopeTags[id] = b.named(ctx, graph.FamilyRoleScopeTags, id).Name
			}
		}
		if d := intune.DescriptorOf(p.family); d != nil {
			// Read-only walk (the visit keeps every id as it is) on a copy's ids: the object is unchanged.
			d.VisitReferences(obj, p.payload.ScheduledActions, func(ref intune.Reference, id string) (string, bool) {
				if refs.Objects == nil {
					refs.Objects = map[intune.RefKind]map[string]intune.NamedRef{}
				}
				if refs.Objects[ref.Kind] == nil {
					refs.Objects[ref.Kind] = map[string]intune.NamedRef{}
				}
				refs.Objects[ref.Kind][id] = b.named(ctx, ref.Source, id)
				return id, true
			})
		}
		b.nameCAReferences(ctx, p, refs)
		if refs.Groups != nil || refs.Filters != nil || refs.ScopeTags != nil || refs.Objects != nil {
			p.payload.References = refs
		}
	}
	return nil
}

// nameGroup records group g's name in refs, and why not when the run could not name it.
func (b *backupper) nameGroup(refs *intune.References, g string) {
	b.refMu.Lock()
	defer b.refMu.Unlock()
	if refs.Groups == nil {
		refs.Groups = map[string]string{}
	}
	refs.Groups[g] = b.groups[g]
	if code, ok := b.unnamedGroups[g]; ok {
		if refs.UnnamedGroups == nil {
			refs.UnnamedGroups = map[string]reason.Code{}
		}
		refs.UnnamedGroups[g] = code
	}
}

// granted reports whether the token's roles hold contract's permission. A token that cannot be
// read here leaves the answer to Graph (true: the request is sent, and a 403 says).
func (b *backupper) granted(ctx context.Context, contract string) bool {
	c, _ := graph.Lookup(contract)
	token, err := b.client.Token(ctx, false)
	return err != nil || graph.Granted(token.Roles, c.Permission)
}

// getByIDsGranted reports whether the token's roles hold getByIds's permission, saying once (debug)
// when they do not and groups.get is granted: the backup then names groups with groups.get and
// sends no getByIds to be refused (a 403 falls back too).
func (b *backupper) getByIDsGranted(ctx context.Context) bool {
	if b.granted(ctx, "groups.getByIds") {
		return true
	}
	if !b.groupsGetRefused {
		c, _ := graph.Lookup("groups.getByIds")
		b.rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: store.LevelDebug,
			Message: "groups named one by one (groups.get): the app is not granted " + c.Permission + ", which names up to 1,000 groups per request"})
	}
	return false
}

// leaveUnnamed records that group id could not be named, and why (err: the first of its reason).
func (b *backupper) leaveUnnamed(id string, code reason.Code, err string) {
	b.refMu.Lock()
	defer b.refMu.Unlock()
	if b.unnamedGroups == nil {
		b.unnamedGroups, b.unnamedError = map[string]reason.Code{}, map[reason.Code]string{}
	}
	b.groups[id] = ""
	b.unnamedGroups[id] = code
	if _, ok := b.unnamedError[code]; !ok {
		b.unnamedError[code] = err
	}
}

// reportUnnamedGroups says once per run, per reason, how many groups the backup left unnamed: for
// a missing permission, which one to grant. The payloads record them as unnamed (References
// UnnamedGroups), not as deleted.
func (b *backupper) reportUnnamedGroups(ctx context.Context) {
	count := map[reason.Code]int{}
	for _, code := range b.unnamedGroups {
		count[code]++
	}
	codes := slices.Sorted(maps.Keys(count))
	for _, code := range codes {
		msg := fmt.Sprintf("%d group(s) the assignments refer to left unnamed (%s): %s", count[code], code, b.unnamedError[code])
		if code == reason.ProviderPermissionDenied {
			c, _ := graph.Lookup("groups.get")
			msg = fmt.Sprintf("%d group(s) the assignments refer to left unnamed: the app is not granted %s (or one of %s). "+
				"The backup records them as unnamed, not deleted; a restore finds them by id in this tenant only, never by name in another",
				count[code], c.Permission, strings.Join(graph.AlsoGrantedBy(c.Permission), ", "))
		}
		b.rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: store.LevelWarn, ReasonCode: new(string(code)), Message: msg})
	}
}

// nameGroups names the groups by id into b.groups ("" for a group that no longer exists). Groups
// named before in the run are not read again; groups another family of the run is naming are
// waited for, not read twice; the rest are read here (readGroupNames) without holding refMu.
func (b *backupper) nameGroups(ctx context.Context, ids []string) error {
	var (
		mine  []string
		waits []chan struct{}
		done  chan struct{}
	)
	b.refMu.Lock()
	for _, id := range ids {
		if _, known := b.groups[id]; known {
			continue
		}
		if ch, naming := b.groupsPending[id]; naming {
			if ch != done {
				waits = append(waits, ch)
			}
			continue
		}
		if done == nil {
			done = make(chan struct{})
		}
		if b.groupsPending == nil {
			b.groupsPending = map[string]chan struct{}{}
		}
		b.groupsPending[id] = done
		mine = append(mine, id)
	}
	b.refMu.Unlock()
	var err error
	if len(mine) > 0 {
		names := make(map[string]string, len(mine))
		err = b.readGroupNames(ctx, mine, names)
		b.refMu.Lock()
		for _, id := range mine {
			if name, ok := names[id]; ok {
				b.groups[id] = name
			}
			delete(b.groupsPending, id)
		}
		b.refMu.Unlock()
		close(done)
	}
	if err != nil {
		return err
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// readGroupNames reads the groups' names into names, with one directoryObjects/getByIds per
// 1,000 groups (Learn directoryobject-getbyids). That call needs Directory.Read.All, which
// TenantAtlas does not require: without it in the token's roles the run names groups one by one
// with groups.get in $batch, as before, and sends no getByIds; a refusal (403) all the same is
// logged once and does the same for the rest of the run. An id missing from the getByIds answer
// is a deleted group, named "" like a 404 of groups.get.
func (b *backupper) readGroupNames(ctx context.Context, ids []string, names map[string]string) error {
	for start := 0; start < len(ids) && !b.byIDsRefused.Load(); start += graph.GetByIDsMax {
		chunk := ids[start:min(start+graph.GetByIDsMax, len(ids))]
		body, err := b.client.Post(ctx, "groups.getByIds", nil, map[string]any{"ids": chunk, "types": []string{"group"}})
		if err == nil {
			var page struct {
				Value []struct {
					ID          string `json:"id"`
					DisplayName string `json:"displayName"`
				} `json:"value"`
			}
			if err = json.Unmarshal(body, &page); err == nil {
				found := make(map[string]string, len(page.Value))
				for _, g := range page.Value {
					found[strings.ToLower(g.ID)] = g.DisplayName
				}
				for _, id := range chunk {
					names[id] = found[strings.ToLower(id)]
				}
				continue
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if graph.ReasonOf(err) == reason.ProviderPermissionDenied {
			if b.byIDsRefused.CompareAndSwap(false, true) { // said once per run, by the family refused first
				b.rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: store.LevelInfo,
					Message: "groups named one by one (groups.get): directoryObjects/getByIds refused (" + err.Error() + "); granting Directory.Read.All names up to 1,000 groups per request"})
			}
		} else {
			b.rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: store.LevelWarn,
				Message: "groups of this chunk named one by one (groups.get): directoryObjects/getByIds failed: " + err.Error()})
		}
		return b.groupsOneByOne(ctx, ids[start:], names)
	}
	if b.byIDsRefused.Load() {
		return b.groupsOneByOne(ctx, unnamed(names, ids), names)
	}
	return nil
}

// unnamed returns the ids not yet in names.
func unnamed(names map[string]string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := names[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// groupsOneByOne names groups into names with one groups.get each (through $batch): a 404 is a
// deleted group (""), any other failure leaves the group unnamed (leaveUnnamed; one warning per
// run). Without groups.get's permission nothing is sent: every group is left unnamed for that reason.
func (b *backupper) groupsOneByOne(ctx context.Context, ids []string, names map[string]string) error {
	if len(ids) == 0 {
		return nil
	}
	if b.groupsGetRefused {
		for _, id := range ids {
			b.leaveUnnamed(id, reason.ProviderPermissionDenied, "")
		}
		return nil
	}
	reqs := make([]graph.BatchRequest, len(ids))
	for i, g := range ids {
		reqs[i] = graph.BatchRequest{Contract: "groups.get", Args: []string{g}}
	}
	resps, err := b.client.Batch(ctx, reqs)
	if err != nil {
		return err
	}
	for i, r := range resps {
		name := ""
		if r.Err == nil {
			var g struct {
				DisplayName string `json:"displayName"`
			}
			_ = json.Unmarshal(r.Body, &g)
			name = g.DisplayName
		} else if code := graph.ReasonOf(r.Err); code != reason.ProviderNotFound {
			b.leaveUnnamed(ids[i], code, "cannot name group "+ids[i]+": "+r.Err.Error())
			continue
		}
		names[ids[i]] = name
	}
	return nil
}

// named names a referenced object (assignment filter, scope tag, mobile app, notification
// template, compliance script, CA reference) with its @odata.type, from one listing of its family
// per run through the family's list contract (the reference families' read permissions are the
// least-privileged ones, docs/graph.md). Names are best-effort: a listing the app may not make
// leaves the id unnamed, with a warning.
func (b *backupper) named(ctx context.Context, f graph.Family, id string) intune.NamedRef {
	return b.listed(ctx, f)[id]
}

// listed is f's names for the run: listed by the first family that needs them, which the others
// needing them meanwhile wait for.
func (b *backupper) listed(ctx context.Context, f graph.Family) map[string]intune.NamedRef {
	b.refMu.Lock()
	if b.listings == nil {
		b.listings = map[graph.Family]*listing{}
	}
	l, ok := b.listings[f]
	if !ok {
		l = &listing{}
		b.listings[f] = l
	}
	b.refMu.Unlock()
	l.once.Do(func() {
		l.names = map[string]intune.NamedRef{}
		fi, _ := graph.FamilyOf(f)
		for raw, err := range b.client.List(ctx, string(f)+".list", nil, nil) {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					b.rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: store.LevelWarn, Message: fmt.Sprintf("cannot name %s: %v", f, err)})
				}
				break
			}
			v, _ := intune.DecodeJSON(raw)
			if m, ok := v.(map[string]any); ok {
				t, _ := m["@odata.type"].(string)
				l.names[fmt.Sprint(m["id"])] = intune.NamedRef{Name: intune.DisplayName(fi, m), Type: t}
			}
		}
	})
	return l.names
}
