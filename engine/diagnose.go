package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// CheckLine is one line of a doctor report: a check, whether it passed, what was found and the
// fix. `tenantatlas doctor` prints them with ✔/✖; the dashboard's diagnosis of a tenant shows the
// same lines.
type CheckLine struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// Lines are a tenant's sign-in and permission checks as doctor lines.
func (tc TokenCheck) Lines() []CheckLine {
	if !tc.OK {
		detail := fmt.Sprintf("%s: sign-in failed: %s", tc.Tenant, tc.Reason)
		if tc.AADSTS != 0 {
			detail += fmt.Sprintf(" (AADSTS%d)", tc.AADSTS)
		}
		if tc.Message != "" {
			detail += ": " + tc.Message
		}
		return []CheckLine{{Name: "token", Detail: detail, Fix: tc.Hint}}
	}
	out := []CheckLine{{Name: "token", OK: true, Detail: fmt.Sprintf("%s: signs in (token until %s)", tc.Tenant, tc.ExpiresAt.Local().Format("15:04"))}}
	for _, cc := range tc.Capabilities {
		switch {
		case len(cc.Missing) == 0:
			out = append(out, CheckLine{Name: "permissions", OK: true, Detail: fmt.Sprintf("%s: %s granted", tc.Tenant, cc.Capability)})
		case !cc.Required:
			out = append(out, CheckLine{Name: "permissions", OK: true, Detail: fmt.Sprintf("%s: %s not possible (optional), missing %s", tc.Tenant, cc.Capability, strings.Join(cc.Missing, ", "))})
		default:
			out = append(out, CheckLine{Name: "permissions", Detail: fmt.Sprintf("%s: %s needs %s", tc.Tenant, cc.Capability, strings.Join(cc.Missing, ", ")),
				Fix: "add the application permission(s) to the app registration and grant admin consent, then `tenantatlas tenants verify " + tc.Tenant + "`"})
		}
	}
	return out
}

// GraphReachable is doctor's check that Graph answers through the configured proxy and CA bundle.
func GraphReachable(ctx context.Context, cfg graph.Config) CheckLine {
	url := cfg.GraphURL
	if url == "" {
		url = graph.DefaultGraphURL
	}
	proxy, err := graph.Reachable(ctx, cfg)
	via := "directly"
	if proxy != "" {
		via = "through proxy " + proxy
	}
	if err != nil {
		return CheckLine{Name: "graph", Detail: fmt.Sprintf("%s not reachable %s: %s", url, via, strings.ReplaceAll(err.Error(), "\n", " ")),
			Fix: "check HTTPS_PROXY / NO_PROXY, the firewall, and the CA bundle (--graph-ca-file, SSL_CERT_FILE) for a TLS-inspecting proxy"}
	}
	return CheckLine{Name: "graph", OK: true, Detail: fmt.Sprintf("%s reachable %s", url, via)}
}

// DiagnoseTenant runs doctor's checks for one tenant from this process, as the dashboard offers
// them from a blocked connection: the secret key opens its credential, it signs in (AADSTS
// classified), the permissions each capability needs, and Graph reachable through the configured
// proxy and CA bundle. It needs provider.verify, starts no run and writes nothing.
func (s *Service) DiagnoseTenant(ctx context.Context, actor Actor, tenantID int64) ([]CheckLine, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, tenantID, "")
	if err != nil {
		return nil, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, t.WorkspaceID, access.ProviderVerify); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	var out []CheckLine
	conn, err := store.GetDefaultConnection(ctx, s.db.Pool, t.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		out = append(out, CheckLine{Name: "connection", Detail: t.Name + ": no provider connection", Fix: reason.Hint(reason.ProviderConnectionMissing)})
	case err != nil:
		return nil, err
	case s.sealer == nil:
		out = append(out, CheckLine{Name: "secret key", Detail: "no secret key configured in this process",
			Fix: "give the key that seals credentials in TENANTATLAS_SECRET_KEY or --secret-key-file (every process needs the same key)"})
	default:
		if _, err := s.credentials(t, conn); err != nil {
			out = append(out, CheckLine{Name: "secret key", Detail: fmt.Sprintf("%s: key %s does not open the credential (sealed with key %s)", t.Name, s.sealer.KeyID(), conn.CredentialKeyID),
				Fix: "give this process the key that sealed it, or store the credential again (c here, or `tenantatlas tenants set-credential`)"})
		} else {
			out = append(out, CheckLine{Name: "secret key", OK: true, Detail: fmt.Sprintf("key %s opens %s's credential", s.sealer.KeyID(), t.Name)})
			out = append(out, s.checkToken(ctx, t, s.graph).Lines()...)
		}
	}
	return append(out, GraphReachable(ctx, s.graph)), nil
}
