// Command tenantatlas is the TenantAtlas dashboard, engine and command line (docs/design.md#command-line).
// This package only wires flags and environment into the constructors of the other packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGHUP too: a closed terminal or dropped SSH connection still stops the engine gracefully and
	// removes the demo's throwaway directory.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
