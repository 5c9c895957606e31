package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"
)

// fakeList is a list of n names that needs no database: fetch serves pages of the names, and counts
// its calls and the last query.
type fakeList struct {
	*listScreen[string, struct{}]
	names   []string
	fetches int
	last    listQuery[string]
}

func newFakeList(n int, tweak func(*listSpec[string, struct{}])) *fakeList {
	f := &fakeList{}
	for i := range n {
		f.names = append(f.names, fmt.Sprintf("name-%03d", i))
	}
	spec := listSpec[string, struct{}]{
		title: "Fake",
		fetch: func(_ context.Context, _ *Env, q listQuery[string]) ([]string, struct{}, error) {
			f.fetches++
			f.last = q
			rows := f.names
			if q.more {
				for i, name := range rows {
					if name == q.last {
						rows = rows[i+1:]
						break
					}
				}
			}
			return rows, struct{}{}, nil
		},
		columns: func(int) []column { return []column{{title: "NAME", flex: true}} },
		row:     func(_ *Env, _ time.Time, v string) []string { return []string{v} },
		match:   func(v string) string { return v },
		empty:   func(*listScreen[string, struct{}]) string { return "  nothing here" },
		actions: []listAction[string, struct{}]{filterAction[string, struct{}]("filter")},
	}
	if tweak != nil {
		tweak(&spec)
	}
	env := &Env{Theme: ThemeNamed("dark"), Width: 80, Height: 24, Now: func() time.Time { return fixedNow }}
	f.listScreen = newList(env, spec)
	return f
}

// run feeds cmd's message back into the list, as the program would (one level deep is enough here).
func (f *fakeList) run(t *testing.T, cmd tea.Cmd) {
	t.Helper()
	for cmd != nil {
		_, cmd = f.Update(cmd())
	}
}

func (f *fakeList) keys(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, cmd := f.Update(keyMsg(k))
		f.run(t, cmd)
	}
}

func TestListScreen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		rows   int
		keys   []string
		cursor int
		shown  int
	}{
		{"DownMoves", 5, []string{"j", "j"}, 2, 5},
		{"UpStopsAtTheTop", 5, []string{"k", "k"}, 0, 5},
		{"BottomAndTop", 50, []string{"G"}, 49, 50},
		{"TopAfterBottom", 50, []string{"G", "g"}, 0, 50},
		{"PageDownStopsAtTheEnd", 30, []string{"pgdown", "pgdown", "pgdown"}, 29, 30},
		{"PageDownIsAPage", 100, []string{"pgdown"}, 20, 100}, // 21 body lines: a header row and 20 rows
		{"FilterNarrowsAndResetsTheCursor", 30, []string{"j", "j", "/", "2", "enter"}, 0, 12},
		{"FilterClearedByEsc", 30, []string{"/", "2", "esc"}, 0, 30},
		{"NothingToMoveOver", 0, []string{"j", "G", "pgdown"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeList(tc.rows, nil)
			f.run(t, f.Init())
			f.keys(t, tc.keys...)
			require.Equal(t, tc.cursor, f.table.cursor)
			require.Len(t, f.shown, tc.shown)
			require.Len(t, f.table.rows, tc.shown, "rows are drawn when they change, for View to draw")
		})
	}
}

// TestListViewOnlyDraws: drawing twice gives the same screen and leaves the list as it was.
func TestListViewOnlyDraws(t *testing.T) {
	t.Parallel()
	f := newFakeList(40, nil)
	f.run(t, f.Init())
	f.keys(t, "G")
	before := f.table
	first := f.View(80, 21)
	require.Equal(t, first, f.View(80, 21))
	require.Equal(t, before.cursor, f.table.cursor)
	require.Equal(t, before.offset, f.table.offset)
	require.Contains(t, ansi.Strip(first), "name-039", "the cursor's row is in view")
}

func TestListLoadingEmptyAndError(t *testing.T) {
	t.Parallel()
	f := newFakeList(0, nil)
	require.Equal(t, "loading…", ansi.Strip(f.View(80, 21)), "before the first answer")
	f.run(t, f.Init())
	require.Equal(t, "  nothing here", ansi.Strip(f.View(80, 21)))

	failing := newFakeList(3, func(s *listSpec[string, struct{}]) {
		s.fetch = func(context.Context, *Env, listQuery[string]) ([]string, struct{}, error) {
			return nil, struct{}{}, fmt.Errorf("database is down")
		}
	})
	failing.run(t, failing.Init())
	require.Equal(t, "✖ database is down", ansi.Strip(failing.View(80, 21)))
}

// TestListLoadProtocol: a reload asked for while one runs is owed, not started; an answer meant for
// another list is left alone.
func TestListLoadProtocol(t *testing.T) {
	t.Parallel()
	f := newFakeList(3, nil)
	first := f.Init()
	require.NotNil(t, first)
	require.Nil(t, f.Reload(), "in flight: the reload is owed")
	msg := first()
	other := newFakeList(1, nil)
	other.run(t, other.Init())
	_, cmd := other.Update(msg)
	require.Nil(t, cmd)
	require.Equal(t, []string{"name-000"}, other.all, "another list's answer does not land here")

	_, owed := f.Update(msg)
	require.NotNil(t, owed, "the owed reload follows the answer")
	f.run(t, owed)
	require.Equal(t, 2, f.fetches)
	require.Len(t, f.all, 3)
}

// TestListPaging: moving near the end of a paged list loads the page after its last row.
func TestListPaging(t *testing.T) {
	t.Parallel()
	f := newFakeList(50, func(s *listSpec[string, struct{}]) {
		s.page = 20
		inner := s.fetch
		s.fetch = func(ctx context.Context, env *Env, q listQuery[string]) ([]string, struct{}, error) {
			rows, side, err := inner(ctx, env, q)
			return rows[:min(len(rows), 20)], side, err
		}
	})
	f.run(t, f.Init())
	require.Len(t, f.all, 20)
	require.False(t, f.exhausted)
	f.keys(t, strings.Split(strings.Repeat("j", 10), "")...)
	require.Len(t, f.all, 40, "ten from the end: the next page")
	require.True(t, f.last.more)
	require.Equal(t, "name-019", f.last.last)
	f.keys(t, "G")
	require.Len(t, f.all, 50)
	require.True(t, f.exhausted, "a short page is the last")
}

func TestScroller(t *testing.T) {
	t.Parallel()
	lines := strings.Split("a b c d e f g h i j", " ")
	for _, tc := range []struct {
		name   string
		deltas []int
		want   int
	}{
		{"Down", []int{1, 1}, 2},
		{"NotAboveTheTop", []int{-3}, 0},
		{"NotPastTheEnd", []int{100}, 6}, // 10 lines, 4 visible
		{"BackFromTheEnd", []int{100, -1}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s scroller
			for _, d := range tc.deltas {
				s.by(d, len(lines), 4)
			}
			require.Equal(t, tc.want, s.offset)
			require.Equal(t, lines[tc.want:tc.want+4], s.window(lines, 4))
		})
	}
	grown := scroller{offset: 6}
	require.Equal(t, lines[2:], grown.window(lines, 8), "a taller window shows more of the end, changing nothing")
	require.Equal(t, 6, grown.offset)
}

func TestConfirmer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, flash string
		ran        bool
	}{
		{"y", "", true},
		{"n", "kept", false},
		{"enter", "kept", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			var c confirmer
			ran := false
			c.ask("Do it?", "kept", func() tea.Cmd { ran = true; return nil })
			require.True(t, c.asking())
			require.Contains(t, c.view(ThemeNamed("dark"), 40), "Do it?")
			cmd := c.answer(keyMsg(tc.key))
			require.False(t, c.asking(), "any key answers")
			require.Equal(t, tc.ran, ran)
			if tc.flash != "" {
				require.Equal(t, flashMsg{text: tc.flash}, cmd())
			}
		})
	}
}
