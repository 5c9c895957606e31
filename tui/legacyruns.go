package tui

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

type legacyList = listScreen[store.LegacyRun, struct{}]

// newLegacyRuns is the operations screen's Legacy tab: the imported history, read-only, its reasons
// mapped onto the taxonomy or shown verbatim. It searches with the operations screen's filter, so a
// search survives switching tabs, and is drawn under the tabs line.
func newLegacyRuns(env *Env, tenantID int64, filter *filterField) *legacyList {
	l := newList(env, listSpec[store.LegacyRun, struct{}]{
		title: "Legacy",
		fetch: func(ctx context.Context, env *Env, q listQuery[store.LegacyRun]) ([]store.LegacyRun, struct{}, error) {
			rows, err := env.Svc.ListLegacyRuns(ctx, env.Actor, store.LegacyFilter{TenantID: tenantID, Search: q.search, Limit: 500})
			// Newest start first, as the STARTED column reads (the import's order is not the runs').
			slices.SortStableFunc(rows, func(a, b store.LegacyRun) int {
				return cmp.Compare(deref(b.StartedAt).UnixNano(), deref(a.StartedAt).UnixNano())
			})
			return rows, struct{}{}, err
		},
		search: true,
		above:  1,
		columns: func(int) []column {
			return []column{{title: "LEGACY ID", width: 10}, {title: "SOURCE", width: 15}, {title: "TENANT", width: 10},
				{title: "STATUS", width: 12}, reasonColumn(0), {title: "STARTED", width: 16}}
		},
		row: func(env *Env, _ time.Time, l store.LegacyRun) []string {
			status := env.Badge("legacy") + " " + l.Status
			if l.Outcome != nil {
				status = env.Badge(string(*l.Outcome))
			}
			why := dashIfEmpty(deref(l.ReasonCode))
			if l.ReasonCode == nil && l.LegacyReason != "" {
				why = env.Theme.Dim.Render("unmapped: ") + l.LegacyReason
			}
			tenant := l.TenantName
			if tenant == "" {
				tenant = l.TenantRef
			}
			started := "-"
			if l.StartedAt != nil {
				started = l.StartedAt.Local().Format("2006-01-02 15:04")
			}
			return []string{l.LegacyID, l.Source, dashIfEmpty(tenant), status, why, started}
		},
		empty: func(*legacyList) string {
			return "  no legacy history (import it with `tenantatlas legacy import FILE`)"
		},
	})
	l.filter = filter
	return l
}
