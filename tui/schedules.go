package tui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var schedulesKeys = struct{ Open, Pause key.Binding }{
	Open:  binding("enter", "its backups"),
	Pause: binding("p", "pause/resume"),
}

// schedulesList lists backup schedules with their next fire times (computed here, from cron + zone).
// Beside them it loads, per workspace, whether the actor holds schedule.manage.
type schedulesList = listScreen[engine.ScheduleView, map[int64]bool]

func newSchedules(env *Env) *schedulesList {
	return newList(env, listSpec[engine.ScheduleView, map[int64]bool]{
		title: "Schedules",
		relevant: func(n store.Notification) bool {
			return n.Table == store.TableSchedules || (n.Table == store.TableRuns && n.Type == engine.TypeBackupScheduled)
		},
		fetch: func(ctx context.Context, env *Env, _ listQuery[engine.ScheduleView]) ([]engine.ScheduleView, map[int64]bool, error) {
			rows, err := env.Svc.ListSchedules(ctx, env.Actor, 0)
			manage := map[int64]bool{}
			for _, r := range rows {
				if _, ok := manage[r.WorkspaceID]; !ok {
					manage[r.WorkspaceID] = env.can(ctx, r.WorkspaceID, access.ScheduleManage)
				}
			}
			return rows, manage, err
		},
		columns: func(int) []column {
			return []column{{title: "NAME", width: 10, flex: true}, {title: "TENANT", width: 10, flex: true}, {title: "CRON", width: 12},
				{title: "ZONE", width: 13}, {title: "KEEP", width: 5}, {title: "NEXT FIRE", width: 18}, {title: "LAST RUN", width: 11}}
		},
		row: scheduleRow,
		head: func(l *schedulesList) string {
			return l.env.Theme.Header.Render(fmt.Sprintf("%d schedule(s)", len(l.shown)))
		},
		empty: func(*schedulesList) string {
			return "  No schedules. Add one with `tenantatlas schedules add --tenant T --name N --cron '0 3 * * *'`."
		},
		actions: []listAction[engine.ScheduleView, map[int64]bool]{
			{key: schedulesKeys.Open, run: func(l *schedulesList) tea.Cmd {
				if r, ok := l.current(); ok {
					return navigate(newBackups(l.env, r.TenantID, r.ID, "Backups of "+r.Name))
				}
				return nil
			}},
			{key: schedulesKeys.Pause, offered: func(l *schedulesList) bool { return slices.Contains(slices.Collect(maps.Values(l.side)), true) },
				run: func(l *schedulesList) tea.Cmd {
					if r, ok := l.current(); ok && l.side[r.WorkspaceID] {
						return togglePause(l.env, r)
					}
					return nil // not offered for this schedule's workspace
				}},
		},
	})
}

func scheduleRow(env *Env, now time.Time, r engine.ScheduleView) []string {
	next := env.Badge("paused")
	if !r.Paused {
		next = "-"
		if spec, err := engine.ParseCronSpec(r.Cron, r.Timezone); err == nil {
			if at := spec.Next(now); !at.IsZero() {
				next = at.In(spec.Location).Format("01-02 15:04") + " in " + compact(at.Sub(now))
			}
		}
	}
	keep := "all"
	switch {
	case r.KeepCount != nil && r.KeepDays != nil:
		keep = fmt.Sprintf("%d/%dd", *r.KeepCount, *r.KeepDays)
	case r.KeepCount != nil:
		keep = fmt.Sprint(*r.KeepCount)
	case r.KeepDays != nil:
		keep = fmt.Sprintf("%dd", *r.KeepDays)
	}
	last := "-"
	if r.LastRun != nil {
		last = env.RunBadge(*r.LastRun)
		if r.LastRun.IsLate {
			last += " " + env.Badge("late")
		}
	}
	return []string{r.Name, r.Target(), r.Cron, r.Timezone, keep, next, last}
}

// togglePause pauses a running schedule or resumes a paused one, saying which in the status line.
func togglePause(c *Env, r engine.ScheduleView) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		ref := fmt.Sprint(r.ID)
		var err error
		if r.Paused {
			_, err = c.Svc.ResumeSchedule(ctx, c.Actor, ref)
		} else {
			_, err = c.Svc.PauseSchedule(ctx, c.Actor, ref)
		}
		if err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		verb := "paused"
		if r.Paused {
			verb = "resumed"
		}
		return flashMsg{text: fmt.Sprintf("schedule %s %s", r.Name, verb)}
	}
}
