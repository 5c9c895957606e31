package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/internal/startstop"
)

// NotifyChannel is the one LISTEN/NOTIFY channel the database triggers publish on.
const NotifyChannel = "tenantatlas"

// NotificationKind says what a Notification means to a subscriber.
type NotificationKind string

const (
	// KindChange is a row change published by a trigger.
	KindChange NotificationKind = "change"
	// KindReload means notifications may have been lost (the hub reconnected, or this subscriber fell
	// behind): reload everything shown.
	KindReload NotificationKind = "reload"
	// KindDisconnected means the hub lost its connection and is reconnecting; a KindReload follows.
	KindDisconnected NotificationKind = "disconnected"
)

// Tables whose row changes the hub publishes (the notify triggers in migrations/): a KindChange
// Notification's Table is one of them.
const (
	TableRuns         = "operation_runs"
	TableRunEvents    = "run_events"
	TableTenants      = "tenants"
	TableConnections  = "provider_connections"
	TableSchedules    = "backup_schedules"
	TableBackupSets   = "backup_sets"
	TableRestores     = "restores"
	TableRestoreItems = "restore_items"
)

// Notification is one fan-out message. For KindChange the fields come from the trigger's payload.
type Notification struct {
	Kind        NotificationKind `json:"-"`
	Table       string           `json:"table"`
	Op          string           `json:"op"`
	ID          int64            `json:"id"`
	WorkspaceID int64            `json:"workspace_id"`
	TenantID    int64            `json:"tenant_id"`
	RunID       int64            `json:"run_id"`
	Status      string           `json:"status"`
	Type        string           `json:"type"`
}

// subscriptionBuffer is how many notifications a subscriber may lag behind before it is told to reload
// instead: a slow subscriber never blocks the hub or the others.
const subscriptionBuffer = 256

// Hub holds ONE LISTEN connection per process and fans its notifications out to any number of
// subscribers (dashboard sessions, run watchers, the engine). It reconnects with backoff and then tells
// every subscriber to reload, because notifications sent while it was away are lost.
type Hub struct {
	db     *DB
	logger *slog.Logger

	lifecycle startstop.Base

	mu         sync.Mutex
	subs       map[*Subscription]struct{}
	owed       chan struct{} // a subscriber fell behind and is owed a reload (capacity 1)
	connected  atomic.Bool
	listenPID  atomic.Uint32
	reconnects atomic.Int64
}

// Subscription receives notifications on C until Close.
type Subscription struct {
	C      <-chan Notification
	c      chan Notification
	hub    *Hub
	reload atomic.Bool // owed a KindReload because a send was dropped
	closed bool
}

// NewHub returns a hub that listens through its own connection built from db's configuration.
func NewHub(db *DB, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{db: db, logger: logger, subs: map[*Subscription]struct{}{}, owed: make(chan struct{}, 1)}
}

// Start begins listening in the background. It returns at once; the first connection is made by the
// background loop, so a database that is down at start-up is retried like any other outage. The hub
// listens until ctx ends or Stop is called (internal/startstop); then every subscription's channel
// is closed, and Stop returns once it is.
func (h *Hub) Start(ctx context.Context) error {
	ctx, stopped, err := h.lifecycle.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("hub %w", err)
	}
	go func() {
		defer stopped()
		var wg sync.WaitGroup
		wg.Go(func() { h.run(ctx) })
		wg.Go(func() { h.flushReloads(ctx) })
		wg.Wait()
		h.closeSubscriptions()
	}()
	return nil
}

// Stop stops listening and returns once every subscription's channel is closed. It tolerates
// never-started and double-stop.
func (h *Hub) Stop() { h.lifecycle.Stop() }

// closeSubscriptions closes every subscription's channel once the hub has stopped.
func (h *Hub) closeSubscriptions() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.closed = true
		close(s.c)
		delete(h.subs, s)
	}
}

// Connected reports whether the LISTEN connection is up.
func (h *Hub) Connected() bool { return h.connected.Load() }

// ListenerPID is the backend pid of the LISTEN connection (0 while disconnected); tests terminate it.
func (h *Hub) ListenerPID() uint32 { return h.listenPID.Load() }

// Reconnects counts how often the hub re-established its connection after losing it.
func (h *Hub) Reconnects() int64 { return h.reconnects.Load() }

// Subscribe registers a new subscriber. Call Close when done.
func (h *Hub) Subscribe() *Subscription {
	c := make(chan Notification, subscriptionBuffer)
	s := &Subscription{C: c, c: c, hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Close unregisters the subscription and closes its channel.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(h.subs, s)
	close(s.c)
}

func (h *Hub) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		conn, err := h.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.logger.Warn("notification hub cannot connect; retrying", "error", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		h.connected.Store(true)
		h.listenPID.Store(conn.PgConn().PID())
		if !first {
			h.reconnects.Add(1)
			h.logger.Info("notification hub reconnected; subscribers reload")
			h.broadcast(Notification{Kind: KindReload})
		}
		first = false
		err = h.listen(ctx, conn)
		h.connected.Store(false)
		h.listenPID.Store(0)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.logger.Warn("notification hub lost its connection; reconnecting", "error", err)
		h.broadcast(Notification{Kind: KindDisconnected})
	}
}

func (h *Hub) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := h.db.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "tenantatlas-hub"
	connCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(connCtx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(connCtx, "LISTEN "+NotifyChannel); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

func (h *Hub) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		// A bounded wait lets a silently dead connection be noticed by the ping below.
		waitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err = conn.Ping(pingCtx)
				cancel()
				if err == nil {
					continue
				}
			}
			return err
		}
		var msg Notification
		if err := json.Unmarshal([]byte(n.Payload), &msg); err != nil {
			h.logger.Warn("ignoring a malformed notification", "payload", n.Payload)
			continue
		}
		msg.Kind = KindChange
		h.broadcast(msg)
	}
}

// broadcast never blocks: a subscriber whose buffer is full is marked to receive a reload instead.
func (h *Hub) broadcast(msg Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.send(msg)
	}
}

func (s *Subscription) send(msg Notification) {
	if s.reload.Load() {
		select {
		case s.c <- Notification{Kind: KindReload}:
			s.reload.Store(false)
		default:
			return // still behind; the reload already owed covers this message
		}
	}
	select {
	case s.c <- msg:
	default:
		s.reload.Store(true)
		select {
		case s.hub.owed <- struct{}{}: // flushReloads delivers it once the subscriber catches up
		default:
		}
	}
}

// flushReloads delivers owed reloads to subscribers that fell behind and then went quiet. It sleeps
// until one falls behind, then retries every 100ms until every owed reload is delivered: an idle
// process does not wake for it.
func (h *Hub) flushReloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.owed:
		}
		for pending := true; pending; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			pending = false
			h.mu.Lock()
			for s := range h.subs {
				if s.reload.Load() {
					select {
					case s.c <- Notification{Kind: KindReload}:
						s.reload.Store(false)
					default:
						pending = true
					}
				}
			}
			h.mu.Unlock()
		}
	}
}
