package startstop

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ticker is the smallest service: it counts until its context ends, then records that it cleaned up.
type ticker struct {
	Base
	mu      sync.Mutex
	runs    int
	cleaned int
}

func (s *ticker) Start(ctx context.Context) error {
	ctx, stopped, err := s.StartInit(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.runs++
	s.mu.Unlock()
	go func() {
		defer stopped()
		<-ctx.Done()
		s.mu.Lock()
		s.cleaned++
		s.mu.Unlock()
	}()
	return nil
}

func (s *ticker) counts() (runs, cleaned int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs, s.cleaned
}

var _ Service = (*ticker)(nil)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, s *ticker)
		runs int
		// cleaned is how many runs ended with their clean-up.
		cleaned int
		running bool
	}{
		{"StopBeforeStart", func(t *testing.T, s *ticker) { s.Stop() }, 0, 0, false},
		{"StartStop", func(t *testing.T, s *ticker) {
			require.NoError(t, s.Start(context.Background()))
			s.Stop()
		}, 1, 1, false},
		{"StopTwice", func(t *testing.T, s *ticker) {
			require.NoError(t, s.Start(context.Background()))
			s.Stop()
			s.Stop()
		}, 1, 1, false},
		{"StartTwiceIsRefused", func(t *testing.T, s *ticker) {
			require.NoError(t, s.Start(context.Background()))
			require.ErrorIs(t, s.Start(context.Background()), ErrAlreadyStarted)
		}, 1, 0, true},
		{"RestartAfterStop", func(t *testing.T, s *ticker) {
			require.NoError(t, s.Start(context.Background()))
			s.Stop()
			require.NoError(t, s.Start(context.Background()))
			s.Stop()
		}, 2, 2, false},
		{"CancelledContextStops", func(t *testing.T, s *ticker) {
			ctx, cancel := context.WithCancel(context.Background())
			require.NoError(t, s.Start(ctx))
			cancel()
			require.Eventually(t, func() bool { return !s.Running() }, 5*time.Second, time.Millisecond)
			s.Stop() // after the context ended it: returns at once
		}, 1, 1, false},
		{"ConcurrentStops", func(t *testing.T, s *ticker) {
			require.NoError(t, s.Start(context.Background()))
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(s.Stop)
			}
			wg.Wait()
		}, 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &ticker{}
			t.Cleanup(s.Stop)
			tc.do(t, s)
			runs, cleaned := s.counts()
			require.Equal(t, tc.runs, runs)
			require.Equal(t, tc.cleaned, cleaned, "Stop returns only after the work ended")
			require.Equal(t, tc.running, s.Running())
		})
	}
}

// TestFailedStart: a Start that fails after StartInit calls stopped, and the service can start again.
func TestFailedStart(t *testing.T) {
	t.Parallel()
	var b Base
	_, stopped, err := b.StartInit(context.Background())
	require.NoError(t, err)
	stopped()
	require.False(t, b.Running())
	b.Stop()
	ctx, stopped, err := b.StartInit(context.Background())
	require.NoError(t, err)
	require.NoError(t, ctx.Err())
	stopped()
	require.Error(t, ctx.Err(), "stopped ends the work context")
}
