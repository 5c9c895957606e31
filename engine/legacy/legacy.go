// Package legacy reads the run history exported by the per-family trackers TenantAtlas replaces
// (JSON or CSV) and maps their free-text failure reasons onto reason codes. The engine's
// ImportLegacy stores what it parses as read-only history.
package legacy

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// Record is one exported row of an older per-family run tracker, as `legacy import` reads it
// (see README "Legacy run history" for the file formats).
type Record struct {
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

// sources maps the accepted source names (and the JSON section names) to the stored source.
var sources = map[string]string{
	"inventory_sync": store.LegacyInventorySync, "inventory_sync_runs": store.LegacyInventorySync,
	"group_sync": store.LegacyGroupSync, "group_sync_runs": store.LegacyGroupSync,
	"backup_schedule": store.LegacyBackupSchedule, "backup_schedule_runs": store.LegacyBackupSchedule,
}

// Parse reads a legacy export: JSON ({"inventory_sync_runs": [...], "group_sync_runs": [...],
// "backup_schedule_runs": [...]} or a flat array whose rows name their source) or CSV with the header
// source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason.
// Errors name the row and the field.
func Parse(data []byte, format string) ([]Record, error) {
	if format == "" {
		format = "json"
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' && t[0] != '[' {
			format = "csv"
		}
	}
	var recs []Record
	switch format {
	case "json":
		trimmed := bytes.TrimSpace(data)
		if len(trimmed) > 0 && trimmed[0] == '[' {
			if err := json.Unmarshal(trimmed, &recs); err != nil {
				return nil, fmt.Errorf("not a JSON array of legacy runs: %v", err)
			}
			break
		}
		var sections map[string][]Record
		if err := json.Unmarshal(trimmed, &sections); err != nil {
			return nil, fmt.Errorf("expected a JSON object with inventory_sync_runs, group_sync_runs and backup_schedule_runs arrays: %v", err)
		}
		for name, rows := range sections {
			src, ok := sources[name]
			if !ok {
				return nil, fmt.Errorf("unknown section %q (expected inventory_sync_runs, group_sync_runs or backup_schedule_runs)", name)
			}
			for _, r := range rows {
				r.Source = src
				recs = append(recs, r)
			}
		}
	case "csv":
		var err error
		if recs, err = parseCSV(data); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("format %q (expected csv or json)", format)
	}
	for i, r := range recs {
		src, ok := sources[strings.ToLower(strings.TrimSpace(r.Source))]
		if !ok {
			return nil, fmt.Errorf("row %d: source %q (expected inventory_sync, group_sync or backup_schedule)", i+1, r.Source)
		}
		recs[i].Source = src
		if strings.TrimSpace(r.ID) == "" {
			return nil, fmt.Errorf("row %d: the id is empty", i+1)
		}
		for field, v := range map[string]string{"started_at": r.StartedAt, "finished_at": r.FinishedAt} {
			if _, err := ParseTime(v); err != nil {
				return nil, fmt.Errorf("row %d: %s %q is not a time (RFC 3339, e.g. 2025-06-01T02:00:00Z)", i+1, field, v)
			}
		}
	}
	return recs, nil
}

func parseCSV(data []byte) ([]Record, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read the CSV header: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"source", "id", "status"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("the CSV header lacks %q (expected source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason)", need)
		}
	}
	var out []Record
	for line := 2; ; line++ {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV line %d: %v", line, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) {
				return strings.TrimSpace(fields[i])
			}
			return ""
		}
		rec := Record{Source: get("source"), ID: get("id"), Tenant: get("tenant"), Status: get("status"),
			StartedAt: get("started_at"), FinishedAt: get("finished_at"), FailureReason: get("failure_reason")}
		for name, dst := range map[string]**int64{"items_total": &rec.ItemsTotal, "items_failed": &rec.ItemsFailed} {
			if v := get(name); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("CSV line %d: %s %q is not a number", line, name, v)
				}
				*dst = &n
			}
		}
		out = append(out, rec)
	}
}

// ParseTime reads a legacy timestamp (RFC 3339, or the date-time layouts the old exports used);
// empty is no time.
func ParseTime(s string) (*time.Time, error) {
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

// Outcome maps a legacy status onto an outcome; unknown statuses keep no outcome.
func Outcome(status string) *store.Outcome {
	var o store.Outcome
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

// reasonPatterns map legacy failure texts onto the reason-code taxonomy, most specific first.
var reasonPatterns = []struct {
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

// MapReason maps a legacy failure reason onto a reason code; ok is false for a reason that
// matches nothing (it is then kept verbatim and shown as such).
func MapReason(text string) (reason.Code, bool) {
	t := strings.ToLower(text)
	if strings.TrimSpace(t) == "" {
		return "", false
	}
	for _, p := range reasonPatterns {
		for _, n := range p.needles {
			if strings.Contains(t, n) {
				return p.code, true
			}
		}
	}
	return "", false
}
