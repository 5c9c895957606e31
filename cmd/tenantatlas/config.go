package main

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// Config is everything the process reads from flags, TENANTATLAS_* variables and the config file.
// Flags win over the environment, the environment over the file, the file over defaults.
type Config struct {
	ConfigFile    string
	DatabaseURL   string
	DataDir       string
	User          string
	JSON          bool
	LogLevel      string
	LogFormat     string
	GraphURL      string
	LoginURL      string
	GraphCAFile   string
	SecretKey     string
	SecretKeyFile string
	// PreviousSecretKeyFile holds keys that still open secrets but no longer seal them, one per
	// line: during a key rotation (docs/operations.md#rotating-the-secret-key).
	PreviousSecretKeyFile string
	SSHAddr               string
	MetricsAddr           string
	// PublicSSHAddr is where users reach the SSH server (host:port); alert messages then name
	// `ssh -p PORT HOST runs show ID` besides the local command.
	PublicSSHAddr string

	// file is the configuration file read (nil: none); sources says where each key's value came
	// from ("flag", "env NAME", "file PATH:LINE", "default"), for `config show`.
	file    *configFile
	sources map[string]string
}

// envBinding ties a global flag to its environment variable.
type envBinding struct {
	flag, env string
	target    *string
}

func (c *Config) bindings() []envBinding {
	return []envBinding{
		{"database-url", "TENANTATLAS_DATABASE_URL", &c.DatabaseURL},
		{"data-dir", "TENANTATLAS_DATA_DIR", &c.DataDir},
		{"as", "TENANTATLAS_USER", &c.User},
		{"log-level", "TENANTATLAS_LOG_LEVEL", &c.LogLevel},
		{"log-format", "TENANTATLAS_LOG_FORMAT", &c.LogFormat},
		{"graph-url", "TENANTATLAS_GRAPH_URL", &c.GraphURL},
		{"login-url", "TENANTATLAS_LOGIN_URL", &c.LoginURL},
		{"graph-ca-file", "TENANTATLAS_GRAPH_CA_FILE", &c.GraphCAFile},
		{"secret-key-file", "TENANTATLAS_SECRET_KEY_FILE", &c.SecretKeyFile},
		{"previous-secret-key-file", "TENANTATLAS_PREVIOUS_SECRET_KEY_FILE", &c.PreviousSecretKeyFile},
		{"metrics-addr", "TENANTATLAS_METRICS_ADDR", &c.MetricsAddr},
		{"ssh-addr", "TENANTATLAS_SSH_ADDR", &c.SSHAddr},
		{"public-ssh-addr", "TENANTATLAS_PUBLIC_SSH_ADDR", &c.PublicSSHAddr},
	}
}

// registerFlags declares the global flags on fs.
func (c *Config) registerFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.ConfigFile, "config", "", "configuration file (env "+configFileEnv+"; default $XDG_CONFIG_HOME/tenantatlas/config.toml)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (env TENANTATLAS_DATABASE_URL); unset: a local cluster in the data directory")
	fs.StringVar(&c.DataDir, "data-dir", "", "local state: cluster, secret key, SSH host key (env TENANTATLAS_DATA_DIR; default $XDG_DATA_HOME/tenantatlas)")
	fs.StringVar(&c.User, "as", "", "act as this user (env TENANTATLAS_USER; default: the bootstrap admin)")
	fs.BoolVar(&c.JSON, "json", false, "print data as JSON (snake_case fields matching the database columns)")
	fs.StringVar(&c.LogLevel, "log-level", "", "debug, info, warn or error (env TENANTATLAS_LOG_LEVEL; default warn, info for engine and serve)")
	fs.StringVar(&c.LogFormat, "log-format", "", "text or json (env TENANTATLAS_LOG_FORMAT; default text)")
	fs.StringVar(&c.GraphURL, "graph-url", "", "Microsoft Graph root (env TENANTATLAS_GRAPH_URL; default https://graph.microsoft.com)")
	fs.StringVar(&c.LoginURL, "login-url", "", "Entra login authority (env TENANTATLAS_LOGIN_URL; default https://login.microsoftonline.com)")
	fs.StringVar(&c.GraphCAFile, "graph-ca-file", "", "PEM file of extra CA certificates trusted for Graph and login (env TENANTATLAS_GRAPH_CA_FILE; e.g. a TLS-inspecting proxy's CA)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", "", "file holding the 32-byte secret key that seals credentials (env TENANTATLAS_SECRET_KEY_FILE, or the key itself in TENANTATLAS_SECRET_KEY)")
	fs.StringVar(&c.PreviousSecretKeyFile, "previous-secret-key-file", "", "file holding the key(s) a rotation replaces, one per line: they still open secrets, never seal (env TENANTATLAS_PREVIOUS_SECRET_KEY_FILE; see `tenantatlas rekey`)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9464 (env TENANTATLAS_METRICS_ADDR)")
	fs.StringVar(&c.SSHAddr, "ssh-addr", "", "SSH listen address for serve (env TENANTATLAS_SSH_ADDR; default 127.0.0.1:2222)")
	fs.StringVar(&c.PublicSSHAddr, "public-ssh-addr", "", "host:port users reach the SSH server at, named in alert messages (env TENANTATLAS_PUBLIC_SSH_ADDR)")
}

// loadConfig fills unset flags from the environment and the default config file, and validates
// the result (the global flags alone: the fuzz test's entry).
func loadConfig(c *Config, fs *pflag.FlagSet, getenv func(string) string) error {
	return loadConfigFor(c, fs, fs, nil, "", getenv)
}

// loadConfigFor fills unset flags of fs — the running command's, global ones included — from the
// environment, then from the config file (its top-level keys for the global flags in global, the
// table named cmdName for the command's own), and validates the result. Errors name the setting,
// what was given and what is expected; errors in the file name its line. commands lists each
// command with flags of its own, by name: the tables a file may have.
func loadConfigFor(c *Config, fs, global *pflag.FlagSet, commands map[string]*pflag.FlagSet, cmdName string, getenv func(string) string) error {
	c.sources = map[string]string{}
	path, explicit := c.ConfigFile, c.ConfigFile != ""
	if !explicit {
		if v := getenv(configFileEnv); v != "" {
			path, explicit = v, true
		} else {
			path = defaultConfigPath(getenv)
		}
	}
	c.ConfigFile = path
	c.file = nil
	if path != "" {
		f, err := readConfigFile(path, explicit)
		if err != nil {
			return err
		}
		if f != nil {
			if err := f.check(global, commands); err != nil {
				return err
			}
			c.file = f
		}
	}
	for _, b := range c.bindings() {
		switch {
		case changed(fs, b.flag):
			c.sources[b.flag] = "flag --" + b.flag
		case getenv(b.env) != "":
			*b.target = getenv(b.env)
			c.sources[b.flag] = "env " + b.env
		case c.file != nil && c.file.values[b.flag] != nil:
			v, err := c.file.flagValue(b.flag, "string", c.file.values[b.flag])
			if err != nil {
				return err
			}
			*b.target = v
			c.sources[b.flag] = "file " + c.file.where(b.flag)
		default:
			c.sources[b.flag] = "default"
		}
	}
	c.sources["json"] = "default"
	if changed(fs, "json") {
		c.sources["json"] = "flag --json"
	} else if c.file != nil && c.file.values["json"] != nil {
		v, err := c.file.flagValue("json", "bool", c.file.values["json"])
		if err != nil {
			return err
		}
		c.JSON = v == "true"
		c.sources["json"] = "file " + c.file.where("json")
	}
	c.SecretKey = getenv("TENANTATLAS_SECRET_KEY")
	c.sources["secret-key"] = "default"
	if c.SecretKey != "" {
		c.sources["secret-key"] = "env TENANTATLAS_SECRET_KEY"
	}
	if c.file != nil && cmdName != "" {
		if err := c.applyTable(fs, cmdName); err != nil {
			return err
		}
	}
	return c.validate()
}

// applyTable sets the running command's own flags from its table in the file, unless given.
func (c *Config) applyTable(fs *pflag.FlagSet, cmdName string) error {
	table, _ := c.file.values[cmdName].(map[string]any)
	for _, name := range sortedKeys(table) {
		key := cmdName + "." + name
		fl := fs.Lookup(name)
		if fl == nil {
			continue // check refused it already
		}
		if fl.Changed {
			c.sources[key] = "flag --" + name
			continue
		}
		v, err := c.file.flagValue(key, fl.Value.Type(), table[name])
		if err != nil {
			return err
		}
		if err := fl.Value.Set(v); err != nil {
			return c.file.errorf(key, "%v", err)
		}
		c.sources[key] = "file " + c.file.where(key)
	}
	return nil
}

func changed(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}

func (c *Config) validate() error {
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return usageErrorf("log level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return usageErrorf("log format %q is not one of text, json", c.LogFormat)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") &&
		!strings.Contains(c.DatabaseURL, "=") {
		return usageErrorf("database URL must look like postgres://user:password@host:5432/dbname or host=... dbname=...")
	}
	for name, raw := range map[string]string{"graph URL": c.GraphURL, "login URL": c.LoginURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return usageErrorf("%s %q must be an absolute https:// URL such as https://graph.microsoft.com", name, raw)
		}
	}
	for name, addr := range map[string]string{"metrics address": c.MetricsAddr, "SSH address": c.SSHAddr, "public SSH address": c.PublicSSHAddr} {
		if addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return usageErrorf("%s %q must be host:port, e.g. 127.0.0.1:2222", name, addr)
		}
	}
	if c.DataDir != "" {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return usageErrorf("data directory %q: %v", c.DataDir, err)
		}
		c.DataDir = abs
	}
	return nil
}

func (c *Config) sshAddr() string {
	if c.SSHAddr == "" {
		return "127.0.0.1:2222"
	}
	return c.SSHAddr
}

func (c *Config) String() string {
	db := "local cluster"
	if c.DatabaseURL != "" {
		db = redactURL(c.DatabaseURL)
	}
	return fmt.Sprintf("database=%s data_dir=%s", db, c.DataDir)
}

// redactURL hides a password in a connection string, URL or key=value form.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		fields := strings.Fields(raw)
		for i, f := range fields {
			if strings.HasPrefix(f, "password=") {
				fields[i] = "password=xxxxx"
			}
		}
		return strings.Join(fields, " ")
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
