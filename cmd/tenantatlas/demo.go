package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// demoTenants are the simulated tenants the demo registers: one of each profile.
var demoTenants = []struct {
	name, display string
	spec          graphsim.TenantSpec
}{
	{"contoso", "Contoso (healthy)", graphsim.TenantSpec{Profile: graphsim.ProfileHealthy, Groups: 2500}},
	{"fabrikam", "Fabrikam (app lost a permission)", graphsim.TenantSpec{Profile: graphsim.ProfileLostPermission, Groups: 800}},
	{"northwind", "Northwind (large, throttled)", graphsim.TenantSpec{Profile: graphsim.ProfileLargeThrottled, Groups: 50000}},
}

func (a *app) demoCommand() *cobra.Command {
	var keep bool
	var dash dashboardOptions
	var noDashboard bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "A throwaway PostgreSQL, the Graph simulator with three tenants, the engine and the dashboard",
		Long: `Start everything on this machine and open the dashboard with runs happening live:
  - a throwaway PostgreSQL cluster from the machine's server binaries,
  - the Graph simulator with three tenants: contoso (healthy), fabrikam (its app lost
    DeviceManagementConfiguration.Read.All, so verification and inventory are blocked and name it)
    and northwind (50,000 groups, throttled),
  - a seeded workspace with users, schedules (contoso backs up every two minutes) and some
    history, and the engine.
Quitting (q) stops everything and leaves nothing behind; --keep keeps the database directory.`,
		Annotations: map[string]string{annotationLongRunning: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDemo(cmd.Context(), keep, noDashboard, dash)
		},
	}
	c.Flags().BoolVar(&keep, "keep", false, "keep the demo database (its directory is printed on exit)")
	c.Flags().BoolVar(&noDashboard, "no-dashboard", false, "run the demo headless until Ctrl-C (for scripts)")
	dash.registerTheme(c)
	return c
}

func (a *app) runDemo(ctx context.Context, keep, noDashboard bool, dash dashboardOptions) error {
	if a.cfg.DatabaseURL != "" {
		return usageErrorf("demo starts its own throwaway database: unset TENANTATLAS_DATABASE_URL / --database-url")
	}
	dir, err := os.MkdirTemp("", "tenantatlas-demo-")
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // as root, the postgres account must reach the cluster
		return err
	}
	a.closers = append(a.closers, func() {
		if keep {
			fmt.Fprintf(a.stdout, "demo data kept in %s (open it again with: tenantatlas --data-dir %s)\n", dir, dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	a.cfg.DataDir = dir
	if !noDashboard {
		if err := a.redirectLogs(); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.stderr, "starting a throwaway PostgreSQL and the Graph simulator…")
	cluster, err := store.StartLocal(ctx, store.LocalOptions{Dir: filepath.Join(dir, "postgres"), Logger: a.logger})
	if err != nil {
		return err
	}
	a.cluster = cluster
	a.closers = append(a.closers, cluster.Stop)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	a.cfg.SecretKey = hex.EncodeToString(key)
	if keep {
		if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte(a.cfg.SecretKey+"\n"), 0o600); err != nil {
			return err
		}
	}
	a.cfg.DatabaseURL = cluster.DSN()

	specs := make([]graphsim.TenantSpec, len(demoTenants))
	for i, t := range demoTenants {
		specs[i] = t.spec
		specs[i].Name = t.display
	}
	limits := graphsim.IntuneThrottleLimits() // Microsoft's Intune limits, as a real tenant has them
	sim, err := graphsim.New(graphsim.Options{Seed: 2026, Tenants: specs, Throttle: &limits})
	if err != nil {
		return err
	}
	if err := sim.Start(); err != nil {
		return err
	}
	a.closers = append(a.closers, func() { _ = sim.Close() })
	a.graph = sim.GraphConfig()

	if err := a.open(ctx); err != nil {
		return err
	}
	if err := a.seedDemo(ctx, sim); err != nil {
		return fmt.Errorf("seeding the demo: %w", err)
	}
	e, err := a.startEngine(ctx, engine.Config{RetryBudget: 2 * time.Minute})
	if err != nil {
		return err
	}
	defer e.Stop()
	demoCtx, stopActivity := context.WithCancel(ctx)
	defer stopActivity()
	go a.demoActivity(demoCtx)
	if noDashboard {
		fmt.Fprintln(a.stdout, "demo running; Ctrl-C stops it")
		<-ctx.Done()
		return nil
	}
	return a.dashboardLoop(ctx, e, dash)
}

// seedDemo creates users, registers the simulated tenants and starts their first runs.
func (a *app) seedDemo(ctx context.Context, sim *graphsim.Server) error {
	for _, u := range []struct{ name, role string }{{"alice", "operator"}, {"rita", "readonly"}} {
		if _, err := a.svc.CreateUser(ctx, a.actor, u.name); err != nil {
			return err
		}
		if _, err := a.svc.AddMember(ctx, a.actor, "default", u.name, u.role); err != nil {
			return err
		}
	}
	// Some history worth triaging: northwind's first role sync gets a truncated answer.
	sim.Tenants()[2].AddFault(graphsim.Fault{Kind: graphsim.FaultTruncated, Endpoint: "directoryRoleDefinitions.list", Count: 1})
	for i, t := range demoTenants {
		st := sim.Tenants()[i]
		creds := st.Credentials()
		v, err := a.svc.AddTenant(ctx, a.actor, engine.AddTenantRequest{Name: t.name, DisplayName: t.display,
			TenantGUID: creds.TenantID, ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
		if err != nil {
			return err
		}
		for _, typ := range []string{engine.TypeProviderVerification, engine.TypeDirectoryRoleDefsSync, engine.TypeDirectoryGroupsSync, engine.TypeInventorySync} {
			if _, err := a.svc.Start(ctx, a.actor, engine.StartRequest{Type: typ, TenantID: v.ID}); err != nil {
				return err
			}
		}
	}
	// A manual backup now and a schedule that fires every two minutes, kept to the last five sets.
	if _, err := a.svc.Start(ctx, a.actor, engine.StartRequest{Type: engine.TypeBackupRun, TenantRef: "contoso"}); err != nil {
		return err
	}
	keep := 5
	if _, err := a.svc.CreateSchedule(ctx, a.actor, engine.ScheduleRequest{TenantRef: "contoso", Name: "every-two-minutes",
		Cron: "*/2 * * * *", Timezone: "Europe/Berlin", KeepCount: &keep}); err != nil {
		return err
	}
	if _, err := a.svc.CreateSchedule(ctx, a.actor, engine.ScheduleRequest{TenantRef: "northwind", Name: "nightly",
		Cron: "0 2 * * *", Timezone: "America/New_York", KeepCount: &keep}); err != nil {
		return err
	}
	return nil
}

// demoActivity keeps runs happening: every few seconds one tenant gets a sync or a verification.
func (a *app) demoActivity(ctx context.Context) {
	types := []string{engine.TypeDirectoryGroupsSync, engine.TypeProviderVerification, engine.TypeDirectoryRoleDefsSync, engine.TypeInventorySync}
	ticker := time.NewTicker(12 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		t := demoTenants[mathrand.IntN(len(demoTenants))]
		typ := types[mathrand.IntN(len(types))]
		if _, err := a.svc.Start(ctx, a.actor, engine.StartRequest{Type: typ, TenantRef: t.name}); err != nil && ctx.Err() == nil {
			a.logger.Warn("demo activity could not start a run", "error", err)
		}
	}
}
