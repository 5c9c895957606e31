package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine/graphsim"
)

func (a *app) graphsimCommand() *cobra.Command {
	var addr string
	var seed int64
	var groups int
	var profiles []string
	var unthrottled bool
	var latencyMedian, latencyP99 time.Duration
	c := &cobra.Command{
		Use:   "graphsim",
		Short: "Run the Microsoft Graph + login simulator standalone and print how to point an engine at it",
		Long: `Run the TLS Graph and login simulator until Ctrl-C. It prints the environment that points an
engine at it (TENANTATLAS_GRAPH_URL, TENANTATLAS_LOGIN_URL, SSL_CERT_FILE) and every simulated
tenant's credentials. Faults and mutations are driven through its admin API under /_sim/.`,
		Annotations: map[string]string{annotationLongRunning: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := graphsim.Options{Seed: seed}
			switch {
			case latencyMedian < 0 || latencyP99 < 0:
				return usageErrorf("--latency-median must not be negative, nor --latency-p99")
			case latencyMedian > 0:
				opts.Latency = &graphsim.Latency{Median: latencyMedian, P99: latencyP99}
				if latencyP99 == 0 {
					opts.Latency.P99 = latencyMedian
				}
			case latencyP99 > 0:
				return usageErrorf("--latency-p99 needs --latency-median")
			}
			if !unthrottled {
				limits := graphsim.IntuneThrottleLimits()
				opts.Throttle = &limits
			}
			for _, p := range profiles {
				switch p {
				case graphsim.ProfileHealthy, graphsim.ProfileLostPermission, graphsim.ProfileLargeThrottled:
				default:
					return usageErrorf("--profile %q: expected healthy, lost-permission or large-throttled", p)
				}
				spec := graphsim.TenantSpec{Profile: p}
				if groups > 0 {
					spec.Groups = groups
				}
				opts.Tenants = append(opts.Tenants, spec)
			}
			return graphsim.ServeStandalone(cmd.Context(), addr, opts, a.stdout)
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8443", "listen address")
	c.Flags().Int64Var(&seed, "seed", 1, "seed for generated ids, names and secrets")
	c.Flags().IntVar(&groups, "groups", 0, "groups per tenant (default: the profile's)")
	c.Flags().BoolVar(&unthrottled, "no-throttle-limits", false, "do not enforce Microsoft's Intune limits (1,000 requests and 100 writes per 20 s per tenant)")
	c.Flags().DurationVar(&latencyMedian, "latency-median", 0,
		"delay every Graph request by a log-normal latency with this median (e.g. 80ms; default: none); a $batch waits for its slowest sub-request")
	c.Flags().DurationVar(&latencyP99, "latency-p99", 0, "the latency's 99th percentile (default: the median, a fixed delay)")
	c.Flags().StringSliceVar(&profiles, "profile", []string{graphsim.ProfileHealthy, graphsim.ProfileLostPermission, graphsim.ProfileLargeThrottled},
		"tenant profiles, one tenant each: healthy, lost-permission, large-throttled")
	return c
}
