package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) alertsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "Alert rules, routes (webhook, Slack, Teams, PagerDuty, e-mail) and incidents"}
	rules := &cobra.Command{Use: "rules", Short: "Conditions watched on a workspace's tenants"}
	rules.AddCommand(a.alertRulesAddCommand(), a.alertRulesListCommand(), a.alertRulesEditCommand(), a.alertRulesRemoveCommand())
	routes := &cobra.Command{Use: "routes", Short: "Where alert messages go"}
	routes.AddCommand(a.alertRoutesAddCommand(), a.alertRoutesListCommand(), a.alertRoutesEditCommand(), a.alertRoutesRemoveCommand(),
		a.alertRoutesTestCommand())
	cmd.AddCommand(rules, routes, a.alertIncidentsCommand())
	return cmd
}

// ruleFlags are the flags of rules add and edit.
type ruleFlags struct {
	workspace, condition, tenant, tag string
	types, outcomes, reasons          string
	routes                            string
	hours, minutes                    int
	resolveAfter                      time.Duration
	disabled, enabled                 bool
}

func (r *ruleFlags) register(f *pflag.FlagSet, adding bool) {
	f.StringVar(&r.workspace, "workspace", "", "workspace name (default: your only workspace)")
	if adding {
		f.StringVar(&r.condition, "condition", "", "run_failed, connection_blocked, no_success, drift or run_stuck")
		f.BoolVar(&r.disabled, "disabled", false, "add the rule disabled")
	} else {
		f.BoolVar(&r.enabled, "enable", false, "enable the rule")
		f.BoolVar(&r.disabled, "disable", false, "disable the rule (its open incidents resolve)")
	}
	f.StringVar(&r.tenant, "tenant", "", "only this tenant (name or id; default: every tenant of the workspace)")
	f.StringVar(&r.tag, "tag", "", "only the tenants carrying this tag when a condition is evaluated (not with --tenant)")
	f.StringVar(&r.types, "type", "", "run_failed, no_success: comma-separated run types (run_failed default: every type; no_success: backups)")
	f.StringVar(&r.outcomes, "outcome", "", "run_failed: failed, blocked or both (default both)")
	f.StringVar(&r.reasons, "reason", "", "run_failed: only these reason codes (comma-separated; default every code)")
	f.IntVar(&r.hours, "hours", 0, "no_success: hours without a successful run")
	f.IntVar(&r.minutes, "minutes", 0, "run_stuck: minutes queued or without a heartbeat (default 30)")
	f.DurationVar(&r.resolveAfter, "resolve-after", 0, "how long the condition must stay clear before the incident resolves, e.g. 10m (a flap within it keeps one incident)")
	f.StringVar(&r.routes, "route", "", "comma-separated routes to alert")
}

// scope refuses --tenant with --tag, and a malformed tag, before the database is opened.
func (r *ruleFlags) scope(f *pflag.FlagSet) error {
	if f.Changed("tenant") && f.Changed("tag") {
		return usageErrorf("give --tenant (one tenant) or --tag (the tenants carrying it), not both")
	}
	if r.tag != "" {
		return engine.CheckTag(r.tag)
	}
	return nil
}

func (r *ruleFlags) threshold() (int, error) {
	switch {
	case r.hours < 0 || r.minutes < 0:
		return 0, usageErrorf("--hours and --minutes must not be negative")
	case r.hours > 0 && r.minutes > 0:
		return 0, usageErrorf("give --hours (no_success) or --minutes (run_stuck), not both")
	}
	return r.hours + r.minutes, nil
}

func (a *app) alertRulesAddCommand() *cobra.Command {
	var rf ruleFlags
	c := &cobra.Command{
		Use: "add NAME --condition C [flags]", Short: "Add an alert rule", Args: cobra.ExactArgs(1),
		Example: `  tenantatlas alerts rules add backup-failures --condition run_failed --type backup_schedule.run,backup_schedule.scheduled --route oncall
  tenantatlas alerts rules add stale-backups --condition no_success --hours 24 --route oncall
  tenantatlas alerts rules add contoso-drift --condition drift --tenant contoso --route slack --resolve-after 30m
  tenantatlas alerts rules add eu-failures --condition run_failed --tag eu --route oncall`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rf.condition == "" {
				return usageErrorf("alerts rules add needs --condition (one of %s)", strings.Join(engine.AlertConditions, ", "))
			}
			if rf.hours > 0 && rf.condition != engine.ConditionNoSuccess || rf.minutes > 0 && rf.condition != engine.ConditionRunStuck {
				return usageErrorf("--hours is for no_success rules, --minutes for run_stuck rules")
			}
			if err := rf.scope(cmd.Flags()); err != nil {
				return err
			}
			threshold, err := rf.threshold()
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			rule, err := a.svc.AddAlertRule(cmd.Context(), a.actor, engine.AlertRuleRequest{Workspace: rf.workspace, Name: args[0],
				Condition: rf.condition, Tenant: rf.tenant, Tag: rf.tag, RunTypes: splitList(rf.types), Outcomes: splitList(rf.outcomes),
				ReasonCodes: splitList(rf.reasons), Threshold: threshold, ResolveAfter: rf.resolveAfter, Routes: splitList(rf.routes), Disabled: rf.disabled})
			if err != nil {
				return err
			}
			return a.output(rule, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "added alert rule %s (%s, %s) alerting %s\n", rule.Name, rule.Condition, ruleScope(rule), dash(strings.Join(rule.RouteNames, ", ")))
			})
		},
	}
	rf.register(c.Flags(), true)
	return c
}

func (a *app) alertRulesEditCommand() *cobra.Command {
	var rf ruleFlags
	c := &cobra.Command{
		Use: "edit NAME [flags]", Short: "Change an alert rule: only the flags given change", Args: cobra.ExactArgs(1),
		Example: "  tenantatlas alerts rules edit stale-backups --hours 12\n  tenantatlas alerts rules edit contoso-drift --disable\n" +
			"  tenantatlas alerts rules edit stale-backups --tag tier-1    (--tag '' or --tenant '': every tenant again)",
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if err := rf.scope(f); err != nil {
				return err
			}
			e := engine.AlertRuleEdit{Workspace: rf.workspace, Name: args[0]}
			list := func(flag, val string) *[]string {
				if !f.Changed(flag) {
					return nil
				}
				l := splitList(val)
				return &l
			}
			e.RunTypes, e.Outcomes, e.ReasonCodes, e.Routes = list("type", rf.types), list("outcome", rf.outcomes), list("reason", rf.reasons), list("route", rf.routes)
			if f.Changed("tenant") {
				e.Tenant = &rf.tenant
			}
			if f.Changed("tag") {
				e.Tag = &rf.tag
			}
			if f.Changed("hours") || f.Changed("minutes") {
				t, err := rf.threshold()
				if err != nil {
					return err
				}
				e.Threshold = &t
			}
			if f.Changed("resolve-after") {
				e.ResolveAfter = &rf.resolveAfter
			}
			switch {
			case rf.enabled && rf.disabled:
				return usageErrorf("give --enable or --disable, not both")
			case rf.enabled || rf.disabled:
				on := rf.enabled
				e.Enabled = &on
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			rule, err := a.svc.EditAlertRule(cmd.Context(), a.actor, e)
			if err != nil {
				return err
			}
			return a.output(rule, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "changed alert rule %s\n", rule.Name) })
		},
	}
	rf.register(c.Flags(), false)
	return c
}

func (a *app) alertRulesRemoveCommand() *cobra.Command {
	return a.alertRemoveCommand("rule", "Remove an alert rule with its incidents", (*engine.Service).RemoveAlertRule)
}

// alertRemoveCommand is `alerts rules remove` and `alerts routes remove`: what names the kind,
// remove is the service method (a method expression: the service exists only once a.open ran).
func (a *app) alertRemoveCommand(what, short string, remove func(*engine.Service, context.Context, engine.Actor, string, string) error) *cobra.Command {
	var workspace string
	c := &cobra.Command{
		Use: "remove NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := remove(a.svc, cmd.Context(), a.actor, workspace, args[0]); err != nil {
				return err
			}
			return a.output(map[string]any{"removed": args[0]}, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "removed alert %s %s\n", what, args[0]) })
		},
	}
	c.Flags().StringVar(&workspace, "workspace", "", "workspace name (default: your only workspace)")
	return c
}

func ruleScope(r store.AlertRule) string {
	switch {
	case r.TenantName != "":
		return "tenant " + r.TenantName
	case r.Tag != "":
		return "tag " + r.Tag
	}
	return "all tenants"
}

func ruleFilter(r store.AlertRule) string {
	var parts []string
	if len(r.RunTypes) > 0 {
		parts = append(parts, strings.Join(r.RunTypes, ","))
	}
	if r.Condition == engine.ConditionRunFailed {
		parts = append(parts, strings.Join(r.Outcomes, "/"))
	}
	if len(r.ReasonCodes) > 0 {
		parts = append(parts, strings.Join(r.ReasonCodes, ","))
	}
	switch r.Condition {
	case engine.ConditionNoSuccess:
		parts = append(parts, fmt.Sprintf("%dh", r.Threshold))
	case engine.ConditionRunStuck:
		parts = append(parts, fmt.Sprintf("%dm", r.Threshold))
	}
	return dash(strings.Join(parts, " "))
}

func (a *app) alertRulesListCommand() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List alert rules",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			rules, err := a.svc.ListAlertRules(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			return a.output(rules, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "CONDITION", "SCOPE", "FILTER", "RESOLVE AFTER", "ROUTES", "ENABLED")
				for _, r := range rules {
					row(tw, r.Name, r.Condition, ruleScope(r), ruleFilter(r), r.ResolveAfter, dash(strings.Join(r.RouteNames, ", ")), yesNo(r.Enabled))
				}
			})
		},
	}
}

// routeFlags are the flags of routes add and edit.
type routeFlags struct {
	workspace, kind, url, secretFile string
	smtpAddr, from, to, username     string
}

func (r *routeFlags) register(f *pflag.FlagSet, adding bool) {
	f.StringVar(&r.workspace, "workspace", "", "workspace name (default: your only workspace)")
	if adding {
		f.StringVar(&r.kind, "kind", "", "webhook, slack, teams, pagerduty or email")
	}
	f.StringVar(&r.url, "url", "", "webhook: the https URL to POST to; pagerduty: the events endpoint (default "+engine.PagerDutyEventsURL+")")
	f.StringVar(&r.secretFile, "secret-file", "", "file (or - for stdin) holding the secret: the webhook's signing key, the Slack or Teams webhook URL, PagerDuty's routing key, the SMTP password")
	f.StringVar(&r.smtpAddr, "smtp-addr", "", "email: SMTP server host:port (STARTTLS is required), e.g. smtp.example.com:587")
	f.StringVar(&r.from, "from", "", "email: sender address")
	f.StringVar(&r.to, "to", "", "email: comma-separated recipients")
	f.StringVar(&r.username, "username", "", "email: SMTP user name (with the password in --secret-file)")
}

func (a *app) routeRequest(r routeFlags, name, kind string) (engine.AlertRouteRequest, error) {
	req := engine.AlertRouteRequest{Workspace: r.workspace, Name: name, Kind: kind, URL: r.url, SMTPAddr: r.smtpAddr, From: r.from,
		To: splitList(r.to), Username: r.username}
	if (kind == engine.RouteSlack || kind == engine.RouteTeams) && r.url != "" {
		return req, usageErrorf("a %s webhook URL is a credential: give it in --secret-file, not --url", kind)
	}
	if r.secretFile != "" {
		b, err := readArgFile(a.stdin, r.secretFile)
		if err != nil {
			return req, err
		}
		secret := strings.TrimSpace(string(b))
		if kind == engine.RouteSlack || kind == engine.RouteTeams {
			req.URL = secret
		} else {
			req.Secret = secret
		}
	}
	return req, nil
}

func (a *app) alertRoutesAddCommand() *cobra.Command {
	var rf routeFlags
	c := &cobra.Command{
		Use: "add NAME --kind K [flags]", Short: "Add an alert route; its secret is read from a file or stdin and sealed", Args: cobra.ExactArgs(1),
		Example: `  tenantatlas alerts routes add ops-hook --kind webhook --url https://hooks.example.com/atlas --secret-file ~/hook.key
  pass show slack/oncall | tenantatlas alerts routes add slack --kind slack --secret-file -
  tenantatlas alerts routes add pager --kind pagerduty --secret-file ~/pd.routing-key
  tenantatlas alerts routes add mail --kind email --smtp-addr smtp.example.com:587 --from atlas@example.com --to oncall@example.com --username atlas --secret-file ~/smtp.pw`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rf.kind == "" {
				return usageErrorf("alerts routes add needs --kind (one of %s)", strings.Join(engine.RouteKinds, ", "))
			}
			req, err := a.routeRequest(rf, args[0], rf.kind)
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.requireSealer(); err != nil {
				return err
			}
			v, err := a.svc.AddAlertRoute(cmd.Context(), a.actor, req)
			if err != nil {
				return err
			}
			return a.output(v, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "added %s route %s -> %s\n", v.Kind, v.Name, v.Target) })
		},
	}
	rf.register(c.Flags(), true)
	return c
}

func (a *app) alertRoutesEditCommand() *cobra.Command {
	var rf routeFlags
	c := &cobra.Command{
		Use: "edit NAME [flags]", Short: "Change an alert route's settings or secret: only the flags given change", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.requireSealer(); err != nil {
				return err
			}
			kind := ""
			routes, err := a.svc.ListAlertRoutes(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			for _, r := range routes {
				if r.Name == args[0] {
					kind = r.Kind
				}
			}
			req, err := a.routeRequest(rf, args[0], kind)
			if err != nil {
				return err
			}
			v, err := a.svc.EditAlertRoute(cmd.Context(), a.actor, req)
			if err != nil {
				return err
			}
			return a.output(v, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "changed %s route %s -> %s\n", v.Kind, v.Name, v.Target) })
		},
	}
	rf.register(c.Flags(), false)
	return c
}

func (a *app) alertRoutesRemoveCommand() *cobra.Command {
	return a.alertRemoveCommand("route", "Remove an alert route (rules stop alerting it)", (*engine.Service).RemoveAlertRoute)
}

func (a *app) alertRoutesListCommand() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List alert routes with their last error (secrets are never shown)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			routes, err := a.svc.ListAlertRoutes(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			return a.output(routes, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "KIND", "TARGET", "LAST DELIVERED", "LAST ERROR")
				for _, r := range routes {
					last := "-"
					if r.LastDeliveredAt != nil {
						last = r.LastDeliveredAt.Local().Format("2006-01-02 15:04")
					}
					errText := "-"
					if r.LastError != nil {
						errText = r.LastErrorAt.Local().Format("15:04:05") + " " + *r.LastError
					}
					row(tw, r.Name, r.Kind, r.Target, last, errText)
				}
			})
		},
	}
}

func parseIncidentID(s string) (int64, error) {
	return parseID(s, "incident id", "(see `tenantatlas alerts incidents`)")
}

func (a *app) alertIncidentsCommand() *cobra.Command {
	var open bool
	var limit int
	cmd := &cobra.Command{
		Use: "incidents", Short: "List incidents, open ones first; show, ack or silence one",
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usageErrorf("--limit %d: expected 1 to 1000", limit)
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			incs, err := a.svc.Incidents(cmd.Context(), a.actor, engine.IncidentFilter{OpenOnly: open, Limit: limit})
			if err != nil {
				return err
			}
			return a.output(incs, func(tw *tabwriter.Writer) {
				row(tw, "ID", "STATE", "RULE", "TENANT", "SUMMARY", "OPENED", "UPDATES", "ACK", "SILENCED UNTIL")
				for _, i := range incs {
					row(tw, i.ID, i.Phase(), i.RuleName, dash(i.TenantName), i.Summary, i.OpenedAt.Local().Format("2006-01-02 15:04"),
						i.Updates, dash(deref(i.AcknowledgedBy)), silencedUntil(i))
				}
			})
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "only open incidents")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many incidents (1-1000)")

	show := &cobra.Command{
		Use: "show ID", Short: "Show an incident with its deliveries and every attempt's error", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncidentID(args[0])
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			d, err := a.svc.Incident(cmd.Context(), a.actor, id)
			if err != nil {
				return err
			}
			return a.output(d, func(tw *tabwriter.Writer) {
				i := d.Incident
				row(tw, "incident:", fmt.Sprintf("%d  %s", i.ID, i.Phase()))
				row(tw, "rule:", fmt.Sprintf("%s (%s)", i.RuleName, i.RuleCondition))
				row(tw, "tenant:", dash(i.TenantName))
				row(tw, "summary:", i.Summary)
				if i.Detail != "" {
					row(tw, "detail:", i.Detail)
				}
				if i.RunID != nil {
					row(tw, "run:", fmt.Sprintf("%d  (tenantatlas runs show %d)", *i.RunID, *i.RunID))
				}
				row(tw, "opened:", i.OpenedAt.Local().Format(time.RFC3339))
				if i.ResolvedAt != nil {
					row(tw, "resolved:", i.ResolvedAt.Local().Format(time.RFC3339))
				}
				row(tw, "updates:", i.Updates)
				row(tw, "")
				row(tw, "DELIVERY", "ROUTE", "EVENT", "STATUS", "ATTEMPTS", "LAST ERROR")
				for _, dl := range d.Deliveries {
					row(tw, dl.ID, dl.RouteName+" ("+dl.RouteKind+")", dl.Event, dl.Status, dl.Attempts, dash(deref(dl.LastError)))
				}
				if len(d.Attempts) > 0 {
					row(tw, "")
					row(tw, "DELIVERY", "ATTEMPT", "AT", "RESULT")
					for _, at := range d.Attempts {
						result := "ok"
						if !at.OK {
							result = at.Error
						}
						row(tw, at.DeliveryID, at.Attempt, at.At.Local().Format("15:04:05.000"), result)
					}
				}
			})
		},
	}
	ack := &cobra.Command{
		Use: "ack ID", Short: "Acknowledge an incident: its routes are told, and get no updates until it resolves", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncidentID(args[0])
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			i, err := a.svc.AcknowledgeIncident(cmd.Context(), a.actor, id)
			if err != nil {
				return err
			}
			return a.output(i, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "incident %d acknowledged by %s\n", i.ID, deref(i.AcknowledgedBy))
			})
		},
	}
	var period time.Duration
	silence := &cobra.Command{
		Use: "silence ID --for DURATION", Short: "Hold back an incident's messages for a while (--for 0 lifts the silence)", Args: cobra.ExactArgs(1),
		Example: "  tenantatlas alerts incidents silence 42 --for 2h",
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncidentID(args[0])
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("for") {
				return usageErrorf("alerts incidents silence needs --for, e.g. --for 2h (0 lifts the silence)")
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			i, err := a.svc.SilenceIncident(cmd.Context(), a.actor, id, period)
			if err != nil {
				return err
			}
			return a.output(i, func(tw *tabwriter.Writer) {
				if i.SilencedUntil == nil {
					fmt.Fprintf(tw, "incident %d is no longer silenced\n", i.ID)
					return
				}
				fmt.Fprintf(tw, "incident %d silenced until %s\n", i.ID, i.SilencedUntil.Local().Format("2006-01-02 15:04"))
			})
		},
	}
	silence.Flags().DurationVar(&period, "for", 0, "how long, e.g. 30m or 4h")
	cmd.AddCommand(show, ack, silence)
	return cmd
}

func silencedUntil(i store.AlertIncident) string {
	if i.SilencedUntil == nil || !i.Silenced(time.Now()) {
		return "-"
	}
	return i.SilencedUntil.Local().Format("2006-01-02 15:04")
}

func (a *app) baselinesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "baselines", Short: "Baselines: the backup set drift checks compare a tenant with"}
	var latest bool
	set := &cobra.Command{
		Use: "set TENANT [SET | --latest]", Short: "Choose a tenant's baseline: a complete backup set, or its latest complete set at each check",
		Args:    cobra.RangeArgs(1, 2),
		Example: "  tenantatlas baselines set contoso 42\n  tenantatlas baselines set contoso --latest",
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			switch {
			case len(args) == 2 && latest:
				return usageErrorf("give either a backup set or --latest, not both")
			case len(args) == 2:
				var err error
				if id, err = parseSetID(args[1]); err != nil {
					return err
				}
			case !latest:
				return usageErrorf("baselines set needs a backup set id or --latest")
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			b, err := a.svc.SetBaseline(cmd.Context(), a.actor, args[0], id)
			if err != nil {
				return err
			}
			return a.output(b, func(tw *tabwriter.Writer) {
				if b.BackupSetID == nil {
					fmt.Fprintf(tw, "baseline of %s: its latest complete backup set at each check\n", args[0])
					return
				}
				fmt.Fprintf(tw, "baseline of %s: backup set %d\n", args[0], *b.BackupSetID)
			})
		},
	}
	set.Flags().BoolVar(&latest, "latest", false, "compare with the latest complete backup set at each check")
	list := &cobra.Command{
		Use: "list", Short: "List tenants with their baseline and what the latest drift check found",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			ds, err := a.svc.TenantDrift(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			return a.output(ds, func(tw *tabwriter.Writer) {
				row(tw, "TENANT", "BASELINE", "LAST CHECK", "RUN", "DRIFTED")
				for _, d := range ds {
					baseline := "latest complete set"
					if d.BaselineSet != nil {
						baseline = fmt.Sprintf("set %d", *d.BaselineSet)
					}
					checked, run := "never", "-"
					if d.CheckedAt != nil {
						checked, run = d.CheckedAt.Local().Format("2006-01-02 15:04"), fmt.Sprint(*d.CheckRunID)
					}
					row(tw, d.TenantName, baseline, checked, run, d.Drifted)
				}
			})
		},
	}
	cmd.AddCommand(set, list)
	return cmd
}

func (a *app) driftCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "drift", Short: "Drift watch: compare tenants with their baseline"}
	var wait bool
	check := &cobra.Command{
		Use: "check TENANT", Short: "Start a drift.check of a tenant (one at a time per tenant; --wait waits for it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.startAndReport(cmd.Context(), engine.StartRequest{Type: engine.TypeDriftCheck, TenantRef: args[0]}, "", wait)
		},
	}
	check.Flags().BoolVar(&wait, "wait", false, "wait for the run to finish; exit non-zero unless it succeeded")
	cmd.AddCommand(check)
	return cmd
}

func (a *app) alertRoutesTestCommand() *cobra.Command {
	var workspace string
	c := &cobra.Command{
		Use: "test NAME", Short: "Send a test message through a route now; its result is recorded on the route", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.requireSealer(); err != nil {
				return err
			}
			if err := a.svc.TestAlertRoute(cmd.Context(), a.actor, workspace, args[0]); err != nil {
				return err
			}
			return a.output(map[string]any{"tested": args[0], "ok": true}, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "route %s accepted the test message\n", args[0])
			})
		},
	}
	c.Flags().StringVar(&workspace, "workspace", "", "workspace name (default: your only workspace)")
	return c
}
