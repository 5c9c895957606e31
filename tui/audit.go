package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// newAudit is the audit log, newest first.
func newAudit(env *Env) *listScreen[store.AuditEvent, struct{}] {
	return newList(env, listSpec[store.AuditEvent, struct{}]{
		title: "Audit",
		fetch: func(ctx context.Context, env *Env, _ listQuery[store.AuditEvent]) ([]store.AuditEvent, struct{}, error) {
			rows, err := env.Svc.ListAudit(ctx, env.Actor, store.AuditFilter{Limit: 500})
			return rows, struct{}{}, err
		},
		columns: func(int) []column {
			return []column{{title: "WHEN", width: 14}, {title: "WHO", width: 10}, {title: "ACTION", width: 14},
				{title: "TARGET", width: 14, flex: true}, {title: "DETAILS", width: 10, flex: true}}
		},
		match: func(e store.AuditEvent) string {
			details, _ := json.Marshal(e.Details)
			return e.ActorName + " " + e.Action + " " + e.TargetKind + " " + e.TargetID + " " + string(details)
		},
		describe: func(_ *Env, e store.AuditEvent) [][2]string {
			out := [][2]string{{"when", e.At.Local().Format("2006-01-02 15:04:05")}, {"who", e.ActorKind + " " + e.ActorName},
				{"action", e.Action}, {"target", e.TargetKind + " " + e.TargetID}}
			keys := make([]string, 0, len(e.Details))
			for k := range e.Details {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				v, _ := json.Marshal(e.Details[k])
				out = append(out, [2]string{k, string(v)})
			}
			return out
		},
		actions: []listAction[store.AuditEvent, struct{}]{filterAction[store.AuditEvent, struct{}]("filter")},
		row: func(_ *Env, _ time.Time, e store.AuditEvent) []string {
			details, _ := json.Marshal(e.Details)
			return []string{e.At.Local().Format("01-02 15:04:05"), e.ActorName, e.Action,
				fmt.Sprintf("%s %s", e.TargetKind, e.TargetID), string(details)}
		},
		head: func(l *listScreen[store.AuditEvent, struct{}]) string {
			return withFilter(l, l.env.Theme.Header.Render(fmt.Sprintf("%d event(s)", len(l.shown))))
		},
		empty: func(*listScreen[store.AuditEvent, struct{}]) string {
			return "  no audit events you may see (the audit log needs the tenant.manage capability)"
		},
	})
}
