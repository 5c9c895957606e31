package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/internal/termtext"
	"github.com/tenantatlas/tenantatlas/store"
)

// annotationLongRunning marks commands that log at info by default (engine, serve, dashboard).
const annotationLongRunning = "long-running"

// app is the wiring shared by every command: configuration, and the database, service and actor
// opened on demand.
type app struct {
	cfg    Config
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	logger *slog.Logger

	// longRunning commands (engine, serve, the dashboard) log at info by default.
	longRunning bool

	// graph is the Graph configuration engines get (the demo points it at its simulator).
	graph graph.Config

	cluster *store.LocalCluster
	db      *store.DB
	svc     *engine.Service
	metrics *engine.Metrics
	actor   engine.Actor
	closers []func()

	// subscribe, when set, subscribes to the process's shared notification hub (commands over SSH).
	subscribe func() *store.Subscription
	// migrations, when set, replaces the embedded migrations (tests of the upgrade rules add a
	// contract step to the real command path).
	migrations fs.FS
}

// run executes the command line and returns the exit code. Errors are printed as one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return (&app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}).execute(ctx, args)
}

// execute runs the command line on a and returns the exit code.
func (a *app) execute(ctx context.Context, args []string) int {
	stdin, stdout, stderr := a.stdin, a.stdout, a.stderr
	defer a.close()
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ce *exitCodeError
		if !errors.As(err, &ce) || ce.msg != "" {
			fmt.Fprintf(stderr, "tenantatlas: %s\n", oneLine(err))
		}
	}
	return exitCode(err)
}

func (a *app) rootCommand() *cobra.Command {
	var dash dashboardOptions
	root := &cobra.Command{
		Use:   "tenantatlas",
		Short: "Terminal dashboard and engine for Microsoft Entra / Intune tenants",
		Long: `TenantAtlas syncs directory data and Intune policy inventory, takes scheduled backups, restores
policies and verifies provider connections against Microsoft Graph. Every execution is an operation
run in PostgreSQL, watched live in the dashboard.

Run without a command to open the dashboard (with its embedded engine).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
			}
			return usageErrorf("%s: see `%s --help`", msg, cmd.CommandPath())
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadConfigFor(&a.cfg, cmd.Flags(), cmd.Root().PersistentFlags(), commandFlagSets(cmd.Root()), cmd.Name(), a.getenv); err != nil {
				return err
			}
			a.longRunning = cmd.Annotations[annotationLongRunning] == "true" || cmd == cmd.Root()
			a.logger = a.newLogger()
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runDashboard(cmd.Context(), dash) },
	}
	root.SuggestionsMinimumDistance = 2
	a.cfg.registerFlags(root.PersistentFlags())
	// The dashboard is the default command: its flags work without `tui`, as README shows them.
	dash.register(root)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf("%s (see `%s --help`)", friendlyFlagError(err), cmd.CommandPath())
	})
	root.AddCommand(
		a.tuiCommand(), a.demoCommand(), a.engineCommand(), a.migrateCommand(), a.graphsimCommand(),
		a.workspacesCommand(), a.usersCommand(), a.keysCommand(), a.membersCommand(),
		a.tenantsCommand(), a.runsCommand(), a.syncCommand(), a.groupsCommand(), a.rolesCommand(), a.serveCommand(), a.versionCommand(), a.enginesCommand(), a.doctorCommand(), a.configCommand(),
		a.backupsCommand(), a.schedulesCommand(), a.inventoryCommand(), a.legacyCommand(), a.restoreCommand(), a.graphCommand(),
		a.alertsCommand(), a.baselinesCommand(), a.driftCommand(),
		a.rekeyCommand(),
	)
	root.SetHelpCommand(&cobra.Command{Hidden: true})
	walk(root, func(c *cobra.Command) {
		if !c.Runnable() && c.HasSubCommands() {
			// A command group runs only to print its help; without this cobra prints the help and
			// exits 0 for `tenantatlas runs frob` instead of refusing the unknown command (exit 2).
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		if c == root {
			return // its Args names the unknown command and suggests the nearest
		}
		if c.Args == nil {
			c.Args = cobra.NoArgs
		}
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return usageErrorf("%v: usage: %s", err, cmd.UseLine())
			}
			return nil
		}
	})
	return root
}

// numberFlagError is pflag's error for a flag value that does not parse as a number.
var numberFlagError = regexp.MustCompile(`^invalid argument "(.*)" for "(.+?)" flag: strconv\.Parse(Int|Uint|Float)`)

// friendlyFlagError says what a flag wanted instead of Go's parse error ("strconv.ParseInt: …").
func friendlyFlagError(err error) string {
	m := numberFlagError.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	want := "a whole number"
	if m[3] == "Float" {
		want = "a number"
	}
	name := m[2]
	if i := strings.Index(name, ", "); i >= 0 {
		name = name[i+2:] // "-n, --limit": the long name
	}
	return fmt.Sprintf("%s wants %s, not %q", name, want, m[1])
}

// commandFlagSets maps each top-level command with flags of its own to them: the tables a config
// file may have.
func commandFlagSets(root *cobra.Command) map[string]*pflag.FlagSet {
	out := map[string]*pflag.FlagSet{}
	for _, c := range root.Commands() {
		if fs := c.LocalNonPersistentFlags(); fs.HasFlags() {
			out[c.Name()] = fs
		}
	}
	return out
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, child := range c.Commands() {
		walk(child, fn)
	}
}

func (a *app) newLogger() *slog.Logger {
	level := slog.LevelWarn
	if a.longRunning {
		level = slog.LevelInfo
	}
	switch a.cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if a.cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// dataDir is the local state directory.
func (a *app) dataDir() (string, error) {
	if a.cfg.DataDir != "" {
		return a.cfg.DataDir, nil
	}
	return store.DefaultDataDir()
}

// openDB connects to TENANTATLAS_DATABASE_URL or starts/joins the local cluster, then applies pending
// migrations.
func (a *app) openDB(ctx context.Context) error {
	if a.db != nil {
		return nil
	}
	if err := a.connectOnly(ctx); err != nil {
		return err
	}
	if a.cluster != nil {
		return a.migrateLocal(ctx)
	}
	// An external database: migrate when something is pending (as the role the URL names, which in
	// the two-role setup is the owner's for `tenantatlas migrate`), then check the role works as one
	// that cannot rewrite the audit log (docs/architecture.md#database-roles).
	pending, err := a.db.Pending(ctx)
	if err != nil || pending {
		if _, err := a.db.Migrate(ctx); err != nil {
			return err
		}
	}
	warnings, err := store.RoleWarnings(ctx, a.db.Pool)
	if err != nil {
		return err
	}
	log := a.logger.Debug // one-shot commands stay quiet; engines, servers and the dashboard warn
	if a.longRunning {
		log = a.logger.Warn
	}
	for _, w := range warnings {
		log(w+": TenantAtlas should connect as a role that owns no table and may only insert into and read audit_events, with a separate owner role for `tenantatlas migrate` (see README, Database roles)", "config", a.cfg.String())
	}
	return nil
}

// migrateLocal migrates the local cluster as its owner role and grants the runtime role, which this
// process works as, its privileges.
func (a *app) migrateLocal(ctx context.Context) error { return a.cluster.Migrate(ctx) }

// connectOnly connects (starting the local cluster if needed) without migrating.
func (a *app) connectOnly(ctx context.Context) error {
	if a.db != nil {
		return nil
	}
	dsn := a.cfg.DatabaseURL
	if dsn == "" {
		dir, err := a.dataDir()
		if err != nil {
			return err
		}
		cluster, err := store.StartLocal(ctx, store.LocalOptions{Dir: filepath.Join(dir, "postgres"), Durable: true, Logger: a.logger})
		if err != nil {
			return err
		}
		a.cluster = cluster
		a.closers = append(a.closers, cluster.Stop)
		dsn = cluster.DSN()
	}
	opts := store.Options{}
	if a.longRunning {
		opts.MinConns = store.LongRunningMinConns
	}
	db, err := store.Open(ctx, dsn, opts)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, db.Close)
	if a.migrations != nil {
		db = db.WithMigrations(a.migrations)
	}
	a.db = db
	return nil
}

// open prepares the database, the service and the acting user.
func (a *app) open(ctx context.Context) error {
	if a.svc != nil {
		return nil
	}
	if err := a.openDB(ctx); err != nil {
		return err
	}
	sealer, err := a.sealer()
	if err != nil {
		return err
	}
	a.metrics = engine.NewMetrics(a.db)
	graphCfg, _ := a.graphConfig() // an unreadable CA file is reported by the commands that reach Graph
	svc, err := engine.NewService(a.db, engine.ServiceOptions{Logger: a.logger, Sealer: sealer, Metrics: a.metrics, Graph: graphCfg})
	if err != nil {
		return err
	}
	a.svc = svc
	a.actor, err = svc.ActorByName(ctx, a.cfg.User)
	return err
}

// sealer loads the secret key: TENANTATLAS_SECRET_KEY, the key file, or on the local default a key
// file generated in the data directory. With an external database and no key it returns nil; the
// commands that need one then say so.
func (a *app) sealer() (*engine.Sealer, error) {
	var key []byte
	var err error
	switch {
	case a.cfg.SecretKey != "":
		key, err = engine.ParseSecretKey(a.cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("TENANTATLAS_SECRET_KEY: %w", err)
		}
	case a.cfg.SecretKeyFile != "":
		b, err := os.ReadFile(a.cfg.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the secret key file: %v (check --secret-key-file / TENANTATLAS_SECRET_KEY_FILE)", err)
		}
		if key, err = engine.ParseSecretKey(string(b)); err != nil {
			return nil, fmt.Errorf("secret key file %s: %w", a.cfg.SecretKeyFile, err)
		}
	case a.cfg.DatabaseURL == "":
		dir, err := a.dataDir()
		if err != nil {
			return nil, err
		}
		if key, err = engine.LoadOrCreateKeyFile(filepath.Join(dir, "secret.key")); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	var previous [][]byte
	if f := a.cfg.PreviousSecretKeyFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read the previous secret key file: %v (check --previous-secret-key-file / TENANTATLAS_PREVIOUS_SECRET_KEY_FILE)", err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			k, err := engine.ParseSecretKey(line)
			if err != nil {
				return nil, fmt.Errorf("previous secret key file %s, line %d: %w", f, i+1, err)
			}
			previous = append(previous, k)
		}
	}
	return engine.NewSealer(key, previous...)
}

// requireSealer is for commands that store or use credentials.
func (a *app) requireSealer() error {
	if a.svc == nil {
		return errors.New("internal: service not opened")
	}
	if s, _ := a.sealer(); s == nil {
		return errors.New("no secret key: with TENANTATLAS_DATABASE_URL set, give the key that seals credentials in TENANTATLAS_SECRET_KEY or TENANTATLAS_SECRET_KEY_FILE (generate one with `openssl rand -hex 32`; every engine needs the same key)")
	}
	return nil
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// output prints v as JSON with --json, else as a table through fn.
func (a *app) output(v any, fn func(w *tabwriter.Writer)) error {
	if a.cfg.JSON {
		return a.printJSON(v)
	}
	// An empty list says so rather than printing a header alone.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.Len() == 0 {
		_, err := fmt.Fprintln(a.stdout, "none (the list is empty)")
		return err
	}
	// Text output goes to a terminal: anything from Graph, an import file or a user is made visible
	// text (termtext), cells by row, the rest of each line by the writer under the tabwriter.
	safe := termtext.NewWriter(a.stdout)
	w := tabwriter.NewWriter(safe, 0, 4, 2, ' ', 0)
	fn(w)
	if err := w.Flush(); err != nil {
		return err
	}
	return safe.Flush()
}

// row writes one table row; each cell is escaped (termtext.Escape) so no value can hold a control
// sequence, a tab that shifts columns, or a line break that forges a row.
func row(w io.Writer, cols ...any) {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = termtext.Escape(fmt.Sprint(c))
	}
	fmt.Fprintln(w, strings.Join(parts, "\t"))
}

// tenantID resolves an optional --tenant reference (name or id) among the actor's tenants; "" is 0.
func (a *app) tenantID(ctx context.Context, ref string) (int64, error) {
	if ref == "" {
		return 0, nil
	}
	t, err := a.svc.GetTenant(ctx, a.actor, ref)
	return t.ID, err
}
