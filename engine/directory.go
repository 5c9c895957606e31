package engine

import (
	"context"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// CacheStaleAfter is when a tenant's cached directory data counts as stale.
const CacheStaleAfter = 24 * time.Hour

// DirectoryCache is what the dashboard shows about a tenant's cached groups and role definitions.
type DirectoryCache struct {
	Groups          store.SyncState `json:"groups"`
	RoleDefinitions store.SyncState `json:"role_definitions"`
}

// Freshness is "never", "stale" or "fresh" for a sync state.
func Freshness(s store.SyncState, now time.Time) string {
	switch {
	case s.SyncedAt == nil:
		return "never"
	case now.Sub(*s.SyncedAt) > CacheStaleAfter:
		return "stale"
	}
	return "fresh"
}

// SearchGroups searches a tenant's cached groups (DB only; fresh data comes from a sync run).
func (s *Service) SearchGroups(ctx context.Context, actor Actor, tenantID int64, tenantRef string, q store.GroupQuery) ([]store.Group, error) {
	if err := checkText("search", q.Search, "group", q.AfterName+q.AfterID); err != nil {
		return nil, err
	}
	t, err := s.tenantForView(ctx, actor, tenantID, tenantRef)
	if err != nil {
		return nil, err
	}
	q.TenantID = t.ID
	return store.SearchGroups(ctx, s.db.Pool, q)
}

// GroupLabels resolves group ids to cached groups for labels (assignments, restore mappings). Ids
// missing from the cache are absent from the map: the caller says so and offers a sync.
func (s *Service) GroupLabels(ctx context.Context, actor Actor, tenantID int64, ids []string) (map[string]store.Group, error) {
	if err := checkText("group id", strings.Join(ids, ",")); err != nil {
		return nil, err
	}
	t, err := s.tenantForView(ctx, actor, tenantID, "")
	if err != nil {
		return nil, err
	}
	return store.GroupNames(ctx, s.db.Pool, t.ID, ids)
}

// RoleDefinitions lists a tenant's cached role definitions matching search.
func (s *Service) RoleDefinitions(ctx context.Context, actor Actor, tenantID int64, tenantRef, search string, includeDeleted bool) ([]store.RoleDefinition, error) {
	if err := checkText("search", search); err != nil {
		return nil, err
	}
	t, err := s.tenantForView(ctx, actor, tenantID, tenantRef)
	if err != nil {
		return nil, err
	}
	return store.SearchRoleDefinitions(ctx, s.db.Pool, t.ID, search, includeDeleted, 1000)
}

// DirectoryCacheState returns when a tenant's groups and role definitions were last synced.
func (s *Service) DirectoryCacheState(ctx context.Context, actor Actor, tenantID int64) (DirectoryCache, error) {
	t, err := s.tenantForView(ctx, actor, tenantID, "")
	if err != nil {
		return DirectoryCache{}, err
	}
	var out DirectoryCache
	if out.Groups, err = store.GetSyncState(ctx, s.db.Pool, t.ID, store.CollectionGroups); err != nil {
		return out, err
	}
	out.RoleDefinitions, err = store.GetSyncState(ctx, s.db.Pool, t.ID, store.CollectionRoleDefinitions)
	return out, err
}
