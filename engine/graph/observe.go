package graph

import "context"

// Observer is told how requests fare, for metrics (the engine's Prometheus metrics implement it).
// Its methods are called on the request path: they must be fast and safe for concurrent use.
type Observer interface {
	// Request is one request's final answer: its HTTP status, or 0 when no response arrived.
	Request(family Family, status int)
	// Retry is one retry of a request answered status (429, 503 or 504), after its wait.
	Retry(family Family, status int)
	// BudgetExhausted is a retry refused because the run's retry-time budget was spent.
	BudgetExhausted(family Family)
}

// familyKey carries the family a request reads or writes, for the observer.
type familyKey struct{}

func familyOf(ctx context.Context) Family {
	f, _ := ctx.Value(familyKey{}).(Family)
	return f
}
