package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// updating reports whether -update was given (the flag is registered by teatest's golden package).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// requireGolden compares a view, stripped of colour, with testdata/NAME.golden.
func requireGolden(t *testing.T, name, view string) {
	t.Helper()
	got := ansi.Strip(view)
	lines := strings.Split(got, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	got = strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./tui -run %s -update", t.Name())
	require.Equal(t, string(want), got)
}

//nolint:tparallel // the subtests drive dashboards on one seeded database, one after another
func TestGoldenViews(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"home", nil},
			{"operations", []string{"o"}},
			{"operations_failed", []string{"o", "3"}},
			{"operations_legacy", []string{"o", "6"}},
			{"operations_filtered", []string{"o", "/", "n", "o", "r", "t", "h", "enter"}},
			{"operations_confirm_cancel", []string{"o", "space", "space", "c"}},
			{"operations_confirm_retry", []string{"o", "5", "j", "j", "space", "space", "R"}},
			{"run_detail_blocked", []string{":", "r", "u", "n", " ", "BLOCKED", "enter"}},
			{"tenants", []string{"t"}},
			{"tenant_detail_blocked", []string{"t", "j", "enter"}},
			{"tenant_detail_ok", []string{"t", "enter"}},
			{"groups", []string{"t", "enter", "g"}},
			{"groups_search", []string{"t", "enter", "g", "/", "s", "a", "l", "enter"}},
			{"groups_never_synced", []string{"t", "j", "enter", "g"}},
			{"roles_expanded", []string{"t", "enter", "d", "j", "enter"}},
			{"wizard_details", []string{"t", "a", "c", "o", "n", "t", "o", "s", "o", "enter"}},
			{"help", []string{"o", "?"}},
			{"palette", []string{":", "t", "e", "tab"}},
		} {
			t.Run(tc.name+"_"+size.name, func(t *testing.T) {
				m := New(b.context(size.w, size.h), nil)
				drive(t, m, m.Init())
				for _, k := range tc.keys {
					if k == "BLOCKED" {
						for _, r := range idString(b.runs["blocked"]) {
							press(t, m, string(r))
						}
						continue
					}
					press(t, m, k)
				}
				view := m.Render()
				require.Equal(t, size.h, strings.Count(view, "\n")+1, "exactly the screen height")
				for _, line := range strings.Split(ansi.Strip(view), "\n") {
					require.LessOrEqual(t, len([]rune(line)), size.w, "line wider than the screen: %q", line)
				}
				requireGolden(t, tc.name+"_"+size.name, view)
			})
		}
	}
}

func idString(id int64) string { return itoa(id) }

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestAuditGolden renders the audit log from events written with fixed times (the audit table is
// append-only, so the fixture inserts them rather than rewriting real ones).
func TestAuditGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for i, e := range []struct {
		action, kind, target string
		details              map[string]any
	}{
		{"tenant.add", "tenant", "contoso", map[string]any{"auth_kind": "secret", "client_id": "3f2a0000-0000-4000-8000-000000000002"}},
		{"run.start", "run", "1", map[string]any{"type": "provider.verification", "tenant": "contoso"}},
		{"run.cancel", "run", "2", map[string]any{"type": "directory_groups.sync", "status": "running"}},
		{"member.add", "user", "rita", map[string]any{"role": "readonly"}},
	} {
		storetest.AuditEvent(ctx, t, b.db.Pool, &storetest.AuditEventOpts{ActorKind: "user", ActorName: "admin", Action: e.action,
			TargetKind: e.kind, TargetID: e.target, Details: e.details, At: new(fixedNow.Add(time.Duration(i) * time.Minute))})
	}
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		m := New(b.context(size.w, size.h), newAudit(b.context(size.w, size.h)))
		drive(t, m, m.Init())
		requireGolden(t, "audit_"+size.name, m.Render())
	}
}
