package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/internal/buildinfo"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise buildinfo's (the
// module version, or internal/buildinfo.Version set the same way).
var version = ""

func init() {
	// The engines registry reads buildinfo: a version given to main is the binary's version.
	if version != "" && buildinfo.Version == "" {
		buildinfo.Version = version
	}
}

func buildInfo() buildinfo.Info { return buildinfo.Get() }

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version, commit, build date and Go version (--json for all fields)",
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildInfo()
			return a.output(v, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "tenantatlas %s (commit %s, built %s, %s)\n", v.Version, v.Commit, v.BuildDate, v.GoVersion)
			})
		},
	}
}

func (a *app) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate [up|status]",
		Short: "Apply the schema (TenantAtlas's and River's) or show its status",
		Long: `Apply every pending migration, TenantAtlas's and River's, in one step (the default, "up"), or list
them with "status". Other commands apply pending migrations at start; a database migrated by a
newer tenantatlas is refused with a message saying so.`,
		Args:      cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"up", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 && args[0] == "status" {
				return a.migrateStatus(cmd)
			}
			if err := a.openDB(ctx); err != nil {
				return err
			}
			return a.output(map[string]any{"status": "up to date"}, func(tw *tabwriter.Writer) { fmt.Fprintln(tw, "schema is up to date") })
		},
	}
	return cmd
}

func (a *app) migrateStatus(cmd *cobra.Command) error {
	// Status must not migrate: connect without openDB's automatic migration.
	if err := a.connectOnly(cmd.Context()); err != nil {
		return err
	}
	st, err := a.db.MigrationStatus(cmd.Context())
	if err != nil {
		return err
	}
	return a.output(st, func(tw *tabwriter.Writer) {
		row(tw, "COMPONENT", "VERSION", "NAME", "APPLIED")
		for _, s := range st {
			applied := "pending"
			if s.AppliedAt != nil {
				applied = s.AppliedAt.Local().Format("2006-01-02 15:04")
			} else if s.Applied {
				applied = "yes"
			}
			row(tw, s.Component, s.Version, s.Name, applied)
		}
	})
}
