package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// fleetFlags are the --tag and --all of the commands that start runs for tenants
// (docs/design.md#fleet): TENANT, --tag TAG or --all, one of them.
type fleetFlags struct {
	tag       string
	all       bool
	workspace string
}

func (f *fleetFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.tag, "tag", "", "every tenant carrying this tag (instead of TENANT)")
	c.Flags().BoolVar(&f.all, "all", false, "every tenant of the workspace (instead of TENANT)")
	if c.Flags().Lookup("workspace") == nil {
		c.Flags().StringVar(&f.workspace, "workspace", "", "the workspace of --tag or --all (default: your only or default one)")
	}
}

// fleet reports whether the command targets many tenants, and checks that exactly one target is named.
func (f *fleetFlags) fleet(tenant string) (bool, error) {
	n := 0
	for _, set := range []bool{tenant != "", f.tag != "", f.all} {
		if set {
			n++
		}
	}
	if n != 1 {
		return false, usageErrorf("name one target: TENANT, --tag TAG or --all")
	}
	return tenant == "", nil
}

// startFleet starts req for every tenant of the target and prints one line per tenant; a tenant
// that was refused gets its reason on its line, the others start. The exit code is non-zero
// when any was refused (or, with wait, any run did not succeed).
func (a *app) startFleet(ctx context.Context, f fleetFlags, workspace string, req engine.StartRequest, wait bool) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	if workspace == "" {
		workspace = f.workspace
	}
	starts, err := a.svc.StartFleet(ctx, a.actor, engine.FleetTarget{Tag: f.tag, All: f.all, Workspace: workspace}, req)
	if err != nil {
		return err
	}
	refused := 0
	for i, s := range starts {
		if s.Err != nil {
			refused++
			continue
		}
		if wait {
			run, err := a.waitForRun(ctx, s.Result.Run.ID)
			if err != nil {
				return err
			}
			starts[i].Result = &engine.StartResult{Run: run, Created: s.Result.Created}
		}
	}
	failed := 0
	if err := a.output(starts, func(tw *tabwriter.Writer) {
		row(tw, "TENANT", "RUN", "STATUS", "REASON", "CREATED")
		for _, s := range starts {
			if s.Err != nil {
				row(tw, s.Tenant, "-", "refused", oneLine(s.Err), "-")
				continue
			}
			r := s.Result.Run
			if wait && r.EndedAs() != store.OutcomeSucceeded {
				failed++
			}
			row(tw, s.Tenant, r.ID, runState(r), dash(r.Reason()), s.Result.Created)
		}
	}); err != nil {
		return err
	}
	var problems []string
	if refused > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d tenants refused", refused, len(starts)))
	}
	if failed > 0 {
		problems = append(problems, fmt.Sprintf("%d runs did not succeed", failed))
	}
	if len(problems) > 0 {
		return &exitCodeError{code: exitError, msg: strings.Join(problems, "; ")}
	}
	return nil
}
