package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"
)

// sshUser is a user with a key pair; keyFile is its private key in OpenSSH format for ssh -i.
type sshUser struct {
	name    string
	signer  gossh.Signer
	keyFile string
}

// sshWorld is a database with two workspaces and their users: alice operates default (tenant
// contoso), dave manages it, bob reads blue (tenant bluecorp), and stranger's key is registered to
// nobody.
type sshWorld struct {
	c                         *cli
	alice, bob, dave, strange sshUser
	// logs is the log of the server serveInProcess started.
	logs *lockedBuffer
}

func newSSHWorld(t *testing.T) *sshWorld {
	t.Helper()
	c := newCLI(t)
	w := &sshWorld{c: c, alice: newSSHUser(t, "alice"), bob: newSSHUser(t, "bob"), dave: newSSHUser(t, "dave"), strange: newSSHUser(t, "stranger")}
	c.ok("workspaces", "add", "blue")
	addTenant := func(workspace, name, guid string) {
		r := c.run("secret", "tenants", "add", "--workspace", workspace, "--name", name, "--tenant-id", guid,
			"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
		require.Equal(t, 0, r.code, r.stderr)
	}
	addTenant("default", "contoso", "6e0c1a2b-0000-4000-8000-000000000001")
	addTenant("blue", "bluecorp", "6e0c1a2b-0000-4000-8000-000000000002")
	for _, u := range []struct {
		user            sshUser
		workspace, role string
	}{{w.alice, "default", "operator"}, {w.bob, "blue", "readonly"}, {w.dave, "default", "manager"}} {
		c.ok("users", "add", u.user.name)
		r := c.run(string(gossh.MarshalAuthorizedKey(u.user.signer.PublicKey())), "keys", "add", u.user.name, "-")
		require.Equal(t, 0, r.code, r.stderr)
		c.ok("members", "add", u.workspace, u.user.name, u.role)
	}
	return w
}

func newSSHUser(t *testing.T, name string) sshUser {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := gossh.NewSignerFromKey(priv)
	require.NoError(t, err)
	block, err := gossh.MarshalPrivateKey(priv, name+"@test")
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))
	return sshUser{name: name, signer: signer, keyFile: keyFile}
}

// lockedBuffer collects a server's log while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var sshAddrLog = regexp.MustCompile(`ssh_addr=(127\.0\.0\.1:\d+)`)

// serveInProcess runs `tenantatlas serve` in this process until the test ends and returns its address.
func (w *sshWorld) serveInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	w.logs = logs
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, append([]string{"serve", "--ssh-addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &bytes.Buffer{}, logs,
			func(k string) string { return w.c.env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exited:
			require.Equal(t, 0, code, logs.String())
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	var addr string
	require.Eventually(t, func() bool {
		if m := sshAddrLog.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
			return true
		}
		select {
		case code := <-exited:
			t.Fatalf("serve exited %d: %s", code, logs.String())
		default:
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
	return addr
}

// sshExec runs a command line over SSH as u with an x/crypto/ssh client.
func sshExec(t *testing.T, addr string, u sshUser, command string) result {
	t.Helper()
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: u.name, Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer client.Close()
	sess, err := client.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	err = sess.Run(command)
	code := 0
	var exitErr *gossh.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitStatus()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// TestServeCommandsOverSSH runs command lines over SSH against `serve` running in-process: the key
// decides the user, authorization is the service's, and process commands and flags are refused.
func TestServeCommandsOverSSH(t *testing.T) {
	t.Parallel()
	w := newSSHWorld(t)
	addr := w.serveInProcess(t, "--no-engine")

	tenantNames := func(r result) []string {
		require.Equal(t, 0, r.code, r.stderr)
		var ts []map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &ts), r.stdout)
		var names []string
		for _, tn := range ts {
			names = append(names, tn["name"].(string))
		}
		return names
	}
	require.Equal(t, []string{"contoso"}, tenantNames(sshExec(t, addr, w.alice, "tenants list --json")))
	require.Equal(t, []string{"bluecorp"}, tenantNames(sshExec(t, addr, w.bob, "tenantatlas tenants list --json")))

	r := sshExec(t, addr, w.alice, "sync groups contoso --json")
	require.Equal(t, 0, r.code, r.stderr)
	var started map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &started))
	require.Equal(t, true, started["created"])
	r = sshExec(t, addr, w.alice, "runs list --json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, fmt.Sprintf(`"id": %v`, started["id"]))
	r = sshExec(t, addr, w.bob, "runs list --json")
	require.Equal(t, result{stdout: "[]\n"}, r, "bob sees none of default's runs")

	for _, tc := range []struct {
		name    string
		user    sshUser
		command string
		code    int
		msg     string
	}{
		{"ReadonlyCannotSync", w.bob, "sync groups bluecorp", 3, "bob needs directory.sync, which the readonly role does not have"},
		{"OtherWorkspaceIsNotFound", w.bob, "sync groups contoso", 4, "contoso"},
		{"ReadonlyCannotCancel", w.bob, fmt.Sprintf("runs cancel %v", started["id"]), 4, "not found"},
		{"AsFlag", w.bob, "runs list --as admin", 2, "--as cannot be set over SSH"},
		{"DatabaseURLFlag", w.alice, "runs list --database-url postgres://x@y/z", 2, "--database-url cannot be set over SSH"},
		{"DataDirFlag", w.alice, "tenants list --data-dir /tmp", 2, "--data-dir cannot be set over SSH"},
		{"Migrate", w.alice, "migrate", 3, "`migrate` is not available over SSH"},
		{"Engine", w.alice, "engine", 3, "`engine` is not available over SSH"},
		{"Serve", w.alice, "serve", 3, "`serve` is not available over SSH"},
		{"Demo", w.alice, "demo", 3, "`demo` is not available over SSH"},
		{"Graphsim", w.alice, "graphsim", 3, "`graphsim` is not available over SSH"},
		{"Tui", w.alice, "tui", 3, "`tui` is not available over SSH"},
		{"UsersAdd", w.alice, "users add eve", 3, "`users add` is not available over SSH"},
		{"TenantsAddReadsServerFiles", w.alice, "tenants add --name x --tenant-id y --client-id z --secret-file /etc/passwd", 3, "`tenants add` is not available over SSH"},
		{"DashboardNeedsTerminal", w.alice, "tenantatlas", 2, "the dashboard needs a terminal"},
		{"UnknownKey", w.strange, "runs list", 1, "is not registered to any TenantAtlas user"},
		{"UnknownCommand", w.alice, "frobnicate", 2, `unknown command "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sshExec(t, addr, tc.user, tc.command)
			require.Equal(t, tc.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.msg)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			require.Empty(t, r.stdout)
		})
	}

	r = sshExec(t, addr, w.alice, "version --json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"version"`)

	// `runs watch ID` over SSH streams from the server's one hub: no LISTEN connection of its own.
	// The watch prints the run once it has subscribed, so a change made after that line reaches it.
	// (The server runs no engine: the group sync is still queued, and cancelling it completes it.)
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "alice", Auth: []gossh.AuthMethod{gossh.PublicKeys(w.alice.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer client.Close()
	watch, err := client.NewSession()
	require.NoError(t, err)
	defer watch.Close()
	streamed := &lockedBuffer{}
	watch.Stdout = streamed
	require.NoError(t, watch.Start(fmt.Sprintf("runs watch %v", started["id"])))
	require.Eventually(t, func() bool { return strings.Contains(streamed.String(), `"status":"queued"`) },
		10*time.Second, 20*time.Millisecond, "the watch's first line")
	r = sshExec(t, addr, w.alice, fmt.Sprintf("runs cancel %v", started["id"]))
	require.Equal(t, 0, r.code, r.stderr)
	require.Eventually(t, func() bool { return strings.Contains(streamed.String(), `"outcome":"cancelled"`) },
		10*time.Second, 20*time.Millisecond, "the change, streamed")
	db, err := pgx.Connect(context.Background(), w.c.env["TENANTATLAS_DATABASE_URL"])
	require.NoError(t, err)
	defer db.Close(context.Background())
	var listeners int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'tenantatlas-hub'`).Scan(&listeners))
	require.Equal(t, 1, listeners, "one hub for the server and every SSH session")
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestServeEndToEndOpenSSH runs the built binary's `serve` and reaches it with the OpenSSH client:
// dashboards in tmux for two users of different workspaces, a resize, and commands.
func TestServeEndToEndOpenSSH(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the OpenSSH client is required for end-to-end tests")
		}
		t.Skip("OpenSSH client not installed")
	}
	bin := builtBinary(t)
	w := newSSHWorld(t)
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)

	server := exec.Command(bin, "serve", "--ssh-addr", addr)
	for k, v := range w.c.env {
		server.Env = append(server.Env, k+"="+v)
	}
	logs := &lockedBuffer{}
	server.Stdout, server.Stderr = logs, logs
	require.NoError(t, server.Start())
	t.Cleanup(func() {
		_ = server.Process.Signal(os.Interrupt)
		exited := make(chan error, 1)
		go func() { exited <- server.Wait() }()
		select {
		case err := <-exited:
			require.NoError(t, err, "serve exits 0 on SIGINT: %s", logs.String())
		case <-time.After(30 * time.Second):
			_ = server.Process.Kill()
			t.Error("serve did not stop on SIGINT")
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "ssh_addr="+addr) }, 60*time.Second, 50*time.Millisecond, logs.String())

	sshArgs := func(u sshUser, extra ...string) []string {
		return append([]string{"-i", u.keyFile, "-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"}, append(extra, host)...)
	}
	openSSH := func(u sshUser, command ...string) result {
		cmd := exec.Command("ssh", append(sshArgs(u), command...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return result{code: code, stdout: out.String(), stderr: errOut.String()}
	}

	t.Run("Commands", func(t *testing.T) {
		t.Parallel()
		r := openSSH(w.alice, "tenants", "list", "--json")
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, r.stdout, `"name": "contoso"`)
		require.NotContains(t, r.stdout, "bluecorp")

		r = openSSH(w.bob, "sync", "groups", "bluecorp")
		require.Equal(t, 3, r.code, r.stderr)
		require.Contains(t, r.stderr, "readonly role does not have")

		// --wait follows the run through the server's hub until the embedded engine finishes it.
		r = openSSH(w.dave, "runs", "start", "--type", "system.noop", "--workspace", "default", "--param", "duration=300ms", "--wait", "--json")
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, r.stdout, `"outcome": "succeeded"`)

		r = openSSH(w.strange, "runs", "list")
		require.Equal(t, 1, r.code)
		require.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
		require.Contains(t, r.stderr, "tenantatlas: SSH key "+gossh.FingerprintSHA256(w.strange.signer.PublicKey())+" is not registered")
	})

	t.Run("UnknownKeyGetsNoDashboard", func(t *testing.T) {
		t.Parallel()
		term := newTerminal(t, 100, 30, nil, append([]string{"ssh", "-t"}, sshArgs(w.strange)...)...)
		screen := term.waitFor("is not registered", "EXITED=1")
		require.NotContains(t, screen, "Tenants")
	})

	// alice operates default: she sees contoso and is offered "sync groups" on it; bob reads blue:
	// he sees bluecorp and is offered no sync.
	for _, tc := range []struct {
		user             sshUser
		tenant, other    string
		offersSync       bool
		resizeAfterwards bool
	}{
		{w.alice, "contoso", "bluecorp", true, true},
		{w.bob, "bluecorp", "contoso", false, false},
	} {
		t.Run("Dashboard_"+tc.user.name, func(t *testing.T) {
			t.Parallel()
			term := newTerminal(t, 100, 30, nil, append([]string{"ssh", "-t"}, sshArgs(tc.user)...)...)
			term.waitFor("TenantAtlas", tc.user.name, "● live")
			term.keys("t")
			screen := term.waitFor("Tenants", tc.tenant)
			require.NotContains(t, screen, tc.other)
			term.keys("Enter")
			term.waitFor(tc.tenant, "last run per type")
			term.keys("?")                                                                              // the help lists the keys this user is offered on this screen
			screen = term.waitFor("Keys — "+tc.tenant, "This screen", "any other key closes this help") // the help may scroll past "Everywhere"
			_, thisScreen, _ := strings.Cut(screen, "This screen")
			thisScreen, _, _ = strings.Cut(thisScreen, "Everywhere")
			if tc.offersSync {
				require.Contains(t, thisScreen, "sync groups")
			} else {
				require.NotContains(t, thisScreen, "sync")
			}
			term.keys("Escape")
			term.waitFor("last run per type")
			if tc.resizeAfterwards {
				resizeTerminal(t, term, 30, 8)
				term.waitFor("needs at least 40", "(now 30×8)")
				resizeTerminal(t, term, 120, 30)
				term.waitFor(tc.tenant, "last run per type")
			}
			term.keys("q")
			term.waitFor("EXITED=0")
		})
	}
}

func resizeTerminal(t *testing.T, term *terminal, width, height int) {
	t.Helper()
	out, err := term.tmux("resize-window", "-t", term.name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)).CombinedOutput()
	require.NoError(t, err, string(out))
}
