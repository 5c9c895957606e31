package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) enginesCommand() *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "engines",
		Short: "The engines registered on this database, their queues and the runs waiting",
		Long: `List the engine processes registered on this database: host, pid, version, when each started
and last heartbeated, its queues and the jobs it runs, then the depth of each queue, runs finished per
minute and tenants throttled by Graph. An engine that stops deregisters; one without a heartbeat for
` + store.EngineStaleAfter.String() + ` is stale (killed, or cut off from the database). --all adds
stopped engines and those stale for more than a day.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			v, err := a.svc.Engines(ctx, a.actor, all)
			if err != nil {
				return err
			}
			now := time.Now()
			return a.output(v, func(tw *tabwriter.Writer) {
				if len(v.Engines) == 0 {
					fmt.Fprintln(tw, "no engine registered: start one with `tenantatlas engine` (or `tenantatlas serve`)")
				} else {
					row(tw, "ID", "NAME", "STATE", "VERSION", "HOST", "PID", "STARTED", "HEARTBEAT", "JOBS", "QUEUES")
					for _, e := range v.Engines {
						row(tw, e.ID, e.Name, e.State, e.Version, e.Host, e.PID, ago(now, e.StartedAt), ago(now, e.HeartbeatAt),
							e.JobsRunning, strings.Join(e.Queues, ","))
					}
				}
				fmt.Fprintln(tw)
				row(tw, "QUEUE", "WAITING", "RUNNING")
				for _, q := range v.Queues {
					row(tw, q.Queue, q.Waiting, q.Running)
				}
				fmt.Fprintln(tw)
				fmt.Fprintf(tw, "%d run(s) queued · %.1f runs/min (5 min) · stale after %s\n", v.QueuedRuns, v.RunsPerMinute, v.StaleAfter)
				if len(v.ThrottledTenants) > 0 {
					fmt.Fprintf(tw, "throttled by Graph (15 min): %s\n", strings.Join(v.ThrottledTenants, ", "))
				}
			})
		},
	}
	c.Flags().BoolVar(&all, "all", false, "include stopped engines and those stale for more than a day")
	return c
}

// ago is a short age such as "4s ago" or "3h ago".
func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}
