package engine

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/op/verify"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// ErrNoSecretKey means the process has no secret key to open credentials with.
var ErrNoSecretKey = errors.New("no secret key configured")

// CredentialProblem is a sealed credential the configured key does not open.
type CredentialProblem struct {
	Tenant       string `json:"tenant"`
	ConnectionID int64  `json:"connection_id"`
	SealedWith   string `json:"sealed_with_key"`
}

// CredentialsCheck is whether the secret key opens every sealed credential.
type CredentialsCheck struct {
	KeyID         string              `json:"key_id"`
	Connections   int                 `json:"connections"`
	Undecryptable []CredentialProblem `json:"undecryptable"`
	// Expiring are the tenants whose secret expires within 14 days (or has expired), by the date
	// given when it was stored.
	Expiring []string `json:"expiring"`
}

// CheckCredentials tries the secret key on every sealed credential of every workspace. Only the
// administrator may (doctor runs as the bootstrap administrator unless --as says otherwise).
func (s *Service) CheckCredentials(ctx context.Context, actor Actor, now time.Time) (CredentialsCheck, error) {
	if err := requireAdmin(actor, "check every workspace's sealed credentials"); err != nil {
		return CredentialsCheck{}, err
	}
	if s.sealer == nil {
		return CredentialsCheck{}, ErrNoSecretKey
	}
	out := CredentialsCheck{KeyID: s.sealer.KeyID(), Undecryptable: []CredentialProblem{}, Expiring: []string{}}
	creds, err := store.SealedCredentials(ctx, s.db.Pool)
	if err != nil {
		return out, err
	}
	out.Connections = len(creds)
	for _, c := range creds {
		if _, err := s.openCredential(c.ConnectionID, c.TenantID, c.Bound, c.Ciphertext); err != nil {
			out.Undecryptable = append(out.Undecryptable, CredentialProblem{Tenant: c.TenantName, ConnectionID: c.ConnectionID, SealedWith: c.KeyID})
		}
		if c.SecretExpiresAt != nil && c.SecretExpiresAt.Before(now.Add(14*24*time.Hour)) && !slices.Contains(out.Expiring, c.TenantName) {
			out.Expiring = append(out.Expiring, c.TenantName)
		}
	}
	return out, nil
}

// TokenCheck is one tenant's sign-in as doctor sees it: a fresh token, or the classified failure,
// and the permissions each capability needs against the token's roles.
type TokenCheck struct {
	Tenant       string                   `json:"tenant"`
	OK           bool                     `json:"ok"`
	Reason       reason.Code              `json:"reason,omitempty"`
	AADSTS       int                      `json:"aadsts,omitempty"`
	Message      string                   `json:"message,omitempty"`
	Hint         string                   `json:"hint,omitempty"`
	ExpiresAt    *time.Time               `json:"expires_at,omitempty"`
	Capabilities []verify.CapabilityCheck `json:"capabilities"`
}

// CheckTenantTokens signs in as each tenant's default connection through cfg (the tenants whose
// connections the actor may verify, or only ref's) and compares the token's roles with what each
// capability needs. It needs provider.verify, starts no run and writes nothing.
func (s *Service) CheckTenantTokens(ctx context.Context, actor Actor, ref string, cfg graph.Config) ([]TokenCheck, error) {
	var tenants []TenantView
	if ref != "" {
		t, err := s.GetTenant(ctx, actor, ref)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeTenant(ctx, actor, t.ID, access.ProviderVerify); err != nil {
			return nil, err
		}
		tenants = []TenantView{t}
	} else {
		all, err := s.ListTenants(ctx, actor)
		if err != nil {
			return nil, err
		}
		for _, t := range all {
			if s.Can(ctx, actor, t.WorkspaceID, access.ProviderVerify) {
				tenants = append(tenants, t)
			}
		}
	}
	out := make([]TokenCheck, 0, len(tenants))
	for _, t := range tenants {
		out = append(out, s.checkToken(ctx, t.Tenant, cfg))
	}
	return out, nil
}

func (s *Service) checkToken(ctx context.Context, t store.Tenant, cfg graph.Config) TokenCheck {
	tc := TokenCheck{Tenant: t.Name, Capabilities: []verify.CapabilityCheck{}}
	fail := func(code reason.Code, msg string) TokenCheck {
		tc.Reason, tc.Message, tc.Hint = code, msg, reason.Hint(code)
		return tc
	}
	conn, err := store.GetDefaultConnection(ctx, s.db.Pool, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return fail(reason.ProviderConnectionMissing, "the tenant has no provider connection")
	} else if err != nil {
		return fail(reason.InternalError, err.Error())
	}
	creds, err := s.credentials(t, conn)
	if err != nil {
		return fail(reason.ProviderSecretUndecryptable, err.Error())
	}
	return s.signIn(ctx, t.Name, creds, cfg)
}

// signIn fetches a fresh token with creds through cfg and checks its roles against what each
// capability needs: doctor's check of a stored credential, and set-credential's of a new one.
func (s *Service) signIn(ctx context.Context, tenantName string, creds graph.Credentials, cfg graph.Config) TokenCheck {
	tc := TokenCheck{Tenant: tenantName, Capabilities: []verify.CapabilityCheck{}}
	fail := func(code reason.Code, msg string) TokenCheck {
		tc.Reason, tc.Message, tc.Hint = code, msg, reason.Hint(code)
		return tc
	}
	client, err := graph.NewClient(cfg, creds, nil)
	if err != nil {
		return fail(reason.ProviderInvalidRequest, err.Error())
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := client.Token(ctx, true)
	if err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) {
			tc.AADSTS = ge.AADSTS
			return fail(ge.Reason, firstNonEmpty(ge.Message, err.Error()))
		}
		return fail(reason.ProviderAuthFailed, err.Error())
	}
	tc.OK = true
	exp := tok.ExpiresAt
	tc.ExpiresAt = &exp
	tc.Capabilities = verify.CheckRoles(tok.Roles)
	if len(tok.Roles) == 0 {
		tc.OK = false
		return fail(reason.ProviderConsentMissing, "the token carries no application permissions (no roles claim)")
	}
	return tc
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
