package graphsim

import (
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ThrottleLimits are the request limits the simulator enforces on the Intune service, per app and
// tenant, over a sliding window. Each simulated tenant has one app registration (tenants.go), so
// per app and tenant is per tenant here.
type ThrottleLimits struct {
	Window   time.Duration
	Requests int // every request, writes included
	Writes   int // POST, PUT, PATCH and DELETE
}

// IntuneThrottleLimits are Microsoft's documented Intune limits per app and tenant: 1,000
// requests per 20 seconds, of which 100 writes (Learn: https://learn.microsoft.com/graph/throttling-limits,
// "Intune service limits"; docs/graph.md#throttling). Each $batch sub-request counts on its own
// (Learn: https://learn.microsoft.com/graph/throttling, "Throttling and batching"), and a request
// refused while throttled still counts ("If you retry immediately, all requests accrue against
// your usage limits", same page).
func IntuneThrottleLimits() ThrottleLimits {
	return ThrottleLimits{Window: 20 * time.Second, Requests: 1000, Writes: 100}
}

// throttleWindow is one tenant's sliding window of Intune requests.
type throttleWindow struct {
	mu     sync.Mutex
	all    []time.Time
	writes []time.Time
}

// ThrottleStats counts the Intune requests the simulator saw while enforcing its limits, and how
// many it refused with 429.
type ThrottleStats struct {
	Requests  int64
	Throttled int64
}

type throttleCounters struct{ requests, throttled atomic.Int64 }

// admit counts a request against the window and reports whether it may go; when it may not,
// retryAfter is the whole seconds until the window has room again.
func (w *throttleWindow) admit(lim ThrottleLimits, write bool, now time.Time) (ok bool, retryAfter int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = expire(w.all, now.Add(-lim.Window))
	w.writes = expire(w.writes, now.Add(-lim.Window))
	var oldest time.Time
	switch {
	case len(w.all) >= lim.Requests:
		oldest = w.all[len(w.all)-lim.Requests]
	case write && len(w.writes) >= lim.Writes:
		oldest = w.writes[len(w.writes)-lim.Writes]
	}
	w.all = append(w.all, now)
	if write {
		w.writes = append(w.writes, now)
	}
	if oldest.IsZero() {
		return true, 0
	}
	return false, max(1, int(math.Ceil(oldest.Add(lim.Window).Sub(now).Seconds())))
}

func expire(ts []time.Time, before time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(before) {
		i++
	}
	if i > len(ts)/2 { // compact now and then, not on every request
		return append(ts[:0:0], ts[i:]...)
	}
	return ts[i:]
}

// ThrottleStats returns what the enforced limits did so far (zero when Options.Throttle is nil).
func (s *Server) ThrottleStats() ThrottleStats {
	return ThrottleStats{Requests: s.throttleCount.requests.Load(), Throttled: s.throttleCount.throttled.Load()}
}

func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete
}
