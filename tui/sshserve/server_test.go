package sshserve

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/engine"
)

// queryOnlySigner offers a public key whose private half it does not hold (someone else's): when
// the server accepts the offer and the client would have to sign, it gives up on that key.
type queryOnlySigner struct {
	offered  gossh.PublicKey
	accepted *atomic.Bool
}

func (s queryOnlySigner) PublicKey() gossh.PublicKey { return s.offered }

func (s queryOnlySigner) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	s.accepted.Store(true) // the server accepted the offered key and asked for a signature
	return nil, errors.New("this client does not hold the offered key")
}

// badSigner offers one key and signs with another.
type badSigner struct {
	offered gossh.PublicKey
	real    gossh.Signer
}

func (s badSigner) PublicKey() gossh.PublicKey { return s.offered }

func (s badSigner) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	return s.real.Sign(rand, data)
}

// authInOrder makes a client try each method in turn, even several of the same kind.
func authInOrder(methods ...gossh.AuthMethod) gossh.ClientAuthCallback {
	return func(*gossh.ClientAuthContext) (gossh.AuthMethod, error) {
		if len(methods) == 0 {
			return nil, nil
		}
		next := methods[0]
		methods = methods[1:]
		return next, nil
	}
}

func TestSSHIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	alice := b.addUser(t, "alice", "default", "operator")
	mallory := b.addUser(t, "mallory", "", "")
	stranger := newKey(t)

	t.Run("RegisteredKey", func(t *testing.T) {
		t.Parallel()
		client, err := b.dial(t, gossh.PublicKeys(alice))
		require.NoError(t, err)
		res := b.exec(t, client, "runs list --json")
		require.Equal(t, execResult{stdout: "user=alice args=runs list --json\n"}, res)
	})

	t.Run("UnknownKeyRefusedInOneLine", func(t *testing.T) {
		t.Parallel()
		client, err := b.dial(t, gossh.PublicKeys(stranger))
		require.NoError(t, err)
		res := b.exec(t, client, "runs list")
		require.Equal(t, 1, res.code)
		require.Empty(t, res.stdout)
		require.Equal(t, 1, strings.Count(res.stderr, "\n"), res.stderr)
		require.Contains(t, res.stderr, "tenantatlas: SSH key "+gossh.FingerprintSHA256(stranger.PublicKey())+" is not registered")
		require.Contains(t, res.stderr, "tenantatlas keys add USER KEYFILE")
	})

	t.Run("UnknownKeyGetsNoDashboard", func(t *testing.T) {
		t.Parallel()
		client, err := b.dial(t, gossh.PublicKeys(stranger))
		require.NoError(t, err)
		term := b.openTerminal(t, client, 80, 24)
		require.Equal(t, 1, term.exit())
		require.NotContains(t, term.out.String(), "TenantAtlas")
		require.Contains(t, term.errOut.String(), "is not registered")
	})

	// A client offers alice's public key first (the server accepts the offer), cannot prove it,
	// then authenticates with its own key: it is mallory, never alice.
	t.Run("OfferedKeyNeverDecidesIdentity", func(t *testing.T) {
		t.Parallel()
		var accepted atomic.Bool
		client, err := b.dialConfig(t, &gossh.ClientConfig{AuthCallback: authInOrder(
			gossh.PublicKeys(queryOnlySigner{offered: alice.PublicKey(), accepted: &accepted}),
			gossh.PublicKeys(mallory),
		)})
		require.NoError(t, err)
		require.True(t, accepted.Load(), "the server never accepted the offered key, so the test proves nothing")
		require.Equal(t, "user=mallory args=whoami\n", b.exec(t, client, "whoami").stdout)
		term := b.openTerminal(t, client, 100, 30)
		term.waitFor(0, "TenantAtlas", "mallory")
		require.NotContains(t, term.out.String(), "alice")
	})

	t.Run("OfferedKeyWithWrongSignatureIsDisconnected", func(t *testing.T) {
		t.Parallel()
		_, err := b.dial(t, gossh.PublicKeys(badSigner{offered: alice.PublicKey(), real: mallory}, mallory))
		require.Error(t, err)
	})

	t.Run("NoPasswordOrKeyboardInteractive", func(t *testing.T) {
		t.Parallel()
		_, err := b.dial(t, gossh.Password("secret"), gossh.KeyboardInteractive(
			func(string, string, []string, []bool) ([]string, error) { return nil, nil }))
		require.ErrorContains(t, err, "no supported methods remain")
	})
}

func TestSSHDashboard(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	ctx := context.Background()
	_, err := b.svc.CreateWorkspace(ctx, b.admin, "blue")
	require.NoError(t, err)
	b.addTenant(t, "default", "contoso", 1)
	b.addTenant(t, "blue", "bluecorp", 2)
	alice := b.addUser(t, "alice", "default", "operator")
	bob := b.addUser(t, "bob", "blue", "readonly")
	carol := b.addUser(t, "carol", "", "")

	// Each user sees only the tenants of their own workspaces; a user without memberships, none.
	for _, tc := range []struct {
		name      string
		key       gossh.Signer
		sees, not []string
	}{
		{"OperatorOfDefault", alice, []string{"contoso"}, []string{"bluecorp"}},
		{"ReadonlyOfBlue", bob, []string{"bluecorp"}, []string{"contoso"}},
		{"NoMemberships", carol, []string{"0 tenant(s)"}, []string{"contoso", "bluecorp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, err := b.dial(t, gossh.PublicKeys(tc.key))
			require.NoError(t, err)
			term := b.openTerminal(t, client, 100, 30)
			term.waitFor(0, "TenantAtlas", "● live")
			mark := term.out.Len()
			term.keys("t")
			text := term.waitFor(mark, append([]string{"Tenants"}, tc.sees...)...)
			for _, n := range tc.not {
				require.NotContains(t, text, n)
			}
			term.keys("q")
			require.Equal(t, 0, term.exit())
		})
	}

	t.Run("ResizeRedraws", func(t *testing.T) {
		t.Parallel()
		client, err := b.dial(t, gossh.PublicKeys(alice))
		require.NoError(t, err)
		term := b.openTerminal(t, client, 100, 30)
		term.waitFor(0, "TenantAtlas", "alice")
		mark := term.out.Len()
		require.NoError(t, term.sess.WindowChange(8, 30))
		term.waitFor(mark, "needs at least 40", "(now 30×8)")
		mark = term.out.Len()
		require.NoError(t, term.sess.WindowChange(30, 100))
		term.waitFor(mark, "TenantAtlas", "alice")
		term.keys("q")
		require.Equal(t, 0, term.exit())
	})

	// y copies the run id with OSC52, written to the session so the client's terminal sets its
	// clipboard.
	t.Run("CopyReachesClientAsOSC52", func(t *testing.T) {
		t.Parallel()
		w, err := b.svc.ResolveWorkspace(ctx, b.admin, "default")
		require.NoError(t, err)
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
		require.NoError(t, err)
		adminKey := newKey(t)
		_, err = b.svc.AddKey(ctx, b.admin, b.admin.Name, string(gossh.MarshalAuthorizedKey(adminKey.PublicKey())))
		require.NoError(t, err)
		client, err := b.dial(t, gossh.PublicKeys(adminKey))
		require.NoError(t, err)
		term := b.openTerminal(t, client, 100, 30)
		term.waitFor(0, "TenantAtlas", "● live")
		mark := term.out.Len()
		term.keys("o")
		// The run's row, not just its id: a fresh database's first run is id 1, a digit the tab
		// counts show before the rows load, and "y" before the rows copies nothing.
		term.waitFor(mark, "Operations", "No-op")
		term.keys("y")
		osc52 := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(res.Run.ID)))
		require.Eventually(t, func() bool { return strings.Contains(term.out.String(), osc52) }, 10*time.Second, 20*time.Millisecond)
		term.keys("q")
		require.Equal(t, 0, term.exit())
	})
}

func TestSSHSessionLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{MaxSessions: 1})
	alice := b.addUser(t, "alice", "default", "operator")
	client, err := b.dial(t, gossh.PublicKeys(alice))
	require.NoError(t, err)
	term := b.openTerminal(t, client, 80, 24)
	term.waitFor(0, "TenantAtlas")

	res := b.exec(t, client, "runs list")
	require.Equal(t, 1, res.code)
	require.Equal(t, "tenantatlas: the server is at its limit of 1 sessions; try again later\n", res.stderr)

	term.keys("q")
	require.Equal(t, 0, term.exit())
	require.Eventually(t, func() bool { return b.srv.Sessions() == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 0, b.exec(t, client, "runs list").code)
}

func TestSSHTimeouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"Idle", Config{IdleTimeout: 400 * time.Millisecond}, "session closed after 400ms without input"},
		{"Maximum", Config{MaxTimeout: 600 * time.Millisecond}, "session closed after its maximum of 600ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.cfg)
			alice := b.addUser(t, "alice", "default", "operator")
			client, err := b.dial(t, gossh.PublicKeys(alice))
			require.NoError(t, err)
			term := b.openTerminal(t, client, 80, 24)
			term.waitFor(0, "TenantAtlas")
			require.Equal(t, 1, term.exit())
			require.Contains(t, term.errOut.String(), tc.msg)
		})
	}
}

// Keystrokes push the idle deadline back: a session typed into for longer than IdleTimeout stays open,
// and closes IdleTimeout after the last keystroke, not before.
func TestSSHIdleDeadlineMovesWithInput(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	b := setup(t, Config{IdleTimeout: idle})
	alice := b.addUser(t, "alice", "default", "operator")
	client, err := b.dial(t, gossh.PublicKeys(alice))
	require.NoError(t, err)
	term := b.openTerminal(t, client, 80, 24)
	term.waitFor(0, "TenantAtlas")
	var last time.Time
	for range 8 { // 8 × 300 ms: more than twice the idle timeout
		_, err := term.stdin.Write([]byte("j"))
		require.NoError(t, err)
		last = time.Now()
		select {
		case err := <-term.done:
			t.Fatalf("the session closed while typed into (%v); stderr %q", err, term.errOut.String())
		case <-time.After(300 * time.Millisecond):
		}
	}
	require.Equal(t, 1, term.exit())
	require.GreaterOrEqual(t, time.Since(last), idle, "closed before its idle timeout")
	require.Contains(t, term.errOut.String(), "session closed after 1s without input")
}

func TestSSHNothingToRun(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	alice := b.addUser(t, "alice", "default", "operator")
	client, err := b.dial(t, gossh.PublicKeys(alice))
	require.NoError(t, err)
	sess, err := client.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	out, err := sess.CombinedOutput("")
	var exitErr *gossh.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, 2, exitErr.ExitStatus())
	require.Contains(t, string(out), "connect with a terminal (ssh -t) for the dashboard")
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	path := filepath.Join(t.TempDir(), "keys", "ssh_host_ed25519")
	srv, err := New(Config{Addr: "127.0.0.1:0", HostKeyPath: path, Service: b.svc})
	require.NoError(t, err)
	srv.Stop() // never started

	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	again, err := New(Config{HostKeyPath: path, Service: b.svc})
	require.NoError(t, err)
	require.Equal(t, gossh.FingerprintSHA256(srv.HostKey()), gossh.FingerprintSHA256(again.HostKey()), "the host key persists")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, srv.Start(ctx))
	require.ErrorContains(t, srv.Start(ctx), "already started")
	busy, err := New(Config{Addr: srv.Addr().String(), HostKeyPath: path, Service: b.svc})
	require.NoError(t, err)
	require.ErrorContains(t, busy.Start(ctx), "choose another address with --ssh-addr")
	srv.Stop()
	srv.Stop()

	// Cancelling Start's context stops the server too.
	require.NoError(t, srv.Start(ctx))
	addr := srv.Addr().String()
	cancel()
	var lastErr error
	require.Eventually(t, func() bool {
		_, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: time.Second})
		lastErr = err
		return err != nil && strings.Contains(err.Error(), "connection refused")
	}, 10*time.Second, 20*time.Millisecond, "last error: %v", lastErr)
	srv.Stop()
}

// Stop ends open dashboards with a message, restoring the client's terminal, and concurrent Stops
// all return once the server has stopped.
func TestSSHStopEndsSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	alice := b.addUser(t, "alice", "default", "operator")
	client, err := b.dial(t, gossh.PublicKeys(alice))
	require.NoError(t, err)
	term := b.openTerminal(t, client, 80, 24)
	term.waitFor(0, "TenantAtlas")

	stopped := make(chan struct{})
	for range 2 {
		go func() {
			b.srv.Stop()
			stopped <- struct{}{}
		}()
	}
	require.Equal(t, 1, term.exit())
	require.Contains(t, term.errOut.String(), "the server is shutting down")
	require.Contains(t, term.out.String(), "\x1b[?1049l", "the alternate screen is left")
	for range 2 {
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("Stop did not return")
		}
	}
	require.Zero(t, b.srv.Sessions())
}

// TestSecuritySSHConnectionLimits reproduces security review finding 6: connections with an unregistered key
// (accepted at authentication, so their owner is told why) no longer pile up. One address holds at
// most MaxConnsPerAddr connections, a registered user gets in again as soon as one closes, and a
// connection that opens no session is closed after PreSessionTimeout.
func TestSecuritySSHConnectionLimits(t *testing.T) {
	t.Parallel()
	t.Run("PerAddress", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxConnsPerAddr: 3})
		alice := b.addUser(t, "alice", "default", "operator")
		stranger := newKey(t)
		var held []*gossh.Client
		for range 3 {
			c, err := b.dial(t, gossh.PublicKeys(stranger))
			require.NoError(t, err)
			held = append(held, c)
		}
		_, err := b.dial(t, gossh.PublicKeys(stranger))
		require.Error(t, err, "a fourth connection from the same address")
		_, err = b.dial(t, gossh.PublicKeys(alice))
		require.Error(t, err, "the cap is per address, whoever connects")
		require.NoError(t, held[0].Close())
		require.Eventually(t, func() bool {
			c, err := b.dial(t, gossh.PublicKeys(alice))
			if err != nil {
				return false
			}
			return b.exec(t, c, "runs list").code == 0
		}, 5*time.Second, 50*time.Millisecond)
	})
	t.Run("PreSessionTimeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{PreSessionTimeout: 300 * time.Millisecond})
		stranger := newKey(t)
		c, err := b.dial(t, gossh.PublicKeys(stranger))
		require.NoError(t, err)
		closed := make(chan struct{})
		go func() { _ = c.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("a connection without a session stayed open")
		}
		// A session opened in time keeps its connection.
		alice := b.addUser(t, "alice", "default", "operator")
		c, err = b.dial(t, gossh.PublicKeys(alice))
		require.NoError(t, err)
		require.Equal(t, 0, b.exec(t, c, "runs list").code)
		time.Sleep(500 * time.Millisecond)
		require.Equal(t, 0, b.exec(t, c, "runs list").code, "the connection outlives the pre-session timeout once a session opened")
	})
}
