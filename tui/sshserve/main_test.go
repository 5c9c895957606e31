package sshserve

import (
	"testing"

	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
