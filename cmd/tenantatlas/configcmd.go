package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (a *app) configCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "The configuration: flags, environment, config file"}
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration, secrets redacted, and where each value came from",
		Long: `Print every setting with its effective value and its source: a flag, an environment variable, a line
of the config file, or the default. Precedence: flags > environment > file > defaults. The file is
--config, else $TENANTATLAS_CONFIG, else $XDG_CONFIG_HOME/tenantatlas/config.toml (~/.config/…).
Secrets are redacted: the database password and the secret key itself.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file := "none"
			if a.cfg.file != nil {
				file = a.cfg.file.path
			} else if a.cfg.ConfigFile != "" {
				file = a.cfg.ConfigFile + " (not found)"
			}
			entries := a.cfg.effective()
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"file": file, "settings": entries})
			}
			return a.output(nil, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "config file: %s\n", file)
				row(tw, "KEY", "VALUE", "SOURCE")
				for _, e := range entries {
					v := e.Value
					if v == "" {
						v = "-"
					}
					row(tw, e.Key, v, e.Source)
				}
			})
		},
	})
	return c
}
