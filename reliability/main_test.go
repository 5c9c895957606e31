package reliability_test

import (
	"os"
	"testing"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childDSNEnv) != "" {
		os.Exit(runChildEngine())
	}
	pgtest.Main(m)
}
