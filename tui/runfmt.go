package tui

import (
	"fmt"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runElapsed is how long the run ran (or has been running).
func runElapsed(r store.Run, now time.Time) time.Duration {
	if r.StartedAt == nil {
		return 0
	}
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(*r.StartedAt)
}

func runDur(r store.Run, now time.Time) string {
	if r.StartedAt == nil {
		return "-"
	}
	d := runElapsed(r, now)
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func runProgress(r store.Run, width int) string {
	if r.Status == store.StatusQueued {
		return ""
	}
	if r.Status == store.StatusCompleted && r.ProgressTotal == nil {
		switch n := r.ProgressProcessed; {
		case n >= 10_000:
			return fmt.Sprintf("%dk items", n/1000)
		case n > 0:
			return fmt.Sprintf("%d items", n)
		}
		return ""
	}
	return progressBar(r.ProgressProcessed, r.ProgressTotal, width)
}
