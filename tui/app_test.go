package tui

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

func TestPaletteParseAndComplete(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line, want, err string
	}{
		{line: "runs failed", want: "runs"},
		{line: "  RUN   4812 ", want: "run"},
		{line: "", err: "type a command"},
		{line: "drop table runs; --", err: `unknown command "drop"`},
		{line: "'; select 1", err: `unknown command "';"`},
	} {
		cmd, _, err := parsePalette(tc.line)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.line)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, cmd.name)
	}
	require.Equal(t, "tenant", completeFrom("tenan", []string{"tenants", "tenant", "home"}))
	require.Equal(t, "run", completeFrom("ru", []string{"runs", "run"}))
	require.Equal(t, "", completeFrom("x", []string{"runs"}))
	_, err := runTabByName("bogus")
	require.ErrorContains(t, err, "no tab")
}

func TestPaletteErrorsStayOpen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := New(b.context(80, 24), nil)
	drive(t, m, m.Init())
	press(t, m, ":", "r", "u", "n", " ", "x", "enter")
	require.NotNil(t, m.palette, "a bad command keeps the palette open")
	require.Contains(t, m.Render(), "usage: :run ID")
	press(t, m, "esc")
	require.Nil(t, m.palette)
	press(t, m, ":", "r", "u", "n", " ", "9", "9", "9", "9", "enter")
	require.Contains(t, m.Render(), "not found", "another workspace's run, or none, says not found")
}

func TestLoaderCoalesces(t *testing.T) {
	t.Parallel()
	var l loader
	require.True(t, l.start())
	require.False(t, l.start())
	require.False(t, l.start())
	require.True(t, l.done(), "one more load owed")
	require.False(t, l.done())
}

func TestAuthorizationInViews(t *testing.T) {
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

	c := b.context(100, 30)
	c.Actor = rita
	m := New(c, nil)
	drive(t, m, m.Init())
	press(t, m, "t", "enter")
	view := m.Render()
	require.NotContains(t, view, "sync groups", "a readonly member is not offered syncs")
	require.NotContains(t, view, "start verification")
	press(t, m, ":", "r", "u", "n", " ")
	for _, r := range itoa(b.runs["ok"]) {
		press(t, m, string(r))
	}
	press(t, m, "enter")
	require.Contains(t, m.Render(), "forbidden", "a run the actor may not view says forbidden")
}

// TestRetryOpensTheRun: R on a finished run's detail starts it again and opens the run it started —
// or, for a type that allows one active run, the run already active — to be watched.
func TestRetryOpensTheRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		run          string // seeded run to retry
		activeBefore bool   // a run of the same identity is active when R is pressed
		flash        string // with %[1]d the run opened, %[2]d the retried one
	}{
		{"NewRun", "throttled", false, "started run %[1]d (retry of %[2]d)"},
		{"ActiveRun", "blocked", true, "run %[1]d is already active for this tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			b.seed(t)
			retried := b.runs[tc.run]
			old, err := b.svc.GetRun(ctx, b.admin, retried)
			require.NoError(t, err)
			var active int64
			if tc.activeBefore {
				res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: old.Type, TenantID: *old.TenantID})
				require.NoError(t, err)
				active = res.Run.ID
			}

			m := New(b.context(120, 30), nil)
			drive(t, m, m.Init())
			press(t, m, append([]string{":"}, append(keysOf("run "+itoa(retried)), "enter")...)...)
			press(t, m, "R")

			opened := active
			if !tc.activeBefore {
				require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT id FROM operation_runs WHERE retry_of_run_id = $1`, retried).Scan(&opened))
			}
			view := ansi.Strip(m.Render())
			require.Contains(t, view, "▸ Run "+itoa(retried)+" ▸ Run "+itoa(opened))
			require.Contains(t, view, "#"+itoa(opened)+"  "+old.Type)
			require.Contains(t, view, fmt.Sprintf(tc.flash, opened, retried))
		})
	}
}

// TestBulkRetry: R with marked runs retries the finished ones among them after a y; any other key
// leaves them; marks on active runs only, or an active selected run, retry nothing and say why.
func TestBulkRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mark    []string // runs to mark on the All tab
		confirm string   // key pressed at the question ("" when none is asked)
		retried []string // runs with a retry afterwards
		flash   string
	}{
		{"Confirmed", []string{"throttled", "blocked", "running"}, "y", []string{"throttled", "blocked"}, "retried 2 run(s): started #"},
		{"Declined", []string{"throttled", "blocked"}, "n", nil, "nothing retried"},
		{"OnlyActiveMarked", []string{"running", "queued"}, "", nil, "nothing to retry: none of the marked runs has finished"},
		{"SelectedActive", nil, "", nil, "is still queued: only a finished run can be retried"}, // the cursor starts on the queued run
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			b.seed(t)
			m := New(b.context(160, 30), nil)
			drive(t, m, m.Init())
			press(t, m, "o", "5")
			rows := m.top().(*runs)
			for _, key := range tc.mark {
				rows.marked[b.runs[key]] = true
			}
			press(t, m, "R")
			if tc.confirm != "" {
				require.Contains(t, ansi.Strip(m.Render()), fmt.Sprintf("Retry %d run(s)? y to start them again", len(tc.mark)-countActive(tc.mark)))
				press(t, m, tc.confirm)
			}
			require.Contains(t, ansi.Strip(m.Render()), tc.flash)

			var retried []int64
			require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT coalesce(array_agg(retry_of_run_id ORDER BY retry_of_run_id), '{}')
				FROM operation_runs WHERE retry_of_run_id IS NOT NULL`).Scan(&retried))
			var want []int64
			for _, key := range tc.retried {
				want = append(want, b.runs[key])
			}
			require.ElementsMatch(t, want, retried)
		})
	}
}

// countActive counts the seeded runs among keys that are still queued or running.
func countActive(keys []string) int {
	n := 0
	for _, k := range keys {
		if k == "running" || k == "queued" {
			n++
		}
	}
	return n
}

// TestLiveFlow drives the real program with teatest: the hub's notifications update the operations
// screen without a keypress.
func TestLiveFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hub := store.NewHub(b.db, nil)
	require.NoError(t, hub.Start(context.Background()))
	t.Cleanup(hub.Stop)
	require.Eventually(t, hub.Connected, 10*time.Second, 10*time.Millisecond)
	e, err := engine.NewEngine(b.svc, engine.Config{HeartbeatInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(e.Stop)

	c := b.context(120, 30)
	c.Now = nil
	c.Subscribe = hub.Subscribe
	m := New(c, nil)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	waitScreen(t, tm, "CONNECTIONS NEEDING ATTENTION")
	tm.Send(tea.KeyPressMsg{Code: 'o', Text: "o"})
	waitScreen(t, tm, "Queued 0")

	w, err := store.GetWorkspaceByName(context.Background(), b.db.Pool, "default")
	require.NoError(t, err)
	res, err := b.svc.Start(context.Background(), b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID,
		Params: map[string]any{"duration": "600ms", "steps": "3"}})
	require.NoError(t, err)
	waitScreen(t, tm, "running")
	waitScreen(t, tm, "succeeded")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, tm, "finished: succeeded")
	require.NoError(t, tm.Quit())
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	require.Contains(t, final.Render(), "Run "+itoa(res.Run.ID))
}

func waitScreen(t *testing.T, tm *teatest.TestModel, want string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// A load that failed because the database connection was lost is tried again on its own, after a
// pause: the notification that would have caused the next load may have been lost with the
// connection. Any other error waits for the next notification or keypress.
func TestFetcherRetriesALostConnection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		first error
		retry bool
	}{
		{"ServerRestarted", fmt.Errorf("listing runs: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), true},
		{"PermissionDenied", fmt.Errorf("listing runs: %w", &pgconn.PgError{Code: "42501"}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := &Env{}
			f := newFetcher[int]()
			calls := 0
			get := func(context.Context) (int, error) {
				calls++
				if calls == 1 {
					return 0, tc.first
				}
				return 7, nil
			}
			var err error
			got := 0
			keep := func(v int) { got = v }
			reload := func() tea.Cmd { return f.start(env, get) }

			cmd, ok := f.receive(reload()(), &err, keep, reload)
			require.True(t, ok)
			require.ErrorIs(t, err, tc.first)
			if !tc.retry {
				require.Nil(t, cmd, "no retry for an error a retry cannot cure")
				return
			}
			require.NotNil(t, cmd)
			msg := cmd() // the pause, then the retry request
			require.Equal(t, retryLoad{id: f.id}, msg)
			cmd, ok = f.receive(msg, &err, keep, reload)
			require.True(t, ok)
			cmd, ok = f.receive(cmd(), &err, keep, reload)
			require.True(t, ok)
			require.Nil(t, cmd)
			require.NoError(t, err)
			require.Equal(t, 7, got)
			require.Equal(t, 0, f.retries, "a success resets the backoff")
		})
	}
}

func TestRetryDelayBacksOff(t *testing.T) {
	t.Parallel()
	require.Equal(t, 250*time.Millisecond, retryDelay(1))
	require.Equal(t, 500*time.Millisecond, retryDelay(2))
	require.Equal(t, 4*time.Second, retryDelay(5))
	require.Equal(t, 4*time.Second, retryDelay(50))
}
