package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
)

const (
	permissionsBegin = "<!-- permissions:begin (generated from the contract registry by `go test ./cmd/tenantatlas -run TestREADMEPermissions -update-readme`) -->"
	permissionsEnd   = "<!-- permissions:end -->"
)

// TestREADMEPermissions keeps the README's permissions table equal to what the contract registry
// says; with -update-readme it rewrites the table.
func TestREADMEPermissions(t *testing.T) {
	t.Parallel()
	path := "../../README.md"
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(data)
	start := strings.Index(text, permissionsBegin)
	end := strings.Index(text, permissionsEnd)
	require.True(t, start >= 0 && end > start, "README.md lacks the permissions markers")
	want := permissionsBegin + "\n" + engine.PermissionsMarkdown() + permissionsEnd
	got := text[start : end+len(permissionsEnd)]
	if updateREADME {
		require.NoError(t, os.WriteFile(path, []byte(text[:start]+want+text[end+len(permissionsEnd):]), 0o644))
		return
	}
	require.Equal(t, want, got, "README's permissions table is stale: run go test ./cmd/tenantatlas -run TestREADMEPermissions -update-readme")
}
