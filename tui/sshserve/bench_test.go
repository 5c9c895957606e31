package sshserve

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// benchSession is one SSH dashboard watched by the benchmark: it records when each awaited token
// first appears in the session's output stream.
type benchSession struct {
	sess *gossh.Session

	mu    sync.Mutex
	tail  string               // the end of the output, raw, for tokens split across reads
	want  string               // the token awaited now
	seen  map[string]time.Time // token -> when it arrived
	ready chan struct{}        // closed when the dashboard shows the run
	mark  string               // what ready waits for
}

func (s *benchSession) Write(p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail += string(p)
	if len(s.tail) > 16<<10 {
		s.tail = s.tail[len(s.tail)-8<<10:]
	}
	if s.mark == "" && s.want == "" {
		// Nothing awaited (the idle window): the client's own stripping of its tail would count
		// against the server in idle_cpu_pct, which measures this whole process.
		return len(p), nil
	}
	text := ansi.Strip(s.tail)
	if s.mark != "" && strings.Contains(text, s.mark) {
		s.mark = ""
		close(s.ready)
	}
	if s.want != "" && strings.Contains(text, s.want) {
		s.seen[s.want] = now
		s.want = ""
	}
	return len(p), nil
}

func (s *benchSession) await(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want = token
}

func (s *benchSession) seenAt(token string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.seen[token]
	return at, ok
}

// benchToken is a log message no other differs from in only some cells: its letters never repeat
// side by side, so the renderer writes it whole into the blank line below the log.
func benchToken(i int) string {
	var b strings.Builder
	b.WriteString("bench")
	for j, d := range fmt.Sprintf("%04d", i) {
		alphabet := "abcdefghij"
		if j%2 == 1 {
			alphabet = "klmnopqrst"
		}
		b.WriteByte(alphabet[d-'0'])
	}
	return b.String()
}

// BenchmarkSSHDashboards serves 100 concurrent SSH dashboards (x/crypto/ssh clients with a PTY, on
// loopback) that all show one run's detail, appends log lines to that run, and reports:
//
//   - rss_mb_per_session: growth of this process's resident memory per open dashboard (server and
//     client side both live in this process, so this overstates the server's share);
//   - idle_cpu_pct: this process's CPU time while every dashboard is open and nothing changes, in
//     percent of one core, after a second to settle; idle_cpu_baseline_pct is the same measure of the
//     same process before any dashboard opened (the server, the hub and the pool alone);
//   - db_conns: connections to the database while updates fan out (pool plus the hub's listener);
//   - update_p99_ms: from just before the commit of a new log line to its text arriving in a
//     session's output stream, p99 over every session and update; notify_p99_ms is the floor under
//     it, measured on the same updates: from the same instant to the hub's notification reaching a
//     bare subscriber, before any dashboard reads or draws.
func BenchmarkSSHDashboards(b *testing.B) {
	const (
		sessions = 100
		updates  = 25 // per iteration; the log fits a 120x60 terminal without scrolling
	)
	ctx := context.Background()
	bundle := setup(b, Config{MaxSessions: sessions, MaxConnsPerAddr: sessions}) // every client is on loopback
	key := newKey(b)
	_, err := bundle.svc.AddKey(ctx, bundle.admin, bundle.admin.Name, string(gossh.MarshalAuthorizedKey(key.PublicKey())))
	require.NoError(b, err)
	w, err := bundle.svc.ResolveWorkspace(ctx, bundle.admin, "default")
	require.NoError(b, err)

	rssBefore := residentMB(b)
	var latencies, notified []time.Duration
	var conns int
	var idleCPU, idleBaseline, rssPerSession float64
	sub := bundle.srv.cfg.Subscribe()
	defer sub.Close()
	for range b.N {
		res, err := bundle.svc.Start(ctx, bundle.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID})
		require.NoError(b, err)
		runID := res.Run.ID

		time.Sleep(idleSettle)
		idleBaseline = cpuPercent(b, idleWindow)
		watchers := openBenchSessions(b, bundle, key, sessions, runID)
		if rssPerSession == 0 {
			rssPerSession = (residentMB(b) - rssBefore) / sessions
		}
		time.Sleep(idleSettle)
		idleCPU = cpuPercent(b, idleWindow)
		drain(sub)

		b.ResetTimer()
		for i := range updates {
			token := benchToken(i)
			for _, s := range watchers {
				s.await(token)
			}
			committed := time.Now()
			e, err := store.InsertRunEvent(ctx, bundle.db.Pool, store.RunEvent{RunID: runID, Message: token})
			require.NoError(b, err)
			notified = append(notified, awaitNotification(b, sub, e.ID).Sub(committed))
			deadline := time.Now().Add(10 * time.Second)
			for _, s := range watchers {
				for {
					if at, ok := s.seenAt(token); ok {
						latencies = append(latencies, at.Sub(committed))
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("update %d never reached a session", i)
					}
					time.Sleep(time.Millisecond)
				}
			}
			if i == updates/2 {
				conns = dbConnections(b, bundle.db)
			}
			time.Sleep(50 * time.Millisecond) // updates arrive as a busy tenant would cause them
		}
		b.StopTimer()
		for _, s := range watchers {
			_ = s.sess.Close()
		}
	}
	slices.Sort(latencies)
	slices.Sort(notified)
	p99 := latencies[(len(latencies)*99)/100-1]
	b.ReportMetric(rssPerSession, "rss_mb_per_session")
	b.ReportMetric(idleCPU, "idle_cpu_pct")
	b.ReportMetric(idleBaseline, "idle_cpu_baseline_pct")
	b.ReportMetric(float64(notified[(len(notified)*99)/100-1].Microseconds())/1000, "notify_p99_ms")
	b.ReportMetric(float64(conns), "db_conns")
	b.ReportMetric(float64(p99.Microseconds())/1000, "update_p99_ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "update_p50_ms")
}

// The idle measures wait idleSettle for what opening left behind (last frames, the collector) and
// then count CPU time over idleWindow.
const (
	idleSettle = time.Second
	idleWindow = 3 * time.Second
)

// awaitNotification returns when the hub's notification of run event id reached sub.
func awaitNotification(b *testing.B, sub *store.Subscription, id int64) time.Time {
	b.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n := <-sub.C:
			if n.Table == store.TableRunEvents && n.ID == id {
				return time.Now()
			}
		case <-timeout:
			b.Fatalf("no notification of run event %d", id)
		}
	}
}

// drain empties sub of the notifications opening the dashboards caused.
func drain(sub *store.Subscription) {
	for {
		select {
		case <-sub.C:
		default:
			return
		}
	}
}

// openBenchSessions opens n dashboards, each on its own connection, and puts each on runID's detail.
func openBenchSessions(b *testing.B, bundle *testBundle, key gossh.Signer, n int, runID int64) []*benchSession {
	b.Helper()
	watchers := make([]*benchSession, n)
	var wg sync.WaitGroup
	gate := make(chan struct{}, 8) // handshakes a few at a time: two cores are shared
	for i := range watchers {
		wg.Add(1)
		gate <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-gate }()
			client, err := bundle.dial(b, gossh.PublicKeys(key))
			require.NoError(b, err)
			sess, err := client.NewSession()
			require.NoError(b, err)
			s := &benchSession{sess: sess, seen: map[string]time.Time{}, ready: make(chan struct{}), mark: "● live"}
			sess.Stdout, sess.Stderr = s, s
			require.NoError(b, sess.RequestPty("xterm-256color", 60, 120, gossh.TerminalModes{}))
			stdin, err := sess.StdinPipe()
			require.NoError(b, err)
			require.NoError(b, sess.Shell())
			waitReady(b, s)
			s.mu.Lock()
			s.ready, s.mark = make(chan struct{}), fmt.Sprintf("#%d", runID)
			s.mu.Unlock()
			_, err = fmt.Fprint(stdin, ":")
			require.NoError(b, err)
			time.Sleep(50 * time.Millisecond)
			_, err = fmt.Fprintf(stdin, "run %d\r", runID)
			require.NoError(b, err)
			waitReady(b, s)
			watchers[i] = s
		}()
	}
	wg.Wait()
	return watchers
}

func waitReady(b *testing.B, s *benchSession) {
	b.Helper()
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		b.Fatalf("a dashboard never showed %q", s.mark)
	}
}

// residentMB is this process's resident set size once garbage is collected and returned to the OS,
// so that it counts what live sessions hold.
func residentMB(b *testing.B) float64 {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	time.Sleep(200 * time.Millisecond)
	debug.FreeOSMemory()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status: RSS is measured on Linux only")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			require.NoError(b, err)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// cpuPercent is this process's CPU time over d, in percent of one core.
func cpuPercent(b *testing.B, d time.Duration) float64 {
	b.Helper()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start, startCPU := time.Now(), cpu()
	time.Sleep(d)
	return float64(cpu()-startCPU) / float64(time.Since(start)) * 100
}

// dbConnections counts the connections to the benchmark's database, the one asking included.
func dbConnections(b *testing.B, db *store.DB) int {
	b.Helper()
	var n int
	require.NoError(b, db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&n))
	return n
}
