package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/store"
)

// ParseFamilies validates a list of Intune family names (empty: every family); an unknown one is
// an invalid request.
func ParseFamilies(names []string) ([]graph.Family, error) {
	fs, err := intune.ParseFamilies(names)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return fs, nil
}

// StartBackup starts a manual backup of a tenant (backup.run): a new run per call. families limits
// it to some Intune families (empty: all).
func (s *Service) StartBackup(ctx context.Context, actor Actor, tenantRef string, tenantID int64, families []string) (StartResult, error) {
	fs, err := ParseFamilies(families)
	if err != nil {
		return StartResult{}, err
	}
	params := map[string]any{}
	if len(families) > 0 {
		names := make([]any, len(fs))
		for i, f := range fs {
			names[i] = string(f)
		}
		params["families"] = names
	}
	return s.Start(ctx, actor, StartRequest{Type: TypeBackupRun, TenantRef: tenantRef, TenantID: tenantID, Params: params})
}

// BackupQuery filters ListBackupSets. Zero fields do not filter.
type BackupQuery struct {
	TenantID   int64
	ScheduleID int64
	Status     string
	BeforeID   int64
	Limit      int
}

// ListBackupSets returns the sets of workspaces where the actor may browse backups, newest first.
func (s *Service) ListBackupSets(ctx context.Context, actor Actor, q BackupQuery) ([]store.BackupSet, error) {
	ids, err := s.workspacesWith(ctx, actor, access.BackupRun)
	if err != nil || len(ids) == 0 {
		return []store.BackupSet{}, err
	}
	sets, err := store.ListBackupSets(ctx, s.db.Pool, store.BackupSetFilter{WorkspaceIDs: ids, TenantID: q.TenantID,
		ScheduleID: q.ScheduleID, Status: q.Status, BeforeID: q.BeforeID, Limit: q.Limit})
	if sets == nil {
		sets = []store.BackupSet{}
	}
	return sets, err
}

// BackupSetView is a set with its items (payloads are not included).
type BackupSetView struct {
	store.BackupSet
	Items []store.BackupItem `json:"items"`
}

// GetBackupSet returns a set the actor may browse: another workspace's set is not found, a member
// without backup.run is forbidden.
func (s *Service) GetBackupSet(ctx context.Context, actor Actor, id int64) (BackupSetView, error) {
	set, err := s.backupSet(ctx, actor, id)
	if err != nil {
		return BackupSetView{}, err
	}
	items, err := store.ListBackupItems(ctx, s.db.Pool, id)
	if items == nil {
		items = []store.BackupItem{}
	}
	hideSensitiveHashes(items)
	return BackupSetView{BackupSet: set, Items: items}, err
}

// BackupItemPayload returns one item's payload with every value redacted when the item is
// sensitive.
func (s *Service) BackupItemPayload(ctx context.Context, actor Actor, setID int64, graphID string) (json.RawMessage, error) {
	if _, err := s.backupSet(ctx, actor, setID); err != nil {
		return nil, err
	}
	items, err := store.ListBackupItems(ctx, s.db.Pool, setID)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.GraphID != graphID {
			continue
		}
		payloads, err := store.BackupPayloads(s.payloadCtx(ctx), s.db.Pool, []string{it.PayloadHash})
		if err != nil {
			return nil, err
		}
		raw := payloads[it.PayloadHash]
		if !it.Sensitive {
			return raw, nil
		}
		v, err := intune.DecodeJSON(raw)
		if err != nil {
			return nil, err
		}
		return intune.CanonicalJSON(redactValues(v))
	}
	return nil, notFoundf("item %s in backup set %d", graphID, setID)
}

// redactValues replaces every leaf value (keeping the shape and @odata.type) with intune.Redacted.
func redactValues(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "@odata.type" {
				continue
			}
			x[k] = redactValues(val)
		}
		return x
	case []any:
		for i := range x {
			x[i] = redactValues(x[i])
		}
		return x
	case nil:
		return nil
	}
	return intune.Redacted
}

// payloadCtx is ctx carrying the sealer for sensitive backup payloads (store.WithPayloadSealer):
// every path that writes or reads payloads (runs, previews, diffs, item views) goes through it.
func (s *Service) payloadCtx(ctx context.Context) context.Context {
	if s.sealer == nil {
		return ctx
	}
	return store.WithPayloadSealer(ctx, s.sealer)
}

// hideSensitiveHashes blanks the payload key of sensitive items in a view: it is derived from their
// content, secrets included, and would let a reader check a guessed secret offline.
func hideSensitiveHashes(items []store.BackupItem) {
	for i := range items {
		if items[i].Sensitive {
			items[i].PayloadHash = ""
		}
	}
}
