package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

var updateREADME bool

func TestMain(m *testing.M) {
	flag.BoolVar(&updateREADME, "update-readme", false, "rewrite the generated parts of README.md")
	flag.Parse()
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	pgtest.Shutdown()
	os.Exit(code)
}
