package graphsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Latency is the simulator's per-request latency model: every Graph request (a top-level request
// or a $batch sub-request) takes a time drawn from a log-normal distribution with this Median
// and P99, then is answered. The draw stands for the whole round trip a client sees (network,
// Graph's gateway and the service), so an answer is never faster than its draw.
//
// Sources: Microsoft publishes no latency figures for Graph or the Intune service (Learn
// throttling, throttling-limits and json-batching give limits and semantics, no timings), and the
// peer tools publish none either; the numbers of DefaultLatency are therefore assumed, see there.
// The shape is assumed too: a log-normal is the usual fit for the latency of a multi-tier web
// service (most answers near the median, a long right tail of slow ones), and two numbers, a
// median and a p99, are what an operator reads off a tenant's request log.
//
// $batch: Graph runs the sub-requests of an envelope "in any order" unless dependsOn sequences
// them (Learn: https://learn.microsoft.com/graph/json-batching, "Responses to the batched
// requests might appear in a different order"; a Microsoft answer on Learn Q&A 1532547: without
// dependsOn a batch is "fully parallel"), and answers all of them in one response body. So an
// envelope costs its slowest sub-request: each sub-request draws its own latency and the envelope
// waits for the largest. That the envelope adds nothing of its own is assumed: its one round trip
// is inside every sub-request's draw. The simulator does not implement dependsOn (the engine does
// not send it), so every envelope is parallel.
type Latency struct {
	Median time.Duration `json:"median"`
	P99    time.Duration `json:"p99"`
}

// DefaultLatency is the model the benchmarks use: median 80 ms, p99 400 ms. Assumed (no
// published measurement, see Latency): 80 ms is the round trip BenchmarkBackupReads used before
// the model existed (issue #24's figures), a plausible Graph call from an engine in the tenant's
// geography; a p99 of five times the median is a moderate tail for a service behind a gateway.
// With these numbers the mean is 101 ms and an envelope of 20 sub-requests costs 310 ms on
// average (the expected largest of 20 draws).
func DefaultLatency() Latency {
	return Latency{Median: 80 * time.Millisecond, P99: 400 * time.Millisecond}
}

// z99 is the standard normal quantile of 0.99.
const z99 = 2.3263478740408408

func (l Latency) validate() error {
	switch {
	case l.Median <= 0:
		return errors.New("graphsim: Latency.Median must be positive")
	case l.P99 < l.Median:
		return fmt.Errorf("graphsim: Latency.P99 %s is below the median %s", l.P99, l.Median)
	}
	return nil
}

// sigma is the log-normal's shape parameter: ln(p99/median) / z(0.99). Zero (P99 == Median)
// makes every draw the median.
func (l Latency) sigma() float64 { return math.Log(float64(l.P99)/float64(l.Median)) / z99 }

// Mean is the distribution's expected value, median × exp(σ²/2): a chain of k dependent requests
// takes k × Mean on average.
func (l Latency) Mean() time.Duration {
	s := l.sigma()
	return time.Duration(float64(l.Median) * math.Exp(s*s/2))
}

// String is "median 80ms, p99 400ms".
func (l Latency) String() string { return fmt.Sprintf("median %s, p99 %s", l.Median, l.P99) }

// latencySampler draws one tenant's latencies from its own seeded generator: the k-th draw of a
// tenant is the same in every run with the same Options.Seed (which request gets it depends on
// the order the requests arrive in).
type latencySampler struct {
	model Latency
	sigma float64
	mu    sync.Mutex
	rng   *rand.Rand
}

func newLatencySampler(model Latency, seed uint64) *latencySampler {
	return &latencySampler{model: model, sigma: model.sigma(), rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// next draws one latency: median × exp(σ·Z), Z standard normal.
func (s *latencySampler) next() time.Duration {
	s.mu.Lock()
	z := s.rng.NormFloat64()
	s.mu.Unlock()
	return time.Duration(float64(s.model.Median) * math.Exp(s.sigma*z))
}

// envelope draws one latency per sub-request of a $batch and returns them with the envelope's
// cost, the largest (the sub-requests run in parallel, see Latency).
func (s *latencySampler) envelope(n int) (cost time.Duration, subs []time.Duration) {
	subs = make([]time.Duration, n)
	for i := range subs {
		subs[i] = s.next()
		cost = max(cost, subs[i])
	}
	return cost, subs
}

// wait sleeps d or until ctx ends; it reports whether the whole wait passed.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
