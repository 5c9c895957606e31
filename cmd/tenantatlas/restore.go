package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) restoreCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "restore", Short: "Restore backup items into a tenant: preview (dry run) and run"}
	cmd.AddCommand(a.restorePreviewCommand(), a.restoreRunCommand())
	return cmd
}

// restoreFlags are the flags preview and run share.
type restoreFlags struct {
	backup  string
	tenant  string
	items   []string
	mode    string
	caState string
}

func (f *restoreFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.backup, "backup", "", "the backup set (id, see `tenantatlas backups list`)")
	fl.StringVar(&f.tenant, "tenant", "", "the target tenant (name or id): the backup's own or another of its workspace")
	fl.StringArrayVar(&f.items, "item", nil, "only this item (Graph id, family/id or item id); repeatable (default: every item)")
	fl.StringVar(&f.mode, "mode", store.RestoreCreateCopy, "create_copy (new objects, names suffixed) or overwrite (the same Graph ids)")
	fl.StringVar(&f.caState, "ca-state", engine.CAStateReportOnly,
		"report_only (enabled Conditional Access policies restored report-only) or original (their backed-up state, enforced if it was)")
}

func (f *restoreFlags) request() (engine.RestoreRequest, error) {
	if f.backup == "" || f.tenant == "" {
		return engine.RestoreRequest{}, usageErrorf("--backup SET and --tenant T are required")
	}
	id, err := parseSetID(f.backup)
	if err != nil {
		return engine.RestoreRequest{}, err
	}
	if f.mode != store.RestoreCreateCopy && f.mode != store.RestoreOverwrite {
		return engine.RestoreRequest{}, usageErrorf("--mode %q: expected create_copy or overwrite", f.mode)
	}
	if f.caState != engine.CAStateReportOnly && f.caState != engine.CAStateOriginal {
		return engine.RestoreRequest{}, usageErrorf("--ca-state %q: expected report_only or original", f.caState)
	}
	return engine.RestoreRequest{BackupSetID: id, TenantRef: f.tenant, Items: f.items, Mode: f.mode, CAState: f.caState}, nil
}

func (a *app) restorePreviewCommand() *cobra.Command {
	var f restoreFlags
	c := &cobra.Command{
		Use:   "preview --backup SET --tenant T [--item ID]... [--mode create_copy|overwrite] [--ca-state report_only|original]",
		Short: "Show what a restore would do (no Graph call): create or update, field diff, assignment mapping",
		Example: "  tenantatlas restore preview --backup 12 --tenant contoso\n" +
			"  tenantatlas restore preview --backup 12 --tenant contoso --mode overwrite --item deviceConfigurations/1f0c…",
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			pv, err := a.svc.PreviewRestore(cmd.Context(), a.actor, req)
			if err != nil {
				return err
			}
			return a.output(pv, func(tw *tabwriter.Writer) { printRestorePreview(tw, pv) })
		},
	}
	f.register(c)
	return c
}

func printRestorePreview(tw *tabwriter.Writer, pv engine.RestorePreview) {
	row(tw, "backup set:", fmt.Sprintf("%d of %s", pv.BackupSetID, pv.SourceTenant))
	row(tw, "target:", pv.TargetTenant)
	mode := pv.Mode
	if pv.NameSuffix != "" {
		mode += fmt.Sprintf("  (copies named …%s)", pv.NameSuffix)
	}
	row(tw, "mode:", mode)
	hasCA := slices.ContainsFunc(pv.Items, func(it engine.RestorePreviewItem) bool {
		return it.Family == string(graph.FamilyConditionalAccessPolicies)
	})
	switch {
	case !hasCA:
	case pv.CAState == engine.CAStateOriginal:
		row(tw, "CA state:", "original (Conditional Access policies restored in their backed-up state, enforced if they were)")
	default:
		row(tw, "CA state:", "report-only (enabled Conditional Access policies restored enabledForReportingButNotEnforced)")
	}
	row(tw, "plan:", fmt.Sprintf("%d create, %d update, %d skip, %d unresolved reference(s)", pv.Creates, pv.Updates, pv.Skips, pv.Unresolved))
	row(tw, "needs:", strings.Join(pv.Permissions, ", "))
	for _, w := range pv.Warnings {
		row(tw, "warning:", w)
	}
	row(tw, "")
	row(tw, "ACTION", "NAME", "FAMILY", "CHANGES", "ASSIGN", "UNRESOLVED")
	for _, it := range pv.Items {
		name := it.TargetName
		if name == "" {
			name = it.DisplayName
		}
		if it.Sensitive {
			name += " [sensitive]"
		}
		if it.IsDefault {
			name += " [default]"
		}
		row(tw, it.Action, name, it.Family, len(it.Changes), it.Assignments, it.Unresolved)
	}
	for _, it := range pv.Items {
		var lines []string
		if it.Error != "" {
			lines = append(lines, "  cannot restore: "+it.Error)
		}
		for _, n := range it.Notes {
			lines = append(lines, "  note: "+n)
		}
		for _, m := range it.Mapping {
			if m.Status != engine.MappingResolved {
				line := fmt.Sprintf("  %s %s %q (%s): %s", strings.ReplaceAll(m.Kind, "_", " "), m.Role, m.SourceName, m.SourceID, strings.ToUpper(m.Status))
				if m.Note != "" {
					line += " — " + m.Note
				}
				lines = append(lines, line)
			}
		}
		if it.Action == store.RestoreActionUpdate {
			for i, c := range it.Changes {
				if i == 10 {
					lines = append(lines, fmt.Sprintf("  … %d more change(s) (--json shows all)", len(it.Changes)-10))
					break
				}
				lines = append(lines, fmt.Sprintf("  ~ %s: %s → %s", c.Path, dash(c.From), dash(c.To)))
			}
		}
		if len(lines) == 0 {
			continue
		}
		row(tw, "")
		row(tw, fmt.Sprintf("%s %s (%s/%s):", it.Action, it.DisplayName, it.Family, it.SourceGraphID))
		for _, l := range lines {
			row(tw, l)
		}
	}
}

func (a *app) restoreRunCommand() *cobra.Command {
	var f restoreFlags
	var wait bool
	c := &cobra.Command{
		Use:   "run --backup SET --tenant T [--item ID]... [--mode create_copy|overwrite] [--ca-state report_only|original] [--wait]",
		Short: "Start a restore (a restore.execute run); --wait waits for it and exits non-zero unless it succeeded",
		Example: "  tenantatlas restore run --backup 12 --tenant contoso --wait\n" +
			"  tenantatlas restore run --backup 12 --tenant fabrikam --item 4711 --item 4712",
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			started, err := a.svc.StartRestore(ctx, a.actor, req)
			if err != nil {
				return err
			}
			run := started.Run
			if wait {
				if run, err = a.waitForRun(ctx, run.ID); err != nil {
					return err
				}
			}
			view, err := a.svc.GetRestore(ctx, a.actor, started.Restore.ID)
			if err != nil {
				return err
			}
			out := map[string]any{"id": run.ID, "type": run.Type, "status": run.Status, "outcome": run.Outcome, "reason_code": run.ReasonCode,
				"reason_detail": run.ReasonDetail, "created": true, "restore_id": view.ID, "mode": view.Mode, "items": view.Items}
			if err := a.output(out, func(tw *tabwriter.Writer) {
				row(tw, "ID", "TYPE", "TENANT", "STATUS", "REASON", "RESTORE")
				row(tw, run.ID, run.Type, dash(run.TenantName), runState(run), dash(run.Reason()), view.ID)
				if !wait {
					return
				}
				row(tw, "")
				row(tw, "STATE", "ACTION", "NAME", "TARGET ID", "DETAIL")
				for _, it := range view.Items {
					row(tw, it.State, it.Action, dash(it.TargetName), dash(deref(it.TargetGraphID)), dash(deref(it.Detail)))
				}
			}); err != nil {
				return err
			}
			if wait && run.EndedAs() != store.OutcomeSucceeded {
				return &exitCodeError{code: exitError, msg: fmt.Sprintf("run %d ended %s%s", run.ID, run.EndedAs(), reasonSuffix(run))}
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().BoolVar(&wait, "wait", false, "wait for the run to finish; exit non-zero unless it succeeded")
	return c
}
