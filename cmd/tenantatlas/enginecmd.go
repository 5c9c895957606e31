package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
)

func (a *app) engineCommand() *cobra.Command {
	var workers int
	var shutdown time.Duration
	c := &cobra.Command{
		Use:   "engine",
		Short: "Run the engine only: workers, scheduler and crash recovery (run as many as you like)",
		Long: `Run the engine headless until SIGTERM or Ctrl-C. Any number of engines, on any machines, can share
one database: River divides the runs between them, and each engine finishes what a dead one left.
On shutdown running jobs get --shutdown-timeout to finish; then idempotent runs go back to the queue
and the others end failed with run_interrupted. No run is left "running".`,
		Annotations: map[string]string{annotationLongRunning: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := a.startEngine(ctx, engine.Config{MaxWorkers: workers, ShutdownTimeout: shutdown})
			if err != nil {
				return err
			}
			defer e.Stop()
			a.logger.Info("engine running; stop with Ctrl-C or SIGTERM", "config", a.cfg.String())
			<-ctx.Done()
			a.logger.Info("shutting down")
			return nil
		},
	}
	c.Flags().IntVar(&workers, "workers", 8, "concurrent runs per queue in this process")
	c.Flags().DurationVar(&shutdown, "shutdown-timeout", 20*time.Second, "how long running jobs may finish on shutdown before they are cancelled")
	return c
}

// startEngine opens everything, starts an engine and the metrics endpoint.
func (a *app) startEngine(ctx context.Context, opts engine.Config) (_ *engine.Engine, err error) {
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	if err := a.requireSealer(); err != nil {
		return nil, err
	}
	opts.Logger = a.logger
	opts.SSHAddress = a.cfg.PublicSSHAddr
	if opts.Graph, err = a.graphConfig(); err != nil {
		return nil, err
	}
	e, err := engine.NewEngine(a.svc, opts)
	if err != nil {
		return nil, err
	}
	if err := e.Start(ctx); err != nil {
		return nil, err
	}
	if err := a.serveMetrics(); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// graphConfig is the Graph configuration engines and doctor use: the demo's simulator, or the
// configured URLs and CA file.
func (a *app) graphConfig() (graph.Config, error) {
	cfg := a.graph
	if a.cfg.GraphURL != "" {
		cfg.GraphURL = a.cfg.GraphURL
	}
	if a.cfg.LoginURL != "" {
		cfg.LoginURL = a.cfg.LoginURL
	}
	if a.cfg.GraphCAFile != "" {
		pem, err := os.ReadFile(a.cfg.GraphCAFile)
		if err != nil {
			return cfg, fmt.Errorf("cannot read the Graph CA file: %v (check --graph-ca-file / TENANTATLAS_GRAPH_CA_FILE)", err)
		}
		cfg.CAPEM = append(append([]byte(nil), cfg.CAPEM...), pem...)
	}
	return cfg, nil
}

func (a *app) serveMetrics() error {
	if a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("cannot serve metrics on %s: %v (choose another --metrics-addr)", a.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Warn("metrics server stopped", "error", err)
		}
	}()
	a.closers = append(a.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	a.logger.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}
