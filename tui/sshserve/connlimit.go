package sshserve

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// Connection limits before a session exists. Every offered key is accepted at authentication (so an
// unknown key's owner is told why in one line), so an unregistered key reaches an authenticated
// transport: these keep such connections from piling up.
const (
	// DefaultMaxConnsPerAddr caps concurrent connections from one IP address.
	DefaultMaxConnsPerAddr = 10
	// DefaultPreSessionTimeout closes a connection that has opened no session this long after it
	// was accepted (the handshake alone is capped at 30 s).
	DefaultPreSessionTimeout = 30 * time.Second
)

// limitListener refuses connections over a per-address and an overall cap, and closes connections
// that open no session in time.
type limitListener struct {
	net.Listener
	perAddr, total int
	preSession     time.Duration
	logger         *slog.Logger

	mu     sync.Mutex
	byAddr map[string]int
	all    int
	conns  map[string]*limitedConn // by remote address (ip:port), for sessionStarted
}

func newLimitListener(ln net.Listener, perAddr, total int, preSession time.Duration, logger *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, perAddr: perAddr, total: total, preSession: preSession, logger: logger,
		byAddr: map[string]int{}, conns: map[string]*limitedConn{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.mu.Lock()
		if l.byAddr[host] >= l.perAddr || l.all >= l.total {
			l.mu.Unlock()
			l.logger.Warn("SSH connection refused: connection limit reached", "remote", c.RemoteAddr().String(),
				"max_per_address", l.perAddr, "max_connections", l.total)
			_ = c.Close()
			continue
		}
		l.byAddr[host]++
		l.all++
		lc := &limitedConn{Conn: c, l: l, host: host}
		l.conns[c.RemoteAddr().String()] = lc
		l.mu.Unlock()
		lc.timer = time.AfterFunc(l.preSession, func() {
			l.logger.Info("SSH connection closed: no session opened in time", "remote", c.RemoteAddr().String(), "after", l.preSession)
			_ = lc.Close()
		})
		return lc, nil
	}
}

// sessionStarted stops the pre-session timer of the connection from remote.
func (l *limitListener) sessionStarted(remote string) {
	l.mu.Lock()
	lc := l.conns[remote]
	l.mu.Unlock()
	if lc != nil {
		lc.timer.Stop()
	}
}

type limitedConn struct {
	net.Conn
	l     *limitListener
	host  string
	timer *time.Timer
	once  sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.timer.Stop()
		c.l.mu.Lock()
		c.l.byAddr[c.host]--
		if c.l.byAddr[c.host] <= 0 {
			delete(c.l.byAddr, c.host)
		}
		c.l.all--
		delete(c.l.conns, c.Conn.RemoteAddr().String())
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
