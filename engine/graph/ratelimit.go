package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// service (except the POST of a ReadOnly contract, directoryObjects/getByIds: a read).
	WritesPerSecond float64
	WriteBurst      int
	// DirectoryRequestsPerSecond and DirectoryBurst bound directory requests instead of
	// RequestsPerSecond.
	DirectoryRequestsPerSecond float64
	DirectoryBurst             int
}

// ReadsInFlight is how many requests (list pages or $batch envelopes) one backup keeps in flight
// for its tenant at most: Graph answers each in ~80–400 ms (docs/graph.md#throttling), so one at a
// time uses about half of RequestsPerSecond (BENCHMARKS.md, fleet night). Each one still takes its
// tokens (one per sub-request) from the tenant's buckets, so more in flight never sends faster than
// the limits.
const ReadsInFlight = 3

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
// Retries are limited too: each attempt takes a token. With a SharedBudget (NewSharedLimiters)
// the rates are the whole cluster's: every engine leases its tokens from the same buckets.
type Limiters struct {
	limits Limits
	shared SharedBudget
	mu     sync.Mutex
	byID   map[string]*TenantLimiter
}

// NewLimiters returns a registry of per-tenant limiters of this process alone; zero fields of l
// take the defaults.
func NewLimiters(l Limits) *Limiters {
	return &Limiters{limits: l.withDefaults(), byID: map[string]*TenantLimiter{}}
}

// SharedBudget is a tenant's request budget shared by every engine of a cluster, so that all of
// them together stay under Graph's per-app-per-tenant limits (docs/graph.md#throttling);
// store.GraphBudget keeps it in PostgreSQL. Nothing in it belongs to an engine: tokens come back
// by time, so an engine that dies holding a lease blocks nobody.
type SharedBudget interface {
	// Take takes n tokens from tenant's bucket (refilled at rate per second up to burst; it may
	// go into debt) and returns how long the caller must wait before using them (the debt's
	// refill time) and what is left of the tenant's hold.
	Take(ctx context.Context, tenant, bucket string, n int, rate float64, burst int) (debt, hold time.Duration, err error)
	// Hold makes every engine wait d before its next lease for tenant: Graph said Retry-After.
	Hold(ctx context.Context, tenant string, d time.Duration) error
}

// NewSharedLimiters returns limiters whose tokens every engine leases from budget: l's rates are
// then the cluster's, not this process's.
func NewSharedLimiters(l Limits, budget SharedBudget) *Limiters {
	return &Limiters{limits: l.withDefaults(), shared: budget, byID: map[string]*TenantLimiter{}}
}

// Tenant returns the limiter of tenantID (case-insensitive), creating it on first use.
func (l *Limiters) Tenant(tenantID string) *TenantLimiter {
	key := strings.ToLower(tenantID)
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.byID[key]
	if !ok {
		lim := l.limits
		t = &TenantLimiter{
			any:       newBucket(key, "any", lim.RequestsPerSecond, lim.Burst, l.shared),
			write:     newBucket(key, "write", lim.WritesPerSecond, lim.WriteBurst, l.shared),
			directory: newBucket(key, "directory", lim.DirectoryRequestsPerSecond, lim.DirectoryBurst, l.shared),
			tenant:    key,
			shared:    l.shared,
		}
		l.byID[key] = t
	}
	return t
}

// TenantLimiter is one tenant's token buckets, and its hold: after a 429, every request of this
// process (and, with a SharedBudget, of every engine) waits out the Retry-After.
type TenantLimiter struct {
	any, write, directory *bucket
	tenant                string
	shared                SharedBudget

	mu        sync.Mutex
	heldUntil time.Time
}

// Wait blocks until reads+writes requests of service and writes write requests may go, or ctx
// ends: until the tokens are there, and until the tenant's hold is over. Waiting out a hold
// draws from the request's RetryBudget like any wait on a Retry-After; when the budget cannot
// cover it, the request goes without waiting, so that Graph refuses it and the caller gets
// provider_throttled at once with the spent budget.
func (t *TenantLimiter) Wait(ctx context.Context, service Service, reads, writes int) error {
	b := t.any
	if service == ServiceDirectory {
		b = t.directory
	}
	if err := b.wait(ctx, reads+writes, t.holdFor); err != nil {
		return fmt.Errorf("waiting for the tenant rate limit: %w", err)
	}
	if err := t.write.wait(ctx, writes, t.holdFor); err != nil {
		return fmt.Errorf("waiting for the tenant write rate limit: %w", err)
	}
	return t.waitHold(ctx)
}

// holdFor extends this process's view of the tenant's hold to d from now (another engine's hold,
// learnt from the shared budget).
func (t *TenantLimiter) holdFor(d time.Duration) {
	if d <= 0 {
		return
	}
	t.mu.Lock()
	t.heldUntil = later(t.heldUntil, time.Now().Add(d))
	t.mu.Unlock()
}

// Hold records a Retry-After of d for the tenant: this process's requests wait it out and its
// leased tokens are dropped (they were granted before Graph said to stop); with a SharedBudget,
// every other engine waits it out from its next lease on.
func (t *TenantLimiter) Hold(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t.holdFor(d)
	for _, b := range []*bucket{t.any, t.write, t.directory} {
		b.dropLease()
	}
	if t.shared == nil {
		return nil
	}
	return t.shared.Hold(ctx, t.tenant, d)
}

func (t *TenantLimiter) waitHold(ctx context.Context) error {
	t.mu.Lock()
	until := t.heldUntil
	t.mu.Unlock()
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	if budget, ok := RetryBudgetFrom(ctx); ok && !budget.reserve(d) {
		return nil
	}
	return sleepUntil(ctx, until)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sleepUntil(ctx context.Context, until time.Time) error {
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the tenant's Retry-After: %w", context.Cause(ctx))
	}
}

// bucket is one token bucket of a tenant: this process's own (local), or leases from the
// cluster's SharedBudget. A lease is a few tokens (a quarter second of the rate, at most the
// burst) so an engine asks the database about four times a second per busy tenant, not once per
// request; tokens of a lease left unused when the engine stops are lost, which only errs on the
// side of sending less.
type bucket struct {
	local  *rate.Limiter
	shared SharedBudget
	tenant string
	name   string
	rate   float64
	burst  int
	lease  int

	mu     sync.Mutex   // one lease at a time
	leased atomic.Int64 // tokens leased and not yet used; dropLease empties it without waiting for mu
}

func newBucket(tenant, name string, perSecond float64, burst int, shared SharedBudget) *bucket {
	b := &bucket{shared: shared, tenant: tenant, name: name, rate: perSecond, burst: burst}
	if shared == nil {
		b.local = rate.NewLimiter(rate.Limit(perSecond), burst)
		return b
	}
	b.lease = max(1, min(burst, int(perSecond/4)))
	return b
}

// wait takes n tokens, waiting for them; hold receives the tenant's hold as the shared budget
// reports it.
func (b *bucket) wait(ctx context.Context, n int, hold func(time.Duration)) error {
	if b.local != nil {
		for n > 0 {
			step := min(n, b.local.Burst())
			if err := b.local.WaitN(ctx, step); err != nil {
				return err
			}
			n -= step
		}
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.leased.Load() < int64(n) {
		take := max(b.lease, n-int(b.leased.Load()))
		debt, held, err := b.shared.Take(ctx, b.tenant, b.name, take, b.rate, b.burst)
		if err != nil {
			return fmt.Errorf("leasing from the cluster's Graph budget: %w", err)
		}
		hold(held)
		if err := sleepUntil(ctx, time.Now().Add(debt)); err != nil {
			return err
		}
		b.leased.Add(int64(take))
	}
	b.leased.Add(-int64(n)) // below zero if dropped meanwhile: the next wait leases the difference
	return nil
}

func (b *bucket) dropLease() {
	if b.local != nil {
		return
	}
	b.leased.Store(0)
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
	resp, err := p.Next(req, i)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		// Every request of the tenant waits, not only this one's retry: Graph counts the
		// tenant's requests, and sending more while throttled extends the throttling
		// (docs/graph.md#throttling).
		// The hold is advisory: if the shared budget cannot record it, this request's own retry
		// still waits its Retry-After.
		_ = h.limiter.Hold(req.Context(), retryDelay(resp, 1, 0))
	}
	return resp, err
}
