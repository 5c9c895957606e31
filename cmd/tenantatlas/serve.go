package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/tui"
	"github.com/tenantatlas/tenantatlas/tui/sshserve"
)

type serveOptions struct {
	noEngine    bool
	theme       string
	idleTimeout time.Duration
	maxTimeout  time.Duration
	maxSessions int
	maxPerAddr  int
}

func (a *app) serveCommand() *cobra.Command {
	var opts serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine and serve the dashboard and commands over SSH",
		Long: `Run the engine and an SSH server (default 127.0.0.1:2222; choose another address with --ssh-addr or
TENANTATLAS_SSH_ADDR). "ssh -t -p 2222 HOST" opens the dashboard; "ssh -p 2222 HOST runs list --json"
runs a command. Users are identified by their public key (register one with "tenantatlas keys add
USER KEYFILE"); an unknown key is refused. Commands over SSH act as the key's user, with the same
authorization as the dashboard; commands that manage the process or the server (engine, serve,
migrate, demo, graphsim, tui, users add, ...) and process flags (--as, --database-url, ...) are refused.
The host key is generated on first start in the data directory (ssh_host_ed25519).`,
		Example: `  tenantatlas serve
  tenantatlas serve --ssh-addr 0.0.0.0:2222 --max-sessions 200
  ssh -t -p 2222 127.0.0.1                      # the dashboard
  ssh -p 2222 127.0.0.1 runs list --json        # a command`,
		Annotations: map[string]string{annotationLongRunning: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serve(cmd.Context(), opts)
		},
	}
	f := c.Flags()
	f.BoolVar(&opts.noEngine, "no-engine", false, "serve only: run no workers in this process")
	f.StringVar(&opts.theme, "theme", "dark", "colour theme of the dashboards: dark or light")
	f.DurationVar(&opts.idleTimeout, "idle-timeout", sshserve.DefaultIdleTimeout, "close a dashboard after this long without a keystroke")
	f.DurationVar(&opts.maxTimeout, "max-timeout", sshserve.DefaultMaxTimeout, "close every session this long after it started")
	f.IntVar(&opts.maxSessions, "max-sessions", sshserve.DefaultMaxSessions, "concurrent SSH sessions; one more is refused")
	f.IntVar(&opts.maxPerAddr, "max-conns-per-addr", sshserve.DefaultMaxConnsPerAddr, "concurrent SSH connections from one IP address; one more is closed")
	return c
}

// serve runs the engine, one notification hub and the SSH server until ctx ends.
func (a *app) serve(ctx context.Context, opts serveOptions) error {
	switch {
	case opts.idleTimeout <= 0:
		return usageErrorf("--idle-timeout %s: expected a positive duration such as 30m", opts.idleTimeout)
	case opts.maxTimeout <= 0:
		return usageErrorf("--max-timeout %s: expected a positive duration such as 12h", opts.maxTimeout)
	case opts.maxPerAddr < 1:
		return usageErrorf("--max-conns-per-addr must be at least 1")
	case opts.maxSessions < 1:
		return usageErrorf("--max-sessions %d: expected at least 1", opts.maxSessions)
	}
	if _, ok := tui.Themes[opts.theme]; !ok {
		return usageErrorf("--theme %q: expected dark or light", opts.theme)
	}
	if err := a.open(ctx); err != nil {
		return err
	}
	var e *engine.Engine
	if !opts.noEngine {
		var err error
		if e, err = a.startEngine(ctx, engine.Config{}); err != nil {
			return err
		}
		defer e.Stop()
	}
	hub := store.NewHub(a.db, a.logger)
	if err := hub.Start(ctx); err != nil {
		return err
	}
	defer hub.Stop()
	dir, err := a.dataDir()
	if err != nil {
		return err
	}
	srv, err := sshserve.New(sshserve.Config{
		Addr:            a.cfg.sshAddr(),
		HostKeyPath:     filepath.Join(dir, "ssh_host_ed25519"),
		Service:         a.svc,
		Subscribe:       hub.Subscribe,
		Command:         a.remoteCommand(hub.Subscribe),
		Theme:           tui.ThemeNamed(opts.theme),
		EngineEmbedded:  e != nil,
		IdleTimeout:     opts.idleTimeout,
		MaxTimeout:      opts.maxTimeout,
		MaxSessions:     opts.maxSessions,
		MaxConnsPerAddr: opts.maxPerAddr,
		Logger:          a.logger.With("component", "ssh"),
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Stop()
	a.logger.Info("serving the dashboard over SSH; stop with Ctrl-C or SIGTERM", "ssh_addr", srv.Addr().String(), "config", a.cfg.String())
	<-ctx.Done()
	a.logger.Info("shutting down")
	return nil
}

// remoteCommand runs a command line sent over SSH in-process, through the same command tree as the
// local CLI, with the process's service and hub and the session's user as the actor.
func (a *app) remoteCommand(subscribe func() *store.Subscription) sshserve.CommandFunc {
	return func(ctx context.Context, actor engine.Actor, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		r := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: func(string) string { return "" },
			logger: a.logger, db: a.db, svc: a.svc, metrics: a.metrics, actor: actor, subscribe: subscribe}
		return r.runRemote(ctx, args)
	}
}

// runRemote is run for a command line that came over SSH: the service and actor are preset, the
// server's environment is not consulted, and only the commands and flags remotePolicy allows run.
func (a *app) runRemote(ctx context.Context, args []string) int {
	logger := a.logger
	if len(args) > 0 && args[0] == "tenantatlas" {
		args = args[1:] // `ssh host tenantatlas runs list` reads naturally too
	}
	root := a.rootCommand()
	root.CompletionOptions.DisableDefaultCmd = true
	// Every command's RunE checks the policy first, so nothing runs unchecked: a command without a
	// RunE (a group) only prints its help.
	walk(root, func(c *cobra.Command) {
		inner, innerRun := c.RunE, c.Run
		if inner == nil && innerRun == nil {
			return
		}
		c.Run = nil
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := remotePolicy(root, cmd); err != nil {
				return err
			}
			a.logger = logger // the session's stderr is not the server's log
			if inner == nil {
				innerRun(cmd, args)
				return nil
			}
			return inner(cmd, args)
		}
	})
	// Commands cobra adds itself at execution (__complete, __completeNoDesc, help) exist only after
	// the walk above; the root's persistent pre-run runs before every command, theirs included, so the
	// same policy applies to them.
	preRun := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := remotePolicy(root, cmd); err != nil {
			return err
		}
		return preRun(cmd, args)
	}
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ce *exitCodeError
		if !errors.As(err, &ce) || ce.msg != "" {
			fmt.Fprintf(a.stderr, "tenantatlas: %s\n", oneLine(err))
		}
	}
	return exitCode(err)
}

// subscription subscribes to the process's shared hub when there is one (commands over SSH share
// the server's), else to a hub started for this command alone. release ends both.
func (a *app) subscription(ctx context.Context) (sub *store.Subscription, release func(), err error) {
	if a.subscribe != nil {
		sub = a.subscribe()
		return sub, sub.Close, nil
	}
	hub := store.NewHub(a.db, a.logger)
	if err := hub.Start(ctx); err != nil {
		return nil, nil, err
	}
	sub = hub.Subscribe()
	return sub, func() { sub.Close(); hub.Stop() }, nil
}

// remoteProcessCommands manage the process, the server or its files: never over SSH, whatever
// their subcommand.
var remoteProcessCommands = map[string]bool{
	"": true, "tui": true, "serve": true, "engine": true, "migrate": true, "demo": true, "graphsim": true,
	"completion": true, "legacy": true,
}

// remoteReadVerbs are the verbs of read-only commands; a new `X list` works over SSH without edits
// here, and the service authorizes it like any other read.
var remoteReadVerbs = map[string]bool{"list": true, "show": true, "search": true, "diff": true, "watch": true}

// remoteActions are the commands that change something and may still run over SSH: starting and
// cancelling runs, under the same capabilities as the dashboard.
var remoteActions = map[string]bool{
	"runs start": true, "runs cancel": true, "sync groups": true, "sync roles": true, "sync inventory": true,
	"tenants verify": true, "version": true,
}

// remotePolicy refuses commands and flags that are not for SSH sessions. Forbidden commands exit 3,
// process flags exit 2, each with a message that says what to do instead.
func remotePolicy(root, cmd *cobra.Command) error {
	path := strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), root.Name()))
	top, _, _ := strings.Cut(path, " ")
	verb := path[strings.LastIndex(path, " ")+1:]
	allowed := remoteActions[path] || (!remoteProcessCommands[top] && remoteReadVerbs[verb])
	if !allowed {
		if path == "" {
			return usageErrorf("the dashboard needs a terminal: connect with `ssh -t`, or name a command such as `runs list`")
		}
		return fmt.Errorf("%w: `%s` is not available over SSH; run it on the server (SSH runs read commands, runs start|cancel, sync and tenants verify)", engine.ErrForbidden, path)
	}
	var refused []string
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "json" && cmd.Flags().Changed(f.Name) {
			refused = append(refused, "--"+f.Name)
		}
	})
	if len(refused) > 0 {
		return usageErrorf("%s cannot be set over SSH: the server's configuration applies and your SSH key decides who you are", strings.Join(refused, ", "))
	}
	return nil
}
