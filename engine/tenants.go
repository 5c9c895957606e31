package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// AddTenantRequest registers a tenant and its default provider connection.
type AddTenantRequest struct {
	Workspace   string // workspace name; empty: the actor's only workspace
	Name        string
	TenantGUID  string // Entra tenant id (GUID) or verified domain
	DisplayName string
	ClientID    string
	// Exactly one of ClientSecret and CertificatePEM (certificate and private key, PEM).
	ClientSecret    []byte
	CertificatePEM  []byte
	SecretExpiresAt *time.Time
}

// TenantView is a tenant with its default connection (credential never included).
type TenantView struct {
	store.Tenant
	WorkspaceName string                    `json:"workspace_name"`
	Connection    *store.ProviderConnection `json:"connection"`
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
var domainPattern = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)

// CheckTenantName, CheckTenantID and CheckClientID are AddTenant's checks of one field each, for
// forms that validate a field as it is typed (the dashboard's onboarding wizard).
func CheckTenantName(name string) error { return validName("tenant", name) }

// CheckTenantID: see CheckTenantName.
func CheckTenantID(id string) error {
	if !guidPattern.MatchString(id) && !domainPattern.MatchString(id) {
		return fmt.Errorf("%w: tenant id %q is neither a GUID nor a domain (find it in Entra ID > Overview > Tenant ID)", ErrInvalid, id)
	}
	return nil
}

// CheckClientID: see CheckTenantName.
func CheckClientID(id string) error {
	if !guidPattern.MatchString(id) {
		return fmt.Errorf("%w: client id %q is not a GUID (the Application (client) ID of the app registration)", ErrInvalid, id)
	}
	return nil
}

// AddTenant creates the tenant and its sealed default connection in one transaction (tenant.manage).
func (s *Service) AddTenant(ctx context.Context, actor Actor, req AddTenantRequest) (TenantView, error) {
	for _, err := range []error{CheckTenantName(req.Name), CheckTenantID(req.TenantGUID), CheckClientID(req.ClientID)} {
		if err != nil {
			return TenantView{}, err
		}
	}
	creds := graph.Credentials{TenantID: req.TenantGUID, ClientID: req.ClientID,
		ClientSecret: strings.TrimSpace(string(req.ClientSecret)), CertificatePEM: req.CertificatePEM}
	if err := creds.Validate(); err != nil {
		return TenantView{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if s.sealer == nil {
		return TenantView{}, errors.New("no secret key configured: set TENANTATLAS_SECRET_KEY or TENANTATLAS_SECRET_KEY_FILE")
	}
	w, err := s.ResolveWorkspace(ctx, actor, req.Workspace)
	if err != nil {
		return TenantView{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, w.ID, access.TenantManage); err != nil {
		return TenantView{}, err
	}
	kind, plaintext := "secret", []byte(creds.ClientSecret)
	if len(req.CertificatePEM) > 0 {
		kind, plaintext = "certificate", req.CertificatePEM
	}
	var out TenantView
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		t, err := store.InsertTenant(ctx, tx, store.Tenant{WorkspaceID: w.ID, Name: req.Name, TenantGUID: req.TenantGUID, DisplayName: req.DisplayName})
		if err != nil {
			return err
		}
		connID, err := store.NextProviderConnectionID(ctx, tx)
		if err != nil {
			return err
		}
		sealed, err := s.sealer.SealWith(plaintext, CredentialAAD(connID, t.ID))
		if err != nil {
			return err
		}
		c, err := store.InsertProviderConnection(ctx, tx, store.ProviderConnection{ID: connID, TenantID: t.ID, IsDefault: true, ClientID: req.ClientID,
			AuthKind: kind, CredentialCiphertext: sealed, CredentialKeyID: s.sealer.KeyID(), CredentialBound: true, SecretExpiresAt: req.SecretExpiresAt})
		if err != nil {
			return err
		}
		out = TenantView{Tenant: t, WorkspaceName: w.Name, Connection: &c}
		return s.audit(ctx, tx, actor, &w.ID, "tenant.add", "tenant", t.Name,
			map[string]any{"tenant_guid": t.TenantGUID, "client_id": req.ClientID, "auth_kind": kind})
	})
	return out, err
}

// ListTenants lists the tenants of the actor's workspaces (tenant.view).
func (s *Service) ListTenants(ctx context.Context, actor Actor) ([]TenantView, error) {
	roles, err := s.memberRoles(ctx, actor)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(roles))
	for w, r := range roles {
		if r.Can(access.TenantView) {
			ids = append(ids, w)
		}
	}
	tenants, err := store.ListTenants(ctx, s.db.Pool, ids)
	if err != nil {
		return nil, err
	}
	// Every tenant's connection in one read: a fleet of 2,000 tenants is two queries, not 2,001.
	tenantIDs := make([]int64, len(tenants))
	for i, t := range tenants {
		tenantIDs[i] = t.ID
	}
	conns, err := store.DefaultConnections(ctx, s.db.Pool, tenantIDs)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	out := make([]TenantView, 0, len(tenants))
	for _, t := range tenants {
		v := TenantView{Tenant: t}
		if c, ok := conns[t.ID]; ok {
			v.Connection = &c
		}
		v.WorkspaceName = s.workspaceName(ctx, t.WorkspaceID, names)
		out = append(out, v)
	}
	return out, nil
}

// GetTenant returns one tenant the actor may view, by name, id or Entra tenant id.
func (s *Service) GetTenant(ctx context.Context, actor Actor, ref string) (TenantView, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, 0, ref)
	if err != nil {
		return TenantView{}, err
	}
	return s.tenantView(ctx, t, map[int64]string{})
}

// GetTenantByID is GetTenant for callers that hold an id (the dashboard).
func (s *Service) GetTenantByID(ctx context.Context, actor Actor, id int64) (TenantView, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, id, "")
	if err != nil {
		return TenantView{}, err
	}
	return s.tenantView(ctx, t, map[int64]string{})
}

func (s *Service) tenantView(ctx context.Context, t store.Tenant, workspaceNames map[int64]string) (TenantView, error) {
	v := TenantView{Tenant: t}
	v.WorkspaceName = s.workspaceName(ctx, t.WorkspaceID, workspaceNames)
	c, err := store.GetDefaultConnection(ctx, s.db.Pool, t.ID)
	switch {
	case err == nil:
		v.Connection = &c
	case !errors.Is(err, store.ErrNotFound):
		return v, err
	}
	return v, nil
}

// workspaceName is a workspace's name, read once per names (a cache the caller holds); "" when it
// cannot be read: a tenant's view then shows no workspace name.
func (s *Service) workspaceName(ctx context.Context, id int64, names map[int64]string) string {
	if name, ok := names[id]; ok {
		return name
	}
	w, err := store.GetWorkspace(ctx, s.db.Pool, id)
	if err != nil {
		return ""
	}
	names[id] = w.Name
	return w.Name
}

// credentials unseals a connection's credential for a worker. It is never returned by any API.
func (s *Service) credentials(t store.Tenant, c store.ProviderConnection) (graph.Credentials, error) {
	creds := graph.Credentials{TenantID: t.TenantGUID, ClientID: c.ClientID}
	if s.sealer == nil {
		return creds, run.Failure(reason.ProviderSecretUndecryptable, "no secret key configured in this engine")
	}
	plain, err := s.openCredential(c.ID, c.TenantID, c.CredentialBound, c.CredentialCiphertext)
	if err != nil {
		return creds, run.Failure(reason.ProviderSecretUndecryptable,
			"the credential was sealed with key %s, this engine has key %s", c.CredentialKeyID, s.sealer.KeyID())
	}
	if c.AuthKind == "certificate" {
		creds.CertificatePEM = plain
	} else {
		creds.ClientSecret = string(plain)
	}
	return creds, nil
}

// openCredential opens a connection's sealed credential: bound to its row (CredentialAAD) unless it
// was sealed before migration 00013 and not re-sealed since.
func (s *Service) openCredential(connectionID, tenantID int64, bound bool, ciphertext []byte) ([]byte, error) {
	if !bound {
		return s.sealer.Open(ciphertext)
	}
	return s.sealer.OpenWith(ciphertext, CredentialAAD(connectionID, tenantID))
}
