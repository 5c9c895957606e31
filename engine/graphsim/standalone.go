package graphsim

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// WriteCAFile writes the CA certificate PEM to path (mode 0644) for SSL_CERT_FILE.
func (s *Server) WriteCAFile(path string) error {
	if err := os.WriteFile(path, s.ca.caPEM, 0o644); err != nil {
		return fmt.Errorf("error writing the graphsim CA file: %w", err)
	}
	return nil
}

// Env returns the environment that points a TenantAtlas engine at the simulator, as KEY=VALUE:
// TENANTATLAS_GRAPH_URL, TENANTATLAS_LOGIN_URL and SSL_CERT_FILE=caFile. Note that Go reads
// SSL_CERT_FILE instead of (not in addition to) the system bundle, so such an engine trusts only
// the simulator.
func (s *Server) Env(caFile string) []string {
	return []string{
		graph.EnvGraphURL + "=" + s.GraphURL(),
		graph.EnvLoginURL + "=" + s.LoginURL(),
		"SSL_CERT_FILE=" + caFile,
	}
}

// Describe writes the environment and every tenant's credentials, human readable.
func (s *Server) Describe(w io.Writer, caFile string) {
	fmt.Fprintf(w, "graphsim listening on %s (login and Graph)\n\n", s.URL())
	fmt.Fprintln(w, "Point an engine at it:")
	for _, e := range s.Env(caFile) {
		fmt.Fprintf(w, "  export %s\n", e)
	}
	fmt.Fprintln(w, "\nTenants:")
	for _, t := range s.tenants {
		fmt.Fprintf(w, "  %s  [%s]  %d groups\n", t.Name, t.Profile, t.GroupCount())
		fmt.Fprintf(w, "    tenant id:     %s (or %s)\n", t.ID, t.Domain)
		fmt.Fprintf(w, "    client id:     %s\n", t.ClientID)
		fmt.Fprintf(w, "    client secret: %s\n", t.ClientSecret)
		fmt.Fprintf(w, "    certificate:   curl --cacert %s %s/_sim/tenants/%s/certificate\n", caFile, s.URL(), t.ID)
		if missing := graph.MissingPermissions(t.Roles(), graph.RequiredPermissions()); len(missing) > 0 {
			fmt.Fprintf(w, "    missing:       %s\n", strings.Join(missing, ", "))
		}
	}
	fmt.Fprintf(w, "\nAdmin API (faults, mutations): %s/_sim/tenants\n", s.URL())
}

// ServeStandalone runs a simulator on addr until ctx ends: it writes the CA to a file in a new
// temporary directory, prints Describe to w, serves, and cleans up. It is all the
// `tenantatlas graphsim` command needs.
func ServeStandalone(ctx context.Context, addr string, opts Options, w io.Writer) error {
	if addr != "" {
		opts.Addr = addr
	}
	s, err := New(opts)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "graphsim-")
	if err != nil {
		return fmt.Errorf("error creating the CA directory: %w", err)
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "graphsim-ca.pem")
	if err := s.WriteCAFile(caFile); err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	defer s.Close()
	s.Describe(w, caFile)
	<-ctx.Done()
	return nil
}
