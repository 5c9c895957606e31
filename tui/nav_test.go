package tui

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// TestNavigationContract: every list moves on the same keys, k9s's: j/k, arrows, g/G, home/end,
// pgup/pgdn, ctrl-f/ctrl-b a page, ctrl-d/ctrl-u half a page.
func TestNavigationContract(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		keys   []string
		cursor int
	}{
		{"End", []string{"end"}, 99},
		{"HomeAfterEnd", []string{"end", "home"}, 0},
		{"CtrlFIsAPage", []string{"ctrl+f"}, 20}, // 21 body lines: a header row and 20 rows
		{"CtrlBBackAPage", []string{"ctrl+f", "ctrl+f", "ctrl+b"}, 20},
		{"CtrlDIsHalfAPage", []string{"ctrl+d"}, 10},
		{"CtrlUBackHalfAPage", []string{"ctrl+d", "ctrl+d", "ctrl+u"}, 10},
		{"ArrowsMove", []string{"down", "down", "up"}, 1},
		{"PgDownPgUp", []string{"pgdown", "pgdown", "pgup"}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeList(100, nil)
			f.run(t, f.Init())
			f.keys(t, tc.keys...)
			require.Equal(t, tc.cursor, f.table.cursor)
		})
	}
	// Texts taller than their window (drift, restore preview) scroll on the same keys.
	for _, tc := range []struct {
		keys []string
		want int
	}{
		{[]string{"G"}, 90}, {[]string{"G", "g"}, 0}, {[]string{"ctrl+d"}, 5}, {[]string{"ctrl+f", "ctrl+f"}, 20}, {[]string{"end", "ctrl+b"}, 80},
	} {
		var s scroller
		for _, k := range tc.keys {
			require.True(t, s.key(keyMsg(k), 10, 100, 10), k)
		}
		require.Equal(t, tc.want, s.offset, tc.keys)
	}
}

// TestEscClearsAnAppliedFilterFirst: after `/text` enter, the first esc clears the filter and stays;
// the next goes back.
func TestEscClearsAnAppliedFilterFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	for _, tc := range []struct {
		name  string
		open  []string
		title string
	}{
		{"Operations", []string{"o"}, "Operations"},
		{"Tenants", []string{"t"}, "Tenants"},
		{"Groups", []string{"t", "enter", "e"}, "Groups"},
		{"RunLog", append(append([]string{":"}, keysOf("run "+itoa(b.runs["blocked"]))...), "enter"), "Run "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(b.context(120, 30), nil)
			drive(t, m, m.Init())
			press(t, m, tc.open...)
			depth := len(m.stack)
			press(t, m, "/", "n", "o", "enter")
			require.Contains(t, screen(m), "/no")
			press(t, m, "esc")
			require.Len(t, m.stack, depth, "the first esc stays on the screen")
			require.Contains(t, m.top().Title(), tc.title)
			require.NotContains(t, screen(m), "/no", "and clears the filter")
			press(t, m, "esc")
			require.Len(t, m.stack, depth-1, "the next esc goes back")
		})
	}
}

// TestPaletteJumpReplacesTheStack: a `:` jump opens the screen alone above home, as k9s's
// `:resource` does; :home goes home.
func TestPaletteJumpReplacesTheStack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	command := func(line string) { press(t, m, append(append([]string{":"}, keysOf(line)...), "enter")...) }
	press(t, m, "t", "enter")
	command("runs failed")
	command("tenant contoso")
	command("runs")
	head := strings.Split(screen(m), "\n")[0]
	require.Contains(t, head, "TenantAtlas ▸ Home ▸ Operations ")
	require.Len(t, m.stack, 2)
	command("home")
	require.Len(t, m.stack, 1)
	require.Contains(t, strings.Split(screen(m), "\n")[0], "TenantAtlas ▸ Home ")
}

// TestPaletteQuitAndCompletion: :q and :quit quit; tab completes inline and lists the candidates;
// tab again cycles through them; :run of a run that does not exist stays in the palette.
func TestPaletteQuitAndCompletion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	for _, line := range []string{"q", "quit"} {
		m := New(b.context(120, 30), nil)
		drive(t, m, m.Init())
		press(t, m, append([]string{":"}, keysOf(line)...)...)
		_, cmd := m.Update(keyMsg("enter"))
		require.NotNil(t, cmd, line)
		require.IsType(t, tea.QuitMsg{}, cmd(), line)
	}

	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	status := func() string { return strings.Split(screen(m), "\n")[28] }
	press(t, m, ":", "tab")
	require.Contains(t, status(), "tab: alerts audit backups engines groups help home", "tab on an empty prompt lists every command")
	press(t, m, "esc", ":", "r", "tab")
	require.Contains(t, status(), ":r█  tab: restore roles run runs")
	press(t, m, "tab")
	require.Contains(t, status(), ":restore█", "tab again takes the first candidate")
	press(t, m, "tab")
	require.Contains(t, status(), ":roles█")
	press(t, m, "esc", ":", "r", "u", "tab")
	require.Contains(t, status(), ":run█  tab: run runs")
	press(t, m, "s", "tab")
	require.Contains(t, status(), ":runs █", "one candidate is taken whole")
	press(t, m, "esc", ":", "h", "tab")
	require.Contains(t, status(), ":h█  tab: help home")

	press(t, m, "esc")
	press(t, m, append(append([]string{":"}, keysOf("run 9999")...), "enter")...)
	require.NotNil(t, m.palette, "a run that does not exist keeps the palette open")
	require.Contains(t, status(), "not found")
	require.Len(t, m.stack, 1)
}

// TestHelpScrollsAndFits: at 80×24 the help says it scrolls, scrolls to its end with G, and closes on
// any other key; it lists the navigation keys and the marks rule.
func TestHelpScrollsAndFits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	m := New(b.context(80, 24), nil)
	drive(t, m, m.Init())
	press(t, m, "o", "?")
	view := screen(m)
	require.Len(t, strings.Split(view, "\n"), 24)
	require.Contains(t, view, "ctrl+d")
	require.Contains(t, view, "changing tab clears marks")
	require.Contains(t, view, "j/k, pgup/pgdn, g/G scroll")
	require.NotContains(t, view, ":schedules")
	press(t, m, "G")
	require.True(t, m.help, "G scrolls the help")
	require.Contains(t, screen(m), ":schedules", "the last command shows at the end")
	press(t, m, "x")
	require.False(t, m.help, "any other key closes it")
}

// TestLettersKeepOneMeaning: g is top, b backup, d role definitions and x show-deleted on every
// screen that has them.
func TestLettersKeepOneMeaning(t *testing.T) {
	t.Parallel()
	env := &Env{Theme: ThemeNamed("dark"), Width: 80, Height: 24}
	want := map[string][]string{"g": {"top"}, "b": {"backup now"}, "d": {"role definitions"}, "x": {"show deleted", "hide deleted"}}
	for _, s := range []Screen{newHome(env), newRuns(env, runsOptions{tab: allTab}), newRunDetail(env, 1), newTenants(env),
		newTenantDetail(env, 1, "contoso"), newGroups(env, 1, "contoso"), newRoles(env, 1, "contoso"), newAudit(env),
		newBackups(env, 0, 0, ""), newSchedules(env), newInventory(env, 1, "contoso"), newDrift(env, 1, 2),
		newRestore(env, 1, ""), newWizard(env), func() Screen { w := newWizard(env); w.step = stepSyncs; return w }()} {
		for _, k := range s.FullHelp() {
			for _, name := range k.Keys() {
				if meanings, ok := want[name]; ok {
					require.Contains(t, meanings, k.Help().Desc, "%q on %s", name, s.Title())
				}
			}
		}
	}
}

// TestMarksClearOnTabChange: marks apply to the tab they were made on; changing tab clears them.
func TestMarksClearOnTabChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	m := New(b.context(160, 30), nil)
	drive(t, m, m.Init())
	press(t, m, "o", "5", "space", "space")
	require.Contains(t, screen(m), "2 marked")
	press(t, m, "3")
	require.NotContains(t, screen(m), "marked")
	press(t, m, "R")
	require.NotContains(t, screen(m), "Retry 2 run(s)")
}

// TestReadonlyIsNotOfferedCancelOrRetry: a readonly member sees no c or R on Operations, and they do
// nothing there.
func TestReadonlyIsNotOfferedCancelOrRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	_, err := b.svc.CreateUser(ctx, b.admin, "rita")
	require.NoError(t, err)
	_, err = b.svc.AddMember(ctx, b.admin, "default", "rita", "readonly")
	require.NoError(t, err)
	rita, err := b.svc.ActorByName(ctx, "rita")
	require.NoError(t, err)
	c := b.context(160, 30)
	c.Actor = rita
	m := New(c, nil)
	drive(t, m, m.Init())
	press(t, m, "o")
	view := screen(m)
	require.NotContains(t, view, "c cancel")
	require.NotContains(t, view, "R retry")
	press(t, m, "c")
	require.NotContains(t, screen(m), "Cancel 1 run(s)?")
	press(t, m, "?")
	require.NotContains(t, screen(m), "cancel")
}

// TestFooterKeepsTheWayOut: at every width the footer ends with esc, q and ?.
func TestFooterKeepsTheWayOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	for _, w := range []int{80, 120, 200} {
		m := New(b.context(w, 30), nil)
		drive(t, m, m.Init())
		press(t, m, "t", "enter")
		lines := strings.Split(screen(m), "\n")
		require.True(t, strings.HasSuffix(strings.TrimRight(lines[len(lines)-1], " "), "esc back  q quit  ? help"), "%d: %q", w, lines[len(lines)-1])
	}
}

// TestSortOrderInTheHeader: the order shows on the column it sorts by.
func TestSortOrderInTheHeader(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	press(t, m, "o")
	require.Contains(t, screen(m), "ID↓")
	press(t, m, ">")
	require.Contains(t, screen(m), "DUR↓")
	press(t, m, ">")
	require.Contains(t, screen(m), "TYPE↑")
	press(t, m, "<") // the list screens' sort keys, the same on every list (tenants: TestTenantsSortByHealth)
	require.Contains(t, screen(m), "DUR↓")
	press(t, m, "s")
	require.Contains(t, screen(m), "DUR↓", "s is no sort key: it syncs or starts where it means anything")
}

// TestTabCountMovesWithTheRows: every tab's count arrives with the rows, so a new run moves the tab
// shown and the others (All) in the same frame, with no recount to wait for.
func TestTabCountMovesWithTheRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	m := New(b.context(160, 30), nil)
	drive(t, m, m.Init())
	press(t, m, "o", "1")
	view := screen(m)
	require.Contains(t, view, "1 Queued 1")
	all := regexp.MustCompile(`5 All (\d+)`)
	before, err := strconv.Atoi(all.FindStringSubmatch(view)[1])
	require.NoError(t, err)
	_, err = b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: b.tenants["contoso"]})
	require.NoError(t, err)
	drive(t, m, m.top().(*runs).Reload()) // one load, as a change notification causes: the rows and the counts
	view = ansi.Strip(m.Render())
	require.Contains(t, view, "1 Queued 2")
	require.Contains(t, view, fmt.Sprintf("5 All %d", before+1))
}

// TestGroupRowsOpenDetails: enter on a group shows its every field under the list, and hides them.
func TestGroupRowsOpenDetails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	press(t, m, "t", "enter", "e", "enter")
	view := screen(m)
	require.Contains(t, view, "── details")
	require.Contains(t, view, "enter hide details")
	press(t, m, "enter")
	require.NotContains(t, screen(m), "── details")
}

// TestReasonCodesNeverCutAlike: a REASON column too narrow for the codes drops their shared
// provider_ prefix before cutting, so two codes never read the same.
func TestReasonCodesNeverCutAlike(t *testing.T) {
	t.Parallel()
	env := &Env{Theme: ThemeNamed("dark"), Width: 40, Height: 10}
	tb := table{cols: []column{{title: "ID", width: 3}, reasonColumn(0)}, rows: [][]string{
		{"1", "provider_malformed_response"}, {"2", "provider_permission_denied"}}}
	lines := strings.Split(ansi.Strip(tb.view(env, 24, 3)), "\n")
	require.Len(t, lines, 3)
	a, b := strings.TrimSpace(lines[1][5:]), strings.TrimSpace(lines[2][5:])
	require.NotEqual(t, a[:8], b[:8], "%q and %q", a, b)
	require.Contains(t, a, "malformed")
}

// TestSameLabelsAtEveryWidth: operations shows an operation's title at every width, never its
// internal type name.
func TestSameLabelsAtEveryWidth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	for _, w := range []int{80, 120, 200} {
		m := New(b.context(w, 30), nil)
		drive(t, m, m.Init())
		press(t, m, "o")
		view := screen(m)
		require.Contains(t, view, "Group sync", w)
		require.NotContains(t, view, "directory_groups.sync", w)
	}
}

// TestSmallerItems: legacy STARTED shows the year and the rows are newest first; a watch-only
// dashboard says a run it queued waits for an engine; hours without runs show in the sparkline.
func TestSmallerItems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.context(160, 30)
	c.EngineEmbedded = false
	m := New(c, nil)
	drive(t, m, m.Init())
	require.Contains(t, screen(m), "·····", "the sparkline marks empty hours")
	press(t, m, "o", "6")
	view := screen(m)
	require.Contains(t, view, "2025-06-03")
	require.Less(t, strings.Index(view, "2025-06-03"), strings.Index(view, "2025-06-01"), "newest first")
	press(t, m, "5", "j", "j", "R")
	require.Contains(t, screen(m), "watch only: no engine runs here")
}

// TestSecondBackupAsksFirst: b on a tenant whose backup is still queued or running asks before
// starting another; the screen does not ask to be refreshed.
func TestSecondBackupAsksFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	m := New(b.context(120, 30), nil)
	drive(t, m, m.Init())
	press(t, m, "t", "enter", "b")
	drive(t, m, m.top().Reload())
	press(t, m, "b")
	require.Contains(t, screen(m), "is still queued. Start another? y to start")
	press(t, m, "n")
	require.Contains(t, screen(m), "no backup started")
	runs, err := b.svc.ListRuns(ctx, b.admin, engine.RunQuery{Types: []string{engine.TypeBackupRun}})
	require.NoError(t, err)
	require.Len(t, runs, 1, "one backup, not two")
	require.NotContains(t, screen(m), "press r to refresh")
}

// TestRunLogFollowOffKeepsPlaceAndWraps: turning follow off keeps the lines shown (it used to jump
// to the first); w wraps long lines under their message; g/G move through the log.
func TestRunLogFollowOffKeepsPlaceAndWraps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.seed(t)
	id := b.runs["ok"]
	for i := range 40 {
		msg := "line " + itoa(int64(i))
		if i == 39 {
			msg += " created \"DeviceComplianceScripts Kiosk lockdown for the warehouse scanners\" " + strings.Repeat("and more ", 10) + "THE-END"
		}
		storetest.RunEvent(ctx, t, b.db.Pool, &storetest.RunEventOpts{RunID: id, Message: msg})
	}
	m := New(b.context(80, 24), nil)
	drive(t, m, m.Init())
	press(t, m, append(append([]string{":"}, keysOf("run "+itoa(id))...), "enter")...)
	require.Contains(t, screen(m), "line 38")
	press(t, m, "f")
	view := screen(m)
	require.Contains(t, view, "follow off")
	require.Contains(t, view, "line 38", "follow off keeps the lines shown")
	require.NotContains(t, view, "THE-END", "a long line is cut")
	press(t, m, "w", "G")
	require.Contains(t, screen(m), "THE-END", "w wraps it; G goes to the end")
	press(t, m, "g")
	require.Contains(t, screen(m), "line 0 ")
}
