package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/internal/buildinfo"
	"github.com/tenantatlas/tenantatlas/store"
)

var enginesKeys = struct{ All key.Binding }{
	All: binding("a", "show stopped"),
}

// enginesList is the fleet's pulse: the registered engines, and beside them the queue depths, runs
// per minute and throttled tenants (docs/operations.md#engines).
type enginesList = listScreen[store.EngineRecord, engine.EnginesView]

func newEngines(env *Env) *enginesList {
	return newList(env, listSpec[store.EngineRecord, engine.EnginesView]{
		title: "Engines",
		relevant: func(n store.Notification) bool {
			// Heartbeats do not notify; runs starting and finishing move the queues.
			return n.Table == store.TableRuns && (n.Op == "insert" || n.Status != string(store.StatusRunning))
		},
		fetch: func(ctx context.Context, env *Env, q listQuery[store.EngineRecord]) ([]store.EngineRecord, engine.EnginesView, error) {
			v, err := env.Svc.Engines(ctx, env.Actor, q.deleted)
			return v.Engines, v, err
		},
		columns: func(int) []column {
			return []column{{title: "NAME", width: 14, flex: true}, {title: "STATE", width: 10}, {title: "VERSION", width: 12, flex: true},
				{title: "STARTED", width: 9}, {title: "HEARTBEAT", width: 9}, {title: "JOBS", width: 4}, {title: "QUEUES", width: 10, flex: true}}
		},
		row: func(env *Env, now time.Time, e store.EngineRecord) []string {
			return []string{e.Name, env.Badge("engine:" + e.State), e.Version, ago(now, e.StartedAt), ago(now, e.HeartbeatAt),
				fmt.Sprint(e.JobsRunning), strings.Join(e.Queues, ",")}
		},
		match: func(e store.EngineRecord) string { return e.Name + " " + e.Host + " " + e.Version },
		head: func(l *enginesList) string {
			t := l.env.Theme
			alive := 0
			for _, e := range l.all {
				if e.Alive() {
					alive++
				}
			}
			return t.Header.Render(fmt.Sprintf("%d alive", alive)) + t.Dim.Render(fmt.Sprintf(" · %d queued · %.1f runs/min · stale after %s · this dashboard %s",
				l.side.QueuedRuns, l.side.RunsPerMinute, l.side.StaleAfter, buildinfo.Get().Short()))
		},
		empty: func(l *enginesList) string {
			return "  No engine registered. Start one with `tenantatlas engine` (or `tenantatlas serve`)."
		},
		below: func(l *enginesList, width int) []string {
			t := l.env.Theme
			lines := []string{t.Header.Render("QUEUE          WAITING  RUNNING")}
			if len(l.side.Queues) == 0 {
				lines = append(lines, t.Dim.Render("  no jobs waiting or running"))
			}
			for _, q := range l.side.Queues {
				lines = append(lines, fit(fmt.Sprintf("%-14s %7d  %7d", q.Queue, q.Waiting, q.Running), width))
			}
			if len(l.side.ThrottledTenants) > 0 {
				lines = append(lines, fit(t.Error.Render("throttled (15 min): ")+strings.Join(l.side.ThrottledTenants, ", "), width))
			}
			return lines
		},
		actions: []listAction[store.EngineRecord, engine.EnginesView]{
			filterAction[store.EngineRecord, engine.EnginesView]("filter"),
			deletedAction[store.EngineRecord, engine.EnginesView](enginesKeys.All, "hide stopped"),
		},
	})
}

// newEnginesCmd opens :engines.
func newEnginesCmd(c *Env) tea.Cmd { return navigate(newEngines(c)) }
