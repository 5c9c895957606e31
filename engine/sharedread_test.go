package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// Dashboards that read a run at the same moment share one read, whoever they are, and each is still
// authorized with its own role: the workspace's owner gets the run, a read-only member (a no-op run
// needs tenant.manage to be seen) "forbidden", a member of another workspace only "not found", though
// all were answered by the same read. The first read is held in
// the database (a lock on the table it reads) so that every other caller arrives while it runs and
// gathers into the next: the count of reads is exact, not a matter of timing.
func TestSharedRunReadsAuthorizeEachCaller(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		table string // what the read waits on while it is held
		read  func(svc *engine.Service, actor engine.Actor, runID int64) (string, error)
	}{
		{"Log", "run_events", func(svc *engine.Service, actor engine.Actor, runID int64) (string, error) {
			events, err := svc.RunEvents(context.Background(), actor, store.EventFilter{RunID: runID})
			if err != nil {
				return "", err
			}
			require.NotEmpty(t, events) // "queued by", then the line
			return events[len(events)-1].Message, nil
		}},
		{"Run", "operation_runs", func(svc *engine.Service, actor engine.Actor, runID int64) (string, error) {
			run, err := svc.GetRun(context.Background(), actor, runID)
			return run.Type, err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			w := b.defaultWorkspace(t)
			res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
			require.NoError(t, err)
			_, err = store.InsertRunEvent(ctx, b.db.Pool, store.RunEvent{RunID: res.Run.ID, Message: "the only line"})
			require.NoError(t, err)
			want := map[string]string{"Log": "the only line", "Run": engine.TypeNoop}[tc.name]

			reader := b.addUser(t, "rita", "readonly")
			other, err := b.svc.CreateWorkspace(ctx, b.admin, "elsewhere")
			require.NoError(t, err)
			outsider := b.addUser(t, "otto", "")
			_, err = b.svc.AddMember(ctx, b.admin, other.Name, outsider.Name, "owner")
			require.NoError(t, err)
			callers := []engine.Actor{b.admin, reader, outsider, reader, outsider, b.admin, reader, outsider}

			tx, err := b.db.Pool.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, "LOCK TABLE "+tc.table+" IN ACCESS EXCLUSIVE MODE")
			require.NoError(t, err)
			before := b.svc.SharedReadStats()
			type answer struct {
				who  string
				text string
				err  error
			}
			answers := make(chan answer, len(callers))
			for _, actor := range callers {
				go func() {
					text, err := tc.read(b.svc, actor, res.Run.ID)
					answers <- answer{actor.Name, text, err}
				}()
			}
			require.Eventually(t, func() bool { return b.svc.SharedReadStats().Calls-before.Calls == int64(len(callers)) },
				10*time.Second, 5*time.Millisecond)
			require.NoError(t, tx.Rollback(ctx))

			for range callers {
				a := <-answers
				switch a.who {
				case outsider.Name:
					require.ErrorIs(t, a.err, engine.ErrNotFound, "a member of another workspace")
					require.Empty(t, a.text)
				case reader.Name:
					require.ErrorIs(t, a.err, engine.ErrForbidden, "a read-only member")
					require.Empty(t, a.text)
				default:
					require.NoError(t, a.err, a.who)
					require.Equal(t, want, a.text, a.who)
				}
			}
			require.EqualValues(t, 2, b.svc.SharedReadStats().Reads-before.Reads,
				"the held read, and one for the seven callers that came while it ran")
		})
	}
}

// Each caller gets its own copy of a shared answer: changing one in place (the dashboard makes every
// string terminal-safe before drawing it) leaves the others as read.
func TestSharedRunReadsHandOutCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	w := b.defaultWorkspace(t)
	res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
	require.NoError(t, err)
	ref := "policy-1"
	mine, err := store.InsertRunEvent(ctx, b.db.Pool, store.RunEvent{RunID: res.Run.ID, Message: "line", ItemRef: &ref,
		Details: map[string]any{"nested": map[string]any{"list": []any{"a"}}}})
	require.NoError(t, err)

	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE run_events IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	before := b.svc.SharedReadStats()
	got := make(chan []store.RunEvent, 3)
	for range 3 {
		go func() {
			events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: res.Run.ID, AfterID: mine.ID - 1})
			require.NoError(t, err)
			got <- events
		}()
	}
	require.Eventually(t, func() bool { return b.svc.SharedReadStats().Calls-before.Calls == 3 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, tx.Rollback(ctx))
	first, second, third := <-got, <-got, <-got
	require.EqualValues(t, 2, b.svc.SharedReadStats().Reads-before.Reads, "the second and third shared a read")

	// Two of the three shared a read; whichever they are, one is changed before the other is looked at.
	change := func(events []store.RunEvent) {
		events[0].Message = "changed"
		*events[0].ItemRef = "changed"
		events[0].Details["nested"].(map[string]any)["list"].([]any)[0] = "changed"
	}
	unchanged := func(events []store.RunEvent) {
		require.Equal(t, "line", events[0].Message)
		require.Equal(t, "policy-1", *events[0].ItemRef)
		require.Equal(t, "a", events[0].Details["nested"].(map[string]any)["list"].([]any)[0])
	}
	change(first)
	unchanged(second)
	unchanged(third)
	change(second)
	unchanged(third)
}
