package engine_test

import (
	"bufio"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

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

// startChild starts this test binary again as a child process with env added (TestMain runs the
// child's role instead of the tests), in its own process group, and returns once the child said
// "ready". The test kills it when it ends, should the test not have killed it first.
func startChild(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), env...)
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	return child
}
