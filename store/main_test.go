package store_test

import (
	"os"
	"testing"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runLocalChild())
	}
	pgtest.Main(m)
}
