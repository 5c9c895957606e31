// Package sshserve serves the TenantAtlas dashboard and command line over SSH (Wish v2).
//
// Every session gets its own dashboard program (the same tui model as the local dashboard) sized to
// its terminal, or, without a terminal, runs one command line through a hook the caller provides.
// Users are identified only by public keys, and only by the key that actually authenticated the
// session (identity.go). All sessions share the caller's service, and with it one database pool,
// and one notification hub, so database connections do not grow with sessions.
package sshserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/internal/startstop"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/tui"
)

// Defaults for Config's zero values.
const (
	DefaultAddr        = "127.0.0.1:2222"
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxTimeout  = 12 * time.Hour
	DefaultMaxSessions = 100
)

// Exit statuses sent to the client, matching the command line's (docs/design.md#command-line).
const (
	exitError = 1
	exitUsage = 2
)

// CommandFunc runs one command line for actor with the session's streams and returns the exit status
// to send to the client. ctx ends when the client disconnects, the session reaches its maximum
// duration or the server stops. The server passes args as the client sent them; the function decides
// which commands and flags are allowed over SSH.
type CommandFunc func(ctx context.Context, actor engine.Actor, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// Config configures a Server.
type Config struct {
	// Addr is the TCP listen address (DefaultAddr if empty). Port 0 picks a free port; see Server.Addr.
	Addr string
	// HostKeyPath is the server's ed25519 host key, generated (mode 0600) on first start. Required.
	HostKeyPath string
	// Service is the engine's service every session reads and acts through. Required.
	Service *engine.Service
	// Subscribe subscribes to the process's one notification hub; nil shows static dashboards.
	Subscribe func() *store.Subscription
	// Command runs command lines sent without a terminal (`ssh host runs list`); nil refuses them.
	Command CommandFunc
	// Theme is the dashboards' theme (the zero value means tui's dark theme). Colours follow each
	// client's TERM and NO_COLOR.
	Theme tui.Theme
	// EngineEmbedded tells the dashboards' headers whether this process runs workers.
	EngineEmbedded bool
	// IdleTimeout ends a dashboard that has received no keystroke for this long, even while live
	// updates keep it drawing (DefaultIdleTimeout if zero). A connection with no traffic at all is
	// closed a minute after that.
	IdleTimeout time.Duration
	// MaxTimeout ends every session this long after it started (DefaultMaxTimeout if zero).
	MaxTimeout time.Duration
	// MaxSessions caps concurrent sessions; one more is refused with a one-line message
	// (DefaultMaxSessions if zero).
	MaxSessions int
	// MaxConnsPerAddr caps concurrent connections from one IP address, sessions or not
	// (DefaultMaxConnsPerAddr if zero); all connections together are capped at twice MaxSessions plus
	// MaxConnsPerAddr.
	MaxConnsPerAddr int
	// PreSessionTimeout closes a connection that opens no session this long after it was accepted
	// (DefaultPreSessionTimeout if zero).
	PreSessionTimeout time.Duration
	// Logger receives one line per session (who, what, how it ended); nil discards.
	Logger *slog.Logger
}

// Server is the SSH server. Start it once; Stop tolerates never-started and double-stop.
type Server struct {
	cfg     Config
	hostKey gossh.Signer
	slots   chan struct{} // one token per active session

	lifecycle startstop.Base
	limits    *limitListener
	mu        sync.Mutex
	addr      net.Addr
	base      context.Context // ends when the server stops: every session watches it
}

// New validates cfg and loads (or creates) the host key.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("sshserve: Config.Service is required")
	}
	if cfg.HostKeyPath == "" {
		return nil, errors.New("sshserve: Config.HostKeyPath is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.MaxConnsPerAddr <= 0 {
		cfg.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if cfg.PreSessionTimeout <= 0 {
		cfg.PreSessionTimeout = DefaultPreSessionTimeout
	}
	if cfg.Theme.Name == "" {
		cfg.Theme = tui.ThemeNamed("dark")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := loadOrCreateHostKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, hostKey: key, slots: make(chan struct{}, cfg.MaxSessions)}, nil
}

// Start listens and serves in the background until Stop or until ctx ends (internal/startstop). A
// listen error (address in use, say) is returned at once.
func (s *Server) Start(ctx context.Context) error {
	ctx, stopped, err := s.lifecycle.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("sshserve: server %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, err := wish.NewServer(
		func(srv *ssh.Server) error { srv.AddHostKey(s.hostKey); return nil },
		wish.WithPublicKeyAuth(acceptOfferedKey),
		// Sessions end themselves with a message at IdleTimeout (no keystroke) and MaxTimeout; the
		// connection deadlines, a minute later, are the backstop for connections that go silent
		// or sessions that do not end.
		wish.WithIdleTimeout(s.cfg.IdleTimeout+time.Minute),
		wish.WithMaxTimeout(s.cfg.MaxTimeout+time.Minute),
		wish.WithVersion("TenantAtlas"),
	)
	if err != nil {
		stopped()
		return fmt.Errorf("error configuring the SSH server: %w", err)
	}
	srv.Handler = s.handle
	srv.ServerConfigCallback = serverConfig
	srv.HandshakeTimeout = 30 * time.Second
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		stopped()
		return fmt.Errorf("cannot listen for SSH on %s: %v (choose another address with --ssh-addr or TENANTATLAS_SSH_ADDR)", s.cfg.Addr, err)
	}
	limited := newLimitListener(ln, s.cfg.MaxConnsPerAddr, 2*s.cfg.MaxSessions+s.cfg.MaxConnsPerAddr, s.cfg.PreSessionTimeout, s.cfg.Logger)
	ln = limited
	base, endSessions := context.WithCancel(ctx)
	s.addr, s.base, s.limits = ln.Addr(), base, limited
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			s.cfg.Logger.Error("SSH server stopped", "error", err)
		}
	}()
	go func() {
		defer stopped()
		select {
		case <-ctx.Done():
		case <-served:
		}
		s.shutdown(srv, ln, endSessions, served)
	}()
	s.cfg.Logger.Info("serving SSH", "addr", s.addr.String(), "host_key", gossh.FingerprintSHA256(s.hostKey.PublicKey()),
		"max_sessions", s.cfg.MaxSessions, "idle_timeout", s.cfg.IdleTimeout, "max_timeout", s.cfg.MaxTimeout)
	return nil
}

// Addr is the address the server listens on (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// HostKey is the server's public host key.
func (s *Server) HostKey() gossh.PublicKey { return s.hostKey.PublicKey() }

// Sessions is the number of sessions in progress.
func (s *Server) Sessions() int { return len(s.slots) }

// Stop ends every session (dashboards quit and restore the client's terminal; commands see their
// context end), waits up to five seconds for them, then closes all connections and the listener. It
// returns once the server has stopped, whichever of several concurrent calls did the stopping.
func (s *Server) Stop() { s.lifecycle.Stop() }

// shutdown is Stop's work, once the server's context has ended (or Serve itself did).
func (s *Server) shutdown(srv *ssh.Server, ln net.Listener, endSessions context.CancelFunc, served <-chan struct{}) {
	endSessions()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.slots) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = srv.Close()
	// Serve may not have registered the listener with srv yet, in which case Close missed it.
	_ = ln.Close()
	<-served
}

// handle serves one session: the session limit, then identity, then a dashboard or a command.
func (s *Server) handle(sess ssh.Session) {
	started := time.Now()
	s.mu.Lock()
	limits := s.limits
	s.mu.Unlock()
	if limits != nil {
		limits.sessionStarted(sess.RemoteAddr().String())
	}
	log := s.cfg.Logger.With("remote", sess.RemoteAddr().String())
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		log.Warn("SSH session refused: session limit reached", "max_sessions", s.cfg.MaxSessions)
		refuse(sess, exitError, fmt.Sprintf("the server is at its limit of %d sessions; try again later", s.cfg.MaxSessions))
		return
	}
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	stop := context.AfterFunc(s.base, cancel)
	defer stop()

	actor, err := s.identify(ctx, sess)
	if err != nil {
		log.Warn("SSH session refused", "error", err)
		refuse(sess, exitError, err.Error())
		return
	}
	log = log.With("user", actor.Name)
	_, _, hasPty := sess.Pty()
	var kind string
	var code int
	switch {
	case len(sess.Command()) > 0:
		kind = "command"
		code = s.runCommand(ctx, sess, actor)
	case hasPty:
		kind = "dashboard"
		code = s.runDashboard(ctx, sess, actor)
	default:
		kind = "none"
		code = exitUsage
		fmt.Fprintln(sess.Stderr(), "tenantatlas: nothing to run: connect with a terminal (ssh -t) for the dashboard, or name a command, e.g. `ssh -p PORT HOST runs list`")
	}
	_ = sess.Exit(code)
	log.Info("SSH session ended", "kind", kind, "exit", code, "duration", time.Since(started).Round(time.Millisecond))
}

// refuse ends a session with one line on stderr.
func refuse(sess ssh.Session, code int, msg string) {
	fmt.Fprintln(sess.Stderr(), "tenantatlas: "+msg)
	_ = sess.Exit(code)
}
