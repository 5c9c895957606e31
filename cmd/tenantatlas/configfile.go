package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"

	"github.com/tenantatlas/tenantatlas/engine"
)

// The configuration file (docs/operations.md#configuration): TOML whose top-level keys are the
// global flags' names and whose tables, named after a command, hold that command's flags:
//
//	database-url = "postgres://tenantatlas@db.internal:5432/tenantatlas"
//	secret-key-file = "/etc/tenantatlas/secret.key"
//	[engine]
//	workers = 8
//	shutdown-timeout = "30s"
//
// Precedence: flags > environment > file > defaults. Unknown keys, values of the wrong type and a
// secret written in plain text are errors that name the file, the line and the key.

// configFileEnv names the file instead of --config.
const configFileEnv = "TENANTATLAS_CONFIG"

// configFile is a parsed configuration file.
type configFile struct {
	path   string
	values map[string]any // key, or "table.key"
	lines  map[string]int // where each key is written
}

// defaultConfigPath is $XDG_CONFIG_HOME/tenantatlas/config.toml, else ~/.config/tenantatlas/config.toml
// ("" when neither variable is set).
func defaultConfigPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "tenantatlas", "config.toml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "tenantatlas", "config.toml")
	}
	return ""
}

// readConfigFile parses path. A missing file is no configuration unless it was named explicitly.
func readConfigFile(path string, explicit bool) (*configFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, usageErrorf("config file: %v", err)
	}
	raw := map[string]any{}
	if err := toml.Unmarshal(data, &raw); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, usageErrorf("%s:%d: %s", path, row, oneLine(de))
		}
		return nil, usageErrorf("%s: %v", path, err)
	}
	f := &configFile{path: path, values: map[string]any{}, lines: keyLines(data)}
	for k, v := range raw {
		if table, ok := v.(map[string]any); ok {
			for tk, tv := range table {
				f.values[k+"."+tk] = tv
			}
			f.values[k] = table
			continue
		}
		f.values[k] = v
	}
	return f, nil
}

// keyLines finds the line of each `key = …` (and "table.key"), for error messages and config show.
func keyLines(data []byte) map[string]int {
	out := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			table = strings.Trim(strings.TrimSpace(strings.Trim(line, "[]")), `"'`)
			if _, ok := out[table]; !ok {
				out[table] = n
			}
		default:
			key, _, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			key = strings.Trim(strings.TrimSpace(key), `"'`)
			if table != "" {
				key = table + "." + key
			}
			if _, ok := out[key]; !ok {
				out[key] = n
			}
		}
	}
	return out
}

// where is "path:line" of key.
func (f *configFile) where(key string) string {
	if n, ok := f.lines[key]; ok {
		return fmt.Sprintf("%s:%d", f.path, n)
	}
	return f.path
}

func (f *configFile) errorf(key, format string, args ...any) error {
	return usageErrorf("%s: %s: %s", f.where(key), key, fmt.Sprintf(format, args...))
}

// tomlType names a decoded TOML value's type for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.LocalDate, toml.LocalDateTime, toml.LocalTime:
		return "a date"
	}
	return fmt.Sprintf("%T", v)
}

// flagValue turns a TOML value into the text a flag of type typ parses, refusing a wrong type.
func (f *configFile) flagValue(key, typ string, v any) (string, error) {
	switch typ {
	case "bool":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return "", f.errorf(key, "expected true or false, got %s", tomlType(v))
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
		return "", f.errorf(key, "expected an integer, got %s", tomlType(v))
	case "duration":
		if s, ok := v.(string); ok {
			if _, err := time.ParseDuration(s); err != nil {
				return "", f.errorf(key, "expected a duration such as \"30s\" or \"2m\", got %q", s)
			}
			return s, nil
		}
		return "", f.errorf(key, "expected a duration string such as \"30s\", got %s", tomlType(v))
	case "stringSlice", "stringArray":
		arr, ok := v.([]any)
		if !ok {
			return "", f.errorf(key, "expected an array of strings, got %s", tomlType(v))
		}
		parts := make([]string, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return "", f.errorf(key, "expected an array of strings, element %d is %s", i+1, tomlType(e))
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", f.errorf(key, "expected a string, got %s", tomlType(v))
}

// check refuses unknown keys, tables no command has, values of the wrong type and plaintext secrets.
// commands maps a command name to its own flags.
func (f *configFile) check(global *pflag.FlagSet, commands map[string]*pflag.FlagSet) error {
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return f.lines[a] - f.lines[b] })
	for _, k := range keys {
		v := f.values[k]
		table, name, nested := strings.Cut(k, ".")
		if nested {
			fs := commands[table]
			if fs == nil {
				continue // reported on the table itself
			}
			fl := fs.Lookup(name)
			if fl == nil {
				return f.errorf(k, "unknown key (the %s command's flags are: %s)", table, flagNames(fs))
			}
			if _, err := f.flagValue(k, fl.Value.Type(), v); err != nil {
				return err
			}
			continue
		}
		if _, isTable := v.(map[string]any); isTable {
			if commands[k] == nil {
				return f.errorf(k, "unknown table: tables are named after a command with flags of its own (%s)", strings.Join(sortedKeys(commands), ", "))
			}
			continue
		}
		switch k {
		case "secret-key":
			return f.errorf(k, "a secret does not belong in the config file in plain text: write the key to a file only the service can read (chmod 600) and set secret-key-file = \"/path/to/it\"")
		case "config":
			return f.errorf(k, "unknown key: a config file cannot name another one")
		case "secret-key-file", "previous-secret-key-file":
			if s, ok := v.(string); ok {
				if _, err := engine.ParseSecretKey(s); err == nil {
					return f.errorf(k, "expects the path of a file holding the key, and this is the key itself: move it into a file (chmod 600) and give its path")
				}
			}
		}
		fl := global.Lookup(k)
		if fl == nil || k == "help" {
			return f.errorf(k, "unknown key (known: %s)", flagNames(global))
		}
		if _, err := f.flagValue(k, fl.Value.Type(), v); err != nil {
			return err
		}
	}
	return nil
}

func flagNames(fs *pflag.FlagSet) string {
	var names []string
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "help" && fl.Name != "config" {
			names = append(names, fl.Name)
		}
	})
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// configEntry is one line of `config show`.
type configEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// effective lists every global key with its value (secrets redacted) and source, then the keys of
// the file's command tables.
func (c *Config) effective() []configEntry {
	var out []configEntry
	add := func(key, value string) {
		src := c.sources[key]
		if src == "" {
			src = "default"
		}
		out = append(out, configEntry{Key: key, Value: value, Source: src})
	}
	for _, b := range c.bindings() {
		v := *b.target
		if b.flag == "database-url" && v != "" {
			v = redactURL(v)
		}
		add(b.flag, v)
	}
	add("json", strconv.FormatBool(c.JSON))
	key := ""
	if c.SecretKey != "" {
		key = "(set, redacted)"
	}
	add("secret-key", key)
	if c.file != nil {
		var tables []string
		for k, v := range c.file.values {
			if _, ok := v.(map[string]any); ok {
				tables = append(tables, k)
			}
		}
		slices.Sort(tables)
		for _, t := range tables {
			table := c.file.values[t].(map[string]any)
			for _, k := range sortedKeys(table) {
				full := t + "." + k
				src := c.sources[full]
				if src == "" {
					src = "file " + c.file.where(full)
				}
				out = append(out, configEntry{Key: full, Value: fmt.Sprint(table[k]), Source: src})
			}
		}
	}
	return out
}
