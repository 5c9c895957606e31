package tui

import (
	"sync"

	"charm.land/lipgloss/v2"

	"github.com/tenantatlas/tenantatlas/store"
)

// badge is the one mapping from a state to a symbol, a label and a tone (docs/architecture.md#badges): run
// statuses and outcomes, connection statuses and cache freshness. No view has its own mapping.
type badge struct {
	symbol string
	label  string
	tone   string
}

var badges = map[string]badge{
	string(store.StatusQueued):              {"◌", "queued", "muted"},
	string(store.StatusRunning):             {"●", "running", "info"},
	string(store.OutcomeSucceeded):          {"✔", "succeeded", "ok"},
	string(store.OutcomePartiallySucceeded): {"◐", "partial", "warn"},
	string(store.OutcomeFailed):             {"✖", "failed", "bad"},
	string(store.OutcomeBlocked):            {"■", "blocked", "bad"},
	string(store.OutcomeCancelled):          {"⊘", "cancelled", "muted"},
	"connection:ok":                         {"✔", "connected", "ok"},
	"connection:blocked":                    {"■", "blocked", "bad"},
	"connection:error":                      {"✖", "error", "bad"},
	"connection:unverified":                 {"?", "unverified", "warn"},
	"connection:verifying":                  {"●", "verifying", "info"},
	"connection:none":                       {"-", "no connection", "warn"},
	"cache:fresh":                           {"✔", "fresh", "ok"},
	"cache:stale":                           {"⌛", "stale", "warn"},
	"cache:never":                           {"-", "never synced", "warn"},
	"legacy":                                {"≡", "legacy", "muted"},
	"late":                                  {"⏰", "late", "warn"},
	"sensitive":                             {"⚠", "sensitive", "warn"},
	"paused":                                {"⏸", "paused", "muted"},
	"engine:alive":                          {"●", "alive", "ok"},
	"engine:stale":                          {"✖", "stale", "bad"},
	"engine:stopped":                        {"○", "stopped", "muted"},
}

// runBadgeKey is the badge key of a run: its outcome once completed, else its status.
func runBadgeKey(r store.Run) string {
	if r.Outcome != nil {
		return string(*r.Outcome)
	}
	return string(r.Status)
}

// Badge renders a badge by key; an unknown key renders as its own text, muted. Each theme's badges
// are styled once per process: the operations screen draws one per row at every load, and styling
// cost more than the rest of the row.
func (c *Env) Badge(key string) string {
	memo := badgeMemoKey{theme: c.Theme.Name, key: key}
	if s, ok := renderedBadges.Load(memo); ok && c.Theme.Name != "" {
		return s.(string)
	}
	b, ok := badges[key]
	if !ok {
		b = badge{"·", key, "muted"}
	}
	s := c.Tone(b.tone, b.symbol+" "+b.label)
	if ok && c.Theme.Name != "" {
		renderedBadges.Store(memo, s) // unknown keys are not kept: they are not a fixed set
	}
	return s
}

// renderedBadges holds each theme's styled badges (badgeMemoKey -> string). Themes are fixed by name
// (Themes), so a name says the colours.
var renderedBadges sync.Map

type badgeMemoKey struct{ theme, key string }

// RunBadge renders a run's badge.
func (c *Env) RunBadge(r store.Run) string { return c.Badge(runBadgeKey(r)) }

// Tone colours text with a badge tone.
func (c *Env) Tone(tone, s string) string {
	return lipgloss.NewStyle().Foreground(c.Theme.Colors[tone]).Render(s)
}
