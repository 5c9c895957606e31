package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	pgtest.Shutdown()
	os.Exit(code)
}
