package engine_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/intune"
	"github.com/tenantatlas/tenantatlas/engine/op/backup"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// mixedTenant is a 5,000-policy tenant in proportions assumed from typical production tenants (no
// published census exists): device configurations and settings catalog dominate, update and
// driver profiles are few.
var mixedTenant = map[graph.Family]int{
	graph.FamilyDeviceConfigurations: 1200, graph.FamilyConfigurationPolicies: 1100, graph.FamilyDeviceCompliancePolicies: 300,
	graph.FamilyCompliancePolicies: 150, graph.FamilyIntents: 150, graph.FamilyGroupPolicyConfigurations: 350,
	graph.FamilyManagedAppPolicies: 300, graph.FamilyMobileAppConfigurations: 250, graph.FamilyTargetedManagedAppConfigurations: 150,
	graph.FamilyDeviceEnrollmentConfigurations: 100, graph.FamilyWindowsAutopilotDeploymentProfiles: 60,
	graph.FamilyDeviceManagementScripts: 300, graph.FamilyDeviceShellScripts: 80, graph.FamilyDeviceHealthScripts: 200,
	graph.FamilyDeviceComplianceScripts: 60, graph.FamilyWindowsFeatureUpdateProfiles: 40, graph.FamilyWindowsQualityUpdateProfiles: 30,
	graph.FamilyWindowsDriverUpdateProfiles: 30, graph.FamilyAssignmentFilters: 100, graph.FamilyRoleScopeTags: 50,
}

// BenchmarkBackupReads (issues #24 and #20) backs up a mixed 5,000-policy tenant
// (BENCH_BACKUP_POLICIES scales it) against graphsim with its latency model
// (graphsim.DefaultLatency: log-normal, median 80 ms, p99 400 ms; a $batch envelope waits for its
// slowest sub-request), Microsoft's Intune limits enforced, and the engine's own limiter at its
// defaults (40 requests/s, every $batch sub-request counted): the cheap reads (list $expand,
// GET-by-id $expand) next to the per-object reads they replace, in the same run, and a serial
// client reading one object at a time as peer tools do. Reported per strategy: Graph requests
// per backed-up object, wall time, its floor and wall time over the floor. The floor is the larger
// of the throttle floor (requests ÷ 40/s: the engine's rate, below Microsoft's 50/s) and the
// latency-bound critical path (criticalPath). One iteration is the whole scenario (-benchtime=1x).
func BenchmarkBackupReads(b *testing.B) {
	ctx := context.Background()
	total := 5000
	if v, err := strconv.Atoi(os.Getenv("BENCH_BACKUP_POLICIES")); err == nil && v > 0 {
		total = v
	}
	counts := map[graph.Family]int{}
	for f, n := range mixedTenant {
		counts[f] = max(1, n*total/5000)
	}
	limits := graph.DefaultLimits()
	for b.Loop() {
		db := pgtest.NewDB(b)
		svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: newSealer(b)})
		require.NoError(b, err)
		admin, err := svc.ActorByName(ctx, "")
		require.NoError(b, err)
		latency, throttle := graphsim.DefaultLatency(), graphsim.IntuneThrottleLimits()
		sim, err := graphsim.New(graphsim.Options{Seed: 3, Tenants: []graphsim.TenantSpec{{FamilyCounts: counts, Groups: 500}},
			Latency: &latency, Throttle: &throttle})
		require.NoError(b, err)
		require.NoError(b, sim.Start())
		st := sim.Tenants()[0]
		e, err := engine.NewEngine(svc, engine.Config{Graph: sim.GraphConfig(), GraphLimits: limits})
		require.NoError(b, err)
		require.NoError(b, e.Start(ctx))
		creds := st.Credentials()
		v, err := svc.AddTenant(ctx, admin, engine.AddTenantRequest{Name: "bench", TenantGUID: st.ID, ClientID: creds.ClientID,
			ClientSecret: []byte(creds.ClientSecret)})
		require.NoError(b, err)
		requests := func() int { // Graph requests as Intune counts them: sub-requests one by one, envelopes not
			n := 0
			for _, r := range graph.Contracts() {
				n += st.RequestCount(r.Name)
			}
			return n
		}
		// floor reports the strategy's floor in seconds (the larger of its throttle floor and its
		// critical path), reporting both.
		floor := func(name string, n int, before map[string]int) float64 {
			throttleFloor := float64(n) / limits.RequestsPerSecond
			path := criticalPath(st, before, latency).Seconds()
			b.ReportMetric(throttleFloor, name+"_throttle_floor_s")
			b.ReportMetric(path, name+"_critical_path_s")
			return max(throttleFloor, path)
		}
		perFamily := func() map[graph.Family]int { // the same, by the family of each contract
			out := map[graph.Family]int{}
			for _, r := range graph.Contracts() {
				out[r.Family] += st.RequestCount(r.Name)
			}
			return out
		}

		var objects int
		for _, name := range []string{"cheap", "per_object"} {
			params := map[string]any{}
			if name == "per_object" {
				params["reads"] = backup.ReadsPerObject
			}
			r0, f0, c0, t0, start := requests(), perFamily(), contractCounts(st), sim.ThrottleStats(), time.Now()
			res, err := svc.Start(ctx, admin, engine.StartRequest{Type: engine.TypeBackupRun, TenantID: v.ID, Params: params})
			require.NoError(b, err)
			var run store.Run
			require.Eventually(b, func() bool {
				run, err = store.GetRun(ctx, db.Pool, res.Run.ID)
				require.NoError(b, err)
				return !run.Active()
			}, 30*time.Minute, 50*time.Millisecond)
			require.Equal(b, store.OutcomeSucceeded, *run.Outcome, "%v", run.ReasonDetail)
			wall, n := time.Since(start), requests()-r0
			objects = int(run.ProgressProcessed)
			b.ReportMetric(float64(n)/float64(objects), name+"_requests/object")
			b.ReportMetric(wall.Seconds(), name+"_s")
			b.ReportMetric(wall.Seconds()/floor(name, n, c0), name+"_x_floor")
			// Answered 429 by the enforced limits: the reads in flight stay under them.
			b.ReportMetric(float64(sim.ThrottleStats().Throttled-t0.Throttled), name+"_429s")
			var fams []string // one line per strategy (benchmark logs keep ten lines)
			for f, m := range perFamily() {
				if d := m - f0[f]; d > 0 && counts[f] > 0 {
					fams = append(fams, fmt.Sprintf("%s %d (%.2f/object)", f, d, float64(d)/float64(counts[f])))
				}
			}
			slices.Sort(fams)
			b.Logf("%s requests by family: %s", name, strings.Join(fams, ", "))
		}
		b.ReportMetric(float64(objects), "objects")

		// A serial client: list each family, then read each object on its own (GET by id with
		// its assignments expanded, as IM Get-GraphObject does, and its child collections), one
		// request at a time.
		client, err := graph.NewClient(sim.GraphConfig(), creds, graph.NewLimiters(limits))
		require.NoError(b, err)
		r0, c0, start := requests(), contractCounts(st), time.Now()
		serialObjects := 0
		for _, d := range intune.Descriptors() {
			for raw, err := range client.List(ctx, string(d.Family)+".list", nil, nil) {
				require.NoError(b, err)
				v, _ := intune.DecodeJSON(raw)
				obj, _ := v.(map[string]any)
				id, _ := obj["id"].(string)
				col, ok := d.Collection(d.ODataType(obj))
				if !ok || id == "" || d.Skip(obj) {
					continue
				}
				serialObjects++
				expand := d.ExpandFor(d.ODataType(obj))
				if _, ok := graph.Lookup(col + ".assignments"); ok {
					expand = fmt.Sprintf("%s,assignments", expand)
				}
				_, err := client.Get(ctx, col+".get", []string{id}, &graph.Query{Expand: trimComma(expand)})
				require.NoError(b, err)
				for _, c := range d.Children {
					for _, err := range client.List(ctx, c.Contract, []string{id}, nil) {
						require.NoError(b, err)
					}
				}
			}
		}
		wall, n := time.Since(start), requests()-r0
		b.ReportMetric(float64(n)/float64(serialObjects), "serial_requests/object")
		b.ReportMetric(wall.Seconds(), "serial_s")
		b.ReportMetric(wall.Seconds()/floor("serial", n, c0), "serial_x_floor")
		client.Close()
		e.Stop()
		_ = sim.Close()
	}
}

// contractCounts snapshots how many requests of each contract the tenant answered so far.
func contractCounts(st *graphsim.Tenant) map[string]int {
	out := map[string]int{}
	for _, c := range graph.Contracts() {
		out[c.Name] = st.RequestCount(c.Name)
	}
	return out
}

// criticalPath is a lower bound of the wall time of any client that sends the requests sent since
// before, however many it sends at once: the longest chain of requests each of which needs the
// answer of the one before. A family's list pages are such a chain (the next page's address is
// in the page before: @odata.nextLink is opaque), and its objects' reads need their ids from the
// listing, so the chain of a family that was read further is its pages plus one; families are
// independent of each other. Each link costs the latency model's mean (a $batch envelope costs
// more, its slowest sub-request: counting the mean keeps the bound a lower bound).
func criticalPath(st *graphsim.Tenant, before map[string]int, model graphsim.Latency) time.Duration {
	pages, readFurther := map[graph.Family]int{}, map[graph.Family]bool{}
	for _, c := range graph.Contracts() {
		n := st.RequestCount(c.Name) - before[c.Name]
		switch {
		case n == 0:
		case c.Name == string(c.Family)+".list":
			pages[c.Family] += n
		default:
			readFurther[c.Family] = true
		}
	}
	longest := 0
	for f, n := range pages {
		if readFurther[f] {
			n++
		}
		longest = max(longest, n)
	}
	return time.Duration(longest) * model.Mean()
}

func trimComma(s string) string {
	for len(s) > 0 && s[0] == ',' {
		s = s[1:]
	}
	return s
}
