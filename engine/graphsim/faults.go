package graphsim

import (
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// FaultKind is a Graph-side failure the simulator can inject.
type FaultKind string

const (
	// FaultThrottle answers 429 TooManyRequests with Retry-After (the documented body, docs/graph.md#throttling).
	FaultThrottle FaultKind = "throttle"
	// FaultServerError answers Status (default 503) with a Graph error body, plus Retry-After when
	// RetryAfter > 0.
	FaultServerError FaultKind = "server_error"
	// FaultSlow delays the answer by Delay, then answers normally.
	FaultSlow FaultKind = "slow"
	// FaultMalformedJSON answers 200 with a body that is not JSON.
	FaultMalformedJSON FaultKind = "malformed_json"
	// FaultTruncated answers 200 with the first half of the real body (clean HTTP framing, cut JSON).
	FaultTruncated FaultKind = "truncated"
	// FaultDuplicateItem answers the real page with its first item listed twice: a listing that
	// repeats an object.
	FaultDuplicateItem FaultKind = "duplicate_item"
	// FaultMistypedItem answers the real page with its first item's displayName turned into a
	// number: an element whose property has an unexpected JSON type.
	FaultMistypedItem FaultKind = "mistyped_item"
)

// Fault is one injection rule of a tenant. Rules are checked in order after authentication and
// the permission check; the first that fires answers the request.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Endpoint selects requests: a contract name ("groups.list"), a family ("deviceConfigurations"),
	// "$batch" for batch envelopes, or "" for every Graph request. Sub-requests of a $batch match
	// by their own contract.
	Endpoint string `json:"endpoint,omitempty"`
	// Count is how many times the rule fires; 0 means forever.
	Count int `json:"count,omitempty"`
	// Every fires the rule only on every Nth matching request (default 1: each one).
	Every int `json:"every,omitempty"`
	// RetryAfter is the Retry-After in seconds (throttle default 1).
	RetryAfter int `json:"retryAfter,omitempty"`
	// Status is the server_error status (default 503).
	Status int `json:"status,omitempty"`
	// Delay is the slow delay.
	Delay time.Duration `json:"delay,omitempty"`
}

type faultRule struct {
	Fault
	seen  int // matching requests so far
	fired int
}

// AddFault appends an injection rule.
func (t *Tenant) AddFault(f Fault) {
	if f.Every <= 0 {
		f.Every = 1
	}
	if f.Kind == FaultThrottle && f.RetryAfter <= 0 {
		f.RetryAfter = 1
	}
	if f.Kind == FaultServerError && f.Status == 0 {
		f.Status = 503
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = append(t.faults, &faultRule{Fault: f})
}

// ClearFaults removes every injection rule (including a profile's).
func (t *Tenant) ClearFaults() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = nil
}

// Faults returns the active rules.
func (t *Tenant) Faults() []Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Fault, 0, len(t.faults))
	for _, r := range t.faults {
		out = append(out, r.Fault)
	}
	return out
}

// nextFault returns the fault that fires for this request, if any, and counts it.
func (t *Tenant) nextFault(c *graph.Contract, batch bool) *Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < len(t.faults); i++ {
		r := t.faults[i]
		if !r.matches(c, batch) {
			continue
		}
		r.seen++
		every := max(1, r.Every)
		if r.seen%every != 0 {
			continue
		}
		r.fired++
		f := r.Fault
		if r.Count > 0 && r.fired >= r.Count {
			t.faults = append(t.faults[:i], t.faults[i+1:]...)
		}
		return &f
	}
	return nil
}

func (r *faultRule) matches(c *graph.Contract, batch bool) bool {
	switch {
	case r.Endpoint == "":
		return true
	case batch:
		return r.Endpoint == "$batch"
	case c == nil:
		return false
	}
	return strings.EqualFold(r.Endpoint, c.Name) || strings.EqualFold(r.Endpoint, string(c.Family))
}
