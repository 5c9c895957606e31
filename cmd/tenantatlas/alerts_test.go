package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCLIAlerts drives alerts routes and rules through the command line: secrets come from stdin
// and never come back, bad input exits 2 with its reason and writes nothing, and a user without
// alert.manage is refused (exit 3).
func TestCLIAlerts(t *testing.T) { //nolint:tparallel // the subtests share a database whose state is checked after them
	t.Parallel()
	c := newCLI(t)
	r := c.run("https://hooks.slack.com/services/T0/B0/sl4ck-t0ken\n", "alerts", "routes", "add", "slack", "--kind", "slack", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "added slack route slack -> hooks.slack.com (URL sealed)\n", r.stdout)
	r = c.run("hmac-key", "alerts", "routes", "add", "hook", "--kind", "webhook", "--url", "https://hooks.example.com/atlas", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	c.ok("alerts", "rules", "add", "backup-failures", "--condition", "run_failed", "--type", "backup_schedule.run", "--outcome", "failed",
		"--route", "slack,hook", "--resolve-after", "10m")
	c.ok("alerts", "rules", "add", "stale", "--condition", "no_success", "--hours", "24", "--route", "hook")
	c.ok("alerts", "rules", "edit", "stale", "--hours", "12", "--disable")

	rules := c.ok("alerts", "rules", "list")
	require.Contains(t, rules, "backup-failures  run_failed  all tenants  backup_schedule.run failed")
	require.Regexp(t, `stale\s+no_success\s+all tenants\s+backup_schedule.run,backup_schedule.scheduled 12h\s+0s\s+hook\s+no`, rules)
	routes := c.ok("alerts", "routes", "list")
	require.Contains(t, routes, "hooks.slack.com (URL sealed)")
	require.Contains(t, routes, "https://hooks.example.com/atlas")
	for _, out := range []string{routes, c.ok("alerts", "routes", "list", "--json")} {
		require.NotContains(t, out, "sl4ck-t0ken")
		require.NotContains(t, out, "hmac-key")
	}
	require.Equal(t, "none (the list is empty)\n", c.ok("alerts", "incidents"))
	r = c.run("", "alerts", "routes", "test", "hook")
	require.Equal(t, 1, r.code, "no receiver: the test fails")
	require.Contains(t, r.stderr, "route hook: POST to hooks.example.com failed")
	require.Contains(t, c.ok("alerts", "routes", "list"), "POST to hooks.example.com failed", "and the route shows it")

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"NoCondition", "", []string{"alerts", "rules", "add", "x"}, 2, "alerts rules add needs --condition"},
		{"HoursOnWrongCondition", "", []string{"alerts", "rules", "add", "x", "--condition", "drift", "--hours", "3"}, 2, "--hours is for no_success rules"},
		{"UnknownRoute", "", []string{"alerts", "rules", "add", "x", "--condition", "drift", "--route", "pager"}, 4, `no alert route "pager"`},
		{"SlackURLInFlag", "", []string{"alerts", "routes", "add", "s2", "--kind", "slack", "--url", "https://hooks.slack.com/services/x"}, 2, "is a credential: give it in --secret-file"},
		{"HTTPWebhook", "k", []string{"alerts", "routes", "add", "h2", "--kind", "webhook", "--url", "http://example.com/", "--secret-file", "-"}, 2, "must use https"},
		{"DuplicateRule", "", []string{"alerts", "rules", "add", "stale", "--condition", "drift"}, 1, `alert rule "stale" in this workspace`},
		{"SilenceNeedsFor", "", []string{"alerts", "incidents", "silence", "1"}, 2, "needs --for"},
		{"UnknownIncident", "", []string{"alerts", "incidents", "ack", "999"}, 4, "incident 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(tc.stdin, tc.args...)
			require.Equal(t, tc.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
		})
	}
	after := c.ok("alerts", "rules", "list")
	require.Equal(t, 3, strings.Count(after, "\n"), "nothing was added by the refused commands:\n%s", after)

	c.ok("users", "add", "olga")
	c.ok("members", "add", "default", "olga", "operator")
	r = c.run("", "--as", "olga", "alerts", "rules", "remove", "stale")
	require.Equal(t, 3, r.code, r.stderr)
	require.Contains(t, r.stderr, "alert.manage")
	require.Contains(t, c.run("", "--as", "olga", "alerts", "rules", "list").stdout, "stale")
	r = c.run("s3cret", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	r = c.run("", "baselines", "set", "contoso")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "baselines set needs a backup set id or --latest")
	require.Equal(t, 3, c.run("", "--as", "olga", "baselines", "set", "contoso", "--latest").code, "schedule.manage")
	require.Equal(t, "baseline of contoso: its latest complete backup set at each check\n", c.ok("baselines", "set", "contoso", "--latest"))
	require.Regexp(t, `contoso\s+latest complete set\s+never\s+-\s+0`, c.ok("baselines", "list"))
	require.Contains(t, c.ok("drift", "check", "contoso"), "drift.check")
	c.ok("alerts", "rules", "remove", "stale")
	c.ok("alerts", "routes", "remove", "slack")
	require.NotContains(t, c.ok("alerts", "routes", "list"), "slack")
}

// TestCLIAlertRuleTagScope: `alerts rules add|edit --tag` scopes a rule to a tag, `rules list` shows
// it; a malformed tag and --tenant with --tag exit 2 with their reason and write or change nothing.
func TestCLIAlertRuleTagScope(t *testing.T) { //nolint:tparallel // the subtests share a database whose state is checked after them
	t.Parallel()
	c := newCLI(t)
	r := c.run("s3cret", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "added alert rule eu-fails (run_failed, tag eu) alerting -\n",
		c.ok("alerts", "rules", "add", "eu-fails", "--condition", "run_failed", "--tag", "eu"))
	c.ok("alerts", "rules", "add", "stale", "--condition", "no_success", "--hours", "24", "--tenant", "contoso")
	require.Regexp(t, `eu-fails\s+run_failed\s+tag eu\s`, c.ok("alerts", "rules", "list"))
	var rules []map[string]any
	c.jsonOut(&rules, "alerts", "rules", "list")
	require.Equal(t, "eu", rules[0]["tag"])

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"AddBadTag", []string{"alerts", "rules", "add", "x", "--condition", "drift", "--tag", "EU"}, `tag "EU": use lower case letters`},
		{"AddTenantAndTag", []string{"alerts", "rules", "add", "x", "--condition", "drift", "--tenant", "contoso", "--tag", "eu"},
			"give --tenant (one tenant) or --tag (the tenants carrying it), not both"},
		{"EditBadTag", []string{"alerts", "rules", "edit", "stale", "--tag", "tier 1"}, `tag "tier 1": use lower case letters`},
		{"EditTenantAndTag", []string{"alerts", "rules", "edit", "stale", "--tenant", "contoso", "--tag", "eu"}, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run("", tc.args...)
			require.Equal(t, 2, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
		})
	}
	list := c.ok("alerts", "rules", "list")
	require.Equal(t, 3, strings.Count(list, "\n"), "nothing was added by the refused commands:\n%s", list)
	require.Regexp(t, `stale\s+no_success\s+tenant contoso\s`, list, "nor changed")

	c.ok("alerts", "rules", "edit", "stale", "--tag", "tier-1")
	require.Regexp(t, `stale\s+no_success\s+tag tier-1\s`, c.ok("alerts", "rules", "list"), "the tag replaced the tenant")
	c.ok("alerts", "rules", "edit", "eu-fails", "--tag", "")
	require.Regexp(t, `eu-fails\s+run_failed\s+all tenants\s`, c.ok("alerts", "rules", "list"))
}
