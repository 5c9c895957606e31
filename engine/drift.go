package engine

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// Drift statuses of an item.
const (
	DriftAdded   = "added"
	DriftRemoved = "removed"
	DriftChanged = "changed"
)

// DriftSide is one side of a comparison: a backup set, or the latest inventory of a tenant.
type DriftSide struct {
	Kind     string    `json:"kind"` // backup_set or inventory
	SetID    int64     `json:"set_id,omitempty"`
	TenantID int64     `json:"tenant_id"`
	Tenant   string    `json:"tenant"`
	At       time.Time `json:"at"`
	// State is a backup set's state (complete, running, failed, cancelled); "" for the inventory.
	State string `json:"state,omitempty"`
}

// Incomplete reports whether the side is a backup set that did not complete: what it lacks may
// never have been captured, so its absence is not drift.
func (d DriftSide) Incomplete() bool {
	return d.Kind == "backup_set" && d.State != store.BackupComplete
}

// DriftItem is one object that differs.
type DriftItem struct {
	Status      string               `json:"status"`
	Family      string               `json:"family"`
	PolicyType  string               `json:"policy_type"`
	GraphID     string               `json:"graph_id"`
	DisplayName string               `json:"display_name"`
	Sensitive   bool                 `json:"sensitive"`
	Changes     []intune.FieldChange `json:"changes"`
	Truncated   bool                 `json:"truncated,omitempty"`
}

// Drift compares two sides per item, ignoring volatile fields (they were stripped when stored).
type Drift struct {
	From      DriftSide `json:"from"`
	To        DriftSide `json:"to"`
	Added     int       `json:"added"`
	Removed   int       `json:"removed"`
	Changed   int       `json:"changed"`
	Unchanged int       `json:"unchanged"`
	// NotCaptured counts the objects of one side absent from an incomplete other side: they are not
	// counted as removed (or added), since that side may never have reached them.
	NotCaptured int         `json:"not_captured"`
	Items       []DriftItem `json:"items"`
}

// driftEntry is an item of one side.
type driftEntry struct {
	family, policyType, graphID, name, hash string
	sensitive                               bool
	payload                                 json.RawMessage // loaded on demand
}

func driftKey(family, id string) string { return family + "\x00" + id }

// DiffBackups compares backup set fromID with set toID, or with the latest inventory of fromID's
// tenant when toID is 0 (only the objects then: inventory holds no assignments or children).
// Sensitive items show which fields changed, never their values.
func (s *Service) DiffBackups(ctx context.Context, actor Actor, fromID, toID int64) (Drift, error) {
	ctx = s.payloadCtx(ctx)
	from, err := s.backupSet(ctx, actor, fromID)
	if err != nil {
		return Drift{}, err
	}
	fromItems, err := s.setEntries(ctx, fromID)
	if err != nil {
		return Drift{}, err
	}
	d := Drift{From: DriftSide{Kind: "backup_set", SetID: from.ID, TenantID: from.TenantID, Tenant: from.TenantName, At: from.CreatedAt, State: from.State()},
		Items: []DriftItem{}}
	var toItems map[string]*driftEntry
	objectsOnly := toID == 0
	if objectsOnly {
		if d.To, toItems, err = s.inventorySide(ctx, actor, from, fromItems); err != nil {
			return Drift{}, err
		}
	} else {
		to, err := s.backupSet(ctx, actor, toID)
		if err != nil {
			return Drift{}, err
		}
		d.To = DriftSide{Kind: "backup_set", SetID: to.ID, TenantID: to.TenantID, Tenant: to.TenantName, At: to.CreatedAt, State: to.State()}
		if toItems, err = s.setEntries(ctx, toID); err != nil {
			return Drift{}, err
		}
	}
	if err := s.loadChanged(ctx, fromItems, toItems, objectsOnly); err != nil {
		return Drift{}, err
	}
	compareEntries(&d, fromItems, toItems)
	sortDriftItems(d.Items)
	return d, nil
}

// inventorySide is the other side of a comparison with the tenant's latest inventory (inventory.sync
// to view): the inventory's objects of the set's families, and the set's entries reduced to their
// objects (fromItems' payloads are loaded and rehashed in place).
func (s *Service) inventorySide(ctx context.Context, actor Actor, from store.BackupSet, fromItems map[string]*driftEntry) (DriftSide, map[string]*driftEntry, error) {
	if err := s.authorizeTenant(ctx, actor, from.TenantID, access.InventorySync); err != nil {
		return DriftSide{}, nil, err
	}
	inv, err := store.ListInventory(ctx, s.db.Pool, store.InventoryFilter{TenantID: from.TenantID, WithPayload: true, Limit: 1_000_000})
	if err != nil {
		return DriftSide{}, nil, err
	}
	toItems := map[string]*driftEntry{}
	var latest time.Time
	for _, it := range inv {
		if it.ChangedAt.After(latest) {
			latest = it.ChangedAt
		}
		if len(from.Families) > 0 && !slices.Contains(from.Families, it.Family) || isReferenceFamily(it.Family) {
			continue
		}
		toItems[driftKey(it.Family, it.GraphID)] = &driftEntry{family: it.Family, policyType: it.PolicyType, graphID: it.GraphID,
			name: it.DisplayName, hash: it.PayloadHash, payload: it.Payload}
	}
	side := DriftSide{Kind: "inventory", TenantID: from.TenantID, Tenant: from.TenantName, At: latest}
	// Compare objects: reduce each backup payload to its object.
	if err := s.loadPayloads(ctx, fromItems); err != nil {
		return DriftSide{}, nil, err
	}
	for k, e := range fromItems {
		var p struct {
			Object json.RawMessage `json:"object"`
		}
		_ = json.Unmarshal(e.payload, &p)
		v, err := intune.DecodeJSON(p.Object)
		if err != nil {
			continue
		}
		if t := toItems[k]; t != nil {
			// The inventory holds objects as Graph lists them: without what only a GET by id or an
			// $expand returns (script bodies are null, apps absent; docs/graph.md#families-and-round-trip-fidelity).
			// Compare the backup's object on what the list carries.
			if inv, err := intune.DecodeJSON(t.payload); err == nil {
				if im, ok := inv.(map[string]any); ok {
					if bm, ok := v.(map[string]any); ok {
						for key := range bm {
							if iv, listed := im[key]; !listed || iv == nil {
								delete(bm, key)
							}
						}
						for key, iv := range im {
							if iv == nil {
								delete(im, key)
							}
						}
						t.payload, t.hash, _ = intune.HashCanonical(im)
					}
				}
			}
		}
		if t := toItems[k]; t != nil && e.sensitive {
			// The backup holds decrypted OMA-URI values, the inventory the encrypted ones: compare
			// both without the secret fields so a decryption is not drift.
			if inv, err := intune.DecodeJSON(t.payload); err == nil {
				idx := intune.EncryptedSettings(inv)
				intune.MaskSecrets(inv, idx)
				intune.MaskSecrets(v, idx)
				t.payload, t.hash, _ = intune.HashCanonical(inv)
			}
		}
		e.payload, e.hash, _ = intune.HashCanonical(v)
	}
	return side, toItems, nil
}

// loadChanged loads the payloads of the items whose hashes differ (an inventory side and an
// objects-only from side already have theirs).
func (s *Service) loadChanged(ctx context.Context, fromItems, toItems map[string]*driftEntry, objectsOnly bool) error {
	var changedFrom, changedTo []*driftEntry
	for k, f := range fromItems {
		if t, ok := toItems[k]; ok && t.hash != f.hash {
			changedFrom, changedTo = append(changedFrom, f), append(changedTo, t)
		}
	}
	if !objectsOnly {
		if err := s.loadPayloads(ctx, mapOf(changedFrom)); err != nil {
			return err
		}
	}
	return s.loadPayloads(ctx, mapOf(changedTo))
}

// compareEntries counts and lists what was removed, changed (with its field diff) and added.
func compareEntries(d *Drift, fromItems, toItems map[string]*driftEntry) {
	for k, f := range fromItems {
		t, ok := toItems[k]
		switch {
		case !ok && d.To.Incomplete():
			d.NotCaptured++
		case !ok:
			d.Removed++
			d.Items = append(d.Items, DriftItem{Status: DriftRemoved, Family: f.family, PolicyType: f.policyType, GraphID: f.graphID,
				DisplayName: f.name, Sensitive: f.sensitive, Changes: []intune.FieldChange{}})
		case t.hash == f.hash:
			d.Unchanged++
		default:
			d.Changed++
			item := DriftItem{Status: DriftChanged, Family: t.family, PolicyType: t.policyType, GraphID: t.graphID, DisplayName: t.name,
				Sensitive: f.sensitive || t.sensitive}
			from, to := f.payload, t.payload
			if t.family == string(graph.FamilyConditionalAccessPolicies) {
				from, to = intune.ReadableCADiff(from, to) // conditions and grant controls as named fields
			}
			item.Changes, item.Truncated = intune.FieldDiff(from, to, item.Sensitive)
			d.Items = append(d.Items, item)
		}
	}
	for k, t := range toItems {
		if _, ok := fromItems[k]; !ok && d.From.Incomplete() {
			d.NotCaptured++
		} else if !ok {
			d.Added++
			d.Items = append(d.Items, DriftItem{Status: DriftAdded, Family: t.family, PolicyType: t.policyType, GraphID: t.graphID,
				DisplayName: t.name, Sensitive: t.sensitive, Changes: []intune.FieldChange{}})
		}
	}
}

// sortDriftItems orders items changed, added, removed, then by family, name and id.
func sortDriftItems(items []DriftItem) {
	order := map[string]int{DriftChanged: 0, DriftAdded: 1, DriftRemoved: 2}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if order[a.Status] != order[b.Status] {
			return order[a.Status] < order[b.Status]
		}
		if a.Family != b.Family {
			return a.Family < b.Family
		}
		if a.DisplayName != b.DisplayName {
			return a.DisplayName < b.DisplayName
		}
		return a.GraphID < b.GraphID
	})
}

func mapOf(entries []*driftEntry) map[string]*driftEntry {
	m := make(map[string]*driftEntry, len(entries))
	for _, e := range entries {
		m[driftKey(e.family, e.graphID)] = e
	}
	return m
}

func (s *Service) setEntries(ctx context.Context, setID int64) (map[string]*driftEntry, error) {
	items, err := store.ListBackupItems(ctx, s.db.Pool, setID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*driftEntry, len(items))
	for _, it := range items {
		out[driftKey(it.Family, it.GraphID)] = &driftEntry{family: it.Family, policyType: it.PolicyType, graphID: it.GraphID,
			name: it.DisplayName, hash: it.PayloadHash, sensitive: it.Sensitive}
	}
	return out, nil
}

// loadPayloads fills the payloads of entries that have none yet.
func (s *Service) loadPayloads(ctx context.Context, entries map[string]*driftEntry) error {
	var hashes []string
	for _, e := range entries {
		if e.payload == nil {
			hashes = append(hashes, e.hash)
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	payloads, err := store.BackupPayloads(ctx, s.db.Pool, hashes)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.payload == nil {
			e.payload = payloads[e.hash]
		}
	}
	return nil
}
