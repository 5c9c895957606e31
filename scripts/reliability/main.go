// Command reliability runs the reliability and security suite (issue #11) in its long form,
// runs every fuzz target for a bounded time, prints a summary and writes RELIABILITY.md.
//
//	go run ./scripts/reliability                 # everything (what `go tool task reliability` runs)
//	go run ./scripts/reliability -fuzztime 30s   # longer fuzzing
//	go run ./scripts/reliability -short          # the CI-sized variants, no fuzzing
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/scripts/machine"
)

// suitePackages hold the suite's tests: everything in ./reliability, the Security tests next to the
// code they test, and the seed corpora of the fuzz targets.
var suitePackages = []string{"./reliability", "./cmd/tenantatlas", "./tui", "./engine/graph", "./engine", "./store", "./tui/sshserve"}

// fuzzPackages are searched for Fuzz targets.
var fuzzPackages = []string{"./engine/graph", "./cmd/tenantatlas", "./tui"}

type testResult struct {
	pkg, name, action string
	elapsed           float64
	metrics           []string
	output            strings.Builder
}

type fuzzResult struct {
	pkg, name, status, execs, interesting string
}

func main() {
	short := flag.Bool("short", false, "run the CI-sized variants (no TENANTATLAS_RELIABILITY_FULL) and skip fuzzing")
	fuzzTime := flag.Duration("fuzztime", 10*time.Second, "how long each fuzz target runs")
	out := flag.String("out", "RELIABILITY.md", "file to write (empty: none)")
	flag.Parse()

	began := time.Now()
	env := os.Environ()
	if !*short {
		env = append(env, "TENANTATLAS_RELIABILITY_FULL=1")
	}
	args := append([]string{"test", "-count=1", "-json", "-timeout", "30m", "-run", "Reliability|Security|Fuzz"}, suitePackages...)
	fmt.Fprintf(os.Stderr, "go %s\n", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	tests := parseTestJSON(stdout)
	testErr := cmd.Wait()

	var fuzz []fuzzResult
	if !*short {
		for _, pkg := range fuzzPackages {
			for _, name := range fuzzTargets(pkg) {
				fuzz = append(fuzz, runFuzz(pkg, name, *fuzzTime))
			}
		}
	}
	summary := render(tests, fuzz)
	fmt.Println(summary)
	if *out != "" {
		mode := "full (TENANTATLAS_RELIABILITY_FULL=1)"
		if *short {
			mode = "short (the CI-sized variants)"
		}
		doc := fmt.Sprintf(header, time.Now().UTC().Format("2006-01-02 15:04 MST"), machine.CPUModel(), runtime.NumCPU(), machine.MemTotal(),
			runtime.Version(), mode, *fuzzTime, time.Since(began).Round(time.Second)) + summary + explanation
		if err := os.WriteFile(*out, []byte(doc), 0o644); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	}
	failed := testErr != nil
	for _, f := range fuzz {
		failed = failed || f.status != "PASS"
	}
	if failed {
		fmt.Fprintln(os.Stderr, "the reliability suite failed")
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

var metricRE = regexp.MustCompile(`METRIC (\S+) (.*)$`)

// parseTestJSON reads `go test -json`, echoing failures, and keeps top-level results and METRIC lines.
func parseTestJSON(r io.Reader) []testResult {
	byKey := map[string]*testResult{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		top := strings.SplitN(e.Test, "/", 2)[0]
		key := e.Package + " " + top
		res := byKey[key]
		if res == nil {
			res = &testResult{pkg: strings.TrimPrefix(e.Package, "github.com/tenantatlas/tenantatlas/"), name: top}
			byKey[key] = res
			order = append(order, key)
		}
		switch e.Action {
		case "output":
			if m := metricRE.FindStringSubmatch(strings.TrimSpace(e.Output)); m != nil {
				res.metrics = append(res.metrics, m[1]+" "+strings.TrimSpace(m[2]))
			}
			res.output.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == top {
				res.action, res.elapsed = e.Action, e.Elapsed
				if e.Action == "fail" {
					fmt.Fprint(os.Stderr, res.output.String())
				}
				fmt.Fprintf(os.Stderr, "%-4s %s %s (%.1fs)\n", e.Action, res.pkg, top, e.Elapsed)
			}
		}
	}
	out := make([]testResult, 0, len(order))
	for _, k := range order {
		r := byKey[k]
		out = append(out, testResult{pkg: r.pkg, name: r.name, action: r.action, elapsed: r.elapsed, metrics: r.metrics})
	}
	return out
}

var fuzzFuncRE = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)

func fuzzTargets(pkg string) []string {
	files, _ := filepath.Glob(filepath.Join(pkg, "*_test.go"))
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, m := range fuzzFuncRE.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

var execsRE = regexp.MustCompile(`execs: (\d+) .*new interesting: (\d+)`)

func runFuzz(pkg, name string, d time.Duration) fuzzResult {
	args := []string{"test", "-run", "^$", "-fuzz", "^" + name + "$", "-fuzztime", d.String(), pkg}
	fmt.Fprintf(os.Stderr, "go %s\n", strings.Join(args, " "))
	var buf bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	res := fuzzResult{pkg: strings.TrimPrefix(pkg, "./"), name: name, status: "PASS"}
	if err != nil {
		res.status = "FAIL"
		fmt.Fprint(os.Stderr, buf.String())
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if m := execsRE.FindStringSubmatch(line); m != nil {
			res.execs, res.interesting = m[1], m[2]
		}
	}
	fmt.Fprintf(os.Stderr, "%s %s: %s execs\n", res.status, name, res.execs)
	return res
}

func render(tests []testResult, fuzz []fuzzResult) string {
	var b strings.Builder
	b.WriteString("## Results\n\n| package | test | result | time |\n|---|---|---|---|\n")
	for _, t := range tests {
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f s |\n", t.pkg, t.name, strings.ToUpper(or(t.action, "?")), t.elapsed)
	}
	b.WriteString("\n## Figures\n\n")
	faults := [][]string{}
	for _, t := range tests {
		var lines []string
		for _, m := range t.metrics {
			if strings.HasPrefix(m, "fault.") && strings.Contains(m, "|") {
				name, rest, _ := strings.Cut(strings.TrimPrefix(m, "fault."), " ")
				faults = append(faults, append([]string{strings.ReplaceAll(name, "_", " ")}, strings.Split(strings.TrimSpace(rest), "|")...))
				continue
			}
			lines = append(lines, "- "+m)
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "**%s** (%s)\n\n%s\n\n", t.name, t.pkg, strings.Join(lines, "\n"))
		}
	}
	if len(faults) > 0 {
		b.WriteString("### Graph fault matrix (a real run per row, against graphsim)\n\n| fault | run | outcome | reason code | run time |\n|---|---|---|---|---|\n")
		for _, f := range faults {
			for len(f) < 5 {
				f = append(f, "")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f[0], f[1], f[2], f[3], f[4])
		}
		b.WriteString("\n")
	}
	if len(fuzz) > 0 {
		b.WriteString("### Fuzzing\n\n| package | target | result | execs | new interesting |\n|---|---|---|---|---|\n")
		for _, f := range fuzz {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.pkg, f.name, f.status, f.execs, f.interesting)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

const header = `# Reliability and security

Written by ` + "`go tool task reliability`" + ` (` + "`go run ./scripts/reliability`" + `), which runs the suite below in its long
form, every fuzz target for a bounded time, and writes this file. Do not edit the figures by hand.

- date: %s
- machine: %s, %d cores, %s
- go: %s
- mode: %s; fuzz time per target: %s
- wall time: %s

How to run:

` + "```" + `sh
go tool task reliability                      # long variants + fuzzing; rewrites RELIABILITY.md
go test ./reliability                         # the CI-sized variants (also part of go test ./...)
TENANTATLAS_RELIABILITY_FULL=1 go test ./reliability -run Crash -v   # one part, long form
go test -run '^$' -fuzz FuzzParsePalette -fuzztime 30s ./tui          # one fuzz target
` + "```" + `

`

const explanation = `## What each part checks

1. **Crash** (` + "`TestReliabilityCrash`" + `): the only engine is a child process (the test binary re-executed, configured
   like an operator's engine through TENANTATLAS_GRAPH_URL / TENANTATLAS_LOGIN_URL / SSL_CERT_FILE pointing at an
   in-process graphsim) and is SIGKILLed at random moments while a stream of mixed runs is started (no-ops with
   random durations, failures and blocks; group and role-definition syncs), then restarted. Every run must end within
   a bound, exactly once (one "finished" timeline event), the run count must equal what Start created, each no-op's
   progress and counts must equal its steps (neither lost nor doubled across resumes), there is one run.start audit
   event per run, and no client secret appears in the engines' logs. 300 runs / 5 kills in CI, 1000 / 15 in full.
2. **Schedules** (` + "`TestReliabilitySchedulesAcrossRestarts`, `TestReliabilityScheduleStrictIdentityAtDSTEdges`" + `): two engines
   fire a per-second America/New_York schedule while they are restarted in turn and then both stopped for longer than
   the grace period: one run per fire time, no gap while an engine ran, one late catch-up run for the outage. Two
   services race Start twenty times at once for fire times around the Berlin and New York DST changes (gap and
   overlap), each caller holding the instant in a different zone: one run per fire time. The DST fire-time table
   and two steady engines are covered in engine/schedule_test.go.
3. **Database restart** (` + "`TestReliabilityDatabaseRestart`" + `): a private PostgreSQL cluster is restarted (2 s down in CI,
   8 s — longer than StaleAfter — in full) while runs are in flight and a dashboard (the real tui.Model, driven like
   tea.Program) shows the operations screen. The engine finishes every run without a restart (progress not lost),
   the hub reconnects and sends KindReload, the dashboard shows "reconnecting" and then the final state without a
   keypress.
4. **Graph fault matrix** (` + "`TestReliabilityGraphFaultMatrix`" + `): each graphsim fault kind, each sign-in fault, missing
   permissions, no roles, no licence and an oversized payload, each in its own tenant, through a real run: the
   documented outcome and reason code (table above). A throttle or 503 storm ends within the run's retry budget (4 s
   here). Afterwards the process's goroutine count returns to its baseline (engine, Graph clients, simulator stopped).
5. **Bad input** (` + "`TestSecurityHostileInput`, `TestSecurityConfigGarbage`, `TestSecurityHostileCLIArguments`, fuzz" + `):
   quote-and-semicolon strings, LIKE wildcards, NUL and control bytes, unicode and 10,000-character strings in every
   Service filter and search (RunQuery, groups, role definitions, inventory, audit, events, tenant, schedule,
   workspace and user references), every dashboard "/" filter and the ":" palette, every TENANTATLAS_* variable,
   every global flag and the CLI's filter arguments (with and without --json): data or one clear line (never a raw
   database error or stack trace), "%" and "\" stay literal, and the row counts of the key tables do not change.
   Malformed, truncated and oversized Graph payloads are rows of the fault matrix; unknown SSH keys are refused in
   one line (tui/sshserve TestSSHIdentity).
6. **Security** (` + "`TestSecuritySecretsAtRest`, `TestSecuritySecretNeverLeaks`, `TestSecuritySecretNotInCLIOutput`, `TestSecurityAuthorizationEveryServiceMethod`" + `):
   provider_connections.credential_ciphertext never contains the secret, AES-GCM opens it only with its key, detects
   tampering, uses a fresh nonce, and an engine with another key blocks the run (provider_secret_undecryptable).
   Planted secrets (a working one, a rejected one, a certificate's private key) appear in no log line at debug level,
   no row of any table, no JSON the Service returns, no dashboard screen and no stdout/stderr of any read command
   with or without --json (incl. runs show and runs watch). Every exported engine.Service method is called as a
   non-member, as each role and as the administrator (a new method fails the test until it has a row): not found /
   forbidden / allowed, or an empty scoped list. The audit table's append-only triggers (UPDATE, DELETE, TRUNCATE)
   are tested in store/schema_test.go.
   The security review's attacks, each reproduced against the real component
   (` + "`TestSecurityLocalClusterRefusesPlantedLinks`" + ` … ` + "`TestSecurityRedirectDropsCredentialsAcrossHosts`" + `): as root, symlinks
   planted by the cluster's account where TenantAtlas writes are refused (1); a group named with OSC 52, OSC 0,
   CSI 2J, SGR and CR LF renders as visible text in every view, locally and over SSH, --json exact (2); sensitive
   backup payloads are sealed, per workspace, hash not shown (3); the runtime role cannot rewrite the audit log
   (SET session_replication_role, DELETE, UPDATE, TRUNCATE, DISABLE TRIGGER, DROP), and River's maintenance runs
   under it (4); a credential copied onto another connection does not open there and its run is blocked, a key
   rotation re-seals every secret while engines run and the old key alone then opens nothing (5); unknown SSH keys
   cannot pile up connections, ` + "`__complete`" + ` goes through the SSH policy, unknown and forbidden users answer alike (6);
   the local socket directory cannot be squatted (7); oversized legacy imports are refused, never cut (8); a
   cross-host redirect carries neither Authorization nor Cookie (9, GO-2026-5224).
7. **Fuzzing**: the Graph decoders and error classifier (engine/graph), the palette parser and the line input behind
   every filter (tui), and the configuration loader over every TENANTATLAS_* variable (cmd/tenantatlas). Their seed
   corpora run in plain ` + "`go test`" + `.
`
