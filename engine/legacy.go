package engine

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// LegacyRecord is one exported row of an older per-family run tracker, as `legacy import` reads it
// (see README "Legacy run history" for the file formats).
type LegacyRecord struct {
	Source        string          `json:"source"`
	ID            string          `json:"id"`
	Tenant        string          `json:"tenant"`
	Status        string          `json:"status"`
	StartedAt     string          `json:"started_at"`
	FinishedAt    string          `json:"finished_at"`
	ItemsTotal    *int64          `json:"items_total"`
	ItemsFailed   *int64          `json:"items_failed"`
	FailureReason string          `json:"failure_reason"`
	Details       json.RawMessage `json:"details,omitempty"`
}

// legacySources maps the accepted source names (and the JSON section names) to the stored source.
var legacySources = map[string]string{
	"inventory_sync": store.LegacyInventorySync, "inventory_sync_runs": store.LegacyInventorySync,
	"group_sync": store.LegacyGroupSync, "group_sync_runs": store.LegacyGroupSync,
	"backup_schedule": store.LegacyBackupSchedule, "backup_schedule_runs": store.LegacyBackupSchedule,
}

// ParseLegacy reads a legacy export: JSON ({"inventory_sync_runs": [...], "group_sync_runs": [...],
// "backup_schedule_runs": [...]} or a flat array whose rows name their source) or CSV with the header
// source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason.
// Errors name the row and the field.
func ParseLegacy(data []byte, format string) ([]LegacyRecord, error) {
	if format == "" {
		format = "json"
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' && t[0] != '[' {
			format = "csv"
		}
	}
	var recs []LegacyRecord
	switch format {
	case "json":
		trimmed := bytes.TrimSpace(data)
		if len(trimmed) > 0 && trimmed[0] == '[' {
			if err := json.Unmarshal(trimmed, &recs); err != nil {
				return nil, fmt.Errorf("%w: not a JSON array of legacy runs: %v", ErrInvalid, err)
			}
			break
		}
		var sections map[string][]LegacyRecord
		if err := json.Unmarshal(trimmed, &sections); err != nil {
			return nil, fmt.Errorf("%w: expected a JSON object with inventory_sync_runs, group_sync_runs and backup_schedule_runs arrays: %v", ErrInvalid, err)
		}
		for name, rows := range sections {
			src, ok := legacySources[name]
			if !ok {
				return nil, fmt.Errorf("%w: unknown section %q (expected inventory_sync_runs, group_sync_runs or backup_schedule_runs)", ErrInvalid, name)
			}
			for _, r := range rows {
				r.Source = src
				recs = append(recs, r)
			}
		}
	case "csv":
		var err error
		if recs, err = parseLegacyCSV(data); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: format %q (expected csv or json)", ErrInvalid, format)
	}
	for i, r := range recs {
		src, ok := legacySources[strings.ToLower(strings.TrimSpace(r.Source))]
		if !ok {
			return nil, fmt.Errorf("%w: row %d: source %q (expected inventory_sync, group_sync or backup_schedule)", ErrInvalid, i+1, r.Source)
		}
		recs[i].Source = src
		if strings.TrimSpace(r.ID) == "" {
			return nil, fmt.Errorf("%w: row %d: the id is empty", ErrInvalid, i+1)
		}
		for field, v := range map[string]string{"started_at": r.StartedAt, "finished_at": r.FinishedAt} {
			if _, err := parseLegacyTime(v); err != nil {
				return nil, fmt.Errorf("%w: row %d: %s %q is not a time (RFC 3339, e.g. 2025-06-01T02:00:00Z)", ErrInvalid, i+1, field, v)
			}
		}
	}
	return recs, nil
}

func parseLegacyCSV(data []byte) ([]LegacyRecord, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read the CSV header: %v", ErrInvalid, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"source", "id", "status"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%w: the CSV header lacks %q (expected source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason)", ErrInvalid, need)
		}
	}
	var out []LegacyRecord
	for line := 2; ; line++ {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: CSV line %d: %v", ErrInvalid, line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) {
				return strings.TrimSpace(fields[i])
			}
			return ""
		}
		rec := LegacyRecord{Source: get("source"), ID: get("id"), Tenant: get("tenant"), Status: get("status"),
			StartedAt: get("started_at"), FinishedAt: get("finished_at"), FailureReason: get("failure_reason")}
		for name, dst := range map[string]**int64{"items_total": &rec.ItemsTotal, "items_failed": &rec.ItemsFailed} {
			if v := get(name); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%w: CSV line %d: %s %q is not a number", ErrInvalid, line, name, v)
				}
				*dst = &n
			}
		}
		out = append(out, rec)
	}
}

func parseLegacyTime(s string) (*time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return &t, nil
		}
	}
	return nil, errors.New("not a time")
}

// legacyOutcome maps a legacy status onto an outcome; unknown statuses keep no outcome.
func legacyOutcome(status string) *string {
	var o string
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(status), " ", "")) {
	case "succeeded", "success", "successful", "completed", "complete", "done", "ok":
		o = store.OutcomeSucceeded
	case "partiallysucceeded", "partial", "partialsuccess", "completedwitherrors", "warning":
		o = store.OutcomePartiallySucceeded
	case "failed", "failure", "error", "errored":
		o = store.OutcomeFailed
	case "blocked", "skipped":
		o = store.OutcomeBlocked
	case "cancelled", "canceled", "aborted":
		o = store.OutcomeCancelled
	default:
		return nil
	}
	return &o
}

// legacyReasonPatterns map legacy failure texts onto the reason-code taxonomy, most specific first.
var legacyReasonPatterns = []struct {
	needles []string
	code    reason.Code
}{
	{[]string{"aadsts7000222", "secret expired", "secret has expired"}, reason.ProviderSecretExpired},
	{[]string{"aadsts7000215", "invalid client secret", "aadsts700027", "invalid_client"}, reason.ProviderAuthFailed},
	{[]string{"aadsts700016", "application with identifier", "app not found"}, reason.ProviderAppNotFound},
	{[]string{"aadsts90002", "tenant not found"}, reason.ProviderTenantNotFound},
	{[]string{"admin consent", "consent required", "aadsts65001", "no roles"}, reason.ProviderConsentMissing},
	{[]string{"must have one of the following scopes", "authorization_requestdenied", "insufficient privileges", "forbidden", "403"}, reason.ProviderPermissionDenied},
	{[]string{"license", "not applicable to target tenant"}, reason.ProviderLicenseMissing},
	{[]string{"toomanyrequests", "throttl", "429", "rate limit"}, reason.ProviderThrottled},
	{[]string{"serviceunavailable", "service unavailable", "503", "502", "504", "internalservererror", "500"}, reason.ProviderUnavailable},
	{[]string{"request_resourcenotfound", "resourcenotfound", "404", "does not exist"}, reason.ProviderNotFound},
	{[]string{"modelvalidationfailure", "badrequest", "400", "invalid request"}, reason.ProviderInvalidRequest},
	{[]string{"no such host", "connection refused", "connection reset", "network", "dns", "tls handshake"}, reason.NetworkError},
	{[]string{"timeout", "timed out", "deadline exceeded"}, reason.RunTimedOut},
	{[]string{"cancel"}, reason.RunCancelled},
	{[]string{"interrupted", "worker lost", "killed", "crash", "restarted"}, reason.RunInterrupted},
}

// MapLegacyReason maps a legacy failure reason onto a reason code; ok is false for a reason that
// matches nothing (it is then kept verbatim and shown as such).
func MapLegacyReason(text string) (reason.Code, bool) {
	t := strings.ToLower(text)
	if strings.TrimSpace(t) == "" {
		return "", false
	}
	for _, p := range legacyReasonPatterns {
		for _, n := range p.needles {
			if strings.Contains(t, n) {
				return p.code, true
			}
		}
	}
	return "", false
}

// LegacyImportResult counts an import.
type LegacyImportResult struct {
	Read     int            `json:"read"`
	Imported int64          `json:"imported"`
	Skipped  int64          `json:"skipped"`
	Mapped   map[string]int `json:"mapped_reasons"`
	Unmapped int            `json:"unmapped_reasons"`
}

// ImportLegacy loads legacy run rows into the read-only history of a workspace (tenant.manage).
// Re-importing the same rows skips them.
func (s *Service) ImportLegacy(ctx context.Context, actor Actor, workspace string, recs []LegacyRecord) (LegacyImportResult, error) {
	w, err := s.ResolveWorkspace(ctx, actor, workspace)
	if err != nil {
		return LegacyImportResult{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, CapTenantManage); err != nil {
		return LegacyImportResult{}, err
	}
	res := LegacyImportResult{Read: len(recs), Mapped: map[string]int{}}
	rows := make([]store.LegacyRun, 0, len(recs))
	for _, r := range recs {
		row := store.LegacyRun{Source: r.Source, LegacyID: strings.TrimSpace(r.ID), TenantRef: strings.TrimSpace(r.Tenant),
			Status: r.Status, Outcome: legacyOutcome(r.Status), LegacyReason: r.FailureReason, ItemsTotal: r.ItemsTotal,
			ItemsFailed: r.ItemsFailed, Details: r.Details}
		row.StartedAt, _ = parseLegacyTime(r.StartedAt)
		row.FinishedAt, _ = parseLegacyTime(r.FinishedAt)
		if code, ok := MapLegacyReason(r.FailureReason); ok {
			c := string(code)
			row.ReasonCode = &c
			res.Mapped[c]++
		} else if strings.TrimSpace(r.FailureReason) != "" {
			res.Unmapped++
		}
		rows = append(rows, row)
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		n, err := store.ImportLegacyRuns(ctx, tx, w.ID, rows)
		if err != nil {
			return err
		}
		res.Imported, res.Skipped = n, int64(len(rows))-n
		return s.audit(ctx, tx, actor, &w.ID, "legacy.import", "workspace", w.Name,
			map[string]any{"read": res.Read, "imported": res.Imported, "skipped": res.Skipped})
	})
	return res, err
}

// ListLegacyRuns lists imported legacy history the actor may view (tenant.view), newest first.
func (s *Service) ListLegacyRuns(ctx context.Context, actor Actor, f store.LegacyFilter) ([]store.LegacyRun, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	f.WorkspaceIDs = nil
	for w, r := range roles {
		if r.Can(CapTenantView) {
			f.WorkspaceIDs = append(f.WorkspaceIDs, w)
		}
	}
	if len(f.WorkspaceIDs) == 0 {
		return nil, nil
	}
	return store.ListLegacyRuns(ctx, s.db.Pool, f)
}
