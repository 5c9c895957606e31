// Package noop is the hidden system.noop operation: a configurable run that exercises the lifecycle
// (progress, cancellation, failure, blocking) without touching Graph.
package noop

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// Run exercises the lifecycle: params duration ("2s"), steps (10), fail and blocked ("true").
func Run(ctx context.Context, rc *run.RunContext) (run.Result, error) {
	duration, _ := time.ParseDuration(paramString(rc.Run.Params, "duration"))
	steps, _ := strconv.Atoi(paramString(rc.Run.Params, "steps"))
	if steps <= 0 {
		steps = 10
	}
	rc.SetTotal(ctx, int64(steps))
	for i := int(rc.Progress().Processed); i < steps; i++ {
		select {
		case <-ctx.Done():
			return run.Result{}, ctx.Err()
		case <-time.After(duration / time.Duration(steps)):
		}
		rc.Update(ctx, func(p *store.Progress) { p.Processed++; p.Succeeded++ })
		if i == steps/2 {
			rc.Logf(ctx, store.LevelInfo, "half way: %d of %d steps", i+1, steps)
		}
	}
	switch {
	case paramString(rc.Run.Params, "blocked") == "true":
		return run.Result{}, run.Failure(reason.ProviderPermissionDenied, "the app lacks DeviceManagementConfiguration.Read.All (requested by the no-op)")
	case paramString(rc.Run.Params, "fail") == "true":
		return run.Result{}, run.Failure(reason.InternalError, "failed on request (fail=true)")
	}
	return run.Result{Data: map[string]any{"steps": steps}}, nil
}

func paramString(params map[string]any, key string) string {
	v, ok := params[key]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
