package reliability_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// faultCase is one row of the Graph fault matrix: a fault injected into a simulated tenant, the run
// it breaks, and the documented reason code and outcome (docs/architecture.md#reason-codes).
type faultCase struct {
	name    string
	runType string
	cert    bool // the connection uses a certificate instead of a secret
	inject  func(*graphsim.Tenant)
	outcome store.Outcome
	reason  string
	detail  string // a fragment the reason detail must contain
	maxTime time.Duration
}

// faultRetryBudget is the engine's per-run retry budget in the matrix: a throttle storm must end
// within it (plus one request's worth of slack).
const faultRetryBudget = 4 * time.Second

func faultMatrix() []faultCase {
	groups, inventory, verify := engine.TypeDirectoryGroupsSync, engine.TypeInventorySync, engine.TypeProviderVerification
	fault := func(f graphsim.Fault) func(*graphsim.Tenant) { return func(st *graphsim.Tenant) { st.AddFault(f) } }
	auth := func(a graphsim.AuthFault) func(*graphsim.Tenant) {
		return func(st *graphsim.Tenant) { st.SetAuthFault(a) }
	}
	return []faultCase{
		{name: "throttle/storm", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups", RetryAfter: 1}),
			outcome: store.OutcomeFailed, reason: "provider_throttled", maxTime: faultRetryBudget + 3*time.Second},
		{name: "throttle/twice", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups", Count: 2, RetryAfter: 1}),
			outcome: store.OutcomeSucceeded},
		{name: "server_error/503-storm", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultServerError, Endpoint: "groups", Status: 503, RetryAfter: 1}),
			outcome: store.OutcomeFailed, reason: "provider_unavailable", maxTime: faultRetryBudget + 3*time.Second},
		{name: "server_error/503-once", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultServerError, Endpoint: "groups", Status: 503, Count: 1, RetryAfter: 1}),
			outcome: store.OutcomeSucceeded},
		{name: "server_error/500", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultServerError, Endpoint: "groups", Status: 500}),
			outcome: store.OutcomeFailed, reason: "provider_unavailable"},
		{name: "slow", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultSlow, Endpoint: "groups", Count: 1, Delay: 1500 * time.Millisecond}),
			outcome: store.OutcomeSucceeded},
		{name: "malformed_json", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultMalformedJSON, Endpoint: "groups", Count: 1}),
			outcome: store.OutcomeFailed, reason: "provider_malformed_response"},
		{name: "truncated", runType: groups, inject: fault(graphsim.Fault{Kind: graphsim.FaultTruncated, Endpoint: "groups", Count: 1}),
			outcome: store.OutcomeFailed, reason: "provider_malformed_response"},
		{name: "auth/secret_expired", runType: groups, inject: auth(graphsim.AuthSecretExpired),
			outcome: store.OutcomeBlocked, reason: "provider_secret_expired"},
		{name: "auth/wrong_secret", runType: groups, inject: auth(graphsim.AuthWrongSecret),
			outcome: store.OutcomeBlocked, reason: "provider_auth_failed"},
		{name: "auth/app_not_found", runType: groups, inject: auth(graphsim.AuthAppNotFound),
			outcome: store.OutcomeBlocked, reason: "provider_app_not_found"},
		{name: "auth/tenant_not_found", runType: groups, inject: auth(graphsim.AuthTenantNotFound),
			outcome: store.OutcomeBlocked, reason: "provider_tenant_not_found"},
		{name: "auth/bad_certificate", runType: groups, cert: true, inject: auth(graphsim.AuthBadCertificate),
			outcome: store.OutcomeBlocked, reason: "provider_auth_failed"},
		{name: "auth/invalid_scope", runType: groups, inject: auth(graphsim.AuthInvalidScope),
			outcome: store.OutcomeFailed, reason: "provider_invalid_request"},
		{name: "permission/missing", runType: groups,
			inject: func(st *graphsim.Tenant) {
				st.RemoveRoles("Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
			},
			outcome: store.OutcomeBlocked, reason: "provider_permission_denied", detail: "Group.Read.All"},
		{name: "permission/missing-intune", runType: inventory,
			inject: func(st *graphsim.Tenant) {
				st.RemoveRoles("DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All")
			},
			outcome: store.OutcomeBlocked, reason: "provider_permission_denied", detail: "DeviceManagementConfiguration.Read.All"},
		{name: "roles/none (sync)", runType: groups, inject: func(st *graphsim.Tenant) { st.SetRoles(nil) },
			outcome: store.OutcomeBlocked, reason: "provider_permission_denied"},
		{name: "roles/none (verification)", runType: verify, inject: func(st *graphsim.Tenant) { st.SetRoles(nil) },
			outcome: store.OutcomeBlocked, reason: "provider_consent_missing"},
		{name: "unlicensed", runType: inventory, inject: func(st *graphsim.Tenant) { st.SetIntuneLicensed(false) },
			outcome: store.OutcomeBlocked, reason: "provider_license_missing"},
		{name: "oversized group name (64 KiB)", runType: groups,
			inject:  func(st *graphsim.Tenant) { st.AddGroup(strings.Repeat("Ω", 32<<10)) },
			outcome: store.OutcomeSucceeded},
		{name: "healthy (control)", runType: groups, outcome: store.OutcomeSucceeded},
	}
}

// TestReliabilityGraphFaultMatrix injects every graphsim fault kind, every sign-in fault, a missing
// permission, no roles at all and a missing licence, each into its own tenant, and checks the real
// run's reason code and outcome. Afterwards no goroutine is left behind by the engine, the Graph
// clients or the simulator. It does not run in parallel: it counts the process's goroutines.
func TestReliabilityGraphFaultMatrix(t *testing.T) {
	ctx := context.Background()
	cases := faultMatrix()
	b := setup(t)
	runtime.GC()
	baseline := runtime.NumGoroutine()

	specs := make([]graphsim.TenantSpec, len(cases))
	for i := range specs {
		specs[i] = graphsim.TenantSpec{Groups: 120, PoliciesPerFamily: 1}
	}
	sim, err := graphsim.New(graphsim.Options{Seed: 21, Tenants: specs})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	e, err := engine.NewEngine(b.svc, engine.Config{Graph: sim.GraphConfig(), RetryBudget: faultRetryBudget,
		HeartbeatInterval: 100 * time.Millisecond, StaleAfter: 10 * time.Second, MaxWorkers: 8})
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx))

	type row struct {
		faultCase
		run     store.Run
		elapsed time.Duration
	}
	rows := make([]row, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		st := sim.Tenants()[i]
		creds := st.Credentials()
		req := engine.AddTenantRequest{Name: fmt.Sprintf("fault-%d", i), TenantGUID: creds.TenantID, ClientID: creds.ClientID}
		if tc.cert {
			pem, err := st.CertificatePEM()
			require.NoError(t, err)
			req.CertificatePEM = pem
		} else {
			req.ClientSecret = []byte(creds.ClientSecret)
		}
		tenant, err := b.svc.AddTenant(ctx, b.admin, req)
		require.NoError(t, err)
		if tc.inject != nil {
			tc.inject(st)
		}
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: tc.runType, TenantID: tenant.ID})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			var run store.Run
			for time.Since(began) < 60*time.Second {
				if run, err = store.GetRun(ctx, b.db.Pool, res.Run.ID); err == nil && run.Status == store.StatusCompleted {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			rows[i] = row{faultCase: tc, run: run}
			if run.StartedAt != nil && run.FinishedAt != nil {
				rows[i].elapsed = run.FinishedAt.Sub(*run.StartedAt)
			}
		}()
	}
	wg.Wait()

	for _, r := range rows {
		t.Run(strings.ReplaceAll(r.name, " ", "_"), func(t *testing.T) {
			require.Equal(t, store.StatusCompleted, r.run.Status, "the run ended")
			require.Equal(t, r.outcome, deref(r.run.Outcome), "outcome (reason %s: %s)", deref(r.run.ReasonCode), deref(r.run.ReasonDetail))
			require.Equal(t, r.reason, deref(r.run.ReasonCode), deref(r.run.ReasonDetail))
			if r.detail != "" {
				require.Contains(t, deref(r.run.ReasonDetail), r.detail)
			}
			if r.maxTime > 0 {
				require.Less(t, r.elapsed, r.maxTime, "no unbounded retry: the storm ends within the retry budget")
			}
			for _, st := range sim.Tenants() {
				require.NotContains(t, deref(r.run.ReasonDetail), st.ClientSecret, "never a secret in a reason")
			}
		})
		metric(t, "fault."+strings.ReplaceAll(r.name, " ", "_"), fmt.Sprintf("%s|%s|%s|%s", r.runType, deref(r.run.Outcome),
			or(deref(r.run.ReasonCode), "-"), r.elapsed.Round(10*time.Millisecond)), "")
	}

	// No goroutine leak: stop everything this test started and let the count settle.
	e.Stop()
	require.NoError(t, sim.Close())
	after := settleGoroutines(baseline, 2, 15*time.Second)
	metric(t, "fault.goroutines_before", baseline, "")
	metric(t, "fault.goroutines_after", after, "")
	if after > baseline+2 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines: %d before, %d after stopping the engine and the simulator:\n%s", baseline, after, leakSummary(string(buf[:n])))
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// leakSummary groups goroutine stacks by their top frame.
func leakSummary(dump string) string {
	counts := map[string]int{}
	for _, g := range strings.Split(dump, "\n\n") {
		lines := strings.Split(g, "\n")
		if len(lines) >= 2 {
			counts[strings.TrimSpace(lines[1])]++
		}
	}
	var out []string
	for k, v := range counts {
		out = append(out, fmt.Sprintf("%4d %s", v, k))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
