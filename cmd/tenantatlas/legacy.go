package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
)

func (a *app) legacyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "legacy", Short: "Read-only run history imported from the older per-family trackers"}
	var workspace, format string
	imp := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Import exported legacy runs (inventory sync, group sync, backup schedule runs; CSV or JSON)",
		Long: `Import exported legacy run rows into the read-only legacy history (shown under the Legacy tab of the
operations screen). Failure reasons are mapped onto TenantAtlas's reason codes; a reason that matches
none is kept verbatim. Importing the same rows again skips them. Formats (see README):
  JSON: {"inventory_sync_runs": [...], "group_sync_runs": [...], "backup_schedule_runs": [...]}
        or an array of rows each with a "source"; row fields: id, tenant, status, started_at,
        finished_at, items_total, items_failed, failure_reason
  CSV:  header source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason
A file (or standard input) larger than 64 MiB is refused, never cut: split it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readArgFileLimit(a.stdin, args[0], legacyImportLimit)
			if err != nil {
				return err
			}
			if format == "" {
				switch strings.ToLower(filepath.Ext(args[0])) {
				case ".csv":
					format = "csv"
				case ".json":
					format = "json"
				}
			}
			recs, err := engine.ParseLegacy(data, format)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			res, err := a.svc.ImportLegacy(cmd.Context(), a.actor, workspace, recs)
			if err != nil {
				return err
			}
			return a.output(res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "read %d rows: imported %d, skipped %d already imported; %d reason(s) kept verbatim (no matching reason code)\n",
					res.Read, res.Imported, res.Skipped, res.Unmapped)
				codes := make([]string, 0, len(res.Mapped))
				for c := range res.Mapped {
					codes = append(codes, c)
				}
				sort.Strings(codes)
				for _, c := range codes {
					row(tw, "  "+c, res.Mapped[c])
				}
			})
		},
	}
	imp.Flags().StringVar(&workspace, "workspace", "", "workspace to import into (default: your only workspace)")
	imp.Flags().StringVar(&format, "format", "", "csv or json (default: from the file name, else sniffed)")
	cmd.AddCommand(imp)
	return cmd
}
