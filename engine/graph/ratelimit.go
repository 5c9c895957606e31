package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	khttp "github.com/microsoft/kiota-http-go"
	"golang.org/x/time/rate"
)

// Limits are the per-tenant request rates of this process. Each Graph service throttles on its own
// quota (docs/graph.md#throttling), so each has its own bucket:
//
//   - Intune (and every other service) allows 1,000 requests and 100 writes per 20 s per app and
//     tenant (2,000 / 200 across all apps): the defaults stay below, at 40 requests/s and 4 writes/s.
//   - The directory (identity service) counts resource units per app and tenant: 3,500 per 10 s for
//     the smallest tenants, a listing with $select costing 1. Directory requests default to 200/s,
//     well under that, so a million-group tenant is never held back by this process.
type Limits struct {
	// RequestsPerSecond and Burst bound every request outside the directory (reads and writes).
	RequestsPerSecond float64
	Burst             int
	// WritesPerSecond and WriteBurst additionally bound POST, PUT, PATCH and DELETE, whatever the
	// service.
	WritesPerSecond float64
	WriteBurst      int
	// DirectoryRequestsPerSecond and DirectoryBurst bound directory requests instead of
	// RequestsPerSecond.
	DirectoryRequestsPerSecond float64
	DirectoryBurst             int
}

// DefaultLimits returns 40 req/s (burst 40) and 4 writes/s (burst 4), and 200 directory req/s
// (burst 200).
func DefaultLimits() Limits {
	return Limits{RequestsPerSecond: 40, Burst: 40, WritesPerSecond: 4, WriteBurst: 4, DirectoryRequestsPerSecond: 200, DirectoryBurst: 200}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.RequestsPerSecond <= 0 {
		l.RequestsPerSecond = d.RequestsPerSecond
	}
	if l.Burst <= 0 {
		l.Burst = max(1, int(l.RequestsPerSecond))
	}
	if l.WritesPerSecond <= 0 {
		l.WritesPerSecond = d.WritesPerSecond
	}
	if l.WriteBurst <= 0 {
		l.WriteBurst = max(1, int(l.WritesPerSecond))
	}
	if l.DirectoryRequestsPerSecond <= 0 {
		l.DirectoryRequestsPerSecond = d.DirectoryRequestsPerSecond
	}
	if l.DirectoryBurst <= 0 {
		l.DirectoryBurst = max(1, int(l.DirectoryRequestsPerSecond))
	}
	return l
}

// Limiters holds one token bucket pair per tenant for the whole process. Create one at startup
// and pass it to every NewClient, so all workers (and all connections) of a tenant share it.
// Retries are limited too: each attempt takes a token.
type Limiters struct {
	limits Limits
	mu     sync.Mutex
	byID   map[string]*TenantLimiter
}

// NewLimiters returns a registry of per-tenant limiters; zero fields of l take the defaults.
func NewLimiters(l Limits) *Limiters {
	return &Limiters{limits: l.withDefaults(), byID: map[string]*TenantLimiter{}}
}

// Tenant returns the limiter of tenantID (case-insensitive), creating it on first use.
func (l *Limiters) Tenant(tenantID string) *TenantLimiter {
	key := strings.ToLower(tenantID)
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.byID[key]
	if !ok {
		t = &TenantLimiter{
			any:       rate.NewLimiter(rate.Limit(l.limits.RequestsPerSecond), l.limits.Burst),
			write:     rate.NewLimiter(rate.Limit(l.limits.WritesPerSecond), l.limits.WriteBurst),
			directory: rate.NewLimiter(rate.Limit(l.limits.DirectoryRequestsPerSecond), l.limits.DirectoryBurst),
		}
		l.byID[key] = t
	}
	return t
}

// TenantLimiter is one tenant's token buckets.
type TenantLimiter struct {
	any, write, directory *rate.Limiter
}

// Wait blocks until reads+writes requests of service and writes write requests may go, or ctx ends.
func (t *TenantLimiter) Wait(ctx context.Context, service Service, reads, writes int) error {
	bucket := t.any
	if service == ServiceDirectory {
		bucket = t.directory
	}
	total := reads + writes
	for total > 0 {
		n := min(total, bucket.Burst())
		if err := bucket.WaitN(ctx, n); err != nil {
			return fmt.Errorf("waiting for the tenant rate limit: %w", err)
		}
		total -= n
	}
	for writes > 0 {
		n := min(writes, t.write.Burst())
		if err := t.write.WaitN(ctx, n); err != nil {
			return fmt.Errorf("waiting for the tenant write rate limit: %w", err)
		}
		writes -= n
	}
	return nil
}

// costKey carries an explicit request cost (a $batch envelope costs its sub-requests).
type costKey struct{}

type requestCost struct{ reads, writes int }

// serviceKey carries the service a request goes to, for its bucket.
type serviceKey struct{}

func withRequestCost(ctx context.Context, c requestCost) context.Context {
	return context.WithValue(ctx, costKey{}, c)
}

func isWriteMethod(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch || m == http.MethodDelete
}

// rateLimitHandler is a kiota middleware placed after the retry handler, so every attempt waits
// for the tenant's tokens.
type rateLimitHandler struct {
	limiter *TenantLimiter
}

func (h rateLimitHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	cost, ok := req.Context().Value(costKey{}).(requestCost)
	if !ok {
		cost = requestCost{reads: 1}
		if isWriteMethod(req.Method) {
			cost = requestCost{writes: 1}
		}
	}
	service, _ := req.Context().Value(serviceKey{}).(Service)
	if err := h.limiter.Wait(req.Context(), service, cost.reads, cost.writes); err != nil {
		return nil, err
	}
	return p.Next(req, i)
}
