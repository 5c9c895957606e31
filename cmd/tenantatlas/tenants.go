package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
)

func (a *app) tenantsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tenants", Short: "Entra tenants and their provider connections"}
	var req engine.AddTenantRequest
	var cred credentialFlags
	add := &cobra.Command{
		Use:   "add",
		Short: "Register a tenant with its app registration (client secret or certificate)",
		Long: `Register a tenant with its app registration. The client secret (or the PEM file holding the
certificate and its private key) is read from a file, or from standard input with "-", never from a
flag value that would land in shell history. It is encrypted at rest and never printed.`,
		Example: `  tenantatlas tenants add --name contoso --tenant-id 6e0c… --client-id 3f2a… --secret-file ~/contoso.secret
  pass show contoso | tenantatlas tenants add --name contoso --tenant-id 6e0c… --client-id 3f2a… --secret-file -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Name == "" || req.TenantGUID == "" || req.ClientID == "" {
				return usageErrorf("tenants add needs --name, --tenant-id and --client-id")
			}
			var err error
			if req.ClientSecret, req.CertificatePEM, req.SecretExpiresAt, err = cred.read(a, "tenants add"); err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.requireSealer(); err != nil {
				return err
			}
			v, err := a.svc.AddTenant(cmd.Context(), a.actor, req)
			if err != nil {
				return err
			}
			return a.output(v, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "added tenant %s (id %d) in %s; verify the connection with `tenantatlas tenants verify %s`\n", v.Name, v.ID, v.WorkspaceName, v.Name)
			})
		},
	}
	f := add.Flags()
	f.StringVar(&req.Workspace, "workspace", "", "workspace name (default: your only workspace)")
	f.StringVar(&req.Name, "name", "", "short name used in commands and the dashboard")
	f.StringVar(&req.TenantGUID, "tenant-id", "", "Entra tenant ID (GUID) or verified domain")
	f.StringVar(&req.DisplayName, "display-name", "", "display name")
	f.StringVar(&req.ClientID, "client-id", "", "application (client) ID of the app registration")
	cred.register(f, "")

	var listTag string
	list := &cobra.Command{
		Use: "list [--tag TAG]", Short: "List tenants with their tags and connection status",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if listTag != "" {
				if err := engine.CheckTag(listTag); err != nil {
					return err
				}
			}
			ts, err := a.svc.ListTenants(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			if listTag != "" {
				ts = slices.DeleteFunc(ts, func(t engine.TenantView) bool { return !slices.Contains(t.Tags, listTag) })
			}
			return a.output(ts, func(tw *tabwriter.Writer) {
				row(tw, "ID", "TENANT", "WORKSPACE", "TAGS", "TENANT ID", "CONNECTION", "MISSING PERMISSIONS")
				for _, t := range ts {
					status, missing := "none", ""
					if c := t.Connection; c != nil {
						status = c.Status
						missing = strings.Join(c.MissingPermissions, ",")
					}
					row(tw, t.ID, t.Name, t.WorkspaceName, dash(strings.Join(t.Tags, ",")), t.TenantGUID, status, missing)
				}
			})
		},
	}
	list.Flags().StringVar(&listTag, "tag", "", "only tenants carrying this tag")
	tagCmd := func(use, short string, remove bool) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := a.open(cmd.Context()); err != nil {
					return err
				}
				add, del := args[1:], []string(nil)
				if remove {
					add, del = nil, args[1:]
				}
				t, err := a.svc.TagTenant(cmd.Context(), a.actor, args[0], add, del)
				if err != nil {
					return err
				}
				return a.output(t, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "tenant %s: tags %s\n", t.Name, dash(strings.Join(t.Tags, ",")))
				})
			},
		}
	}
	show := &cobra.Command{
		Use: "show TENANT", Short: "Show a tenant and its connection", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			t, err := a.svc.GetTenant(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			// The Conditional Access counts by state, as the dashboard's tenant detail shows them:
			// read with inventory.sync, like the inventory they come from; without it, not shown.
			shown := tenantShown{TenantView: t}
			if role, _ := a.svc.Role(cmd.Context(), a.actor, t.WorkspaceID); role.Can(access.InventorySync) {
				ca, err := a.svc.ConditionalAccessStates(cmd.Context(), a.actor, t.ID)
				if err != nil {
					return err
				}
				shown.ConditionalAccess = &ca
			}
			return a.output(shown, func(tw *tabwriter.Writer) {
				row(tw, "tenant:", fmt.Sprintf("%s (id %d)", t.Name, t.ID))
				row(tw, "workspace:", t.WorkspaceName)
				row(tw, "entra tenant id:", t.TenantGUID)
				row(tw, "tags:", dash(strings.Join(t.Tags, ", ")))
				if t.DisplayName != "" {
					row(tw, "display name:", t.DisplayName)
				}
				if ca := shown.ConditionalAccess; ca != nil {
					if ca.Inventoried {
						row(tw, "CA policies:", fmt.Sprintf("%d on, %d report-only, %d off", ca.On, ca.ReportOnly, ca.Off))
					} else {
						row(tw, "CA policies:", "not inventoried (tenantatlas sync inventory "+t.Name+")")
					}
				}
				c := t.Connection
				if c == nil {
					row(tw, "connection:", "none (add one with tenants add)")
					return
				}
				row(tw, "client id:", c.ClientID)
				row(tw, "credential:", c.AuthKind+" (encrypted, never shown)")
				row(tw, "connection:", c.Status)
				if c.LastVerifiedAt != nil {
					row(tw, "last verified:", c.LastVerifiedAt.Format(time.RFC3339))
				}
				if len(c.MissingPermissions) > 0 {
					row(tw, "missing permissions:", strings.Join(c.MissingPermissions, ", "))
				}
			})
		},
	}
	verify := a.startCommand("verify (TENANT | --tag TAG | --all)", "Verify the tenant's provider connection (token, permissions, one probe per family)", engine.TypeProviderVerification)
	cmd.AddCommand(add, list, show, verify, a.setCredentialCommand(), a.removeTenantCommand(),
		tagCmd("tag TENANT TAG...", "Tag a tenant (tags group tenants for --tag starts)", false),
		tagCmd("untag TENANT TAG...", "Remove tags from a tenant", true))
	return cmd
}

// tenantShown is what tenants show prints: the tenant, its connection and, for who may read the
// inventory, its Conditional Access policy counts by state (null otherwise).
type tenantShown struct {
	engine.TenantView
	ConditionalAccess *engine.CAStateCounts `json:"conditional_access"`
}
