package graph

import (
	"context"
	"sync"
	"time"
)

// RetryBudget is the total time a run may spend waiting before retries (Retry-After or backoff),
// shared by every request and worker of the run. M365DSC-style endless throttling loops are the
// failure it prevents (docs/graph.md#throttling): once a wait does not fit, the budget is spent for
// good and every later throttled response goes back to the caller as provider_throttled (or
// provider_unavailable) wrapping ErrRetryBudgetExhausted. Safe for concurrent use.
type RetryBudget struct {
	mu        sync.Mutex
	total     time.Duration
	spent     time.Duration
	exhausted bool
}

// NewRetryBudget returns a budget of total wait time.
func NewRetryBudget(total time.Duration) *RetryBudget {
	return &RetryBudget{total: total}
}

type budgetKey struct{}

// WithRetryBudget returns a context whose Graph requests draw their retry waits from b.
// Requests without one get a fresh per-request budget of Config.Retry.Budget.
func WithRetryBudget(ctx context.Context, b *RetryBudget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// RetryBudgetFrom returns the budget installed by WithRetryBudget.
func RetryBudgetFrom(ctx context.Context) (*RetryBudget, bool) {
	b, ok := ctx.Value(budgetKey{}).(*RetryBudget)
	return b, ok && b != nil
}

// reserve takes d from the budget; false (and the budget exhausted) when it does not fit.
func (b *RetryBudget) reserve(d time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exhausted || b.spent+d > b.total {
		b.exhausted = true
		return false
	}
	b.spent += d
	return true
}

// Spent is the wait time reserved so far.
func (b *RetryBudget) Spent() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent
}

// Remaining is the wait time still available (0 once exhausted).
func (b *RetryBudget) Remaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exhausted {
		return 0
	}
	return b.total - b.spent
}

// Exhausted reports whether a wait was refused.
func (b *RetryBudget) Exhausted() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exhausted
}
