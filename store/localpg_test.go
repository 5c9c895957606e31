package store_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
)

// The local-cluster tests run parts of themselves in child processes (the test binary re-executed with
// childEnv set), because sharing and parent-death are about processes.
const childEnv = "TENANTATLAS_LOCALPG_CHILD"

// runLocalChild starts (or joins) the cluster in $TENANTATLAS_LOCALPG_DIR, prints "ready <owned> <pid>",
// and waits for stdin to close.
func runLocalChild() int {
	ctx := context.Background()
	c, err := store.StartLocal(ctx, store.LocalOptions{Dir: os.Getenv("TENANTATLAS_LOCALPG_DIR")})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		fmt.Println("error", err)
		return 1
	}
	conn.Close(ctx)
	fmt.Printf("ready %v %d\n", c.Owned(), c.PID())
	_, _ = io.Copy(io.Discard, os.Stdin)
	c.Stop()
	return 0
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	owned bool
	pid   int
}

// startChild runs the test binary as a cluster-starting child, optionally as another OS user.
func startChild(t *testing.T, dir string, cred *syscall.Credential, extraEnv ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	if cred != nil { // the other user must be able to execute a copy of the test binary
		copyDir, err := os.MkdirTemp("", "tenantatlas-exe-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(copyDir) })
		require.NoError(t, os.Chmod(copyDir, 0o755))
		data, err := os.ReadFile(exe)
		require.NoError(t, err)
		exe = filepath.Join(copyDir, "store.test")
		require.NoError(t, os.WriteFile(exe, data, 0o755))
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"=1", "TENANTATLAS_LOCALPG_DIR="+dir), extraEnv...)
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	fields := strings.Fields(line)
	require.Equal(t, "ready", fields[0], line)
	pid, _ := strconv.Atoi(fields[2])
	return &child{cmd: cmd, stdin: stdin, owned: fields[1] == "true", pid: pid}
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	require.NoError(t, c.cmd.Wait())
}

func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == syscall.ESRCH
}

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tenantatlas-localpg-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // the postgres account must reach the cluster inside
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "postgres")
}

func TestLocalCluster(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("these cases switch OS users and need root; the non-root path runs in every pgtest package")
	}
	ctx := context.Background()

	t.Run("StartsAsRootSharedBySecondProcessAndTakenOver", func(t *testing.T) {
		t.Parallel()
		dir := tempDir(t)
		first := startChild(t, dir, nil)
		require.True(t, first.owned)
		info, err := os.Stat(dir)
		require.NoError(t, err)
		pgUser, err := user.Lookup("postgres")
		require.NoError(t, err)
		require.Equal(t, pgUser.Uid, strconv.Itoa(int(info.Sys().(*syscall.Stat_t).Uid)), "as root the cluster belongs to postgres")

		second := startChild(t, dir, nil)
		require.False(t, second.owned, "the second process shares the running cluster")
		require.Equal(t, first.pid, second.pid)

		// The owner leaves; this process takes the cluster over and keeps working.
		first.stop(t)
		c, err := store.StartLocal(ctx, store.LocalOptions{Dir: dir})
		require.NoError(t, err)
		t.Cleanup(c.Stop)
		conn, err := pgx.Connect(ctx, c.DSN())
		require.NoError(t, err)
		conn.Close(ctx)
		second.stop(t)
	})

	t.Run("StartsAsNonRoot", func(t *testing.T) {
		t.Parallel()
		nobody, err := user.Lookup("nobody")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		parent, err := os.MkdirTemp("", "tenantatlas-nonroot-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(parent) })
		require.NoError(t, os.Chown(parent, uid, gid))
		c := startChild(t, filepath.Join(parent, "postgres"), &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)})
		require.True(t, c.owned)
		pid := c.pid
		c.stop(t)
		require.Eventually(t, func() bool { return processGone(pid) }, 10*time.Second, 20*time.Millisecond)
	})

	t.Run("NoProcessLeftWhenParentIsKilled", func(t *testing.T) {
		t.Parallel()
		c := startChild(t, tempDir(t), nil)
		require.True(t, c.owned)
		require.False(t, processGone(c.pid))
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
		_ = c.cmd.Wait()
		require.Eventually(t, func() bool { return processGone(c.pid) }, 10*time.Second, 20*time.Millisecond,
			"postmaster %d outlived its SIGKILLed parent", c.pid)
	})
}

func TestLocalClusterBadSetup(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a directory owned by someone else")
	}
	ctx := context.Background()

	t.Run("DirectoryOwnedBySomeoneElse", func(t *testing.T) {
		t.Parallel()
		dir := tempDir(t)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		nobody, err := user.Lookup("nobody")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(nobody.Uid)
		require.NoError(t, os.Chown(dir, uid, uid))
		_, err = store.StartLocal(ctx, store.LocalOptions{Dir: dir})
		require.Error(t, err)
		require.Contains(t, err.Error(), "is owned by nobody")
		require.Contains(t, err.Error(), "chown -R postgres")
		require.NotContains(t, err.Error(), "\n")
		entries, _ := os.ReadDir(dir)
		require.Empty(t, entries, "nothing half-created")
	})

	t.Run("RootWithoutPostgresUser", func(t *testing.T) {
		t.Parallel()
		dir := tempDir(t)
		_, err := store.StartLocal(ctx, store.LocalOptions{Dir: dir, OSUser: "tenantatlas-no-such-user"})
		require.Error(t, err)
		require.Contains(t, err.Error(), `"tenantatlas-no-such-user" OS user, which does not exist`)
		require.Contains(t, err.Error(), "TENANTATLAS_DATABASE_URL")
		_, statErr := os.Stat(dir)
		require.True(t, os.IsNotExist(statErr), "nothing created")
	})

	t.Run("NoServerBinaries", func(t *testing.T) {
		t.Parallel()
		_, err := store.StartLocal(ctx, store.LocalOptions{Dir: tempDir(t), BinDir: "/nonexistent"})
		require.Error(t, err)
		require.Contains(t, err.Error(), "not found in /nonexistent")
		require.Contains(t, err.Error(), "apt-get install postgresql")
	})
}

// As root the cluster directory belongs to postgres. That account plants symlinks where TenantAtlas
// writes its lock and the server log, pointing into a root-only directory: TenantAtlas refuses with a
// clear error and writes nothing there (security review finding 1).
func TestSecurityLocalClusterRefusesPlantedLinks(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the attack needs root running TenantAtlas and postgres owning the cluster directory")
	}
	pgUser, err := user.Lookup("postgres")
	require.NoError(t, err)
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	asPostgres := func(t *testing.T, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	for _, tc := range []struct{ name, file, target string }{
		{"LockFileSymlink", "tenantatlas.lock", "created-by-root"},
		{"ServerLogSymlink", "postgres.log", "authorized_keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := tempDir(t)
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.Chown(dir, uid, gid))
			rootOnly := filepath.Join(filepath.Dir(dir), "rootonly")
			require.NoError(t, os.Mkdir(rootOnly, 0o700))
			target := filepath.Join(rootOnly, tc.target)
			require.NoError(t, os.WriteFile(filepath.Join(rootOnly, "authorized_keys"), []byte("ssh-ed25519 AAAA root\n"), 0o600))
			asPostgres(t, "ln", "-s", target, filepath.Join(dir, tc.file))

			c, err := store.StartLocal(ctx, store.LocalOptions{Dir: dir})
			if err == nil {
				c.Stop()
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "refusing to open "+filepath.Join(dir, tc.file)+": it is a symbolic link")
			require.NotContains(t, err.Error(), "\n")
			if tc.target == "created-by-root" {
				_, statErr := os.Stat(target)
				require.True(t, os.IsNotExist(statErr), "root created a file through the planted link")
			} else {
				b, err := os.ReadFile(target)
				require.NoError(t, err)
				require.Equal(t, "ssh-ed25519 AAAA root\n", string(b), "root appended to a file through the planted link")
			}
		})
	}
	t.Run("ServerLogHardLink", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		dir := tempDir(t)
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chown(dir, uid, gid))
		rootOnly := filepath.Join(filepath.Dir(dir), "rootonly")
		require.NoError(t, os.Mkdir(rootOnly, 0o700))
		target := filepath.Join(rootOnly, "authorized_keys")
		require.NoError(t, os.WriteFile(target, []byte("k\n"), 0o600))
		require.NoError(t, os.Link(target, filepath.Join(dir, "postgres.log")))
		c, err := store.StartLocal(ctx, store.LocalOptions{Dir: dir})
		if err == nil {
			c.Stop()
		}
		require.Error(t, err)
		require.Contains(t, err.Error(), "has 2 hard links")
		b, _ := os.ReadFile(target)
		require.Equal(t, "k\n", string(b))
	})
}

// TestSecurityLocalClusterSocketDirNotSquattable: with a data directory too long for a socket path, the old
// predictable /tmp/tenantatlas-<hash> is created first by another user; the cluster still starts, and
// its socket is elsewhere (security review finding 7). As root it lives under /run/tenantatlas; as a
// user without $XDG_RUNTIME_DIR in a fresh private directory.
func TestSecurityLocalClusterSocketDirNotSquattable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("planting a directory as another user needs root")
	}
	nobody, err := user.Lookup("nobody")
	require.NoError(t, err)
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	squat := func(t *testing.T, dir string, owner int) string {
		sum := sha256.Sum256([]byte(dir))
		old := filepath.Join(os.TempDir(), "tenantatlas-"+hex.EncodeToString(sum[:6]))
		require.NoError(t, os.Mkdir(old, 0o755))
		require.NoError(t, os.Chown(old, owner, owner))
		t.Cleanup(func() { os.RemoveAll(old) })
		return old
	}
	long := func(parent string) string {
		return filepath.Join(parent, strings.Repeat("d", 60), strings.Repeat("e", 40), "postgres")
	}

	t.Run("Root", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		parent := filepath.Dir(tempDir(t))
		dir := long(parent)
		require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
		old := squat(t, dir, uid)
		c, err := store.StartLocal(ctx, store.LocalOptions{Dir: dir, RemoveOnStop: true})
		require.NoError(t, err)
		t.Cleanup(c.Stop)
		require.NotContains(t, c.DSN(), old)
		require.Contains(t, c.DSN(), "host=/run/tenantatlas/")
		conn, err := pgx.Connect(ctx, c.DSNFor("postgres"))
		require.NoError(t, err)
		conn.Close(ctx)
	})

	t.Run("UserWithoutRuntimeDir", func(t *testing.T) {
		t.Parallel()
		parent, err := os.MkdirTemp("", "tenantatlas-nonroot-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(parent) })
		require.NoError(t, os.Chown(parent, uid, gid))
		dir := long(parent)
		require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
		require.NoError(t, os.Chown(filepath.Dir(dir), uid, gid))
		require.NoError(t, os.Chown(filepath.Dir(filepath.Dir(dir)), uid, gid))
		squat(t, dir, 0) // root squats where nobody's cluster used to put its socket
		c := startChild(t, dir, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, "XDG_RUNTIME_DIR=")
		require.True(t, c.owned)
		second := startChild(t, dir, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, "XDG_RUNTIME_DIR=")
		require.False(t, second.owned, "a second process finds the fresh socket directory in postmaster.pid")
		second.stop(t)
		c.stop(t)
	})
}
