package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) backupsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "backups", Short: "Intune backups: run, list, show and compare (drift)"}
	cmd.AddCommand(a.backupsRunCommand(), a.backupsListCommand(), a.backupsShowCommand(), a.backupsDiffCommand())
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (a *app) backupsRunCommand() *cobra.Command {
	var families string
	var wait bool
	var fleet fleetFlags
	c := &cobra.Command{
		Use: "run (TENANT | --tag TAG | --all) [--families F,...]", Short: "Back up a tenant now (a new run per call; --wait waits for it)", Args: cobra.MaximumNArgs(1),
		Example: "  tenantatlas backups run contoso\n  tenantatlas backups run contoso --families deviceConfigurations,configurationPolicies --wait\n  tenantatlas backups run --tag eu",
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := splitList(families)
			if _, err := engine.ParseFamilies(fs); err != nil {
				return err
			}
			params := map[string]any{}
			if len(fs) > 0 {
				params["families"] = fs
			}
			return a.startTargets(cmd.Context(), fleet, args, engine.StartRequest{Type: engine.TypeBackupRun, Params: params}, wait)
		},
	}
	c.Flags().StringVar(&families, "families", "", "comma-separated Intune families (default: all)")
	c.Flags().BoolVar(&wait, "wait", false, "wait for the run to finish; exit non-zero unless it succeeded")
	fleet.register(c)
	return c
}

func (a *app) backupsListCommand() *cobra.Command {
	var tenant, schedule string
	var limit int
	var before int64
	c := &cobra.Command{
		Use: "list", Short: "List backup sets, newest first",
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usageErrorf("--limit %d: expected 1 to 1000", limit)
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			q := engine.BackupQuery{Limit: limit, BeforeID: before}
			var err error
			if q.TenantID, err = a.tenantID(cmd.Context(), tenant); err != nil {
				return err
			}
			if schedule != "" {
				s, err := a.svc.GetSchedule(cmd.Context(), a.actor, schedule)
				if err != nil {
					return err
				}
				q.ScheduleID = s.ID
			}
			sets, err := a.svc.ListBackupSets(cmd.Context(), a.actor, q)
			if err != nil {
				return err
			}
			return a.output(sets, func(tw *tabwriter.Writer) {
				row(tw, "ID", "TENANT", "SCHEDULE", "STATUS", "ITEMS", "NEW", "SENSITIVE", "CREATED")
				for _, s := range sets {
					row(tw, s.ID, s.TenantName, dash(s.ScheduleName), s.Status, s.ItemCount, s.NewSize(), yesNo(s.Sensitive),
						s.CreatedAt.Local().Format("2006-01-02 15:04"))
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&tenant, "tenant", "", "only this tenant (name or id)")
	f.StringVar(&schedule, "schedule", "", "only this schedule (id or name)")
	f.IntVar(&limit, "limit", 50, "at most this many sets (1-1000)")
	f.Int64Var(&before, "before", 0, "only sets with an id below this (the next page)")
	return c
}

func parseSetID(s string) (int64, error) {
	return parseID(s, "backup set id", "(see `tenantatlas backups list`)")
}

func (a *app) backupsShowCommand() *cobra.Command {
	return &cobra.Command{
		Use: "show SET", Short: "Show a backup set and its items (sensitive values are never shown)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseSetID(args[0])
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			v, err := a.svc.GetBackupSet(cmd.Context(), a.actor, id)
			if err != nil {
				return err
			}
			return a.output(v, func(tw *tabwriter.Writer) {
				row(tw, "set:", fmt.Sprintf("%d  %s", v.ID, v.Status))
				row(tw, "tenant:", v.TenantName)
				row(tw, "schedule:", dash(v.ScheduleName))
				if v.RunID != nil {
					row(tw, "run:", *v.RunID)
				}
				row(tw, "families:", strings.Join(v.Families, ", "))
				row(tw, "items:", fmt.Sprintf("%d  (new payloads %d, %s)", v.ItemCount, v.NewPayloads, v.NewSize()))
				if v.Sensitive {
					row(tw, "sensitive:", "yes — holds decrypted secrets; values are redacted in every view")
				}
				row(tw, "created:", v.CreatedAt.Local().Format(time.RFC3339))
				row(tw, "")
				row(tw, "FAMILY", "TYPE", "NAME", "GRAPH ID", "HASH")
				for _, it := range v.Items {
					name := it.DisplayName
					if it.Sensitive {
						name += " [sensitive]"
					}
					if it.IsDefault {
						name += " [default]"
					}
					hash := "(sealed)" // a sensitive item's hash is not shown: it would verify guessed secrets
					if !it.Sensitive && len(it.PayloadHash) >= 12 {
						hash = it.PayloadHash[:12]
					}
					row(tw, it.Family, it.PolicyType, name, it.GraphID, hash)
				}
			})
		},
	}
}

func (a *app) backupsDiffCommand() *cobra.Command {
	var inventory bool
	c := &cobra.Command{
		Use:     "diff FROM [TO | --inventory]",
		Short:   "Compare two backup sets, or a set with the latest inventory: added, removed, changed fields",
		Args:    cobra.RangeArgs(1, 2),
		Example: "  tenantatlas backups diff 12 15\n  tenantatlas backups diff 15 --inventory --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseSetID(args[0])
			if err != nil {
				return err
			}
			var to int64
			switch {
			case len(args) == 2 && inventory:
				return usageErrorf("give either a second set or --inventory, not both")
			case len(args) == 2:
				if to, err = parseSetID(args[1]); err != nil {
					return err
				}
			case !inventory:
				return usageErrorf("backups diff needs a second set or --inventory")
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			d, err := a.svc.DiffBackups(cmd.Context(), a.actor, from, to)
			if err != nil {
				return err
			}
			return a.output(d, func(tw *tabwriter.Writer) { printDrift(tw, d) })
		},
	}
	c.Flags().BoolVar(&inventory, "inventory", false, "compare with the tenant's latest inventory (objects only)")
	return c
}

func driftSideLabel(s engine.DriftSide) string {
	if s.Kind == "inventory" {
		return fmt.Sprintf("inventory of %s", s.Tenant)
	}
	return fmt.Sprintf("set %d (%s, %s)", s.SetID, s.Tenant, s.At.Local().Format("2006-01-02 15:04"))
}

func printDrift(tw *tabwriter.Writer, d engine.Drift) {
	row(tw, "from:", driftSideLabel(d.From))
	row(tw, "to:", driftSideLabel(d.To))
	row(tw, "summary:", fmt.Sprintf("%d changed, %d added, %d removed, %d unchanged", d.Changed, d.Added, d.Removed, d.Unchanged))
	if len(d.Items) == 0 {
		row(tw, "", "no drift")
		return
	}
	for _, it := range d.Items {
		mark := map[string]string{engine.DriftAdded: "+", engine.DriftRemoved: "-", engine.DriftChanged: "~"}[it.Status]
		name := it.DisplayName
		if it.Sensitive {
			name += " [sensitive]"
		}
		row(tw, "")
		row(tw, mark+" "+it.Status, it.Family+"/"+it.PolicyType, name, it.GraphID)
		for _, c := range it.Changes {
			row(tw, "", "  "+c.Path, dash(c.From)+" → "+dash(c.To))
		}
		if it.Truncated {
			row(tw, "", "  …", "more changes not shown")
		}
	}
}

func (a *app) schedulesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "schedules", Short: "Backup schedules: cron + time zone, families, retention"}
	cmd.AddCommand(a.schedulesAddCommand(), a.schedulesListCommand(), a.schedulesEditCommand(),
		a.scheduleToggleCommand("pause", "Stop a schedule from firing", false),
		a.scheduleToggleCommand("resume", "Let a paused schedule fire again (missed fire times are not caught up)", true))
	return cmd
}

func (a *app) printSchedule(v engine.ScheduleView) error {
	return a.output(v, func(tw *tabwriter.Writer) { printSchedules(tw, []engine.ScheduleView{v}) })
}

func retention(s store.BackupSchedule) string {
	var parts []string
	if s.KeepCount != nil {
		parts = append(parts, fmt.Sprintf("%d sets", *s.KeepCount))
	}
	if s.KeepDays != nil {
		parts = append(parts, fmt.Sprintf("%d days", *s.KeepDays))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}

func printSchedules(tw *tabwriter.Writer, list []engine.ScheduleView) {
	row(tw, "ID", "NAME", "TARGET", "CRON", "TIMEZONE", "FAMILIES", "KEEP", "STATE", "NEXT FIRE")
	for _, s := range list {
		fams := "all"
		if len(s.Families) > 0 {
			fams = strings.Join(s.Families, ",")
		}
		state, next := "active", "-"
		if s.Paused {
			state = "paused"
		}
		if len(s.NextFireTimes) > 0 {
			next = s.NextFireTimes[0].In(loadLocation(s.Timezone)).Format("2006-01-02 15:04:05 MST")
		}
		row(tw, s.ID, s.Name, s.Target(), s.Cron, s.Timezone, fams, retention(s.BackupSchedule), state, next)
	}
	// What a fleet schedule's last firing could not do, after the table (a line without columns).
	for _, s := range list {
		if s.LastFireNote != "" {
			row(tw, fmt.Sprintf("schedule %s, last firing: %s", s.Name, s.LastFireNote))
		}
	}
}

func loadLocation(tz string) *time.Location {
	if l, err := time.LoadLocation(tz); err == nil {
		return l
	}
	return time.UTC
}

func (a *app) schedulesAddCommand() *cobra.Command {
	var tenant, tag, workspace, name, cron, tz, families, operation string
	var all bool
	var keep, keepDays int
	c := &cobra.Command{
		Use:   "add (--tenant T | --tag TAG | --all) --name N --cron EXPR [--workspace W] [--timezone Z] [--families F,...] [--keep N] [--keep-days D]",
		Short: "Add a backup schedule of a tenant, a tag or every tenant (cron with an optional leading seconds field, read in an IANA time zone)",
		Example: "  tenantatlas schedules add --tenant contoso --name nightly --cron '0 3 * * *' --timezone Europe/Berlin --keep 14\n" +
			"  tenantatlas schedules add --tenant contoso --name configs --cron '30 0 */6 * * *' --families deviceConfigurations,configurationPolicies\n" +
			"  tenantatlas schedules add --tag eu --name eu-nightly --cron '0 2 * * *' --keep 14   # one run per tenant tagged eu\n" +
			"  tenantatlas schedules add --all --name fleet-weekly --cron '0 4 * * 0'\n" +
			"  tenantatlas schedules add --tenant contoso --name drift-watch --cron '0 * * * *' --operation drift_check",
		RunE: func(cmd *cobra.Command, args []string) error {
			targets := 0
			for _, set := range []bool{tenant != "", tag != "", all} {
				if set {
					targets++
				}
			}
			if targets != 1 || name == "" || cron == "" {
				return usageErrorf("schedules add needs one of --tenant, --tag or --all, and --name and --cron")
			}
			if workspace != "" && tenant != "" {
				return usageErrorf("schedules add: --workspace goes with --tag or --all (a tenant names its workspace)")
			}
			req := engine.ScheduleRequest{TenantRef: tenant, Tag: tag, All: all, Workspace: workspace, Name: name, Cron: cron,
				Timezone: tz, Families: splitList(families), Operation: operation}
			if cmd.Flags().Changed("keep") {
				req.KeepCount = &keep
			}
			if cmd.Flags().Changed("keep-days") {
				req.KeepDays = &keepDays
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			v, err := a.svc.CreateSchedule(cmd.Context(), a.actor, req)
			if err != nil {
				return err
			}
			return a.printSchedule(v)
		},
	}
	f := c.Flags()
	f.StringVar(&tenant, "tenant", "", "back up this tenant (name or id)")
	f.StringVar(&tag, "tag", "", "back up every tenant carrying this tag at each firing (one run per tenant)")
	f.BoolVar(&all, "all", false, "back up every tenant of the workspace at each firing (one run per tenant)")
	f.StringVar(&workspace, "workspace", "", "workspace of a --tag or --all schedule (default: your only or default workspace)")
	f.StringVar(&name, "name", "", "schedule name (unique per tenant; per workspace for --tag and --all)")
	f.StringVar(&cron, "cron", "", `cron expression: "m h dom mon dow", or with a leading seconds field`)
	f.StringVar(&tz, "timezone", "UTC", "IANA time zone the cron is read in")
	f.StringVar(&families, "families", "", "comma-separated Intune families (default: all)")
	f.IntVar(&keep, "keep", 0, "keep the newest N complete sets")
	f.IntVar(&keepDays, "keep-days", 0, "delete sets older than D days (the newest set is always kept)")
	f.StringVar(&operation, "operation", "backup", "what the schedule fires: backup, or drift_check (compare with the tenant's baseline)")
	return c
}

func (a *app) schedulesListCommand() *cobra.Command {
	var tenant string
	c := &cobra.Command{
		Use: "list", Short: "List backup schedules with their next fire time",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			tenantID, err := a.tenantID(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			list, err := a.svc.ListSchedules(cmd.Context(), a.actor, tenantID)
			if err != nil {
				return err
			}
			return a.output(list, func(tw *tabwriter.Writer) { printSchedules(tw, list) })
		},
	}
	c.Flags().StringVar(&tenant, "tenant", "", "only the schedules that back up this tenant (name or id), its tag and all-tenant schedules included")
	return c
}

func (a *app) schedulesEditCommand() *cobra.Command {
	var name, cron, tz, families string
	var keep, keepDays int
	c := &cobra.Command{
		Use:   "edit SCHEDULE [--name N] [--cron EXPR] [--timezone Z] [--families F,...] [--keep N] [--keep-days D]",
		Short: "Change a schedule (SCHEDULE is its id or name; --keep 0 / --keep-days 0 remove a limit)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var u engine.ScheduleUpdate
			if fl.Changed("name") {
				u.Name = &name
			}
			if fl.Changed("cron") {
				u.Cron = &cron
			}
			if fl.Changed("timezone") {
				u.Timezone = &tz
			}
			if fl.Changed("families") {
				fs := splitList(families)
				u.Families = &fs
			}
			if fl.Changed("keep") {
				if keep == 0 {
					u.ClearKeepCount = true
				} else {
					u.KeepCount = &keep
				}
			}
			if fl.Changed("keep-days") {
				if keepDays == 0 {
					u.ClearKeepDays = true
				} else {
					u.KeepDays = &keepDays
				}
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			v, err := a.svc.UpdateSchedule(cmd.Context(), a.actor, args[0], u)
			if err != nil {
				return err
			}
			return a.printSchedule(v)
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&cron, "cron", "", "new cron expression")
	f.StringVar(&tz, "timezone", "", "new IANA time zone")
	f.StringVar(&families, "families", "", "comma-separated Intune families (empty: all)")
	f.IntVar(&keep, "keep", 0, "keep the newest N complete sets (0: no limit)")
	f.IntVar(&keepDays, "keep-days", 0, "delete sets older than D days (0: no limit)")
	return c
}

func (a *app) scheduleToggleCommand(verb, short string, resume bool) *cobra.Command {
	return &cobra.Command{
		Use: verb + " SCHEDULE", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			var v engine.ScheduleView
			var err error
			if resume {
				v, err = a.svc.ResumeSchedule(cmd.Context(), a.actor, args[0])
			} else {
				v, err = a.svc.PauseSchedule(cmd.Context(), a.actor, args[0])
			}
			if err != nil {
				return err
			}
			return a.printSchedule(v)
		},
	}
}

func (a *app) inventoryCommand() *cobra.Command {
	var family, policyType, search string
	var deleted bool
	var limit int
	c := &cobra.Command{
		Use: "inventory TENANT", Short: "List a tenant's Intune inventory (from the last `sync inventory`)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			t, err := a.svc.GetTenant(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			items, err := a.svc.ListInventory(cmd.Context(), a.actor, t.ID, engine.InventoryQuery{Family: family, PolicyType: policyType,
				Search: search, IncludeDeleted: deleted, Limit: limit})
			if err != nil {
				return err
			}
			return a.output(items, func(tw *tabwriter.Writer) {
				row(tw, "FAMILY", "TYPE", "NAME", "ODATA TYPE", "MODIFIED", "STATE")
				for _, it := range items {
					state, mod := "live", "-"
					if it.DeletedAt != nil {
						state = "deleted"
					}
					if it.IsDefault {
						state += " (default)"
					}
					if it.LastModified != nil {
						mod = it.LastModified.Local().Format("2006-01-02 15:04")
					}
					row(tw, it.Family, it.PolicyType, it.DisplayName, strings.TrimPrefix(it.ODataType, "#microsoft.graph."), mod, state)
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&family, "family", "", "only this Graph family")
	f.StringVar(&policyType, "type", "", "only this policy type (e.g. enrollmentStatusPage, unknown)")
	f.StringVar(&search, "search", "", "substring of name, id or type")
	f.BoolVar(&deleted, "deleted", false, "include objects gone from Graph")
	f.IntVar(&limit, "limit", 500, "at most this many items")
	return c
}
