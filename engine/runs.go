package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/store"
)

// GetRun returns a run the actor may view. A run of another workspace is ErrNotFound; one whose type
// the actor's role may not view is ErrForbidden.
func (s *Service) GetRun(ctx context.Context, actor Actor, runID int64) (store.Run, error) {
	// Every dashboard showing the run reads it again when it changes: the dashboards that ask at once
	// share one read of the run and of their users' roles, and each is authorized with its own.
	got, err := s.shared.runs.do(ctx, runID, sharedUser(actor), func(ctx context.Context, users []int64) (runRead, error) {
		run, roles, err := store.GetRunWithRoles(ctx, s.db, runID, users)
		return runRead{run: run, roles: roles}, err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, notFoundf("run %d", runID)
	}
	if err != nil {
		return store.Run{}, err
	}
	if err := s.authorizeRunViewAs(actor, got.run.ID, got.run.Type, got.roles[actor.UserID]); err != nil {
		return store.Run{}, err
	}
	return got.run.Clone(), nil
}

// sharedUser is the user a shared read brings the access of for actor: 0 for the engine and the
// scheduler, which need none.
func sharedUser(actor Actor) int64 {
	if actor.isUser() {
		return actor.UserID
	}
	return 0
}

// RunQuery filters ListRuns and CountRuns. Zero fields do not filter.
type RunQuery struct {
	WorkspaceID int64
	TenantID    int64
	Types       []string
	Statuses    []store.Status
	Outcomes    []store.Outcome
	ReasonCode  string
	Search      string
	BeforeID    int64
	Limit       int
}

// runFilter turns q into a store filter limited to what the actor may view: its workspaces, and in
// each only the run types its role may view.
func (s *Service) runFilter(ctx context.Context, actor Actor, q RunQuery) (store.RunFilter, bool, error) {
	if err := checkText("search", q.Search, "reason code", q.ReasonCode, "type", strings.Join(q.Types, ","),
		"status", joined(q.Statuses), "outcome", joined(q.Outcomes)); err != nil {
		return store.RunFilter{}, false, err
	}
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return store.RunFilter{}, false, err
	}
	f := store.RunFilter{TenantID: q.TenantID, Types: q.Types, Statuses: q.Statuses, Outcomes: q.Outcomes,
		ReasonCode: q.ReasonCode, Search: q.Search, BeforeID: q.BeforeID, Limit: q.Limit}
	ids := make([]int64, 0, len(roles))
	for w := range roles {
		ids = append(ids, w)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, w := range ids {
		if q.WorkspaceID != 0 && q.WorkspaceID != w {
			continue
		}
		types := typesViewableWith(roles[w])
		if len(types) == 0 {
			continue
		}
		f.Scopes = append(f.Scopes, store.RunScope{WorkspaceID: w, Types: types})
	}
	return f, len(f.Scopes) > 0, nil
}

// ListRuns returns one page of the runs the actor may view, newest first.
func (s *Service) ListRuns(ctx context.Context, actor Actor, q RunQuery) ([]store.Run, error) {
	f, any, err := s.runFilter(ctx, actor, q)
	if err != nil || !any {
		return nil, err
	}
	return store.ListRuns(ctx, s.db.Pool, f)
}

// CountRuns counts the runs the actor may view by status and outcome ("queued", "running",
// "succeeded", "failed", …), ignoring q's status and outcome filters: the operations screen's tabs.
func (s *Service) CountRuns(ctx context.Context, actor Actor, q RunQuery) (map[string]int64, error) {
	f, any, err := s.runFilter(ctx, actor, q)
	if err != nil || !any {
		return map[string]int64{}, err
	}
	return store.CountRuns(ctx, s.db.Pool, f)
}

// RunEvents returns a run's timeline and log after afterID, oldest first.
func (s *Service) RunEvents(ctx context.Context, actor Actor, f store.EventFilter) ([]store.RunEvent, error) {
	if err := checkText("search", f.Search); err != nil {
		return nil, err
	}
	// The run's access and its events come in one round trip, shared by the dashboards that ask for
	// the same lines at once (a hundred watching one run ask at every new line); the events leave only
	// once each caller's own access is checked, with the same rule and errors as GetRun.
	key := fmt.Sprintf("%d/%d/%v/%v/%q/%d", f.RunID, f.AfterID, f.Kinds, f.MinLevels, f.Search, f.Limit)
	got, err := s.shared.events.do(ctx, key, sharedUser(actor), func(ctx context.Context, users []int64) (runEventsRead, error) {
		acc, events, err := store.RunEventsWithAccess(ctx, s.db, users, f)
		return runEventsRead{acc: acc, events: events}, err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("run %d", f.RunID)
	}
	if err != nil {
		return nil, err
	}
	if err := s.authorizeRunViewAs(actor, f.RunID, got.acc.Type, got.acc.Roles[actor.UserID]); err != nil {
		return nil, err
	}
	return store.CloneEvents(got.events), nil
}

// ParseRunState reads a run-state name as what it filters on: a status (queued, running,
// completed) or an outcome (succeeded, partially_succeeded, failed, blocked, cancelled). Exactly one
// of the two is set; an unknown name is an invalid request.
func ParseRunState(name string) (store.Status, store.Outcome, error) {
	if st := store.Status(name); slices.Contains(store.Statuses, st) {
		return st, "", nil
	}
	if oc := store.Outcome(name); slices.Contains(store.Outcomes, oc) {
		return "", oc, nil
	}
	return "", "", fmt.Errorf("%w: unknown run state %q (expected queued, running, completed, succeeded, partially_succeeded, failed, blocked or cancelled)",
		ErrInvalid, name)
}

// joined is a list of states as one comma-separated text (for checkText).
func joined[S ~string](list []S) string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return strings.Join(out, ",")
}
