package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

const legacyJSON = `{
  "inventory_sync_runs": [
    {"id": "inv-1", "tenant": "contoso", "status": "Failed", "started_at": "2025-06-01T02:00:00Z", "finished_at": "2025-06-01T02:03:00Z",
     "items_total": 120, "items_failed": 120,
     "failure_reason": "Forbidden: Application must have one of the following scopes: DeviceManagementConfiguration.Read.All"},
    {"id": "inv-2", "tenant": "contoso", "status": "Succeeded", "started_at": "2025-06-02T02:00:00Z", "finished_at": "2025-06-02T02:01:00Z"}
  ],
  "group_sync_runs": [
    {"id": "grp-1", "tenant": "6e0c1a2b-0000-4000-8000-00000000aaaa", "status": "Error", "failure_reason": "TooManyRequests (429)"},
    {"id": "grp-2", "tenant": "gone-tenant", "status": "Error", "failure_reason": "Flux capacitor misaligned"}
  ],
  "backup_schedule_runs": [
    {"id": "bk-1", "tenant": "contoso", "status": "Canceled", "failure_reason": "canceled by operator"}
  ]
}`

const legacyCSV = `source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason
group_sync,g-9,contoso,Failed,2025-06-03T01:00:00Z,,10,10,"AADSTS7000222: The provided client secret keys are expired"
backup_schedule,b-9,contoso,Completed,2025-06-03 03:00:00,2025-06-03 03:05:00,40,0,
`

func TestLegacyParseAndMap(t *testing.T) {
	t.Parallel()
	recs, err := engine.ParseLegacy([]byte(legacyJSON), "")
	require.NoError(t, err)
	require.Len(t, recs, 5)
	recs, err = engine.ParseLegacy([]byte(legacyCSV), "")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.EqualValues(t, 10, *recs[0].ItemsTotal)

	for name, bad := range map[string]struct{ data, format, msg string }{
		"NotJSON":        {`{"inventory_sync_runs": [`, "json", "expected a JSON object"},
		"UnknownSection": {`{"printer_runs": []}`, "json", `unknown section "printer_runs"`},
		"BadSource":      {`[{"source": "printers", "id": "1"}]`, "json", `row 1: source "printers"`},
		"MissingID":      {`[{"source": "group_sync"}]`, "json", "row 1: the id is empty"},
		"BadTime":        {`[{"source": "group_sync", "id": "1", "started_at": "yesterday"}]`, "json", `started_at "yesterday" is not a time`},
		"CSVNoHeader":    {"a,b\n1,2\n", "csv", `lacks "source"`},
		"CSVBadNumber":   {"source,id,status,items_total\ngroup_sync,1,ok,many\n", "csv", `items_total "many" is not a number`},
		"BadFormat":      {`[]`, "xml", `format "xml"`},
	} {
		_, err := engine.ParseLegacy([]byte(bad.data), bad.format)
		require.ErrorIs(t, err, engine.ErrInvalid, name)
		require.ErrorContains(t, err, bad.msg, name)
	}
}

func TestLegacyImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	data := []byte(legacyJSON)
	recs, err := engine.ParseLegacy([]byte(strings.ReplaceAll(string(data), "contoso", tenant.Name)), "")
	require.NoError(t, err)

	res, err := b.svc.ImportLegacy(ctx, b.admin, "", recs)
	require.NoError(t, err)
	require.EqualValues(t, 5, res.Imported)
	require.Equal(t, 1, res.Unmapped)
	again, err := b.svc.ImportLegacy(ctx, b.admin, "", recs)
	require.NoError(t, err)
	require.EqualValues(t, 0, again.Imported, "re-import skips what is there")
	require.EqualValues(t, 5, again.Skipped)

	rows, err := b.svc.ListLegacyRuns(ctx, b.admin, store.LegacyFilter{})
	require.NoError(t, err)
	require.Len(t, rows, 5)
	byID := map[string]store.LegacyRun{}
	for _, r := range rows {
		byID[r.LegacyID] = r
	}
	require.Equal(t, "provider_permission_denied", deref(byID["inv-1"].ReasonCode))
	require.Equal(t, store.OutcomeFailed, deref(byID["inv-1"].Outcome))
	require.Equal(t, tenant.ID, deref(byID["inv-1"].TenantID), "matched by name")
	require.Nil(t, byID["grp-2"].ReasonCode, "an unknown reason is kept verbatim, unmapped")
	require.Equal(t, "Flux capacitor misaligned", byID["grp-2"].LegacyReason)
	require.Nil(t, byID["grp-2"].TenantID)
	require.Equal(t, "gone-tenant", byID["grp-2"].TenantRef)
	require.Equal(t, store.OutcomeCancelled, deref(byID["bk-1"].Outcome))

	rita := b.addUser(t, "rita", "readonly")
	_, err = b.svc.ImportLegacy(ctx, rita, "", recs)
	require.ErrorIs(t, err, engine.ErrForbidden)
	visible, err := b.svc.ListLegacyRuns(ctx, rita, store.LegacyFilter{})
	require.NoError(t, err)
	require.Len(t, visible, 5, "readonly members may read the history")
	stranger := b.addUser(t, "stranger", "")
	visible, err = b.svc.ListLegacyRuns(ctx, stranger, store.LegacyFilter{})
	require.NoError(t, err)
	require.Empty(t, visible)
}

// TestEngineNeverWritesLegacyHistory runs the engine through successes, failures, cancels and a
// restart with imported history present, and finds the history byte for byte unchanged.
func TestEngineNeverWritesLegacyHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	recs, err := engine.ParseLegacy([]byte(legacyJSON), "")
	require.NoError(t, err)
	_, err = b.svc.ImportLegacy(ctx, b.admin, "", recs)
	require.NoError(t, err)
	snapshot := func() string {
		var s string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(l::text, '|' ORDER BY id), '') FROM legacy_runs l`).Scan(&s))
		return s
	}
	before := snapshot()

	e := b.startEngine(t, engine.Config{})
	w := b.defaultWorkspace(t)
	var ids []int64
	for _, params := range []map[string]any{{"steps": "2"}, {"fail": "true", "steps": "1"}, {"blocked": "true", "steps": "1"}, {"duration": "5s"}} {
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID, Params: params})
		require.NoError(t, err)
		ids = append(ids, res.Run.ID)
	}
	_, err = b.svc.Cancel(ctx, b.admin, ids[3])
	require.NoError(t, err)
	for _, id := range ids {
		b.waitRun(t, id, completed)
	}
	e.Stop()
	require.Equal(t, before, snapshot())

	// Raw SQL on purpose: the read-only triggers must refuse any writer, not just the store's.
	_, err = b.db.Pool.Exec(ctx, `UPDATE legacy_runs SET status = 'rewritten'`)
	require.ErrorContains(t, err, "read-only")
	_, err = b.db.Pool.Exec(ctx, `DELETE FROM legacy_runs`)
	require.ErrorContains(t, err, "read-only")
	require.Equal(t, before, snapshot())
}

// TestRemoveTenantKeepsItsLegacyHistory removes a tenant whose imported history names it: the
// removal goes through (it was refused by the read-only trigger before migration 00028), every
// legacy run is kept byte for byte except the cleared tenant link, it still names the tenant as the
// old tracker did, and any other rewrite of the history is still refused.
func TestRemoveTenantKeepsItsLegacyHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)
	recs, err := engine.ParseLegacy([]byte(strings.ReplaceAll(legacyJSON, "contoso", tenant.Name)), "")
	require.NoError(t, err)
	_, err = b.svc.ImportLegacy(ctx, b.admin, "", recs)
	require.NoError(t, err)
	snapshot := func() string {
		var s string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT string_agg((to_jsonb(l) - 'tenant_id')::text, '|' ORDER BY id) FROM legacy_runs l`).Scan(&s))
		return s
	}
	before := snapshot()

	_, err = b.svc.RemoveTenant(ctx, b.admin, engine.RemoveTenantRequest{TenantRef: tenant.Name, Confirm: tenant.Name})
	require.NoError(t, err)

	require.Equal(t, before, snapshot(), "nothing but the tenant link changed")
	rows, err := b.svc.ListLegacyRuns(ctx, b.admin, store.LegacyFilter{})
	require.NoError(t, err)
	require.Len(t, rows, 5)
	for _, r := range rows {
		require.Nil(t, r.TenantID, r.LegacyID)
		require.NotEmpty(t, r.TenantRef, "%s still names its tenant", r.LegacyID)
	}

	tests := []struct{ name, sql string }{
		{name: "Rewrite", sql: `UPDATE legacy_runs SET status = 'rewritten'`},
		{name: "ReLink", sql: `UPDATE legacy_runs SET tenant_id = (SELECT min(id) FROM tenants)`},
		{name: "Delete", sql: `DELETE FROM legacy_runs`},
	}
	for _, tt := range tests {
		_, err := b.db.Pool.Exec(ctx, tt.sql)
		require.ErrorContains(t, err, "read-only", tt.name)
	}
	require.Equal(t, before, snapshot())
}
