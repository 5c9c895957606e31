// Command bench runs every benchmark of the project once (each is a fixed scenario that measures its
// own numbers and baselines in the same run), prints one table and writes BENCHMARKS.md.
//
//	go run ./scripts/bench            # all
//	go run ./scripts/bench -run Start # only benchmarks matching a regexp
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantatlas/tenantatlas/scripts/machine"
)

type result struct {
	pkg, name string
	metrics   [][2]string // unit, value, in output order
}

func main() {
	run := flag.String("run", ".", "regexp of benchmarks to run")
	out := flag.String("out", "BENCHMARKS.md", "file to write (empty: none)")
	flag.Parse()

	// -p 1: one package's benchmarks at a time. On a small machine two benchmark binaries running at once
	// would measure each other, and a baseline taken while another package runs says nothing. The
	// engine package alone takes about an hour on 2 cores (the backup and fleet benchmarks wait on
	// the simulator's latency), hence the timeout.
	args := []string{"test", "-p", "1", "-run", "^$", "-bench", *run, "-benchtime", "1x", "-timeout", "120m", "./..."}
	fmt.Fprintf(os.Stderr, "go %s\n", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	var raw bytes.Buffer
	cmd.Stdout = io.MultiWriter(&raw, os.Stderr)
	cmd.Stderr = os.Stderr
	start := time.Now()
	err := cmd.Run()
	results := parse(raw.String())
	table := render(results)
	fmt.Println(table)
	if *out != "" && len(results) > 0 {
		doc := fmt.Sprintf("# Benchmarks\n\nLatest figures from `go tool task bench` (`go run ./scripts/bench`): every baseline is measured in the\nsame run as the number it is compared with. The targets from the issues are listed below the table.\n\n"+
			"- date: %s\n- machine: %s, %d cores, %s\n- go: %s\n- wall time: %s\n\n%s\n%s",
			time.Now().UTC().Format("2006-01-02 15:04 MST"), machine.CPUModel(), runtime.NumCPU(), machine.MemTotal(), runtime.Version(),
			time.Since(start).Round(time.Second), "```\n"+table+"```\n", targetsDoc)
		if werr := os.WriteFile(*out, []byte(doc), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, werr)
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks failed:", err)
		os.Exit(1)
	}
}

// parse reads `go test -bench` output: "pkg: …" lines and "BenchmarkX-2  1  123 ns/op  4.5 unit …".
func parse(s string) []result {
	var out []result
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/tenantatlas/tenantatlas/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		r := result{pkg: pkg, name: strings.TrimPrefix(trimProcs(f[0]), "Benchmark")}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == "ns/op" || f[i+1] == "B/op" || f[i+1] == "allocs/op" {
				continue
			}
			r.metrics = append(r.metrics, [2]string{f[i+1], f[i]})
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].pkg < out[j].pkg })
	return out
}

func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

func render(rs []result) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tBENCHMARK\tMETRIC\tVALUE")
	for _, r := range rs {
		for i, m := range r.metrics {
			pkg, name := r.pkg, r.name
			if i > 0 {
				pkg, name = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pkg, name, m[0], m[1])
		}
	}
	tw.Flush()
	return b.String()
}

const targetsDoc = `## Targets (from the issues)

| benchmark | target |
|---|---|
| engine Start | start_per_s ≥ 60% of raw_insert_per_s (ratio_pct ≥ 60); start latency p50 ≤ 5 ms, p99 ≤ 50 ms |
| groups full sync | ≥ 50,000 groups/s, ≥ 10× the per-row baseline, ≥ 40% of the COPY ceiling, peak RSS ≤ 150 MB at 1M groups |
| groups delta (unchanged 100k) | writes no rows, ≤ 1 s |
| dashboard (1M runs, 500k groups) | first frame ≤ 150 ms (home ≤ 50 ms, issue #23); navigation p99 ≤ 16 ms; filter p99 ≤ 50 ms; live update p99 ≤ 100 ms |
| SSH (100 dashboards) | update p99 ≤ 100 ms, idle CPU ≤ 1% (issue #23); reported: RSS per session, DB connections |
| inventory + backup (5,000 policies) | reported: wall time, Graph requests, bytes stored by an unchanged second backup |
| fleet Graph budget (3 engines, Intune limits enforced) | shared: 0 429s/10k-requests and wall within 1.1× the floor; reported next to one budget per engine |
| backup reads (mixed 5,000 policies, graphsim latency model median 80 ms / p99 400 ms, Intune limits, 40 req/s) | cheap reads ≤ 0.3 requests/object, wall ≤ 1.2× the floor (` + "`cheap_x_floor`" + `; floor = max(throttle floor, critical path), issue #20); per-object reads and a serial one-object-at-a-time client reported beside it (issue #24) |
| fleet night (500 tenants × 200 policies, 2 engines, latency model, Intune limits) | wall ≤ 1.2× the fleet floor (` + "`x_floor`" + `); reported: 429s per 10,000 requests, peak RSS and Go heap (issue #20) |
| history (10M runs, 100M events, issue #20) | home first frame, triage load, ` + "`runs list`" + ` and Start's rate within 20% of the same at 1M runs / 10M events (` + "`*_pct`" + ` ≤ 120, ` + "`start_pct`" + ` ≥ 80); reported: the oldest days' prune, a month deleted vs its partition dropped, a run's log across monthly partitions |

Reading the Start numbers: each rate is the median of three rounds, run after a warm-up round and
interleaved (raw, floor, Start) so that noise and table growth favour none of them. ` + "`floor_per_s`" + ` is a
transaction with River's job and a bare ` + "`operation_runs`" + ` row — no authorization, identity rule, audit or
timeline event: what any Start that records a run must cost, with the run table the design requires
(NOTIFY trigger, foreign keys, list indexes).

Reading the dashboard numbers: ` + "`first_frame_home_empty_ms`" + ` is home's first frame over a database with the
same tenants and no history, in the same run: what a million runs add is the difference (home reads the
runs-per-hour rollup, not the runs). For the SSH dashboards, ` + "`idle_cpu_baseline_pct`" + ` is the same process
before any dashboard opened (server, hub and pool alone), and ` + "`notify_p99_ms`" + ` is the floor under
` + "`update_p99_ms`" + `: the same commits reaching a bare hub subscriber, before any dashboard reads or draws.
On a machine shared with other work both move with its load; compare each with its baseline.

Reading the groups numbers: ` + "`copy_ceiling_per_s`" + ` is COPY of ready-made rows into a table with no index (the
issue's ceiling); ` + "`indexed_copy_per_s`" + ` is the same COPY into a table with the cache's three indexes (primary
key, name, and the trigram index that group search needs), and bounds what any sync can reach here;
` + "`list_only_per_s`" + ` lists the same groups from the simulator through the same client, decoding and hashing
each, and writes nothing: the Graph side alone, which bounds any sync from the other side.

Reading the backup and fleet numbers: the simulator's latency is a model, not a measurement
(docs/graph.md#latency-simulator: log-normal, median 80 ms, p99 400 ms, a ` + "`$batch`" + ` costs its slowest
sub-request). ` + "`*_throttle_floor_s`" + ` is the requests a strategy sent ÷ 40/s (the engine's per-tenant rate,
below Microsoft's 50/s); ` + "`*_critical_path_s`" + ` is the longest chain of requests that each need the one
before (a family's list pages, then one read), at the model's mean; ` + "`*_x_floor`" + ` divides the wall time
by the larger. The serial client is the peers' way, one request at a time: its ratio is what the rate
limit alone does not explain. The fleet night's ` + "`floor_s`" + ` is the larger of the longest tenant's floor and
the sum of all tenants' floors ÷ the 16 backups two engines run at once; ` + "`peak_rss_mb`" + ` is this process
(simulator and both engines, not PostgreSQL) since the night started.

Reading the history numbers (BenchmarkHistory, ` + "`BENCH_HISTORY_RUNS`" + `, default 10,000,000): each ` + "`X_ms`" + ` is the
large history, ` + "`X_baseline_ms`" + ` the same at a tenth (1M runs, 10M events), both in the same run, the
seven rounds alternating between the two databases, medians; ` + "`X_pct`" + ` is large over baseline. Both
span two years of a 200-tenant workspace, so the large one has ten times the runs per day. The
prune figures are the product's retention pass (` + "`store.PruneRuns`" + `) expiring the oldest three days
(a tenth of a month; it works in batches, so a month costs ten times as much); ` + "`partition_*`" + ` come
from a copy of the baseline's events partitioned by month, measured and dropped before the large
history loads: one month removed by DELETE and one by DETACH + DROP PARTITION, and
` + "`run_log_partitioned_baseline_ms`" + `, the run detail's read of one run's log across the partitions
(the query has no ` + "`at`" + ` to prune them by). Decision and figures: docs/operations.md#retention.
`
