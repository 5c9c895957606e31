package sshserve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

type testBundle struct {
	db    *store.DB
	svc   *engine.Service
	admin engine.Actor
	srv   *Server
	addr  string
}

// setup starts a server on 127.0.0.1:0 over a fresh database, with one hub for every session.
// Unset Config fields get test values; a nil Command echoes who the session's user is.
func setup(t testing.TB, cfg Config) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := engine.NewSealer(key)
	require.NoError(t, err)
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer})
	require.NoError(t, err)
	admin, err := svc.ActorByName(ctx, "")
	require.NoError(t, err)
	hub := store.NewHub(db, nil)
	require.NoError(t, hub.Start(ctx))
	t.Cleanup(hub.Stop)

	cfg.Addr = "127.0.0.1:0"
	cfg.HostKeyPath = filepath.Join(t.TempDir(), "ssh_host_ed25519")
	cfg.Service = svc
	cfg.Subscribe = hub.Subscribe
	if cfg.Command == nil {
		cfg.Command = whoami
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(srv.Stop)
	return &testBundle{db: db, svc: svc, admin: admin, srv: srv, addr: srv.Addr().String()}
}

// whoami is the test's command hook: it prints the session's user and its arguments.
func whoami(_ context.Context, actor engine.Actor, args []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "user=%s args=%s\n", actor.Name, strings.Join(args, " "))
	return 0
}

func newKey(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := gossh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return signer
}

// addUser creates a user owning a new key, with role in workspace (role "" = no membership).
func (b *testBundle) addUser(t testing.TB, name, workspace, role string) gossh.Signer {
	t.Helper()
	ctx := context.Background()
	_, err := b.svc.CreateUser(ctx, b.admin, name)
	require.NoError(t, err)
	key := newKey(t)
	_, err = b.svc.AddKey(ctx, b.admin, name, string(gossh.MarshalAuthorizedKey(key.PublicKey())))
	require.NoError(t, err)
	if role != "" {
		_, err = b.svc.AddMember(ctx, b.admin, workspace, name, role)
		require.NoError(t, err)
	}
	return key
}

func (b *testBundle) addTenant(t testing.TB, workspace, name string, n int) {
	t.Helper()
	_, err := b.svc.AddTenant(context.Background(), b.admin, engine.AddTenantRequest{Workspace: workspace, Name: name,
		TenantGUID: fmt.Sprintf("6e0c1a2b-0000-4000-8000-%012d", n), ClientID: "3f2a0000-0000-4000-8000-000000000002",
		ClientSecret: []byte("secret")})
	require.NoError(t, err)
}

// dial connects with the given auth methods.
func (b *testBundle) dial(t testing.TB, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	t.Helper()
	return b.dialConfig(t, &gossh.ClientConfig{Auth: auth})
}

// dialConfig connects with cfg, checking the server's host key.
func (b *testBundle) dialConfig(t testing.TB, cfg *gossh.ClientConfig) (*gossh.Client, error) {
	t.Helper()
	cfg.User = "anyone" // the SSH user name plays no part: the key decides
	cfg.HostKeyCallback = gossh.FixedHostKey(b.srv.HostKey())
	cfg.Timeout = 10 * time.Second
	c, err := gossh.Dial("tcp", b.addr, cfg)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// execResult is what a command session returned.
type execResult struct {
	stdout, stderr string
	code           int
}

// exec runs a command line without a terminal.
func (b *testBundle) exec(t testing.TB, client *gossh.Client, cmd string) execResult {
	t.Helper()
	sess, err := client.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	err = sess.Run(cmd)
	code := 0
	var exitErr *gossh.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitStatus()
	} else {
		require.NoError(t, err)
	}
	return execResult{stdout: out.String(), stderr: errOut.String(), code: code}
}

// terminal is a PTY session whose output is collected as it arrives.
type terminal struct {
	t      testing.TB
	sess   *gossh.Session
	stdin  io.WriteCloser
	out    *syncBuffer
	errOut *syncBuffer
	done   chan error
}

func (b *testBundle) openTerminal(t testing.TB, client *gossh.Client, width, height int) *terminal {
	t.Helper()
	sess, err := client.NewSession()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sess.Close() })
	require.NoError(t, sess.Setenv("NO_COLOR", "1"))
	require.NoError(t, sess.RequestPty("xterm-256color", height, width, gossh.TerminalModes{}))
	term := &terminal{t: t, sess: sess, out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan error, 1)}
	sess.Stdout, sess.Stderr = term.out, term.errOut
	term.stdin, err = sess.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, sess.Shell())
	go func() { term.done <- sess.Wait() }()
	return term
}

// waitFor waits until the output, without escape sequences, holds every want after mark.
func (term *terminal) waitFor(mark int, want ...string) string {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var text string
	for time.Now().Before(deadline) {
		text = ansi.Strip(term.out.from(mark))
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(text, w)
		}
		if ok {
			return text
		}
		time.Sleep(20 * time.Millisecond)
	}
	term.t.Fatalf("output never showed %q; stderr %q; output:\n%s", want, term.errOut.String(), text)
	return ""
}

func (term *terminal) keys(s string) {
	term.t.Helper()
	for _, r := range s {
		_, err := term.stdin.Write([]byte(string(r)))
		require.NoError(term.t, err)
		time.Sleep(30 * time.Millisecond)
	}
}

// exit waits for the session to end and returns its exit status.
func (term *terminal) exit() int {
	term.t.Helper()
	select {
	case err := <-term.done:
		var exitErr *gossh.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitStatus()
		}
		require.NoError(term.t, err)
		return 0
	case <-time.After(20 * time.Second):
		term.t.Fatal("the session did not end")
		return -1
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { return b.from(0) }

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) from(mark int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[mark:])
}
