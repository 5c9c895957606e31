package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

func (a *app) workspacesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "workspaces", Short: "Workspaces: the isolation boundary of tenants, runs and schedules"}
	cmd.AddCommand(&cobra.Command{
		Use: "add NAME", Short: "Create a workspace (administrator); you become its owner", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			w, err := a.svc.CreateWorkspace(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			return a.output(w, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "created workspace %s (id %d)\n", w.Name, w.ID) })
		},
	}, &cobra.Command{
		Use: "list", Short: "List your workspaces and your role in each",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			ms, err := a.svc.Workspaces(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			return a.output(ms, func(tw *tabwriter.Writer) {
				row(tw, "ID", "WORKSPACE", "ROLE")
				for _, m := range ms {
					row(tw, m.WorkspaceID, m.WorkspaceName, m.Role)
				}
			})
		},
	}, a.workspacesRetentionCommand(), a.workspacesPruneCommand())
	return cmd
}

// workspacesRetentionCommand shows or sets how long a workspace keeps its history.
func (a *app) workspacesRetentionCommand() *cobra.Command {
	var runs, events, audit string
	c := &cobra.Command{
		Use:   "retention WORKSPACE",
		Short: "Show or set how long a workspace keeps runs, run events and audit events (owner sets)",
		Long: "Without flags, shows the workspace's retention. With flags, sets it (owner; audited). Durations are days, weeks or\n" +
			"years (400d, 12w, 2y) or Go durations (36h); --audit also takes \"forever\", the default.\nKept whatever their age: " +
			store.KeptRunsRule + ".",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.openWorkspace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			r, err := a.svc.Retention(cmd.Context(), a.actor, w.ID)
			if err != nil {
				return err
			}
			set := false
			for _, f := range []struct {
				flag, value string
				into        *time.Duration
			}{{"runs", runs, &r.Runs}, {"run-events", events, &r.RunEvents}, {"audit", audit, &r.Audit}} {
				if !cmd.Flags().Changed(f.flag) {
					continue
				}
				if f.value == "forever" && f.flag != "audit" {
					return fmt.Errorf("%w: --%s cannot be forever (only --audit can)", engine.ErrInvalid, f.flag)
				}
				d, err := engine.ParseRetention(f.value)
				if err != nil {
					return fmt.Errorf("--%s: %w", f.flag, err)
				}
				*f.into, set = d, true
			}
			if set {
				if r, err = a.svc.SetRetention(cmd.Context(), a.actor, w.ID, r); err != nil {
					return err
				}
			}
			view := struct {
				Workspace string `json:"workspace"`
				Runs      string `json:"runs"`
				RunEvents string `json:"run_events"`
				Audit     string `json:"audit"`
				Kept      string `json:"kept_whatever_their_age"`
			}{w.Name, engine.FormatRetention(r.Runs), engine.FormatRetention(r.RunEvents), "forever", store.KeptRunsRule}
			if r.Audit > 0 {
				view.Audit = engine.FormatRetention(r.Audit)
			}
			return a.output(view, func(tw *tabwriter.Writer) {
				row(tw, "WORKSPACE", "RUNS", "RUN EVENTS", "AUDIT EVENTS")
				row(tw, view.Workspace, view.Runs, view.RunEvents, view.Audit)
			})
		},
	}
	c.Flags().StringVar(&runs, "runs", "", "keep completed runs this long (default 400d, at least 7d)")
	c.Flags().StringVar(&events, "run-events", "", "keep completed runs' debug and info events this long (default 90d, at least 1d)")
	c.Flags().StringVar(&audit, "audit", "", "keep audit events this long (at least 30d), or forever (the default)")
	return c
}

// workspacesPruneCommand applies a workspace's retention now, as the engines do every hour.
func (a *app) workspacesPruneCommand() *cobra.Command {
	return &cobra.Command{
		Use: "prune WORKSPACE", Short: "Apply a workspace's retention now (owner; the engines do it every hour)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.openWorkspace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			res, err := a.svc.Prune(cmd.Context(), a.actor, w.ID)
			if err != nil {
				return err
			}
			return a.output(res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "pruned workspace %s: %d runs, %d run events, %d audit events, %d alert incidents\n",
					w.Name, res.Runs, res.RunEvents, res.AuditEvents, res.Incidents)
			})
		},
	}
}

func (a *app) usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Users (administrator)"}
	cmd.AddCommand(&cobra.Command{
		Use: "add NAME", Short: "Create a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			u, err := a.svc.CreateUser(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			return a.output(u, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "created user %s (id %d); next: `tenantatlas keys add %s KEYFILE` and `tenantatlas members add WORKSPACE %s ROLE`\n", u.Name, u.ID, u.Name, u.Name)
			})
		},
	}, &cobra.Command{
		Use: "list", Short: "List users",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			us, err := a.svc.ListUsers(cmd.Context(), a.actor)
			if err != nil {
				return err
			}
			return a.output(us, func(tw *tabwriter.Writer) {
				row(tw, "ID", "USER", "ADMIN", "CREATED")
				for _, u := range us {
					row(tw, u.ID, u.Name, yesNo(u.IsBootstrap), u.CreatedAt.Format("2006-01-02 15:04"))
				}
			})
		},
	})
	return cmd
}

func (a *app) keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "SSH public keys that identify users over SSH"}
	cmd.AddCommand(&cobra.Command{
		Use: "add USER KEYFILE|-", Short: "Register a public key (an authorized_keys line; - reads stdin)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			line, err := readArgFile(a.stdin, args[1])
			if err != nil {
				return err
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			k, err := a.svc.AddKey(cmd.Context(), a.actor, args[0], string(line))
			if err != nil {
				return err
			}
			return a.output(k, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "added key %s for %s\n", k.Fingerprint, k.UserName) })
		},
	}, &cobra.Command{
		Use: "remove USER FINGERPRINT", Short: "Remove a key (fingerprint as shown by keys list)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.svc.RemoveKey(cmd.Context(), a.actor, args[0], args[1]); err != nil {
				return err
			}
			return a.output(map[string]any{"removed": args[1]}, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "removed key %s\n", args[1]) })
		},
	}, &cobra.Command{
		Use: "list USER", Short: "List a user's keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			ks, err := a.svc.ListKeys(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			return a.output(ks, func(tw *tabwriter.Writer) {
				row(tw, "FINGERPRINT", "COMMENT", "ADDED")
				for _, k := range ks {
					row(tw, k.Fingerprint, k.Comment, k.CreatedAt.Format("2006-01-02 15:04"))
				}
			})
		},
	})
	return cmd
}

func (a *app) membersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "members", Short: "Workspace memberships and roles (owner, manager, operator, readonly)"}
	cmd.AddCommand(&cobra.Command{
		Use: "add WORKSPACE USER ROLE", Short: "Give a user a role in a workspace (replaces an existing role)", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			m, err := a.svc.AddMember(cmd.Context(), a.actor, args[0], args[1], args[2])
			if err != nil {
				return err
			}
			return a.output(m, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "%s is %s in %s\n", m.UserName, m.Role, m.WorkspaceName) })
		},
	}, &cobra.Command{
		Use: "remove WORKSPACE USER", Short: "Remove a user from a workspace", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.svc.RemoveMember(cmd.Context(), a.actor, args[0], args[1]); err != nil {
				return err
			}
			return a.output(map[string]any{"removed": args[1], "workspace": args[0]}, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "removed %s from %s\n", args[1], args[0])
			})
		},
	}, &cobra.Command{
		Use: "list WORKSPACE", Short: "List a workspace's members", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			ms, err := a.svc.ListMembers(cmd.Context(), a.actor, args[0])
			if err != nil {
				return err
			}
			return a.output(ms, func(tw *tabwriter.Writer) {
				row(tw, "USER", "ROLE", "SINCE")
				for _, m := range ms {
					row(tw, m.UserName, m.Role, m.CreatedAt.Format("2006-01-02"))
				}
			})
		},
	})
	return cmd
}

// argFileLimit caps what readArgFile reads: keys, secrets and certificates are far smaller.
const argFileLimit = 1 << 20

// legacyImportLimit caps a legacy import file (about 600,000 CSV rows); a larger file is refused,
// never cut (split it: re-importing skips rows already imported).
const legacyImportLimit = 64 << 20

// readArgFile reads a file argument, or stdin for "-", of at most argFileLimit bytes. Secrets are read
// this way so they never sit in shell history or the process list.
func readArgFile(stdin io.Reader, name string) ([]byte, error) {
	return readArgFileLimit(stdin, name, argFileLimit)
}

// readArgFileLimit is readArgFile with a limit: input over it is refused with an error that states the
// limit, never truncated.
func readArgFileLimit(stdin io.Reader, name string, limit int64) ([]byte, error) {
	r := stdin
	what := "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageErrorf("cannot read %s: %v", name, strings.TrimPrefix(err.Error(), "open "+name+": "))
		}
		defer f.Close()
		r, what = f, name
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, usageErrorf("%s is larger than the limit of %d MiB: nothing was read or imported (split the input into smaller parts)", what, limit>>20)
	}
	return b, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// openWorkspace opens the database and resolves a WORKSPACE argument among the actor's workspaces.
func (a *app) openWorkspace(ctx context.Context, name string) (store.Workspace, error) {
	if err := a.open(ctx); err != nil {
		return store.Workspace{}, err
	}
	return a.svc.ResolveWorkspace(ctx, a.actor, name)
}
