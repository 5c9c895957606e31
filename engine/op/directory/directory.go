// Package directory holds the Entra directory syncs (directory_groups.sync and
// directory_role_definitions.sync), which keep the per-tenant caches the dashboard searches and
// restore maps assignments with.
package directory

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// directoryBatch is how many objects go into one COPY + merge.
const directoryBatch = 5000

// graphGroup is a group as Graph sends it with the groups contract's $select.
type graphGroup struct {
	ID                            string   `json:"id"`
	DisplayName                   *string  `json:"displayName"`
	Description                   *string  `json:"description"`
	GroupTypes                    []string `json:"groupTypes"`
	SecurityEnabled               *bool    `json:"securityEnabled"`
	MailEnabled                   *bool    `json:"mailEnabled"`
	MembershipRule                *string  `json:"membershipRule"`
	MembershipRuleProcessingState *string  `json:"membershipRuleProcessingState"`
	OnPremisesSyncEnabled         *bool    `json:"onPremisesSyncEnabled"`
	IsAssignableToRole            *bool    `json:"isAssignableToRole"`
	CreatedDateTime               *string  `json:"createdDateTime"`
}

// hash is a stable digest of the synced fields (length-prefixed, nil distinct from empty), so an
// unchanged group is not rewritten.
func (g *graphGroup) hash() [sha256.Size]byte {
	b := make([]byte, 0, 512)
	str := func(s *string) {
		if s == nil {
			b = append(b, 0)
			return
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	flag := func(v *bool) {
		switch {
		case v == nil:
			b = append(b, 0)
		case *v:
			b = append(b, 2)
		default:
			b = append(b, 1)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(g.ID)))
	b = append(b, g.ID...)
	str(g.DisplayName)
	str(g.Description)
	b = binary.AppendUvarint(b, uint64(len(g.GroupTypes)))
	for i := range g.GroupTypes {
		str(&g.GroupTypes[i])
	}
	flag(g.SecurityEnabled)
	flag(g.MailEnabled)
	str(g.MembershipRule)
	str(g.MembershipRuleProcessingState)
	flag(g.OnPremisesSyncEnabled)
	flag(g.IsAssignableToRole)
	str(g.CreatedDateTime)
	return sha256.Sum256(b)
}

func decodeGroup(raw json.RawMessage) (store.Group, error) {
	var g graphGroup
	if err := json.Unmarshal(raw, &g); err != nil {
		return store.Group{}, fmt.Errorf("group: %w", err)
	}
	return g.toStore()
}

// toStore is the cache row of a group.
func (g *graphGroup) toStore() (store.Group, error) {
	if g.ID == "" {
		return store.Group{}, errors.New("group without an id")
	}
	sum := g.hash()
	out := store.Group{GraphID: g.ID, DisplayName: deref(g.DisplayName), Description: deref(g.Description), GroupTypes: g.GroupTypes,
		SecurityEnabled: g.SecurityEnabled, MailEnabled: g.MailEnabled, MembershipRule: g.MembershipRule,
		IsAssignableToRole: g.IsAssignableToRole, OnPremSyncEnabled: g.OnPremisesSyncEnabled, ContentHash: sum[:]}
	if g.CreatedDateTime != nil {
		if t, err := time.Parse(time.RFC3339, *g.CreatedDateTime); err == nil {
			out.CreatedDateTime = &t
		}
	}
	return out, nil
}

// graphRoleDefinition is a directory role definition as Graph sends it.
type graphRoleDefinition struct {
	ID              string          `json:"id"`
	DisplayName     *string         `json:"displayName"`
	Description     *string         `json:"description"`
	IsBuiltIn       *bool           `json:"isBuiltIn"`
	IsEnabled       *bool           `json:"isEnabled"`
	TemplateID      *string         `json:"templateId"`
	Version         *string         `json:"version"`
	RolePermissions json.RawMessage `json:"rolePermissions"`
}

func decodeRoleDefinition(raw json.RawMessage) (store.RoleDefinition, error) {
	var d graphRoleDefinition
	if err := json.Unmarshal(raw, &d); err != nil {
		return store.RoleDefinition{}, fmt.Errorf("role definition: %w", err)
	}
	if d.ID == "" {
		return store.RoleDefinition{}, errors.New("role definition without an id")
	}
	canonical, _ := json.Marshal(d)
	sum := sha256.Sum256(canonical)
	perms := d.RolePermissions
	if len(perms) == 0 || string(perms) == "null" {
		perms = json.RawMessage("[]")
	}
	return store.RoleDefinition{GraphID: d.ID, DisplayName: deref(d.DisplayName), Description: deref(d.Description),
		IsBuiltIn: d.IsBuiltIn, IsEnabled: d.IsEnabled, TemplateID: d.TemplateID, Version: d.Version,
		RolePermissions: perms, ContentHash: sum[:]}, nil
}

// syncCounter adds merge results to the run's progress.
func syncCounter(ctx context.Context, rc *run.RunContext, n int, c store.MergeCounts) {
	rc.Update(ctx, func(p *store.Progress) {
		p.Processed += int64(n)
		if p.Total != nil && p.Processed > *p.Total {
			total := p.Processed
			p.Total = &total
		}
		p.Created += c.Created
		p.Updated += c.Updated
		p.Unchanged += c.Unchanged
		p.Deleted += c.Deleted
		p.Succeeded += int64(n)
	})
}

// SyncGroups is directory_groups.sync: a full list the first time, /groups/delta from the stored
// delta link afterwards (a full resync when the link is missing or expired). Everything is written
// in one transaction: a failure leaves the cache exactly as it was.
func SyncGroups(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	client, err := rc.GraphClient()
	if err != nil {
		return run.Result{}, err
	}
	defer client.Close()
	state, err := store.GetSyncState(ctx, rc.DB.Pool, rc.Tenant.ID, store.CollectionGroups)
	if err != nil {
		return run.Result{}, err
	}
	if state.ItemCount > 0 && state.DeltaLink == nil {
		rc.SetTotal(ctx, state.ItemCount) // an estimate from the last sync; raised if exceeded
	}
	if state.DeltaLink != nil {
		res, err := syncGroupsDelta(ctx, rc, client, *state.DeltaLink)
		if !errors.Is(err, graph.ErrDeltaExpired) {
			return res, err
		}
		rc.Event(ctx, store.RunEvent{Kind: store.EventTimeline, Level: store.LevelWarn, Message: "the stored delta link expired; running a full resync"})
		rc.Update(ctx, func(p *store.Progress) { *p = store.Progress{} })
		if err := store.ClearDeltaLink(ctx, rc.DB.Pool, rc.Tenant.ID, store.CollectionGroups); err != nil {
			return run.Result{}, err
		}
	}
	rc.Event(ctx, store.RunEvent{Kind: store.EventTimeline, Message: "full sync of groups"})
	return mergingOnCollision(ctx, rc, "group", func(mergeOnly bool) (run.Result, error) {
		return syncGroupsFull(ctx, rc, client, mergeOnly)
	})
}

// mergingOnCollision runs a full sync; when Graph listed an object twice while the sync copied rows
// straight into an empty cache (store.ErrDirectoryCollision, nothing written), it runs the sync once
// more with every batch merged.
func mergingOnCollision(ctx context.Context, rc *run.RunContext, what string, sync func(mergeOnly bool) (run.Result, error)) (run.Result, error) {
	res, err := sync(false)
	if !errors.Is(err, store.ErrDirectoryCollision) {
		return res, err
	}
	rc.Event(ctx, store.RunEvent{Kind: store.EventTimeline, Level: store.LevelWarn, Message: "Graph listed a " + what + " twice; listing again and merging every batch"})
	rc.Update(ctx, func(p *store.Progress) { *p = store.Progress{Total: p.Total} })
	return sync(true)
}

func syncGroupsFull(ctx context.Context, rc *run.RunContext, client *graph.Client, mergeOnly bool) (run.Result, error) {
	// The delta link is taken before listing, so changes made during the list reach the next delta.
	link, err := client.DeltaLatest(ctx, "groups.delta", nil)
	if err != nil {
		return run.Result{}, err
	}
	w, err := store.BeginDirectorySync(ctx, rc.DB, rc.Tenant.ID, store.CollectionGroups, true)
	if err != nil {
		return run.Result{}, err
	}
	defer w.Rollback(ctx)
	if mergeOnly {
		w.MergeOnly()
	}
	err = run.StreamBatches(ctx, directoryBatch, func(emit func(store.Group) error) error {
		for gg, err := range graph.ListAs[graphGroup](ctx, client, "groups.list", nil, nil) {
			var mismatch *graph.ItemError
			if err != nil && !errors.As(err, &mismatch) {
				return err
			}
			var g store.Group
			if err == nil {
				g, err = gg.toStore()
			}
			if err != nil {
				rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, Message: "skipped an undecodable group: " + err.Error()})
				rc.Update(ctx, func(p *store.Progress) { p.Skipped++ })
				continue
			}
			if err := emit(g); err != nil {
				return err
			}
		}
		return nil
	}, func(batch []store.Group) error {
		c, err := w.WriteGroups(ctx, batch)
		if err != nil {
			return err
		}
		syncCounter(ctx, rc, len(batch), c)
		return nil
	})
	if err != nil {
		return run.Result{}, err
	}
	return finishDirectorySync(ctx, rc, w, &link, "groups")
}

func syncGroupsDelta(ctx context.Context, rc *run.RunContext, client *graph.Client, link string) (run.Result, error) {
	rc.Event(ctx, store.RunEvent{Kind: store.EventTimeline, Message: "delta sync of groups"})
	w, err := store.BeginDirectorySync(ctx, rc.DB, rc.Tenant.ID, store.CollectionGroups, false)
	if err != nil {
		return run.Result{}, err
	}
	defer w.Rollback(ctx)
	// A delta entry is a changed group or a removed id.
	type change struct {
		group   *store.Group
		removed string
	}
	var next string
	err = run.StreamBatches(ctx, directoryBatch, func(emit func(change) error) error {
		var err error
		next, err = client.Delta(ctx, "groups.delta", link, nil, func(item graph.DeltaItem) error {
			if item.Removed {
				return emit(change{removed: item.ID})
			}
			g, err := decodeGroup(item.Raw)
			if err != nil {
				rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, Message: "skipped an undecodable group: " + err.Error()})
				rc.Update(ctx, func(p *store.Progress) { p.Skipped++ })
				return nil
			}
			return emit(change{group: &g})
		})
		return err
	}, func(batch []change) error {
		var groups []store.Group
		var removed []string
		for _, ch := range batch {
			if ch.group != nil {
				groups = append(groups, *ch.group)
			} else {
				removed = append(removed, ch.removed)
			}
		}
		c, err := w.WriteGroups(ctx, groups)
		if err != nil {
			return err
		}
		if c.Deleted, err = w.Delete(ctx, removed); err != nil {
			return err
		}
		syncCounter(ctx, rc, len(batch), c)
		return nil
	})
	if err != nil {
		return run.Result{}, err
	}
	return finishDirectorySync(ctx, rc, w, &next, "groups")
}

func finishDirectorySync(ctx context.Context, rc *run.RunContext, w *store.DirectoryWriter, link *string, noun string) (run.Result, error) {
	deleted, err := w.Finish(ctx, link, rc.Run.ID)
	if err != nil {
		return run.Result{}, err
	}
	if err := w.Commit(ctx); err != nil {
		return run.Result{}, err
	}
	if deleted > 0 {
		rc.Update(ctx, func(p *store.Progress) { p.Deleted += deleted })
	}
	p := rc.Progress()
	rc.Logf(ctx, store.LevelInfo, "%d processed: %d created, %d updated, %d deleted, %d unchanged", p.Processed, p.Created, p.Updated, p.Deleted, p.Unchanged)
	if p.Skipped > 0 {
		// The cache misses what Graph sent but could not be read: not a success to wave through.
		return run.Result{Outcome: store.OutcomePartiallySucceeded, Reason: reason.ProviderMalformedResponse,
			Detail: fmt.Sprintf("%s skipped, unreadable: %d of %d (the run's log names them)", noun, p.Skipped, p.Processed+p.Skipped)}, nil
	}
	return run.Result{}, nil
}

// SyncRoleDefinitions is directory_role_definitions.sync: the full list each time (a few hundred
// definitions), merged like groups, permissions kept.
func SyncRoleDefinitions(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	client, err := rc.GraphClient()
	if err != nil {
		return run.Result{}, err
	}
	defer client.Close()
	return mergingOnCollision(ctx, rc, "role definition", func(mergeOnly bool) (run.Result, error) {
		return syncRoleDefinitions(ctx, rc, client, mergeOnly)
	})
}

func syncRoleDefinitions(ctx context.Context, rc *run.RunContext, client *graph.Client, mergeOnly bool) (run.Result, error) {
	w, err := store.BeginDirectorySync(ctx, rc.DB, rc.Tenant.ID, store.CollectionRoleDefinitions, true)
	if err != nil {
		return run.Result{}, err
	}
	defer w.Rollback(ctx)
	if mergeOnly {
		w.MergeOnly()
	}
	var batch []store.RoleDefinition
	for raw, err := range client.List(ctx, "directoryRoleDefinitions.list", nil, nil) {
		if err != nil {
			return run.Result{}, err
		}
		d, err := decodeRoleDefinition(raw)
		if err != nil {
			rc.Event(ctx, store.RunEvent{Kind: store.EventItem, Level: store.LevelWarn, Message: "skipped an undecodable role definition: " + err.Error()})
			rc.Update(ctx, func(p *store.Progress) { p.Skipped++ })
			continue
		}
		batch = append(batch, d)
	}
	c, err := w.WriteRoleDefinitions(ctx, batch)
	if err != nil {
		return run.Result{}, err
	}
	syncCounter(ctx, rc, len(batch), c)
	return finishDirectorySync(ctx, rc, w, nil, "role definitions")
}

// deref reads an optional Graph property: absent or null is its zero value.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// ListGroups lists a tenant's groups as a full sync does — each decoded and turned into its cache
// row — and writes nothing: the Graph side of a sync alone, which the sync benchmark measures apart.
func ListGroups(ctx context.Context, client *graph.Client) (int, error) {
	n := 0
	for g, err := range graph.ListAs[graphGroup](ctx, client, "groups.list", nil, nil) {
		if err != nil {
			return n, err
		}
		if _, err := g.toStore(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
