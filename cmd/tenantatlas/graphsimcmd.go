package main

import (
	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine/graphsim"
)

func (a *app) graphsimCommand() *cobra.Command {
	var addr string
	var seed int64
	var groups int
	var profiles []string
	var unthrottled bool
	c := &cobra.Command{
		Use:   "graphsim",
		Short: "Run the Microsoft Graph + login simulator standalone and print how to point an engine at it",
		Long: `Run the TLS Graph and login simulator until Ctrl-C. It prints the environment that points an
engine at it (TENANTATLAS_GRAPH_URL, TENANTATLAS_LOGIN_URL, SSL_CERT_FILE) and every simulated
tenant's credentials. Faults and mutations are driven through its admin API under /_sim/.`,
		Annotations: map[string]string{annotationLongRunning: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := graphsim.Options{Seed: seed}
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
	c.Flags().StringSliceVar(&profiles, "profile", []string{graphsim.ProfileHealthy, graphsim.ProfileLostPermission, graphsim.ProfileLargeThrottled},
		"tenant profiles, one tenant each: healthy, lost-permission, large-throttled")
	return c
}
