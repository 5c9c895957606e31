package tui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/store"
)

// The operations screen's cancel and retry, on the marked runs or the selected one, behind a y/n
// confirmation; retryRun serves the run detail too.

// cancel asks to cancel the marked active runs, or the selected one.
func (s *runs) cancel() tea.Cmd {
	ids := s.cancelTargets()
	if len(ids) == 0 {
		return flash("nothing to cancel: mark active runs with space, or select one")
	}
	s.ask(fmt.Sprintf("Cancel %d run(s)? y to confirm, any other key to keep them", len(ids)),
		"nothing cancelled", func() tea.Cmd { return s.cancelRuns(ids) })
	return nil
}

// retry asks to retry the marked finished runs; with none marked it retries the selected one at once.
func (s *runs) retry() tea.Cmd {
	if len(s.marked) > 0 {
		ids := s.markedWhere(func(r store.Run) bool { return !r.Active() })
		if len(ids) == 0 {
			return flash("nothing to retry: none of the marked runs has finished")
		}
		s.ask(fmt.Sprintf("Retry %d run(s)? y to start them again, any other key to leave them", len(ids)),
			"nothing retried", func() tea.Cmd { return s.retryRuns(ids) })
		return nil
	}
	r, ok := s.current()
	switch {
	case !ok:
		return flash("nothing to retry: mark finished runs with space, or select one")
	case r.Active():
		return flash(fmt.Sprintf("run %d is still %s: only a finished run can be retried", r.ID, r.Status))
	}
	return retryRun(s.env, r.ID, false)
}

// markedWhere lists the marked runs on screen for which keep is true.
func (s *runs) markedWhere(keep func(store.Run) bool) []int64 {
	var ids []int64
	for _, r := range s.rows {
		if s.marked[r.ID] && keep(r) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// cancelTargets are the marked active runs, or the selected one.
func (s *runs) cancelTargets() []int64 {
	ids := s.markedWhere(func(r store.Run) bool { return r.Active() })
	if len(ids) == 0 {
		if r, ok := s.current(); ok && r.Active() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// onMarked clears the marks and returns the command that acts on runs, once confirmed, and says in
// one line what came of it.
func (s *runs) onMarked(act func(ctx context.Context, c *Env) flashMsg) tea.Cmd {
	c := s.env
	s.marked = map[int64]bool{}
	s.drawMarks()
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		return act(ctx, c)
	}
}

// cancelRuns asks the engine to cancel each of the runs ids.
func (s *runs) cancelRuns(ids []int64) tea.Cmd {
	return s.onMarked(func(ctx context.Context, c *Env) flashMsg {
		done, failed := 0, []string{}
		for _, id := range ids {
			if _, err := c.Svc.Cancel(ctx, c.Actor, id); err != nil {
				failed = append(failed, fmt.Sprintf("#%d: %v", id, err))
				continue
			}
			done++
		}
		if len(failed) > 0 {
			return flashMsg{text: fmt.Sprintf("cancelled %d, %d refused: %s", done, len(failed), strings.Join(failed, "; ")), isErr: true}
		}
		return flashMsg{text: fmt.Sprintf("cancel requested for %d run(s)", done)}
	})
}

// retryRuns retries each of the finished runs ids and says in one line what came of it.
func (s *runs) retryRuns(ids []int64) tea.Cmd {
	return s.onMarked(func(ctx context.Context, c *Env) flashMsg {
		var started, active, refused []string
		for _, id := range ids {
			res, err := c.Svc.Retry(ctx, c.Actor, id)
			switch {
			case err != nil:
				refused = append(refused, fmt.Sprintf("#%d: %v", id, err))
			case res.Created:
				started = append(started, fmt.Sprintf("#%d", res.Run.ID))
			default:
				active = append(active, fmt.Sprintf("#%d", res.Run.ID))
			}
		}
		text := fmt.Sprintf("retried %d run(s): started %s", len(ids), orNone(started))
		if len(active) > 0 {
			text += "; already active " + strings.Join(active, " ")
		}
		if len(refused) > 0 {
			return flashMsg{text: text + fmt.Sprintf("; %d refused: %s", len(refused), strings.Join(refused, "; ")), isErr: true}
		}
		return flashMsg{text: text}
	})
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, " ")
}

// retryRun starts run id's operation again. With open, the run it started (or the active run a dedupe
// type returned) opens next, so that the retry can be watched.
func retryRun(c *Env, id int64, open bool) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		res, err := c.Svc.Retry(ctx, c.Actor, id)
		if err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		msg := flashMsg{text: fmt.Sprintf("started run %d (retry of %d)", res.Run.ID, id) + watchOnlyNote(c)}
		if !res.Created {
			msg.text = fmt.Sprintf("run %d is already active for this tenant", res.Run.ID)
		}
		if !open {
			return msg
		}
		// In order: navigating clears the flash line.
		return tea.Sequence(navigate(newRunDetail(c, res.Run.ID)), func() tea.Msg { return msg })()
	}
}
