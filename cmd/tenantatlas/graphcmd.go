package main

import (
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// graphContract is one row of `tenantatlas graph contracts`: a call of the contract registry
// (engine/graph/contract.go), the same registry README's permission table comes from.
type graphContract struct {
	Name       string   `json:"name"`
	Method     string   `json:"method"`
	Version    string   `json:"version"`
	Path       string   `json:"path"`
	Select     []string `json:"select"`
	Expand     string   `json:"expand,omitempty"`
	Permission string   `json:"permission"`
	Family     string   `json:"family"`
	Doc        string   `json:"doc"`
}

func (a *app) graphCommand() *cobra.Command {
	c := &cobra.Command{Use: "graph", Short: "Inspect the Microsoft Graph calls TenantAtlas makes"}
	c.AddCommand(&cobra.Command{
		Use:   "contracts",
		Short: "Print every Graph call TenantAtlas can make: name, method, version, path, $select, permission, family",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var out []graphContract
			for _, ct := range graph.Contracts() {
				sel := ct.Select
				if sel == nil {
					sel = []string{}
				}
				out = append(out, graphContract{Name: ct.Name, Method: ct.Method, Version: string(ct.Version), Path: ct.Path, Select: sel,
					Expand: ct.Expand, Permission: ct.Permission, Family: string(ct.Family), Doc: ct.Doc})
			}
			return a.output(out, func(w *tabwriter.Writer) {
				row(w, "NAME", "METHOD", "VERSION", "PATH", "SELECT", "PERMISSION", "FAMILY")
				for _, c := range out {
					sel := strings.Join(c.Select, ",")
					if sel == "" {
						sel = "-"
					}
					perm := c.Permission
					if perm == "" {
						perm = "-"
					}
					row(w, c.Name, c.Method, c.Version, c.Path, sel, perm, c.Family)
				}
			})
		},
	})
	return c
}
