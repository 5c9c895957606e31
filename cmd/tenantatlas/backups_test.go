package main

import (
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

func TestCLISchedulesAndBackups(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("s3cret-value", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)

	var sch struct {
		ID            int64    `json:"id"`
		Name          string   `json:"name"`
		Cron          string   `json:"cron"`
		Timezone      string   `json:"timezone"`
		Families      []string `json:"families"`
		KeepCount     *int     `json:"keep_count"`
		KeepDays      *int     `json:"keep_days"`
		Paused        bool     `json:"paused"`
		NextFireTimes []string `json:"next_fire_times"`
	}
	c.jsonOut(&sch, "schedules", "add", "--tenant", "contoso", "--name", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin",
		"--families", "deviceConfigurations,configurationPolicies", "--keep", "14", "--keep-days", "30")
	require.Equal(t, "nightly", sch.Name)
	require.Equal(t, "Europe/Berlin", sch.Timezone)
	require.Equal(t, []string{"deviceConfigurations", "configurationPolicies"}, sch.Families)
	require.Equal(t, 14, *sch.KeepCount)
	require.Len(t, sch.NextFireTimes, 3)

	out := c.ok("schedules", "list")
	require.Contains(t, out, "nightly")
	require.Contains(t, out, "Europe/Berlin")
	require.Contains(t, out, "14 sets, 30 days")

	c.jsonOut(&sch, "schedules", "edit", "nightly", "--cron", "30 0 4 * * *", "--keep", "0")
	require.Equal(t, "30 0 4 * * *", sch.Cron)
	require.Nil(t, sch.KeepCount)
	c.jsonOut(&sch, "schedules", "pause", "nightly")
	require.True(t, sch.Paused)
	require.Empty(t, sch.NextFireTimes)
	c.jsonOut(&sch, "schedules", "resume", "nightly")
	require.False(t, sch.Paused)

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"schedules", "add", "--tenant", "contoso", "--name", "x", "--cron", "0 3 * *"}, 2, "expected 5 fields"},
		{[]string{"schedules", "add", "--tenant", "contoso", "--name", "x", "--cron", "0 3 * * *", "--timezone", "Mars/Base"}, 2, "IANA"},
		{[]string{"schedules", "add", "--tenant", "contoso", "--name", "x", "--cron", "0 3 * * *", "--families", "printers"}, 2, `unknown family "printers"`},
		{[]string{"schedules", "add", "--tenant", "contoso", "--name", "nightly", "--cron", "0 3 * * *"}, 1, "already exists"},
		{[]string{"schedules", "pause", "nope"}, 4, `schedule "nope"`},
		{[]string{"backups", "show", "999"}, 4, "backup set 999"},
		{[]string{"backups", "diff", "1"}, 2, "needs a second set or --inventory"},
		{[]string{"backups", "run", "contoso", "--families", "printers"}, 2, "unknown family"},
	} {
		r := c.run("", tc.args...)
		require.Equal(t, tc.code, r.code, "%v: %s", tc.args, r.stderr)
		require.Contains(t, r.stderr, tc.msg)
	}

	var started struct {
		ID      int64  `json:"id"`
		Type    string `json:"type"`
		Status  string `json:"status"`
		Created bool   `json:"created"`
	}
	c.jsonOut(&started, "backups", "run", "contoso", "--families", "deviceConfigurations")
	require.Equal(t, "backup_schedule.run", started.Type)
	require.True(t, started.Created)
	var again struct {
		ID int64 `json:"id"`
	}
	c.jsonOut(&again, "backups", "run", "contoso")
	require.NotEqual(t, started.ID, again.ID, "manual backups are unique per click")

	var sets []any
	c.jsonOut(&sets, "backups", "list")
	require.Empty(t, sets)
	var inv []any
	c.jsonOut(&inv, "inventory", "contoso")
	require.Empty(t, inv)
}

// TestCLIFleetSchedules: `schedules add` takes --tag or --all instead of --tenant, `schedules list`
// shows each schedule's target, and a missing or double target is a usage error that writes nothing.
func TestCLIFleetSchedules(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("s3cret-value", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000011",
		"--client-id", "3f2a0000-0000-4000-8000-000000000012", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	c.ok("tenants", "tag", "contoso", "eu")

	var sch struct {
		ID        int64  `json:"id"`
		TenantID  int64  `json:"tenant_id"`
		TargetTag string `json:"target_tag"`
		TargetAll bool   `json:"target_all"`
	}
	c.jsonOut(&sch, "schedules", "add", "--tag", "eu", "--name", "eu-nightly", "--cron", "0 2 * * *", "--keep", "14")
	require.Equal(t, "eu", sch.TargetTag)
	require.Zero(t, sch.TenantID)
	c.jsonOut(&sch, "schedules", "add", "--all", "--name", "fleet-weekly", "--cron", "0 4 * * 0")
	require.True(t, sch.TargetAll)
	c.ok("schedules", "add", "--tenant", "contoso", "--name", "own", "--cron", "0 5 * * *")

	out := c.ok("schedules", "list")
	require.Contains(t, out, "TARGET")
	for _, want := range []string{"eu-nightly  tag:eu", "fleet-weekly  all tenants", "own  contoso"} {
		require.Regexp(t, strings.ReplaceAll(regexp.QuoteMeta(want), "  ", ` +`), out)
	}
	require.Equal(t, 3, strings.Count(c.ok("schedules", "list", "--tenant", "contoso"), "\n")-1,
		"the tenant's own schedule and the two fleet schedules that include it")

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"schedules", "add", "--name", "x", "--cron", "0 3 * * *"}, 2, "needs one of --tenant, --tag or --all"},
		{[]string{"schedules", "add", "--tag", "eu", "--all", "--name", "x", "--cron", "0 3 * * *"}, 2, "needs one of --tenant, --tag or --all"},
		{[]string{"schedules", "add", "--tenant", "contoso", "--workspace", "default", "--name", "x", "--cron", "0 3 * * *"}, 2, "--workspace goes with --tag or --all"},
		{[]string{"schedules", "add", "--tag", "EU", "--name", "x", "--cron", "0 3 * * *"}, 2, `tag "EU"`},
		{[]string{"schedules", "add", "--tag", "apac", "--name", "eu-nightly", "--cron", "0 3 * * *"}, 1, "already exists"},
	} {
		r := c.run("", tc.args...)
		require.Equal(t, tc.code, r.code, "%v: %s", tc.args, r.stderr)
		require.Contains(t, r.stderr, tc.msg)
	}
	require.Equal(t, 3, strings.Count(c.ok("schedules", "list"), "\n")-1, "the refused adds wrote nothing")
}

// TestPrintSchedulesShowsTheLastFireNote: what a fleet schedule's last firing could not do is
// printed under the table, with control characters escaped.
func TestPrintSchedulesShowsTheLastFireNote(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	printSchedules(tw, []engine.ScheduleView{
		{BackupSchedule: store.BackupSchedule{ID: 1, Name: "eu-nightly", TargetTag: "eu", Cron: "0 2 * * *", Timezone: "UTC",
			LastFireNote: "2026-01-02T02:00:00Z: tag:eu matches no tenant: nothing started\x1b[2J"}},
		{BackupSchedule: store.BackupSchedule{ID: 2, Name: "own", TenantID: 7, TenantName: "contoso", Cron: "0 3 * * *", Timezone: "UTC"}},
	})
	require.NoError(t, tw.Flush())
	out := buf.String()
	require.Regexp(t, `(?m)^1 +eu-nightly +tag:eu +0 2 \* \* \*`, out)
	require.Regexp(t, `(?m)^2 +own +contoso +0 3 \* \* \*`, out)
	require.Contains(t, out, "schedule eu-nightly, last firing: 2026-01-02T02:00:00Z: tag:eu matches no tenant: nothing started")
	require.NotContains(t, out, "\x1b")
	require.NotContains(t, out, "schedule own, last firing")
}
