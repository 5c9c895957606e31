package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tenantatlas/tenantatlas"

// rule forbids packages matching from to import packages matching any of deny. Patterns are import
// paths relative to the module ("tui"), or absolute ("github.com/microsoft/kiota"); a trailing
// "/..." also matches everything below, a trailing "*" any continuation of the path.
//
// Rules are about direct imports, tests' included: tui reaching kiota through engine is the layout
// working as intended, tui importing kiota itself is not.
type rule struct {
	from string
	deny []string
	why  string
}

var rules = []rule{
	{from: "tui/...", deny: []string{"engine/graph/...", "github.com/microsoft/kiota*", "github.com/Azure/azure-sdk-for-go/...", "github.com/AzureAD/..."},
		why: "the dashboard talks to the engine's service, never to Graph or its credentials"},
	{from: "store/...", deny: []string{"engine/...", "tui/..."},
		why: "the store is the bottom layer: it knows tables, not operations or screens"},
	{from: "engine/graph/...", deny: []string{"store/..."},
		why: "the Graph client is a pure client: what to persist is the operations' business"},
	{from: "engine/op/...", deny: []string{"engine"},
		why: "operations get what they need through engine/run; importing the service would make the service depend on itself"},
}

// sqlHomes are the only directories whose non-test Go files may hold SQL.
var sqlHomes = []string{"store/...", "migrations/..."}

// sqlLiteral spots a string literal that starts a SQL statement. Keywords are matched upper-case
// only, as this code base writes SQL, and with the word that must follow them, so that prose
// ("Delete the schedule?") and HTTP route patterns ("DELETE /_sim/…") do not count.
var sqlLiteral = regexp.MustCompile(`^\s*(SELECT\s+[^/\s]|INSERT\s+INTO\b|UPDATE\s+\w+(\s+\w+)?\s+SET\b|DELETE\s+FROM\b|` +
	`WITH\s+(RECURSIVE\s+)?\w+(\s*\([^)]*\))?\s+AS\b|TRUNCATE\s+\w|` +
	`(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+|TEMP\s+|TEMPORARY\s+|UNIQUE\s+)?(TABLE|INDEX|DATABASE|SCHEMA|TRIGGER|FUNCTION|VIEW|EXTENSION|ROLE|TYPE|SEQUENCE)\b)`)

// pkg is what the checks need of `go list -json`.
type pkg struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func TestArchitecture(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	require.NotEmpty(t, pkgs)

	t.Run("imports", func(t *testing.T) {
		t.Parallel()
		violations := importViolations(pkgs, rules)
		require.Empty(t, violations, "dependency rules broken:\n%s", strings.Join(violations, "\n"))
	})

	t.Run("SQL only in store", func(t *testing.T) {
		t.Parallel()
		dir := root(t)
		var findings []string
		for _, p := range pkgs {
			if matchAny(p.ImportPath, sqlHomes) {
				continue
			}
			for _, f := range p.GoFiles {
				path := filepath.Join(p.Dir, f)
				name, err := filepath.Rel(dir, path)
				require.NoError(t, err)
				src, err := os.ReadFile(path)
				require.NoError(t, err)
				got, err := sqlLiterals(name, src)
				require.NoError(t, err)
				findings = append(findings, got...)
			}
		}
		require.Empty(t, findings, "SQL outside store/ (move the query into a store function):\n%s", strings.Join(findings, "\n"))
	})
}

// TestCheckersCatchViolations feeds every rule a synthetic violation, so a rule that cannot fail
// (a mistyped pattern, a checker that skips test imports) shows up here.
func TestCheckersCatchViolations(t *testing.T) {
	t.Parallel()
	abs := func(rel string) string { return module + "/" + rel }
	tests := []struct {
		name string
		pkg  pkg
		want string // "" for no violation
	}{
		{name: "tui imports engine/graph", pkg: pkg{ImportPath: abs("tui"), Imports: []string{abs("engine/graph")}}, want: "tui imports engine/graph"},
		{name: "a tui test imports kiota", pkg: pkg{ImportPath: abs("tui/sshserve"), TestImports: []string{"github.com/microsoft/kiota-http-go"}},
			want: "tui/sshserve imports github.com/microsoft/kiota-http-go"},
		{name: "tui imports azidentity", pkg: pkg{ImportPath: abs("tui"), XTestImports: []string{"github.com/Azure/azure-sdk-for-go/sdk/azidentity"}},
			want: "tui imports github.com/Azure/azure-sdk-for-go/sdk/azidentity"},
		{name: "tui may import engine and graphsim", pkg: pkg{ImportPath: abs("tui"), Imports: []string{abs("engine"), abs("engine/graphsim")}}},
		{name: "store imports engine", pkg: pkg{ImportPath: abs("store"), Imports: []string{abs("engine")}}, want: "store imports engine"},
		{name: "store imports engine/reason", pkg: pkg{ImportPath: abs("store/storetest"), Imports: []string{abs("engine/reason")}},
			want: "store/storetest imports engine/reason"},
		{name: "store imports tui", pkg: pkg{ImportPath: abs("store"), TestImports: []string{abs("tui")}}, want: "store imports tui"},
		{name: "engine/graph imports store", pkg: pkg{ImportPath: abs("engine/graph"), Imports: []string{abs("store")}}, want: "engine/graph imports store"},
		{name: "engine/graph imports pgtest", pkg: pkg{ImportPath: abs("engine/graph"), XTestImports: []string{abs("store/pgtest")}},
			want: "engine/graph imports store/pgtest"},
		{name: "an operation imports engine", pkg: pkg{ImportPath: abs("engine/op/backup"), Imports: []string{abs("engine")}},
			want: "engine/op/backup imports engine"},
		{name: "an operation may import its siblings' layers", pkg: pkg{ImportPath: abs("engine/op/backup"),
			Imports: []string{abs("engine/run"), abs("engine/intune"), abs("engine/access"), abs("engine/reason"), abs("engine/graph"), abs("store")}}},
		{name: "engine itself may import engine/graph", pkg: pkg{ImportPath: abs("engine"), Imports: []string{abs("engine/graph"), abs("store")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := importViolations([]pkg{tc.pkg}, rules)
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.True(t, strings.HasPrefix(got[0], tc.want+":"), got[0])
		})
	}

	sqlTests := []struct {
		name, src string
		want      []string
	}{
		{name: "a query", src: "package p\nvar q = `SELECT id FROM tenants`\n", want: []string{"p.go:2: SELECT id FROM tenants"}},
		{name: "an indented statement in a call", src: "package p\nfunc f() { exec(\"\\n\\t\\tUPDATE runs SET x = 1\") }\nfunc exec(string) {}\n",
			want: []string{"p.go:2: UPDATE runs SET x = 1"}},
		{name: "every statement keyword", src: "package p\nvar a = []string{`INSERT INTO t`, `DELETE FROM t`, `WITH x AS (SELECT 1)`,\n`CREATE TABLE t ()`, `ALTER TABLE t`, `DROP TABLE t`, `TRUNCATE t`}\n",
			want: []string{"p.go:2: INSERT INTO t", "p.go:2: DELETE FROM t", "p.go:2: WITH x AS (SELECT 1)", "p.go:3: CREATE TABLE t ()",
				"p.go:3: ALTER TABLE t", "p.go:3: DROP TABLE t", "p.go:3: TRUNCATE t"}},
		{name: "prose is not SQL", src: "package p\nvar a = []string{\"Delete the schedule?\", \"select a tenant\", \"UPDATED\", \"the SELECT key\", \"DROP it\"}\n"},
		{name: "HTTP route patterns are not SQL", src: "package p\nvar a = []string{\"DELETE /_sim/tenants/{t}/faults\", \"UPDATE /x\", \"SELECT /y\"}\n"},
	}
	for _, tc := range sqlTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sqlLiterals("p.go", []byte(tc.src))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("SQL homes", func(t *testing.T) {
		t.Parallel()
		for path, home := range map[string]bool{module + "/store": true, module + "/store/pgtest": true, module + "/migrations": true,
			module + "/engine": false, module + "/storefront": false, module + "/cmd/tenantatlas": false} {
			require.Equal(t, home, matchAny(path, sqlHomes), path)
		}
	})
}

// importViolations lists "pkg imports dep: why" for every import a rule forbids.
func importViolations(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, p := range pkgs {
		imports := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		slices.Sort(imports)
		imports = slices.Compact(imports)
		for _, r := range rules {
			if !match(p.ImportPath, r.from) {
				continue
			}
			for _, imp := range imports {
				if imp != p.ImportPath && matchAny(imp, r.deny) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", short(p.ImportPath), short(imp), r.why))
				}
			}
		}
	}
	return out
}

// sqlLiterals lists "name:line: statement" for every string literal of a Go file that starts a SQL
// statement.
func sqlLiterals(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil || !sqlLiteral.MatchString(s) {
			return true
		}
		first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
		out = append(out, fmt.Sprintf("%s:%d: %s", name, fset.Position(lit.Pos()).Line, first))
		return true
	})
	return out, nil
}

// root is the module's directory: file names in findings are relative to it, and sqlLiterals
// reads them from there.
func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Dir,GoFiles,Imports,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var pkgs []pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func matchAny(path string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(path, p) })
}

// match reports whether an import path matches a pattern of rule.
func match(path, pattern string) bool {
	if !strings.Contains(strings.SplitN(pattern, "/", 2)[0], ".") {
		pattern = module + "/" + pattern // relative to the module
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

func short(path string) string { return strings.TrimPrefix(path, module+"/") }
