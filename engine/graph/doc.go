// Package graph is the only code in TenantAtlas that speaks HTTP to Microsoft (docs/architecture.md#layout).
//
// One Client per provider connection (tenant + app registration) signs in with azidentity client
// credentials (secret or certificate) through kiota's azure authentication provider and sends
// requests through an explicitly ordered kiota-http-go middleware pipeline (see newPipeline).
// Every call is named by a contract of the registry (contract.go): workers never build URLs.
//
//	limiters := graph.NewLimiters(graph.DefaultLimits())            // once per process
//	c, err := graph.NewClient(graph.ConfigFromEnv(os.Getenv), creds, limiters)
//	ctx = graph.WithRetryBudget(ctx, graph.NewRetryBudget(5*time.Minute)) // once per run
//	for item, err := range c.List(ctx, "deviceConfigurations.list", nil, nil) { ... }
//	link, err := c.Delta(ctx, "groups.delta", storedLink, nil, func(it graph.DeltaItem) error { ... })
//	if errors.Is(err, graph.ErrDeltaExpired) { /* drop storedLink, full sync */ }
//
// Failures are *Error values carrying a reason code of engine/reason (ReasonOf, HintOf), the
// Graph error code, the request id and, for 403s, the missing permission.
package graph
