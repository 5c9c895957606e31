package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// unitKeys reads a systemd unit's [Service] keys; a repeated key's values are joined by newlines.
func unitKeys(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" {
			if prev, seen := out[k]; seen {
				v = prev + "\n" + v
			}
			out[k] = v
		}
	}
	return out
}

// TestSystemdUnits keeps the units hardened and their stop timeout above the engine's graceful
// shutdown; scripts/verify-units.sh (CI) has systemd-analyze check their syntax.
func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	units, err := filepath.Glob("../../deploy/systemd/*.service")
	require.NoError(t, err)
	require.Len(t, units, 2)
	for _, u := range units {
		t.Run(filepath.Base(u), func(t *testing.T) {
			t.Parallel()
			k := unitKeys(t, u)
			for key, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
				"Restart": "on-failure", "KillSignal": "SIGTERM", "DynamicUser": "yes"} {
				require.Equal(t, want, k[key], key)
			}
			require.NotEmpty(t, k["StateDirectory"])
			require.Contains(t, k["LoadCredential"], "secret.key:/etc/tenantatlas/secret.key")
			require.Contains(t, k["Environment"], "TENANTATLAS_SECRET_KEY_FILE=%d/secret.key")
			require.Contains(t, k["Environment"], "PGPASSFILE=%d/pgpass")
			stop, err := time.ParseDuration(k["TimeoutStopSec"])
			require.NoError(t, err)
			// The engine's soft stop (--shutdown-timeout, default 20 s) plus its 10 s hard stop.
			shutdown := 20 * time.Second
			if i := strings.Index(k["ExecStart"], "--shutdown-timeout "); i >= 0 {
				shutdown, err = time.ParseDuration(strings.Fields(k["ExecStart"][i:])[1])
				require.NoError(t, err)
			}
			require.GreaterOrEqual(t, stop, shutdown+10*time.Second, "TimeoutStopSec must outlast the engine's shutdown")

			// The command line is one this binary accepts.
			args := strings.Fields(k["ExecStart"])[1:]
			c := &cli{t: t, env: map[string]string{}}
			r := c.run("", append(args, "--help")...)
			require.Equal(t, 0, r.code, r.stderr)
		})
	}
}

// TestConfigExample keeps deploy/systemd/config.toml.example a valid configuration.
func TestConfigExample(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{"TENANTATLAS_CONFIG": "../../deploy/systemd/config.toml.example"}}
	var s shownConfig
	c.jsonOut(&s, "config", "show")
	require.Equal(t, "8", s.get("engine.workers").Value)
	require.Contains(t, s.get("database-url").Value, "db.internal")
}
