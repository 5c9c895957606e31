package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// FuzzLoadConfig feeds arbitrary values to every TENANTATLAS_* variable and a flag: loadConfig never
// panics, refuses bad values with a usage error, and what it accepts is valid.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{"", "debug", "JSON", "postgres://u:p@h:5432/db", "host=/tmp dbname=x", "https://graph.microsoft.com",
		"graph.microsoft.com", "127.0.0.1:2222", ":9464", "[::1]:22", "http://[::1", "'; DROP TABLE operation_runs; --", "%_\\",
		"\x00", "Ωmega 🚀", "relative/dir", "mysql:dsn"} {
		f.Add(s, s, "info")
	}
	vars := []string{"TENANTATLAS_DATABASE_URL", "TENANTATLAS_DATA_DIR", "TENANTATLAS_USER", "TENANTATLAS_LOG_LEVEL",
		"TENANTATLAS_LOG_FORMAT", "TENANTATLAS_GRAPH_URL", "TENANTATLAS_LOGIN_URL", "TENANTATLAS_SECRET_KEY",
		"TENANTATLAS_SECRET_KEY_FILE", "TENANTATLAS_PREVIOUS_SECRET_KEY_FILE", "TENANTATLAS_METRICS_ADDR", "TENANTATLAS_SSH_ADDR"}
	f.Fuzz(func(t *testing.T, value, other, flagValue string) {
		for i, v := range vars {
			env := map[string]string{v: value, vars[(i+1)%len(vars)]: other}
			var c Config
			fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
			c.registerFlags(fs)
			if err := fs.Parse([]string{"--log-level=" + flagValue}); err != nil {
				t.Fatalf("flag parse: %v", err)
			}
			err := loadConfig(&c, fs, func(k string) string { return env[k] })
			if err != nil {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("%s=%q: not a usage error: %v", v, value, err)
				}
				if strings.ContainsAny(oneLine(err), "\r\n") {
					t.Fatalf("%s=%q: error is not one line: %q", v, value, oneLine(err))
				}
				continue
			}
			switch c.LogLevel {
			case "", "debug", "info", "warn", "error":
			default:
				t.Fatalf("accepted log level %q", c.LogLevel)
			}
			switch c.LogFormat {
			case "", "text", "json":
			default:
				t.Fatalf("accepted log format %q", c.LogFormat)
			}
			if c.LogLevel != strings.ToLower(strings.TrimSpace(flagValue)) {
				t.Fatalf("the flag did not win over the environment: %q vs %q", c.LogLevel, flagValue)
			}
			_ = c.String() // never panics, whatever the URL
		}
	})
}
