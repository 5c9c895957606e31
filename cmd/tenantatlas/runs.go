package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "Operation runs: every sync, backup, restore and verification"}
	cmd.AddCommand(a.runsListCommand(), a.runsShowCommand(), a.runsStartCommand(), a.runsCancelCommand(), a.runsWatchCommand())
	return cmd
}

func (a *app) runsListCommand() *cobra.Command {
	var workspace, tenant, typ, status string
	var limit int
	var before int64
	c := &cobra.Command{
		Use: "list", Short: "List runs, newest first",
		Example: "  tenantatlas runs list --status failed --limit 20\n  tenantatlas runs list --tenant contoso --type directory_groups.sync --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usageErrorf("--limit %d: expected 1 to 1000", limit)
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			q := engine.RunQuery{Limit: limit, BeforeID: before}
			if typ != "" {
				if _, err := engine.LookupOperation(typ); err != nil {
					return err
				}
				q.Types = []string{typ}
			}
			if status != "" {
				st, oc, err := engine.ParseRunState(status)
				switch {
				case err != nil:
					return usageErrorf("--status %q: expected queued, running, completed, succeeded, partially_succeeded, failed, blocked or cancelled", status)
				case st != "":
					q.Statuses = []store.Status{st}
				default:
					q.Outcomes = []store.Outcome{oc}
				}
			}
			if workspace != "" {
				w, err := a.svc.ResolveWorkspace(cmd.Context(), a.actor, workspace)
				if err != nil {
					return err
				}
				q.WorkspaceID = w.ID
			}
			var err error
			if q.TenantID, err = a.tenantID(cmd.Context(), tenant); err != nil {
				return err
			}
			runs, err := a.svc.ListRuns(cmd.Context(), a.actor, q)
			if err != nil {
				return err
			}
			if runs == nil {
				runs = []store.Run{}
			}
			return a.output(runs, func(tw *tabwriter.Writer) {
				row(tw, "ID", "TYPE", "TENANT", "STATUS", "REASON", "CREATED", "DURATION")
				for _, r := range runs {
					row(tw, r.ID, r.Type, dash(r.TenantName), runState(r), dash(r.Reason()), r.CreatedAt.Local().Format("01-02 15:04:05"), runDuration(r))
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&workspace, "workspace", "", "only this workspace")
	f.StringVar(&tenant, "tenant", "", "only this tenant (name or id)")
	f.StringVar(&typ, "type", "", "only this operation type")
	f.StringVar(&status, "status", "", "queued, running, completed, or an outcome (succeeded, failed, blocked, …)")
	f.IntVar(&limit, "limit", 50, "at most this many runs (1-1000)")
	f.Int64Var(&before, "before", 0, "only runs with an id below this (the next page)")
	return c
}

func (a *app) runsShowCommand() *cobra.Command {
	return &cobra.Command{
		Use: "show ID", Short: "Show a run with its timeline and log", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			run, err := a.svc.GetRun(cmd.Context(), a.actor, id)
			if err != nil {
				return err
			}
			events, err := a.svc.RunEvents(cmd.Context(), a.actor, store.EventFilter{RunID: id, Limit: 10000})
			if err != nil {
				return err
			}
			if events == nil {
				events = []store.RunEvent{}
			}
			return a.output(struct {
				store.Run
				Events []store.RunEvent `json:"events"`
			}{run, events}, func(tw *tabwriter.Writer) { printRun(tw, run, events) })
		},
	}
}

func printRun(tw *tabwriter.Writer, r store.Run, events []store.RunEvent) {
	row(tw, "run:", fmt.Sprintf("%d  %s", r.ID, r.Type))
	row(tw, "tenant:", dash(r.TenantName))
	row(tw, "status:", runState(r))
	if r.ReasonCode != nil {
		row(tw, "reason:", *r.ReasonCode)
		row(tw, "hint:", reason.Hint(reason.Code(*r.ReasonCode)))
	}
	if r.ReasonDetail != nil {
		row(tw, "detail:", *r.ReasonDetail)
	}
	row(tw, "initiator:", r.InitiatorKind+" "+r.InitiatorName)
	if r.IntendedFireTime != nil {
		late := ""
		if r.IsLate {
			late = " (late catch-up)"
		}
		row(tw, "fire time:", r.IntendedFireTime.Format(time.RFC3339)+late)
	}
	progress := fmt.Sprint(r.ProgressProcessed)
	if r.ProgressTotal != nil {
		progress += fmt.Sprintf("/%d", *r.ProgressTotal)
	}
	row(tw, "progress:", progress)
	row(tw, "counts:", fmt.Sprintf("succeeded %d  failed %d  skipped %d  created %d  updated %d  deleted %d  unchanged %d",
		r.Succeeded, r.Failed, r.Skipped, r.Created, r.Updated, r.Deleted, r.Unchanged))
	row(tw, "created:", r.CreatedAt.Local().Format(time.RFC3339))
	if r.FinishedAt != nil {
		row(tw, "finished:", r.FinishedAt.Local().Format(time.RFC3339)+"  ("+runDuration(r)+")")
	}
	if len(events) > 0 {
		row(tw, "")
		row(tw, "TIME", "LEVEL", "MESSAGE")
		for _, e := range events {
			msg := e.Message
			if e.ItemRef != nil {
				msg = *e.ItemRef + ": " + msg
			}
			row(tw, e.At.Local().Format("15:04:05.000"), e.Level, msg)
		}
	}
}

func (a *app) runsStartCommand() *cobra.Command {
	var tenant, typ, workspace string
	var params []string
	var wait bool
	var fleet fleetFlags
	c := &cobra.Command{
		Use: "start (--tenant T | --tag TAG | --all) --type TYPE [--param key=value]...", Short: "Start a run (returns at once; --wait waits for it)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ == "" {
				return usageErrorf("runs start needs --type (one of %s)", strings.Join(publicTypes(), ", "))
			}
			p := map[string]any{}
			for _, kv := range params {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--param %q: expected key=value", kv)
				}
				p[k] = v
			}
			req := engine.StartRequest{Type: typ, TenantRef: tenant, Params: p}
			if fleet.tag != "" || fleet.all {
				if _, err := fleet.fleet(tenant); err != nil {
					return err
				}
				return a.startFleet(cmd.Context(), fleet, workspace, req, wait)
			}
			return a.startAndReport(cmd.Context(), req, workspace, wait)
		},
	}
	f := c.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant name or id")
	f.StringVar(&typ, "type", "", "operation type")
	f.StringVar(&workspace, "workspace", "", "workspace, for operations without a tenant")
	f.StringArrayVar(&params, "param", nil, "operation parameter key=value (repeatable)")
	f.BoolVar(&wait, "wait", false, "wait for the run to finish; exit non-zero unless it succeeded")
	fleet.register(c)
	return c
}

// startCommand builds the "sync groups T" style shortcuts for Start: TENANT, --tag TAG or --all.
func (a *app) startCommand(use, short, typ string) *cobra.Command {
	var wait bool
	var fleet fleetFlags
	c := &cobra.Command{
		Use: use, Short: short, Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.startTargets(cmd.Context(), fleet, args, engine.StartRequest{Type: typ}, wait)
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait for the run to finish; exit non-zero unless it succeeded")
	fleet.register(c)
	return c
}

// startTargets starts req for the TENANT argument, or for the fleet of --tag or --all.
func (a *app) startTargets(ctx context.Context, fleet fleetFlags, args []string, req engine.StartRequest, wait bool) error {
	tenant := ""
	if len(args) == 1 {
		tenant = args[0]
	}
	many, err := fleet.fleet(tenant)
	if err != nil {
		return err
	}
	if many {
		return a.startFleet(ctx, fleet, "", req, wait)
	}
	req.TenantRef = tenant
	return a.startAndReport(ctx, req, "", wait)
}

func (a *app) startAndReport(ctx context.Context, req engine.StartRequest, workspace string, wait bool) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	if req.TenantRef == "" {
		w, err := a.svc.ResolveWorkspace(ctx, a.actor, workspace)
		if err != nil {
			return err
		}
		req.WorkspaceID = w.ID
	}
	res, err := a.svc.Start(ctx, a.actor, req)
	if err != nil {
		return err
	}
	if err := a.printStart(res); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	run, err := a.waitForRun(ctx, res.Run.ID)
	if err != nil {
		return err
	}
	if err := a.printStart(engine.StartResult{Run: run, Created: res.Created}); err != nil {
		return err
	}
	if run.EndedAs() != store.OutcomeSucceeded {
		return &exitCodeError{code: exitError, msg: fmt.Sprintf("run %d ended %s%s", run.ID, run.EndedAs(), reasonSuffix(run))}
	}
	return nil
}

func (a *app) printStart(res engine.StartResult) error {
	r := res.Run
	out := map[string]any{"id": r.ID, "type": r.Type, "status": r.Status, "outcome": r.Outcome, "reason_code": r.ReasonCode, "created": res.Created}
	return a.output(out, func(tw *tabwriter.Writer) {
		row(tw, "ID", "TYPE", "TENANT", "STATUS", "REASON", "CREATED")
		row(tw, r.ID, r.Type, dash(r.TenantName), runState(r), dash(r.Reason()), res.Created)
	})
}

// waitForRun blocks until the run completes, woken by the notification hub.
func (a *app) waitForRun(ctx context.Context, id int64) (store.Run, error) {
	sub, release, err := a.subscription(ctx)
	if err != nil {
		return store.Run{}, err
	}
	defer release()
	hinted := time.After(5 * time.Second)
	for {
		run, err := a.svc.GetRun(ctx, a.actor, id)
		if err != nil {
			return run, err
		}
		if !run.Active() {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-sub.C:
		case <-hinted:
			if run.Status == store.StatusQueued {
				// No engine alive: nothing will take the run, so waiting would never end.
				if alive, err := store.EngineAlive(ctx, a.db.Pool); err == nil && !alive {
					return run, &exitCodeError{code: exitError, msg: fmt.Sprintf(
						"run %d is queued and no engine is running, so --wait stops waiting: start one (`tenantatlas engine`, or the dashboard) and the run proceeds", id)}
				}
				fmt.Fprintf(a.stderr, "tenantatlas: run %d is still queued: is an engine running? (`tenantatlas engine`, or the dashboard)\n", id)
			}
		case <-time.After(2 * time.Second): // a safety net should the hub be reconnecting
		}
	}
}

func (a *app) runsCancelCommand() *cobra.Command {
	return &cobra.Command{
		Use: "cancel ID", Short: "Cancel a queued or running run", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			run, err := a.svc.Cancel(cmd.Context(), a.actor, id)
			if err != nil {
				return err
			}
			return a.output(run, func(tw *tabwriter.Writer) {
				if run.Active() {
					fmt.Fprintf(tw, "cancel requested for run %d; it ends as soon as its worker stops\n", id)
				} else {
					fmt.Fprintf(tw, "run %d cancelled\n", id)
				}
			})
		},
	}
}

func (a *app) runsWatchCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "watch [ID]",
		Short: "Stream run changes as NDJSON (one run until it finishes, or every run you can see)",
		Long: `Stream run changes as newline-delimited JSON. With an ID, prints the run and its events as they
happen and exits when it finishes; without, prints every run change you may view until interrupted.
Each line is {"kind":"run","run":{...}} or {"kind":"event","event":{...}}; {"kind":"reload"} follows a
database reconnect.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			if len(args) == 1 {
				var err error
				if id, err = parseRunID(args[0]); err != nil {
					return err
				}
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			return a.watch(cmd.Context(), id)
		},
	}
}

func (a *app) watch(ctx context.Context, id int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, release, err := a.subscription(ctx)
	if err != nil {
		return err
	}
	defer release()
	enc := json.NewEncoder(a.stdout)
	var lastEvent int64
	emitRun := func(runID int64) (store.Run, error) {
		r, err := a.svc.GetRun(ctx, a.actor, runID)
		if err != nil {
			return r, err
		}
		return r, enc.Encode(map[string]any{"kind": "run", "run": r})
	}
	emitEvents := func() error {
		events, err := a.svc.RunEvents(ctx, a.actor, store.EventFilter{RunID: id, AfterID: lastEvent})
		if err != nil {
			return err
		}
		for _, e := range events {
			lastEvent = e.ID
			if err := enc.Encode(map[string]any{"kind": "event", "event": e}); err != nil {
				return err
			}
		}
		return nil
	}
	if id != 0 {
		run, err := emitRun(id)
		if err != nil {
			return err
		}
		if err := emitEvents(); err != nil {
			return err
		}
		if !run.Active() {
			return nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case n, ok := <-sub.C:
			if !ok {
				return nil
			}
			switch {
			case n.Kind == store.KindReload:
				_ = enc.Encode(map[string]any{"kind": "reload"})
				if id == 0 {
					continue
				}
				if err := emitEvents(); err != nil {
					return err
				}
				run, err := emitRun(id)
				if err != nil {
					return err
				}
				if !run.Active() {
					return nil
				}
			case n.Table == "operation_runs" && (id == 0 || n.ID == id):
				run, err := emitRun(n.ID)
				if err != nil && id == 0 {
					continue // a run this user may not view
				}
				if err != nil {
					return err
				}
				if id != 0 && !run.Active() {
					return emitEvents()
				}
			case n.Table == "run_events" && id != 0 && n.RunID == id:
				if err := emitEvents(); err != nil {
					return err
				}
			}
		}
	}
}

func (a *app) syncCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sync", Short: "Sync a tenant's directory or inventory cache from Microsoft Graph"}
	cmd.AddCommand(
		a.startCommand("groups (TENANT | --tag TAG | --all)", "Sync groups (delta after the first full sync)", engine.TypeDirectoryGroupsSync),
		a.startCommand("roles (TENANT | --tag TAG | --all)", "Sync directory role definitions", engine.TypeDirectoryRoleDefsSync),
		a.startCommand("inventory (TENANT | --tag TAG | --all)", "Sync the Intune policy inventory", engine.TypeInventorySync),
	)
	return cmd
}

func parseRunID(s string) (int64, error) { return parseID(s, "run id", "such as 4812") }

// parseID reads a positive numeric id (a leading # is allowed); the usage error names what and how.
func parseID(s, what, hint string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("%s %q: expected a positive number %s", what, s, hint)
	}
	return id, nil
}

func publicTypes() []string {
	var out []string
	for _, op := range engine.Operations() {
		if !op.Hidden && !op.SystemOnly {
			out = append(out, op.Type)
		}
	}
	return out
}

func runState(r store.Run) string {
	if r.Outcome != nil {
		return string(*r.Outcome)
	}
	if r.Status == store.StatusRunning && r.ProgressTotal != nil && *r.ProgressTotal > 0 {
		return fmt.Sprintf("running %d%%", r.ProgressProcessed*100 / *r.ProgressTotal)
	}
	return string(r.Status)
}

func runDuration(r store.Run) string {
	if r.StartedAt == nil {
		return "-"
	}
	return r.Elapsed(time.Now()).Round(100 * time.Millisecond).String()
}

func reasonSuffix(r store.Run) string {
	if r.ReasonCode == nil {
		return ""
	}
	s := " (" + *r.ReasonCode + ")"
	if r.ReasonDetail != nil {
		s += ": " + *r.ReasonDetail
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
