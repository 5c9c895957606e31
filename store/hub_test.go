package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// waitFor receives from sub until match is true or the timeout passes.
// runsPastBuffer is more runs than a subscription buffers.
const runsPastBuffer = 400

func waitFor(t *testing.T, sub *store.Subscription, match func(store.Notification) bool) store.Notification {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n, ok := <-sub.C:
			require.True(t, ok, "subscription closed")
			if match(n) {
				return n
			}
		case <-timeout:
			t.Fatal("timed out waiting for a notification")
		}
	}
}

func startHub(t *testing.T, db *store.DB) *store.Hub {
	t.Helper()
	hub := store.NewHub(db, nil)
	require.NoError(t, hub.Start(context.Background()))
	t.Cleanup(hub.Stop)
	require.Eventually(t, hub.Connected, 10*time.Second, 10*time.Millisecond)
	return hub
}

func TestHub(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FansOutToManySubscribers", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		hub := startHub(t, db)
		subs := make([]*store.Subscription, 100)
		for i := range subs {
			subs[i] = hub.Subscribe()
		}
		w := storetest.DefaultWorkspace(ctx, t, db.Pool)
		run := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID})
		for _, sub := range subs {
			n := waitFor(t, sub, func(n store.Notification) bool { return n.Table == "operation_runs" })
			require.Equal(t, store.KindChange, n.Kind)
			require.Equal(t, run.ID, n.ID)
			require.Equal(t, w.ID, n.WorkspaceID)
			require.Equal(t, "queued", n.Status)
		}
		var conns int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenantatlas-hub'
			AND datname = current_database()`).Scan(&conns))
		require.Equal(t, 1, conns, "one LISTEN connection whatever the number of subscribers")
	})

	t.Run("ReconnectsAndTellsSubscribersToReload", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		hub := startHub(t, db)
		sub := hub.Subscribe()
		pid := hub.ListenerPID()
		require.NotZero(t, pid)

		_, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
		require.NoError(t, err)
		waitFor(t, sub, func(n store.Notification) bool { return n.Kind == store.KindReload })
		require.NotEqual(t, pid, hub.ListenerPID())
		require.EqualValues(t, 1, hub.Reconnects())

		// Notifications flow again after the reconnect.
		w := storetest.DefaultWorkspace(ctx, t, db.Pool)
		run := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID})
		waitFor(t, sub, func(n store.Notification) bool { return n.Kind == store.KindChange && n.ID == run.ID })
	})

	t.Run("SlowSubscriberDoesNotBlockOthers", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		hub := startHub(t, db)
		slow := hub.Subscribe() // never read until the end
		fast := hub.Subscribe()
		// fast reads all the time, as a dashboard does: drained one per insert, a burst of
		// notifications could overflow its own buffer and rightly earn it a reload instead.
		got := make(chan store.Notification, 4*runsPastBuffer)
		go func() {
			for n := range fast.C {
				got <- n
			}
		}()
		w := storetest.DefaultWorkspace(ctx, t, db.Pool)
		var last int64
		for range runsPastBuffer {
			r := storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{WorkspaceID: w.ID})
			last = r.ID
		}
		timeout := time.After(10 * time.Second)
	fastSeesLast:
		for {
			select {
			case n := <-got:
				if n.ID == last {
					break fastSeesLast
				}
			case <-timeout:
				t.Fatal("timed out waiting for the fast subscriber's notification of the last run")
			}
		}
		// The slow one is told to reload rather than silently missing notifications.
		waitFor(t, slow, func(n store.Notification) bool { return n.Kind == store.KindReload })
	})

	t.Run("StopIsIdempotentAndClosesSubscriptions", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		never := store.NewHub(db, nil)
		never.Stop()

		hub := startHub(t, db)
		sub := hub.Subscribe()
		hub.Stop()
		hub.Stop()
		_, ok := <-sub.C
		require.False(t, ok)
		sub.Close()
	})
}
