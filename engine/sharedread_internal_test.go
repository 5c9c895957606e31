package engine

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A caller never gets the answer of a read that began before it asked: that read may predate the
// change the caller was told of. Callers arriving while a read runs share the next one, which starts
// when it ends; a caller that gives up leaves the others their answer.
func TestSharedReadsNeverAnswerWithAnEarlierRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var g sharedReads[string, int64]
	var version atomic.Int64 // what the "database" holds
	hold := make(chan struct{})
	first := make(chan struct{})
	read := func(context.Context, []int64) (int64, error) {
		v := version.Load() // the read's snapshot is taken as it starts
		if v == 0 {
			close(first)
			<-hold
		}
		return v, nil
	}

	type answer struct {
		v   int64
		err error
	}
	ask := func(ctx context.Context, user int64) <-chan answer {
		c := make(chan answer, 1)
		go func() {
			v, err := g.do(ctx, "run 1", user, read)
			c <- answer{v, err}
		}()
		return c
	}
	early := ask(ctx, 1)
	<-first // the first read runs, and saw version 0
	version.Store(1)
	// Told of version 1, three callers ask while the first read still runs; one of them gives up.
	late := []<-chan answer{ask(ctx, 2), ask(ctx, 3)}
	quitting, quit := context.WithCancel(ctx)
	gone := ask(quitting, 4)
	require.Eventually(t, func() bool { return g.calls.Load() == 4 }, 10*time.Second, time.Millisecond)
	quit()
	require.ErrorIs(t, (<-gone).err, context.Canceled)
	close(hold)

	require.Equal(t, answer{0, nil}, <-early)
	for _, c := range late {
		require.Equal(t, answer{1, nil}, <-c, "a caller that asked after the change sees it")
	}
	require.EqualValues(t, 2, g.reads.Load(), "the three late callers shared one read")
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Empty(t, g.keys, "nothing is kept once every read answered")
}

// The read is told the users of every caller it answers, so that it can bring each one's access.
func TestSharedReadsBringEveryCallersUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var g sharedReads[int, []int64]
	hold := make(chan struct{})
	started := make(chan struct{}, 2)
	read := func(_ context.Context, users []int64) ([]int64, error) {
		started <- struct{}{}
		if slices.Contains(users, 7) {
			<-hold
		}
		return users, nil
	}
	results := make(chan []int64, 4)
	go func() { v, _ := g.do(ctx, 1, 7, read); results <- v }()
	<-started
	for _, u := range []int64{3, 0, 3} {
		go func() { v, _ := g.do(ctx, 1, u, read); results <- v }()
	}
	require.Eventually(t, func() bool { return g.calls.Load() == 4 }, 10*time.Second, time.Millisecond)
	close(hold)
	var got [][]int64
	for range 4 {
		got = append(got, <-results)
	}
	require.ElementsMatch(t, [][]int64{{7}, {0, 3}, {0, 3}, {0, 3}}, got,
		"the held read for user 7; one for the engine (0) and user 3, who asked twice")
}
