package tui

import (
	"context"
	"encoding/json"
	"fmt"
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
				{title: "TARGET", width: 14}, {title: "DETAILS", width: 10, flex: true}}
		},
		row: func(_ *Env, _ time.Time, e store.AuditEvent) []string {
			details, _ := json.Marshal(e.Details)
			return []string{e.At.Local().Format("01-02 15:04:05"), e.ActorName, e.Action,
				fmt.Sprintf("%s %s", e.TargetKind, e.TargetID), string(details)}
		},
		empty: func(*listScreen[store.AuditEvent, struct{}]) string {
			return "  no audit events you may see (the audit log needs the tenant.manage capability)"
		},
	})
}
