package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

type shownConfig struct {
	File     string        `json:"file"`
	Settings []configEntry `json:"settings"`
}

func (s shownConfig) get(key string) configEntry {
	for _, e := range s.Settings {
		if e.Key == key {
			return e
		}
	}
	return configEntry{}
}

func TestConfigFilePrecedence(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `# TenantAtlas
log-level = "debug"
log-format = "json"
graph-url = "https://graph.file.example"
database-url = "postgres://ta:filepass@db.internal:5432/ta"
ssh-addr = "0.0.0.0:2222"

[engine]
workers = 3
shutdown-timeout = "45s"
`)
	c := &cli{t: t, env: map[string]string{"TENANTATLAS_CONFIG": path, "TENANTATLAS_LOG_FORMAT": "text", "TENANTATLAS_SECRET_KEY": testSecretKey}}
	var s shownConfig
	c.jsonOut(&s, "config", "show", "--log-level", "warn")
	require.Equal(t, path, s.File)
	require.Equal(t, configEntry{"log-level", "warn", "flag --log-level"}, s.get("log-level"), "flag beats file")
	require.Equal(t, configEntry{"log-format", "text", "env TENANTATLAS_LOG_FORMAT"}, s.get("log-format"), "env beats file")
	require.Equal(t, configEntry{"graph-url", "https://graph.file.example", "file " + path + ":4"}, s.get("graph-url"))
	require.Equal(t, configEntry{"metrics-addr", "", "default"}, s.get("metrics-addr"))
	require.Equal(t, "file "+path+":6", s.get("ssh-addr").Source)
	db := s.get("database-url")
	require.NotContains(t, db.Value, "filepass", "password redacted")
	require.Contains(t, db.Value, "db.internal")
	require.Equal(t, configEntry{"secret-key", "(set, redacted)", "env TENANTATLAS_SECRET_KEY"}, s.get("secret-key"))
	require.Equal(t, "3", s.get("engine.workers").Value)
	require.Equal(t, "file "+path+":9", s.get("engine.workers").Source)

	out := c.ok("config", "show")
	require.Contains(t, out, "config file: "+path)
	require.NotContains(t, out, "filepass")
	require.NotContains(t, out, testSecretKey)

	// The file's [engine] table reaches the engine's flags: parse them the way engine would.
	c2 := &cli{t: t, env: map[string]string{"TENANTATLAS_CONFIG": path}}
	r := c2.run("", "engine", "--database-url", "postgres://x:y@127.0.0.1:1/none?connect_timeout=1", "--log-level", "error")
	require.Equal(t, 1, r.code, "flags validated, then the database is unreachable: %s", r.stderr)

	// XDG_CONFIG_HOME/tenantatlas/config.toml is the default.
	xdg := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(xdg, "tenantatlas"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(xdg, "tenantatlas", "config.toml"), []byte("log-level = \"error\"\n"), 0o600))
	c3 := &cli{t: t, env: map[string]string{"XDG_CONFIG_HOME": xdg}}
	var s3 shownConfig
	c3.jsonOut(&s3, "config", "show")
	require.Equal(t, "error", s3.get("log-level").Value)
	require.Equal(t, "file "+filepath.Join(xdg, "tenantatlas", "config.toml")+":1", s3.get("log-level").Source)
}

func TestConfigFileBadInput(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testSecretKey), 0o600))
	for _, tc := range []struct {
		name, body, want string
	}{
		{"Typo", "log-level = \"info\"\ndatabse-url = \"postgres://x@h/db\"\n", ":2: databse-url: unknown key (known: "},
		{"TypoInTable", "[engine]\nworkers = 2\nshutdown-timout = \"5s\"\n", ":3: engine.shutdown-timout: unknown key (the engine command's flags are: "},
		{"UnknownTable", "[engin]\nworkers = 2\n", ":1: engin: unknown table"},
		{"WrongTypeInt", "[engine]\nworkers = \"eight\"\n", ":2: engine.workers: expected an integer, got a string"},
		{"WrongTypeString", "log-level = 3\n", ":1: log-level: expected a string, got an integer"},
		{"WrongTypeDuration", "[engine]\nshutdown-timeout = 20\n", ":2: engine.shutdown-timeout: expected a duration string"},
		{"BadDuration", "[engine]\nshutdown-timeout = \"soon\"\n", `:2: engine.shutdown-timeout: expected a duration such as "30s"`},
		{"BadValue", "log-level = \"loud\"\n", `log level "loud" is not one of debug`},
		{"PlaintextSecretKey", "secret-key = \"" + testSecretKey + "\"\n", ":1: secret-key: a secret does not belong in the config file in plain text"},
		{"KeyWhereFileExpected", "secret-key-file = \"" + testSecretKey + "\"\n", ":1: secret-key-file: expects the path of a file holding the key, and this is the key itself"},
		{"Syntax", "log-level = \"info\"\nlog-format = \n", ":2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tc.body)
			c := &cli{t: t, env: map[string]string{}}
			r := c.run("", "--config", path, "version")
			require.Equal(t, 2, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
			if strings.HasPrefix(tc.want, ":") {
				require.Contains(t, r.stderr, path+tc.want)
			}
			require.NotContains(t, r.stderr, testSecretKey, "the secret is not echoed")
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line")
		})
	}

	t.Run("MissingExplicitFile", func(t *testing.T) {
		t.Parallel()
		c := &cli{t: t, env: map[string]string{}}
		r := c.run("", "--config", "/nonexistent/config.toml", "version")
		require.Equal(t, 2, r.code)
		require.Contains(t, r.stderr, "config file: open /nonexistent/config.toml")
	})

	t.Run("KeyFileIsFine", func(t *testing.T) {
		t.Parallel()
		c := &cli{t: t, env: map[string]string{}}
		path := writeConfig(t, "secret-key-file = \""+keyFile+"\"\n")
		var s shownConfig
		require.NoError(t, json.Unmarshal([]byte(c.ok("--config", path, "config", "show", "--json")), &s))
		require.Equal(t, keyFile, s.get("secret-key-file").Value)
	})
}
