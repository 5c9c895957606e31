package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// LocalOptions configure the embedded PostgreSQL cluster that TenantAtlas starts when no
// TENANTATLAS_DATABASE_URL is given (docs/design.md#defaults).
type LocalOptions struct {
	// Dir holds the cluster: Dir/data is PGDATA, the unix socket lives in Dir (or, when that path is
	// too long for a socket, in $XDG_RUNTIME_DIR, /run/tenantatlas as root, else a fresh private
	// directory under the temporary directory: see socketDirFor).
	Dir string
	// BinDir overrides where initdb and postgres are looked up.
	BinDir string
	// OSUser is the account that owns and runs the cluster when TenantAtlas runs as root (PostgreSQL
	// refuses to run as root). Empty means "postgres". Ignored when not root.
	OSUser string
	// Durable keeps fsync on. The user's own cluster is durable; throwaway test and demo clusters are not.
	Durable bool
	// RemoveOnStop deletes Dir after the cluster stops (throwaway clusters).
	RemoveOnStop bool
	Logger       *slog.Logger
}

// LocalCluster is a PostgreSQL server started from the machine's server binaries, or one that another
// TenantAtlas process already runs on the same directory (then this process shares it and, should the
// owner exit, takes it over).
type LocalCluster struct {
	opts      LocalOptions
	dataDir   string
	socketDir string
	lockPath  string
	bins      pgBinaries
	runAs     *runAsUser
	logger    *slog.Logger

	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
	owned     bool
	stopped   bool
	watchStop chan struct{}
	watchDone chan struct{}
}

const localPort = 5432 // only names the socket file: the cluster listens on no TCP address

// DefaultDataDir is where TenantAtlas keeps its local state (the cluster in DataDir/postgres, the
// secret key, the SSH host key): $XDG_DATA_HOME/tenantatlas, else ~/.local/share/tenantatlas. As root
// without XDG_DATA_HOME it is /var/lib/tenantatlas, because root's home is not reachable by the
// postgres account that must own the cluster.
func DefaultDataDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "tenantatlas"), nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/tenantatlas", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a home directory for local data (%v): set XDG_DATA_HOME or --data-dir", err)
	}
	return filepath.Join(home, ".local", "share", "tenantatlas"), nil
}

// StartLocal starts (or joins) the cluster in opts.Dir and waits until it accepts connections.
// Problems come back as one-line errors that name the cause and the fix.
func StartLocal(ctx context.Context, opts LocalOptions) (*LocalCluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("local database: no directory given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("local database directory %q: %w", opts.Dir, err)
	}
	opts.Dir = dir
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bins, err := findPGBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	runAs, err := lookupRunAs(opts.OSUser)
	if err != nil {
		return nil, err
	}
	c := &LocalCluster{
		opts:      opts,
		dataDir:   filepath.Join(dir, "data"),
		socketDir: socketDirFor(dir),
		lockPath:  filepath.Join(dir, "tenantatlas.lock"),
		bins:      bins,
		runAs:     runAs,
		logger:    logger,
	}
	if err := c.prepareDirs(); err != nil {
		return nil, err
	}
	if err := c.startOrJoin(ctx); err != nil {
		return nil, err
	}
	c.watchStop = make(chan struct{})
	c.watchDone = make(chan struct{})
	go c.watch()
	return c, nil
}

// The cluster's roles (docs/architecture.md#database-roles): TenantAtlas works as RuntimeRole, which
// is not a superuser, owns nothing and may only insert into and read the audit log; migrations run as
// OwnerRole, which owns the schema. The bootstrap superuser (postgres) only creates them.
const (
	OwnerRole   = "tenantatlas_owner"
	RuntimeRole = "tenantatlas_app"
)

// DSN is the connection string TenantAtlas works with: the "tenantatlas" database as RuntimeRole (unix
// socket, peer authentication).
func (c *LocalCluster) DSN() string { return c.dsn(RuntimeRole, "tenantatlas") }

// OwnerDSN is the connection string migrations run with: the "tenantatlas" database as OwnerRole.
func (c *LocalCluster) OwnerDSN() string { return c.dsn(OwnerRole, "tenantatlas") }

// DSNFor is the superuser's connection string of a database on the cluster (tests create databases).
func (c *LocalCluster) DSNFor(database string) string { return c.dsn("postgres", database) }

func (c *LocalCluster) dsn(role, database string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", c.socket(), localPort, role, database)
}

// socket is the socket directory; a start or takeover may choose it (freshSocketDir), so it is read
// under the lock.
func (c *LocalCluster) socket() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.socketDir
}

func (c *LocalCluster) setSocket(d string) {
	c.mu.Lock()
	c.socketDir = d
	c.mu.Unlock()
}

// Owned reports whether this process started the cluster (and stops it on Stop).
func (c *LocalCluster) Owned() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.owned
}

// PID is the postmaster's process id, or 0 when unknown.
func (c *LocalCluster) PID() int {
	pid, _ := readPostmasterPID(c.dataDir)
	return pid
}

// Dir is the cluster directory.
func (c *LocalCluster) Dir() string { return c.opts.Dir }

// Stop shuts the cluster down if this process started it (fast shutdown, then immediate after 10 s)
// and removes a throwaway directory. It tolerates being called twice.
func (c *LocalCluster) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.mu.Unlock()
	if c.watchStop != nil {
		close(c.watchStop)
		<-c.watchDone
	}
	c.mu.Lock()
	cmd, exited, owned := c.cmd, c.exited, c.owned
	c.mu.Unlock()
	if owned && cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			<-exited
		}
	}
	if c.opts.RemoveOnStop {
		_ = os.RemoveAll(c.opts.Dir)
		if sd := c.socket(); sd != "" && sd != c.opts.Dir {
			_ = os.RemoveAll(sd)
		}
	}
}

// Restart stops and starts an owned cluster (used by reliability tests to simulate a database restart).
func (c *LocalCluster) Restart(ctx context.Context, downFor time.Duration) error {
	c.mu.Lock()
	cmd, exited, owned := c.cmd, c.exited, c.owned
	c.mu.Unlock()
	if !owned || cmd == nil {
		return errors.New("local database: only the process that started the cluster can restart it")
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	<-exited
	time.Sleep(downFor)
	return c.startOrJoin(ctx)
}

func (c *LocalCluster) prepareDirs() error {
	dirs := []string{c.opts.Dir}
	if c.socketDir != "" && c.socketDir != c.opts.Dir {
		if err := os.MkdirAll(filepath.Dir(c.socketDir), 0o755); err != nil {
			return fmt.Errorf("cannot create %s for the local database's socket: %v", filepath.Dir(c.socketDir), err)
		}
		dirs = append(dirs, c.socketDir)
	}
	for _, d := range dirs {
		info, err := os.Stat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
				return fmt.Errorf("cannot create %s for the local database: %v (choose another directory with --data-dir)", filepath.Dir(d), err)
			}
			if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("cannot create the local database directory %s: %v (choose another directory with --data-dir)", d, err)
			}
			if c.runAs != nil {
				if err := os.Chown(d, c.runAs.uid, c.runAs.gid); err != nil {
					return fmt.Errorf("cannot hand %s to the %s account: %v", d, c.runAs.name, err)
				}
			}
		case err != nil:
			return fmt.Errorf("cannot use the local database directory %s: %v", d, err)
		case !info.IsDir():
			return fmt.Errorf("the local database path %s is not a directory: remove it or choose another with --data-dir", d)
		default:
			if err := c.checkOwner(d, info); err != nil {
				return err
			}
		}
	}
	if c.runAs != nil {
		if err := checkTraversable(c.opts.Dir, c.runAs); err != nil {
			return err
		}
	}
	return nil
}

func (c *LocalCluster) checkOwner(dir string, info os.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	want, wantName := os.Geteuid(), currentUserName()
	if c.runAs != nil {
		want, wantName = c.runAs.uid, c.runAs.name
	}
	if int(st.Uid) != want {
		return fmt.Errorf("the local database directory %s is owned by %s, but the cluster runs as %s: fix it with `chown -R %s %s` or choose another directory with --data-dir",
			dir, userName(int(st.Uid)), wantName, wantName, dir)
	}
	return nil
}

// openOwnFile opens a file that this process writes inside the cluster directory (the lock, the server
// log). As root that directory belongs to the cluster's account, which could plant a symlink or a hard
// link there to make root write elsewhere: the open never follows a symlink (O_NOFOLLOW), never blocks on
// a FIFO, and fstat must show a regular file with one link owned by this process's user.
func (c *LocalCluster) openOwnFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("refusing to open %s: it is a symbolic link, which %s will not follow (someone with access to the local database directory planted it): remove it and check the directory", path, c.ownerDescription())
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %v (check the permissions of the local database directory)", path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot inspect %s: %v", path, err)
	}
	var problem string
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		problem = "it is not a regular file"
	case int(st.Uid) != os.Geteuid():
		problem = "it is owned by " + userName(int(st.Uid)) + ", not " + currentUserName()
	case st.Nlink != 1:
		problem = "it has " + strconv.Itoa(int(st.Nlink)) + " hard links"
	}
	if problem != "" {
		f.Close()
		return nil, fmt.Errorf("refusing to write %s: %s (someone with access to the local database directory replaced it): remove it and check the directory", path, problem)
	}
	return f, nil
}

func (c *LocalCluster) ownerDescription() string {
	if c.runAs != nil {
		return "TenantAtlas (running as root; the directory belongs to " + c.runAs.name + ")"
	}
	return "TenantAtlas"
}

// startOrJoin starts the cluster, or joins one that another process on the same directory runs.
// A file lock serialises processes racing to start the same directory.
func (c *LocalCluster) startOrJoin(ctx context.Context) error {
	lock, err := c.openOwnFile(c.lockPath, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("cannot lock %s: %w", c.lockPath, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck

	if pid, ok := readPostmasterPID(c.dataDir); ok && processAlive(pid) {
		if d := readSocketDir(c.dataDir); d != "" && c.socket() == "" {
			c.setSocket(d)
		}
		if err := c.waitReady(ctx, nil, 30*time.Second); err == nil {
			c.logger.Info("sharing the local PostgreSQL cluster started by another process", "dir", c.opts.Dir, "pid", pid)
			c.mu.Lock()
			c.owned, c.cmd, c.exited = false, nil, nil
			c.mu.Unlock()
			return nil
		}
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(); err != nil {
			return err
		}
	}
	return c.startServer(ctx)
}

func (c *LocalCluster) initdb() error {
	_ = os.RemoveAll(c.dataDir) // a half-made data dir from an interrupted initdb
	cmd := exec.Command(c.bins.initdb, "-D", c.dataDir, "-U", "postgres", "--auth-local=peer", "--auth-host=reject",
		"-E", "UTF8", "--locale=C", "--no-instructions", "--no-sync")
	cmd.Dir = c.opts.Dir
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = c.sysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(c.dataDir)
		return fmt.Errorf("initdb failed for the local database in %s: %s", c.dataDir, lastLines(out, 2))
	}
	return nil
}

// accessConfig is the cluster's pg_hba.conf and pg_ident.conf: peer authentication on the unix
// socket, where only this process's OS user (as the three roles) and the cluster's account (as
// postgres) are mapped; every TCP connection is rejected. They live in the data directory, so a
// server started by hand (`postgres -D …`, without TenantAtlas's flags) is as closed.
func (c *LocalCluster) accessConfig() (hba, ident string) {
	me := currentUserName()
	account := me
	if c.runAs != nil {
		account = c.runAs.name
	}
	hba = "# Written by TenantAtlas at every start: peer authentication on the unix socket, no TCP.\n" +
		"local all all peer map=tenantatlas\n" +
		"host all all all reject\n"
	ident = "# Written by TenantAtlas at every start: who may connect as which role.\n"
	for _, role := range []string{"postgres", OwnerRole, RuntimeRole} {
		ident += fmt.Sprintf("tenantatlas %s %s\n", me, role)
	}
	if account != me {
		ident += fmt.Sprintf("tenantatlas %s postgres\n", account)
	}
	return hba, ident
}

// writeAccessConfig writes accessConfig into the data directory as the cluster's account (a child
// process running as it), so root never writes into a directory that account owns.
func (c *LocalCluster) writeAccessConfig() error {
	hba, ident := c.accessConfig()
	for name, content := range map[string]string{"pg_hba.conf": hba, "pg_ident.conf": ident} {
		path := filepath.Join(c.dataDir, name)
		cmd := exec.Command("/bin/sh", "-c", `umask 077 && cat > "$1.tmp" && mv -f "$1.tmp" "$1"`, "sh", path)
		cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
		cmd.Stdin = strings.NewReader(content)
		cmd.SysProcAttr = c.sysProcAttr()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cannot write %s: %v: %s", path, err, lastLines(out, 1))
		}
	}
	return nil
}

func (c *LocalCluster) startServer(ctx context.Context) error {
	if err := c.writeAccessConfig(); err != nil {
		return err
	}
	if sd := c.socket(); sd == "" || (sd != c.opts.Dir && !c.privateSocketDir(sd)) {
		d, err := c.freshSocketDir()
		if err != nil {
			return err
		}
		c.setSocket(d)
	}
	logPath := filepath.Join(c.opts.Dir, "postgres.log")
	logFile, err := c.openOwnFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return err
	}
	args := []string{"-D", c.dataDir, "-p", strconv.Itoa(localPort),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories=" + c.socket(),
		"-c", "unix_socket_permissions=0700",
		"-c", "max_connections=200",
		"-c", "shared_buffers=64MB",
		"-c", "dynamic_shared_memory_type=" + sharedMemoryType(),
	}
	if !c.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(c.bins.postgres, args...)
	cmd.Dir = c.opts.Dir
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	attr := c.sysProcAttr()
	// The cluster dies with this process, even on SIGKILL; a sharing process then takes it over.
	attr.Pdeathsig = syscall.SIGQUIT
	attr.Setpgid = true
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("cannot start %s: %w", c.bins.postgres, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	if err := c.waitReady(ctx, exited, 60*time.Second); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
		tail, _ := os.ReadFile(logPath)
		return fmt.Errorf("the local PostgreSQL did not start (%v): %s (full log: %s)", err, lastLines(tail, 1), logPath)
	}
	if err := c.ensureDatabase(ctx); err != nil {
		_ = cmd.Process.Signal(syscall.SIGINT)
		<-exited
		return err
	}
	c.mu.Lock()
	c.cmd, c.exited, c.owned = cmd, exited, true
	c.mu.Unlock()
	c.logger.Info("started the local PostgreSQL cluster", "dir", c.opts.Dir, "pid", cmd.Process.Pid)
	return nil
}

// privateSocketDir reports whether d is a directory (not a link) owned by the cluster's account with
// no access for others: a socket directory this cluster made, safe to use again on a takeover.
func (c *LocalCluster) privateSocketDir(d string) bool {
	info, err := os.Lstat(d)
	if err != nil || !info.IsDir() || info.Mode().Perm()&0o077 != 0 {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	want := os.Geteuid()
	if c.runAs != nil {
		want = c.runAs.uid
	}
	return ok && int(st.Uid) == want
}

func (c *LocalCluster) waitReady(ctx context.Context, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("postgres exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		connCtx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(connCtx, c.DSNFor("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s: %v", limit, lastErr)
}

func (c *LocalCluster) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.DSNFor("postgres"))
	if err != nil {
		return fmt.Errorf("cannot connect to the local database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tenantatlas')").Scan(&exists); err != nil {
		return fmt.Errorf("cannot inspect the local database: %w", err)
	}
	// The settings that keep the cluster private, in its own configuration (postgresql.auto.conf,
	// written by the server), not only in the flags this process starts it with.
	for _, set := range []string{"listen_addresses = ''", "unix_socket_permissions = '0700'"} {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET "+set); err != nil {
			return fmt.Errorf("cannot configure the local database (%s): %w", set, err)
		}
	}
	for _, role := range []string{OwnerRole, RuntimeRole} {
		if _, err := conn.Exec(ctx, `DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+role+`') THEN
				CREATE ROLE `+role+` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
			END IF; END $$`); err != nil && !isUniqueViolation(err, "") {
			return fmt.Errorf("cannot create the %s role: %w", role, err)
		}
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE tenantatlas OWNER "+OwnerRole); err != nil && !isUniqueViolation(err, "") {
			return fmt.Errorf("cannot create the tenantatlas database: %w", err)
		}
	}
	// A cluster made before the two roles: its database and schema objects belong to postgres.
	db, err := pgx.Connect(ctx, c.DSNFor("tenantatlas"))
	if err != nil {
		return fmt.Errorf("cannot connect to the tenantatlas database: %w", err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `ALTER DATABASE tenantatlas OWNER TO `+OwnerRole+`;
		GRANT CONNECT, TEMPORARY ON DATABASE tenantatlas TO `+RuntimeRole+`;
		REVOKE ALL ON DATABASE tenantatlas FROM PUBLIC;
		ALTER SCHEMA public OWNER TO `+OwnerRole+`;
		REVOKE CREATE ON SCHEMA public FROM PUBLIC;
		GRANT USAGE ON SCHEMA public TO `+RuntimeRole+`;
		DO $$ DECLARE r record; BEGIN
			FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE pg_get_userbyid(c.relowner) = 'postgres' AND n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') LOOP
				EXECUTE format('ALTER %s %I.%I OWNER TO `+OwnerRole+`', CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
					WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.nspname, r.relname);
			END LOOP;
			FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				WHERE pg_get_userbyid(p.proowner) = 'postgres' AND n.nspname = 'public' LOOP
				EXECUTE format('ALTER ROUTINE %s OWNER TO `+OwnerRole+`', r.sig);
			END LOOP;
			FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
				WHERE pg_get_userbyid(t.typowner) = 'postgres' AND n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
				AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid) LOOP
				EXECUTE format('ALTER TYPE public.%I OWNER TO `+OwnerRole+`', r.typname);
			END LOOP;
		END $$`); err != nil {
		return fmt.Errorf("cannot hand the tenantatlas database to the %s role: %w", OwnerRole, err)
	}
	return nil
}

// watch lets a process that shares another's cluster take it over when that owner exits.
func (c *LocalCluster) watch() {
	defer close(c.watchDone)
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-c.watchStop:
			return
		case <-ticker.C:
		}
		c.mu.Lock()
		owned := c.owned
		c.mu.Unlock()
		if owned {
			continue
		}
		if pid, ok := readPostmasterPID(c.dataDir); ok && processAlive(pid) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if err := c.startOrJoin(ctx); err != nil {
			c.logger.Warn("cannot take over the local PostgreSQL cluster", "error", err)
		}
		cancel()
	}
}

func (c *LocalCluster) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if c.runAs != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(c.runAs.uid), Gid: uint32(c.runAs.gid)}
	}
	return attr
}

type pgBinaries struct{ initdb, postgres string }

// findPGBinaries looks for initdb and postgres: only in binDir when it is set, else PATH, `pg_config --bindir`, then the newest
// /usr/lib/postgresql/*/bin.
func findPGBinaries(binDir string) (pgBinaries, error) {
	if binDir != "" {
		b := pgBinaries{initdb: filepath.Join(binDir, "initdb"), postgres: filepath.Join(binDir, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
		return pgBinaries{}, fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in %s, the configured binary directory: point it at the directory that has them (e.g. /usr/lib/postgresql/15/bin), install them (Debian/Ubuntu: apt-get install postgresql), or set TENANTATLAS_DATABASE_URL", binDir)
	}
	var candidates []string
	if p, err := exec.LookPath("postgres"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versioned, func(i, j int) bool { return pgMajor(versioned[i]) > pgMajor(versioned[j]) })
	candidates = append(candidates, versioned...)
	for _, dir := range candidates {
		b := pgBinaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return pgBinaries{}, errors.New("PostgreSQL server binaries (initdb, postgres) not found in PATH, `pg_config --bindir` or /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: apt-get install postgresql) or set TENANTATLAS_DATABASE_URL")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

type runAsUser struct {
	name     string
	uid, gid int
}

// lookupRunAs returns the account to run PostgreSQL as, or nil when this process is not root.
func lookupRunAs(name string) (*runAsUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, the local database must run as the %q OS user, which does not exist: create it (useradd --system --home /var/lib/postgresql %s), run tenantatlas as a normal user, or set TENANTATLAS_DATABASE_URL", name, name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("the OS user %q is root; PostgreSQL refuses to run as root: choose an unprivileged account", name)
	}
	return &runAsUser{name: name, uid: uid, gid: gid}, nil
}

// checkTraversable makes sure the run-as account can reach dir through every parent directory.
func checkTraversable(dir string, u *runAsUser) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("cannot inspect %s: %v", d, err)
		}
		st := info.Sys().(*syscall.Stat_t)
		mode := info.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(int(st.Uid) == u.uid && mode&0o100 != 0) ||
			(int(st.Gid) == u.gid && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("the %s account cannot reach the local database in %s because %s is not searchable (mode %o): choose a directory it can reach with --data-dir (as root the default is /var/lib/tenantatlas), or chmod o+x %s",
				u.name, dir, d, mode, d)
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// socketDirFor returns where the cluster's socket lives: dir, or when dir is too long for a unix socket
// path a directory named after it in a place only this user (or root) can create entries in:
// $XDG_RUNTIME_DIR, or /run/tenantatlas as root. Without either it returns "": the socket then goes
// into a fresh private directory under the temporary directory (freshSocketDir), which processes that
// join the cluster find in postmaster.pid. Never a predictable name under /tmp, which another user
// could create first.
func socketDirFor(dir string) string {
	if len(dir)+len("/.s.PGSQL.5432") < 100 {
		return dir
	}
	sum := sha256.Sum256([]byte(dir))
	name := "tenantatlas-" + hex.EncodeToString(sum[:6])
	if os.Geteuid() == 0 {
		return filepath.Join("/run/tenantatlas", name)
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) && len(x)+len(name)+len("/.s.PGSQL.5432") < 100 {
		return filepath.Join(x, name)
	}
	return ""
}

// freshSocketDir makes a new private (0700, random name) socket directory under the temporary
// directory, for the cluster's account.
func (c *LocalCluster) freshSocketDir() (string, error) {
	d, err := os.MkdirTemp("", "tenantatlas-")
	if err != nil {
		return "", fmt.Errorf("cannot create a socket directory for the local database: %w", err)
	}
	if c.runAs != nil {
		if err := os.Chown(d, c.runAs.uid, c.runAs.gid); err != nil {
			return "", fmt.Errorf("cannot hand %s to the %s account: %v", d, c.runAs.name, err)
		}
	}
	return d, nil
}

// readSocketDir is the socket directory a running postmaster recorded (line 5 of postmaster.pid).
func readSocketDir(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return ""
	}
	return strings.TrimSpace(lines[4])
}

func sharedMemoryType() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Blocks*uint64(st.Bsize) < 256<<20 {
		return "mmap"
	}
	return "posix"
}

func readPostmasterPID(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func currentUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Geteuid())
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
