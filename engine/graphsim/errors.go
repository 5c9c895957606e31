package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error bodies exactly as docs/graph.md#sign-in, docs/graph.md#throttling and docs/graph.md#errors document them.

func (s *Server) requestID() string {
	return deterministicUUID("request", s.reqSeq.Add(1), s.started)
}

func innerError(id string) map[string]any {
	return map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": id, "client-request-id": id}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, data)
}

// writeParts writes one JSON answer given in pieces, without joining them.
func writeParts(w http.ResponseWriter, status int, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	for _, p := range parts {
		_, _ = w.Write(p)
	}
}

func writeRaw(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// graphError writes the standard Graph error envelope (concepts/errors.md).
func (s *Server) graphError(w http.ResponseWriter, status int, code, message string) {
	id := s.requestID()
	w.Header().Set("request-id", id)
	w.Header().Set("client-request-id", id)
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message, "innerError": innerError(id)}})
}

// intuneError writes Intune's dialect: error.message is itself a JSON document whose Message
// carries the text (docs/graph.md#errors).
func (s *Server) intuneError(w http.ResponseWriter, status int, code, message string) {
	id := s.requestID()
	activity := deterministicUUID("activity", id)
	inner := fmt.Sprintf("{\r\n  \"_version\": 3,\r\n  \"Message\": %s,\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{}\"\r\n}",
		quote(message+" - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: "+activity+
			" - Url: https://fef.msub05.manage.microsoft.com/DeviceConfiguration_2502/StatelessDeviceConfigurationFEService/deviceManagement?api-version=5024-12-02"))
	w.Header().Set("request-id", id)
	w.Header().Set("client-request-id", id)
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": inner, "innerError": innerError(id)}})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// throttled writes the documented 429 body with Retry-After.
func (s *Server) throttled(w http.ResponseWriter, retryAfter int) {
	id := s.requestID()
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	w.Header().Set("request-id", id)
	w.Header().Set("x-ms-throttle-scope", "Tenant_Application/ReadWrite/sim")
	w.Header().Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
		"code": "TooManyRequests",
		"innerError": map[string]any{"code": "429", "date": time.Now().UTC().Format("2006-01-02T15:04:05"),
			"message": "Please retry after", "request-id": id, "status": "429"},
		"message": "Please retry again later."}})
}

// oauthError writes the token endpoint's error body for an AADSTS code.
func (s *Server) oauthError(w http.ResponseWriter, status int, oauthCode string, aadsts int, description string) {
	trace, corr := s.requestID(), s.requestID()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error":             oauthCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, description, trace, corr, ts),
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}
