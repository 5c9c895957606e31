package tui

import (
	"context"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// The backup screens (backups, schedules, drift, inventory) read PostgreSQL through engine.Service;
// sensitive sets carry the "sensitive" badge and their values never reach a view.

var backupsKeys = struct{ Diff, Inventory, Schedules key.Binding }{
	Diff:      binding("enter", "drift vs previous set"),
	Inventory: binding("i", "drift vs inventory"),
	Schedules: binding("s", "schedules"),
}

type backupsList = listScreen[store.BackupSet, struct{}]

// newBackups lists backup sets, newest first: of all tenants, of one tenant, or of one schedule.
func newBackups(env *Env, tenantID, scheduleID int64, title string) *backupsList {
	if title == "" {
		title = "Backups"
	}
	return newList(env, listSpec[store.BackupSet, struct{}]{
		title:    title,
		relevant: func(n store.Notification) bool { return n.Table == store.TableBackupSets },
		fetch: func(ctx context.Context, env *Env, _ listQuery[store.BackupSet]) ([]store.BackupSet, struct{}, error) {
			rows, err := env.Svc.ListBackupSets(ctx, env.Actor, engine.BackupQuery{TenantID: tenantID, ScheduleID: scheduleID, Limit: 500})
			return rows, struct{}{}, err
		},
		columns: func(int) []column {
			return []column{{title: "SET", width: 5}, {title: "TENANT", width: 10, flex: true}, {title: "SCHEDULE", width: 10, flex: true},
				{title: "STATUS", width: 11}, {title: "ITEMS", width: 5}, {title: "NEW", width: 9}, {title: "", width: 11}, {title: "AGE", width: 4}}
		},
		row: func(env *Env, now time.Time, b store.BackupSet) []string {
			sens := ""
			if b.Sensitive {
				sens = env.Badge("sensitive")
			}
			sched := b.ScheduleName
			if sched == "" {
				sched = "manual"
			}
			return []string{fmt.Sprint(b.ID), b.TenantName, sched, env.Badge(backupBadgeKey(b)),
				fmt.Sprint(b.ItemCount), b.NewSize(), sens, ago(now, b.CreatedAt)}
		},
		head: func(l *backupsList) string {
			return l.env.Theme.Header.Render(fmt.Sprintf("%d backup set(s)", len(l.shown)))
		},
		empty: func(*backupsList) string {
			return "  No backups yet. Press b on a tenant, run `tenantatlas backups run TENANT`, or add a schedule."
		},
		actions: []listAction[store.BackupSet, struct{}]{
			{key: backupsKeys.Diff, run: func(l *backupsList) tea.Cmd {
				cur, ok := l.current()
				if !ok {
					return nil
				}
				prev := previousSet(l.shown, l.table.cursor)
				if prev == nil {
					return flash(fmt.Sprintf("set %d is the oldest complete set of %s: press i to compare it with the inventory", cur.ID, cur.TenantName))
				}
				return navigate(newDrift(l.env, prev.ID, cur.ID))
			}},
			{key: backupsKeys.Inventory, run: func(l *backupsList) tea.Cmd {
				if cur, ok := l.current(); ok {
					return navigate(newDrift(l.env, cur.ID, 0))
				}
				return nil
			}},
			{key: backupsKeys.Schedules, run: func(l *backupsList) tea.Cmd { return navigate(newSchedules(l.env)) }},
		},
	})
}

// previousSet is the newest complete set of the same tenant older than sets[i] (sets are newest first).
func previousSet(sets []store.BackupSet, i int) *store.BackupSet {
	for j := i + 1; j < len(sets); j++ {
		if sets[j].TenantID == sets[i].TenantID && sets[j].Status == store.BackupComplete {
			return &sets[j]
		}
	}
	return nil
}

func backupBadgeKey(b store.BackupSet) string {
	switch b.State() {
	case string(store.OutcomeCancelled):
		return string(store.OutcomeCancelled)
	case store.BackupComplete:
		return string(store.OutcomeSucceeded)
	case store.BackupFailed:
		return string(store.OutcomeFailed)
	}
	return string(store.StatusRunning)
}
