package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// CronSpec is a parsed backup schedule: a cron expression (5 fields, or 6 with a leading seconds
// field, or a descriptor such as @daily) read in an IANA time zone.
//
// Fire times are wall-clock times in the zone, with the semantics of classic cron across daylight
// saving changes (which robfig/cron alone does not give: it skips the gap and fires twice in the
// overlap):
//   - a wall time that does not exist (spring forward, 02:30 in Europe/Berlin on the last Sunday of
//     March) fires once, at the first instant after the gap (03:00 CEST);
//   - a wall time that exists twice (fall back) fires once, at its first occurrence.
//
// Fire times are whole seconds; every engine computes the same ones, so (schedule, tenant, fire time) is a
// stable identity across processes.
type CronSpec struct {
	Expr     string
	Location *time.Location
	sched    cron.Schedule
}

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCronSpec validates expr and tz ("" means UTC).
func ParseCronSpec(expr, tz string) (CronSpec, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return CronSpec{}, fmt.Errorf("%w: give the time zone with --timezone, not inside the cron expression", ErrInvalid)
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return CronSpec{}, fmt.Errorf("%w: time zone %q is not an IANA zone name such as Europe/Berlin or America/New_York", ErrInvalid, tz)
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return CronSpec{}, fmt.Errorf("%w: cron %q: %v (expected 5 fields, or 6 with leading seconds, e.g. \"0 3 * * *\")", ErrInvalid, expr, err)
	}
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return CronSpec{}, fmt.Errorf("%w: cron %q never fires", ErrInvalid, expr)
	}
	return CronSpec{Expr: expr, Location: loc, sched: sched}, nil
}

// wall returns t's wall clock in the spec's zone, as a UTC time with the same fields.
func (c CronSpec) wall(t time.Time) time.Time {
	l := t.In(c.Location)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instant resolves a wall time of the zone to the instant it fires at: a time in a gap fires at the
// end of the gap, an ambiguous time at its first occurrence.
func (c CronSpec) instant(w time.Time) time.Time {
	cand := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, c.Location)
	if !c.wall(cand).Equal(w) {
		// In a gap: fire when the new offset starts.
		start, end := cand.ZoneBounds()
		if c.wall(cand).After(w) && !start.IsZero() {
			return start.UTC() // cand lies after the gap: the gap ended when its period started
		}
		if !end.IsZero() {
			return end.UTC()
		}
		return cand.UTC()
	}
	// Ambiguous? The same wall time under the previous zone period's offset may come first.
	start, _ := cand.ZoneBounds()
	if !start.IsZero() {
		_, prevOff := start.Add(-time.Nanosecond).In(c.Location).Zone()
		alt := w.Add(-time.Duration(prevOff) * time.Second)
		if alt.Before(cand) && c.wall(alt).Equal(w) {
			return alt.UTC()
		}
	}
	// Or the next period's (cand is the first occurrence already when it lies before the change).
	return cand.UTC()
}

// Next returns the first fire time strictly after t (UTC, whole seconds).
func (c CronSpec) Next(t time.Time) time.Time {
	w := c.wall(t.Truncate(time.Second))
	for range 100_000 {
		w = c.sched.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if at := c.instant(w); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// Prev returns the latest fire time at or before t, and false when there is none within ten years.
func (c CronSpec) Prev(t time.Time) (time.Time, bool) {
	for window := time.Minute; window <= 10*366*24*time.Hour; window *= 4 {
		var last time.Time
		for at := c.Next(t.Add(-window)); !at.IsZero() && !at.After(t); at = c.Next(at) {
			last = at
		}
		if !last.IsZero() {
			return last, true
		}
	}
	return time.Time{}, false
}

// Between returns the fire times in (after, until], at most limit of them (the latest ones).
func (c CronSpec) Between(after, until time.Time, limit int) []time.Time {
	var out []time.Time
	for at := c.Next(after); !at.IsZero() && !at.After(until); at = c.Next(at) {
		out = append(out, at)
		if len(out) > limit {
			out = out[1:]
		}
	}
	return out
}

// NextN returns the next n fire times after t.
func (c CronSpec) NextN(t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for at := c.Next(t); !at.IsZero() && len(out) < n; at = c.Next(at) {
		out = append(out, at)
	}
	return out
}
