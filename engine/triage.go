package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// Triage is what needs attention now (the dashboard's home).
type Triage struct {
	Connections []store.ConnectionProblem `json:"connections"`
	Problems    []store.ReasonGroup       `json:"problems"`
	Stuck       []store.Run               `json:"stuck"`
	Hourly      []store.HourlyCount       `json:"hourly"`
	Active      map[store.Status]int64    `json:"active"`
	Since       time.Time                 `json:"since"`
	// AliveEngines is how many registered engines heartbeat now (the home screen warns when none
	// does and runs are queued).
	AliveEngines int `json:"alive_engines"`
}

// Stuck thresholds: a running run silent this long, or a queued run waiting this long.
const (
	StuckHeartbeatAge = time.Minute
	StuckQueuedAge    = 5 * time.Minute
)

// Triage gathers the home screen: blocked connections with the missing permissions named, failed
// and blocked runs of the last 24 hours (whole hours, from Since) grouped by reason code, stuck runs, and runs per hour.
func (s *Service) Triage(ctx context.Context, actor Actor, now time.Time) (Triage, error) {
	// The window is 24 whole hours, the current one included: what the runs-per-hour rollup counts and
	// the home's sparkline draws.
	out := Triage{Since: now.UTC().Truncate(time.Hour).Add(-23 * time.Hour), Active: map[store.Status]int64{}}
	f, any, err := s.runFilter(ctx, actor, RunQuery{})
	if err != nil || !any {
		return out, err
	}
	var workspaces []int64
	for _, sc := range f.Scopes {
		workspaces = append(workspaces, sc.WorkspaceID)
	}
	// The reads are independent: run them side by side so the home screen's first frame waits
	// for the slowest, not the sum.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	wg.Go(func() { out.Connections, errs[0] = store.ConnectionProblems(ctx, s.db.Pool, workspaces) })
	wg.Go(func() { out.Problems, errs[1] = store.ProblemRunsByReason(ctx, s.db.Pool, f, out.Since) })
	wg.Go(func() { out.Stuck, errs[2] = store.StuckRuns(ctx, s.db.Pool, f, StuckHeartbeatAge, StuckQueuedAge) })
	wg.Go(func() { out.Hourly, errs[3] = store.HourlyOutcomes(ctx, s.db.Pool, f, out.Since) })
	var runs []store.Run
	wg.Go(func() {
		active := f
		active.Statuses = []store.Status{store.StatusQueued, store.StatusRunning}
		runs, errs[4] = store.ListRuns(ctx, s.db.Pool, active)
	})
	wg.Go(func() { out.AliveEngines, errs[5] = s.AliveEngines(ctx) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	for _, r := range runs {
		out.Active[r.Status]++
	}
	return out, nil
}
