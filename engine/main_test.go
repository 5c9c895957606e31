package engine_test

import (
	"os"
	"testing"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(engineChildEnv) != "" {
		os.Exit(runEngineChild())
	}
	if os.Getenv(alertChildEnv) != "" {
		os.Exit(runAlertChild())
	}
	if os.Getenv(budgetChildEnv) != "" {
		os.Exit(runBudgetChild())
	}
	if os.Getenv(restoreChildEnv) != "" {
		os.Exit(runRestoreChild())
	}
	pgtest.Main(m)
}
