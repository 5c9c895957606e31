package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/tui"
)

type dashboardOptions struct {
	noEngine bool
	theme    string
}

func (a *app) tuiCommand() *cobra.Command {
	var opts dashboardOptions
	c := &cobra.Command{
		Use:   "tui",
		Short: "Open the dashboard (the default command), with its embedded engine",
		Long: `Open the keyboard-driven dashboard. The process embeds the engine: its workers and scheduler run
in the background until you quit (q), which shuts them down gracefully. With --no-engine the
dashboard only watches, for when a separate fleet of engines does the work.`,
		Annotations: map[string]string{annotationLongRunning: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDashboard(cmd.Context(), opts)
		},
	}
	opts.register(c)
	return c
}

// register adds the dashboard's flags to c (tui, and the root, whose default command it is).
func (o *dashboardOptions) register(c *cobra.Command) {
	c.Flags().BoolVar(&o.noEngine, "no-engine", false, "only watch: run no workers in this process")
	o.registerTheme(c)
}

// registerTheme adds --theme alone (demo, which always runs its engine).
func (o *dashboardOptions) registerTheme(c *cobra.Command) {
	c.Flags().StringVar(&o.theme, "theme", "dark", "colour theme: dark or light (NO_COLOR disables colour)")
}

// runDashboard runs the dashboard on this terminal with the engine embedded.
func (a *app) runDashboard(ctx context.Context, opts dashboardOptions) error {
	if err := a.redirectLogs(); err != nil {
		return err
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
		defer stopEngine(a.stdout, e)
	}
	return a.dashboardLoop(ctx, e, opts)
}

// stoppable is the engine as quitting the dashboard sees it.
type stoppable interface {
	InFlight() int
	Stop()
}

// stopEngine stops the embedded engine once the dashboard has left the screen, saying so while runs
// in flight finish: the terminal is not left blank and silent for the seconds that takes.
func stopEngine(w io.Writer, e stoppable) {
	n := e.InFlight()
	if n == 0 {
		e.Stop()
		return
	}
	fmt.Fprintf(w, "stopping engine — %d run(s) finishing…\n", n)
	e.Stop()
	fmt.Fprintln(w, "engine stopped")
}

// dashboardLoop runs the dashboard program until the user quits.
func (a *app) dashboardLoop(ctx context.Context, e *engine.Engine, opts dashboardOptions) error {
	hub := store.NewHub(a.db, a.logger)
	if err := hub.Start(ctx); err != nil {
		return err
	}
	defer hub.Stop()
	c := &tui.Env{Svc: a.svc, Actor: a.actor, Theme: tui.ThemeNamed(opts.theme), Lifetime: ctx, Subscribe: hub.Subscribe,
		EngineEmbedded: e != nil}
	m := tui.New(c, nil)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(a.stdin), tea.WithOutput(a.stdout))
	if _, err := p.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// redirectLogs sends logs to a file: the dashboard owns the terminal.
func (a *app) redirectLogs() error {
	dir, err := a.dataDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "dashboard.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open the dashboard log: %w", err)
	}
	a.closers = append(a.closers, func() { f.Close() })
	a.stderr = f
	a.logger = a.newLogger()
	slog.SetDefault(a.logger)
	return nil
}
