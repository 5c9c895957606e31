package tui

import (
	"os"
	"testing"
	"time"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMain(m *testing.M) {
	time.Local = time.UTC // golden views show times
	os.Setenv("NO_COLOR", "1")
	pgtest.Main(m)
}
