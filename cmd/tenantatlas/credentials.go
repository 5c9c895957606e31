package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantatlas/tenantatlas/engine"
)

func (a *app) setCredentialCommand() *cobra.Command {
	var req engine.SetCredentialRequest
	var cred credentialFlags
	c := &cobra.Command{
		Use:   "set-credential TENANT",
		Short: "Replace a tenant's client secret or certificate (signs in with it first)",
		Long: `Replace the credential of the tenant's provider connection: a new client secret, or a PEM file
with a certificate and its private key, read from a file or standard input ("-"), never a flag
value. TenantAtlas first signs in with it; when Entra refuses it nothing changes and the error
says why. --no-verify stores it without signing in. The change is audited (never the credential)
and a verification run starts. Needs tenant.manage.`,
		Example: `  tenantatlas tenants set-credential contoso --secret-file ~/contoso-2027.secret --secret-expires 2027-06-30
  tenantatlas tenants set-credential contoso --certificate-file contoso.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if req.ClientSecret, req.CertificatePEM, req.SecretExpiresAt, err = cred.read(a, "tenants set-credential"); err != nil {
				return err
			}
			if !req.NoVerify {
				if _, err := a.graphConfig(); err != nil {
					return err
				}
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.requireSealer(); err != nil {
				return err
			}
			req.TenantRef = args[0]
			res, err := a.svc.SetCredential(cmd.Context(), a.actor, req)
			if errors.Is(err, engine.ErrCredentialRejected) {
				return fmt.Errorf("%w (store it anyway with --no-verify)", err)
			}
			if err != nil {
				return err
			}
			return a.output(res, func(tw *tabwriter.Writer) {
				how := "stored without signing in (--no-verify)"
				if res.SignIn != nil {
					how = "signed in with it"
				}
				fmt.Fprintf(tw, "replaced the %s of %s: %s\n", res.Tenant.Connection.AuthKind, res.Tenant.Name, how)
				if res.Verification != nil {
					fmt.Fprintf(tw, "verification run %d started: `tenantatlas runs watch %d`\n", res.Verification.ID, res.Verification.ID)
				}
			})
		},
	}
	f := c.Flags()
	cred.register(f, "new ")
	f.BoolVar(&req.NoVerify, "no-verify", false, "store the credential without signing in with it first")
	return c
}

func (a *app) removeTenantCommand() *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "remove TENANT",
		Short: "Remove a tenant with its connection and cached data (runs and audit are kept)",
		Long: `Remove a tenant: its provider connection (and credential), synced groups and role definitions,
inventory, backups, schedules and restores are deleted; its runs and the audit log stay, naming
the tenant. It refuses while a run of the tenant is queued or running. Asks you to type the
tenant's name, or --yes confirms. Needs tenant.manage.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			t, err := a.svc.GetTenant(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			confirm := t.Name
			if !yes {
				fmt.Fprintf(a.stderr, "Removing tenant %s deletes its connection, groups, inventory and backups (runs and audit are kept).\nType its name to confirm: ", t.Name)
				line, _ := bufio.NewReader(a.stdin).ReadString('\n')
				if confirm = strings.TrimSpace(line); confirm == "" {
					return usageErrorf("not confirmed: nothing removed (type the tenant's name, or pass --yes)")
				}
			}
			removed, err := a.svc.RemoveTenant(cmd.Context(), a.actor, engine.RemoveTenantRequest{TenantID: t.ID, Confirm: confirm})
			if err != nil {
				return err
			}
			return a.output(removed, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "removed tenant %s: %d backup set(s), %d inventory item(s), %d directory object(s); %d run(s) kept\n",
					removed.Tenant, removed.BackupSets, removed.InventoryItems, removed.DirectoryObjects, removed.RunsKept)
			})
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "confirm without asking")
	return c
}

func (a *app) rekeyCommand() *cobra.Command {
	var req engine.RekeyRequest
	c := &cobra.Command{
		Use:   "rekey",
		Short: "Re-seal every secret at rest under the current secret key (key rotation, no downtime)",
		Long: `Re-seal every provider credential and sealed backup payload under the secret key this process is
given (--secret-key-file / TENANTATLAS_SECRET_KEY), opening each with whichever key sealed it: the
current one or one in --previous-secret-key-file. Engines keep running; each row is replaced only
if unchanged meanwhile. It refuses while an alive engine does not hold the new key, naming it.
The procedure is in docs/operations.md#rotating-the-secret-key. Only the administrator may rekey.`,
		Example: `  TENANTATLAS_SECRET_KEY_FILE=/etc/tenantatlas/key-2027 TENANTATLAS_PREVIOUS_SECRET_KEY_FILE=/etc/tenantatlas/key-2026 tenantatlas rekey`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.requireSealer(); err != nil {
				return err
			}
			res, err := a.svc.Rekey(cmd.Context(), a.actor, req)
			if err != nil {
				return err
			}
			return a.output(res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "re-sealed %d credential(s) and %d backup payload(s) under key %s", res.Credentials, res.Payloads, res.KeyID)
				if res.Replaced > 0 {
					fmt.Fprintf(tw, " (%d credential(s) were replaced meanwhile)", res.Replaced)
				}
				fmt.Fprintln(tw)
				row(tw, "KIND", "KEY", "SECRETS")
				for _, k := range res.After {
					row(tw, k.Kind, k.KeyID, k.Count)
				}
				fmt.Fprintln(tw, "every secret is under the new key: remove the previous key from the configuration and restart")
			})
		},
	}
	c.Flags().BoolVar(&req.IgnoreEngines, "ignore-engines", false, "re-seal although alive engines lack the new key (their runs fail until they restart with it)")
	return c
}

// credentialFlags are the --secret-file, --certificate-file and --secret-expires of tenants add
// and tenants set-credential: the credential comes from a file or standard input, never a flag
// value that would land in shell history.
type credentialFlags struct{ secretFile, certFile, expires string }

func (c *credentialFlags) register(f *pflag.FlagSet, what string) {
	f.StringVar(&c.secretFile, "secret-file", "", "file holding the "+what+"client secret value, or - for stdin")
	f.StringVar(&c.certFile, "certificate-file", "", "PEM file with the "+what+"certificate and its private key, or - for stdin")
	f.StringVar(&c.expires, "secret-expires", "", "date the "+what+"secret expires (YYYY-MM-DD), for reminders")
}

// read checks that exactly one credential is named and reads it, with the expiry date if given.
func (c *credentialFlags) read(a *app, command string) (secret, certPEM []byte, expires *time.Time, err error) {
	if (c.secretFile == "") == (c.certFile == "") {
		return nil, nil, nil, usageErrorf("%s needs exactly one of --secret-file and --certificate-file", command)
	}
	if c.expires != "" {
		t, err := time.Parse("2006-01-02", c.expires)
		if err != nil {
			return nil, nil, nil, usageErrorf("--secret-expires %q: expected a date like 2027-06-30", c.expires)
		}
		expires = &t
	}
	if c.secretFile != "" {
		secret, err = readArgFile(a.stdin, c.secretFile)
	} else {
		certPEM, err = readArgFile(a.stdin, c.certFile)
	}
	return secret, certPEM, expires, err
}
