package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// JSON $batch: up to 20 sub-requests, each routed, permission-checked and fault-injected like a
// top-level request (so a sub-request can be throttled on its own while the envelope answers 200,
// as Graph does). Each sub-request counts against the Intune limits on its own and carries its
// own Retry-After (Learn throttling, "Throttling and batching": requests in a batch are evaluated
// individually against the limits, and one over them fails with 429; IntuneCD handle_responses
// and IntuneManagement MSGraph.psm1 re-queue only the 429 sub-requests and wait the longest
// Retry-After among them, reference/graph.md). The envelope is not counted on top: Learn evaluates
// the requests it carries. Under the latency model (Options.Latency) each sub-request draws its own
// latency and the envelope answers after the largest: Graph runs them in parallel (latency.go).

const maxBatch = 20

type batchIn struct {
	Requests []struct {
		ID      string            `json:"id"`
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"requests"`
}

type batchOut struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

func (s *Server) serveBatch(rw http.ResponseWriter, req *simRequest) {
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		hdr := req.header.Clone()
		hdr.Del("Authorization")
		req.tenant.record(RequestRecord{Contract: "$batch", Method: req.method, Path: req.path, Status: w.status, Header: hdr, Gzip: req.gzip, Body: req.body,
			Latency: req.latency})
	}()
	if f := req.tenant.nextFault(nil, true); f != nil {
		switch f.Kind {
		case FaultThrottle:
			s.throttled(w, f.RetryAfter)
			return
		case FaultServerError:
			s.graphError(w, f.Status, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.")
			return
		case FaultSlow:
			// One round trip for the envelope: Graph runs its sub-requests server-side, "in any
			// order" (Learn json-batching), so they add no client latency of their own.
			select {
			case <-time.After(f.Delay):
			case <-req.ctx.Done():
				return
			}
		}
	}
	var in batchIn
	err := json.Unmarshal(req.body, &in)
	valid := err == nil && len(in.Requests) > 0 && len(in.Requests) <= maxBatch
	var subLatency []time.Duration
	if sampler := s.latency[req.tenant]; sampler != nil {
		if valid {
			req.latency, subLatency = sampler.envelope(len(in.Requests))
		} else {
			req.latency = sampler.next() // refused whole: one round trip
		}
		if !wait(req.ctx, req.latency) {
			return
		}
	}
	if err != nil {
		s.graphError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if !valid {
		s.graphError(w, http.StatusBadRequest, "BadRequest", "A batch must hold between 1 and 20 requests.")
		return
	}
	out := make([]batchOut, 0, len(in.Requests))
	seen := map[string]bool{}
	for i, r := range in.Requests {
		if r.ID == "" || seen[r.ID] {
			s.graphError(w, http.StatusBadRequest, "BadRequest", "Every batch request needs a unique id.")
			return
		}
		seen[r.ID] = true
		raw := r.URL
		if !strings.HasPrefix(raw, "/") {
			raw = "/" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			out = append(out, batchOut{ID: r.ID, Status: http.StatusBadRequest})
			continue
		}
		hdr := http.Header{}
		for k, v := range r.Headers {
			hdr.Set(k, v)
		}
		sub := &simRequest{method: strings.ToUpper(r.Method), version: req.version, path: u.Path, query: u.Query(),
			header: hdr, body: r.Body, base: req.base, tenant: req.tenant, roles: req.roles, ctx: req.ctx, inBatch: true}
		if subLatency != nil {
			sub.latency = subLatency[i] // waited for with the envelope
		}
		rec := newRecorder()
		s.dispatch(rec, sub)
		o := batchOut{ID: r.ID, Status: rec.status, Headers: map[string]string{}}
		for _, h := range []string{"Content-Type", "Retry-After", "request-id"} {
			if v := rec.header.Get(h); v != "" {
				o.Headers[h] = v
			}
		}
		if body := rec.buf.Bytes(); len(body) > 0 {
			if json.Valid(body) {
				o.Body = json.RawMessage(body)
			} else {
				o.Body = json.RawMessage(quote(string(body)))
			}
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": out})
}
