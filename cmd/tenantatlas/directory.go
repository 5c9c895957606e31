package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Short: "Cached Entra groups (refresh with `sync groups`)"}
	var deleted bool
	var limit int
	search := &cobra.Command{
		Use: "search TENANT QUERY", Short: "Search cached groups by name (case-insensitive substring) or id", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return usageErrorf("--limit %d: expected 1 to 1000", limit)
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			gs, err := a.svc.SearchGroups(cmd.Context(), a.actor, 0, args[0], store.GroupQuery{Search: args[1], IncludeDeleted: deleted, Limit: limit})
			if err != nil {
				return err
			}
			if gs == nil {
				gs = []store.Group{}
			}
			return a.output(gs, func(tw *tabwriter.Writer) {
				row(tw, "ID", "NAME", "TYPE", "RULE", "SYNCED")
				for _, g := range gs {
					name := g.DisplayName
					if g.DeletedAt != nil {
						name += " (deleted)"
					}
					kind := "security"
					if contains(g.GroupTypes, "Unified") {
						kind = "m365"
					}
					if g.MembershipRule != nil {
						kind += " dynamic"
					}
					row(tw, g.GraphID, name, kind, dash(deref(g.MembershipRule)), g.SyncedAt.Local().Format("2006-01-02 15:04"))
				}
				if len(gs) == 0 {
					fmt.Fprintln(tw, "no cached group matches; is the cache synced? (`tenantatlas sync groups TENANT`)")
				}
			})
		},
	}
	search.Flags().BoolVar(&deleted, "deleted", false, "include groups deleted in Entra (kept for history)")
	search.Flags().IntVar(&limit, "limit", 100, "at most this many groups (1-1000)")
	cmd.AddCommand(search)
	return cmd
}

func (a *app) rolesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "roles", Short: "Cached directory role definitions (refresh with `sync roles`)"}
	var query string
	list := &cobra.Command{
		Use: "list TENANT", Short: "List cached role definitions with their permissions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			ds, err := a.svc.RoleDefinitions(cmd.Context(), a.actor, 0, args[0], query, false)
			if err != nil {
				return err
			}
			if ds == nil {
				ds = []store.RoleDefinition{}
			}
			return a.output(ds, func(tw *tabwriter.Writer) {
				row(tw, "ID", "NAME", "BUILT-IN", "ENABLED", "PERMISSIONS")
				for _, d := range ds {
					row(tw, d.GraphID, d.DisplayName, yesNo(deref(d.IsBuiltIn)), yesNo(deref(d.IsEnabled)), permissionCount(d.RolePermissions))
				}
			})
		},
	}
	list.Flags().StringVar(&query, "search", "", "only definitions whose name contains this")
	cmd.AddCommand(list)
	return cmd
}

func permissionCount(raw []byte) string {
	n := strings.Count(string(raw), "microsoft.")
	return fmt.Sprintf("%d actions", n)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
