package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/store"
)

// ErrCredentialRejected means a new credential did not sign in, so it was not stored: the old one
// stays in place.
var ErrCredentialRejected = errors.New("the new credential was not accepted")

// ErrTenantBusy means a tenant has queued or running runs, so it cannot be removed yet.
var ErrTenantBusy = errors.New("nothing removed")

// SetCredentialRequest replaces a tenant's credential (`tenants set-credential`).
type SetCredentialRequest struct {
	TenantRef string // name, id or Entra tenant id; or TenantID
	TenantID  int64
	// Exactly one of ClientSecret and CertificatePEM (certificate and private key, PEM).
	ClientSecret    []byte
	CertificatePEM  []byte
	SecretExpiresAt *time.Time
	// NoVerify stores the credential without signing in with it first.
	NoVerify bool
}

// SetCredentialResult is what SetCredential did.
type SetCredentialResult struct {
	Tenant TenantView `json:"tenant"`
	// SignIn is the new credential's sign-in, nil with NoVerify.
	SignIn *TokenCheck `json:"sign_in,omitempty"`
	// Verification is the verification run started for the new credential.
	Verification *store.Run `json:"verification,omitempty"`
}

// SetCredential replaces the tenant's default connection's credential (tenant.manage). Unless
// NoVerify, it first signs in with the new credential through the service's Graph configuration;
// when that fails nothing changes and the error says why (ErrCredentialRejected). The new
// credential is sealed bound to its row, the connection's verification is reset, the change is
// audited (tenant.set_credential, never the credential) and a verification run is started.
func (s *Service) SetCredential(ctx context.Context, actor Actor, req SetCredentialRequest) (SetCredentialResult, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, req.TenantID, req.TenantRef)
	if err != nil {
		return SetCredentialResult{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, t.WorkspaceID, access.TenantManage); err != nil {
		return SetCredentialResult{}, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	if s.sealer == nil {
		return SetCredentialResult{}, errors.New("no secret key configured: set TENANTATLAS_SECRET_KEY or TENANTATLAS_SECRET_KEY_FILE")
	}
	conn, err := store.GetDefaultConnection(ctx, s.db.Pool, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return SetCredentialResult{}, fmt.Errorf("%w: tenant %s has no provider connection to give a credential to", ErrInvalid, t.Name)
	} else if err != nil {
		return SetCredentialResult{}, err
	}
	creds := graph.Credentials{TenantID: t.TenantGUID, ClientID: conn.ClientID,
		ClientSecret: strings.TrimSpace(string(req.ClientSecret)), CertificatePEM: req.CertificatePEM}
	if err := creds.Validate(); err != nil {
		return SetCredentialResult{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	kind, plaintext := "secret", []byte(creds.ClientSecret)
	if len(req.CertificatePEM) > 0 {
		kind, plaintext = "certificate", req.CertificatePEM
	}
	var out SetCredentialResult
	if !req.NoVerify {
		tc := s.signIn(ctx, t.Name, creds, s.graph)
		if !tc.OK {
			msg := string(tc.Reason)
			if tc.AADSTS != 0 {
				msg += fmt.Sprintf(" (AADSTS%d)", tc.AADSTS)
			}
			if tc.Message != "" {
				msg += ": " + tc.Message
			}
			if tc.Hint != "" {
				msg += "; " + tc.Hint
			}
			return SetCredentialResult{}, fmt.Errorf("%w: signing in to %s with it failed: %s; the old credential stays in place",
				ErrCredentialRejected, t.Name, msg)
		}
		out.SignIn = &tc
	}
	sealed, err := s.sealer.SealWith(plaintext, CredentialAAD(conn.ID, t.ID))
	if err != nil {
		return SetCredentialResult{}, err
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		c, err := store.ReplaceCredential(ctx, tx, conn.ID, store.NewCredential{AuthKind: kind, Ciphertext: sealed,
			KeyID: s.sealer.KeyID(), SecretExpiresAt: req.SecretExpiresAt})
		if err != nil {
			return err
		}
		out.Tenant = TenantView{Tenant: t, Connection: &c}
		return s.audit(ctx, tx, actor, &t.WorkspaceID, "tenant.set_credential", "tenant", t.Name,
			map[string]any{"connection_id": c.ID, "auth_kind": kind, "verified": !req.NoVerify, "key_id": s.sealer.KeyID()})
	})
	if err != nil {
		return SetCredentialResult{}, err
	}
	if w, err := store.GetWorkspace(ctx, s.db.Pool, t.WorkspaceID); err == nil {
		out.Tenant.WorkspaceName = w.Name
	}
	if res, err := s.Start(ctx, actor, StartRequest{Type: TypeProviderVerification, TenantID: t.ID}); err == nil {
		out.Verification = &res.Run
	} else {
		s.logger.Warn("credential replaced; starting its verification failed", "tenant", t.Name, "error", err)
	}
	return out, nil
}

// RemoveTenantRequest removes a tenant (`tenants remove`). Confirm must be the tenant's name: the
// caller asked the user to type it (or passed --yes naming it).
type RemoveTenantRequest struct {
	TenantRef string
	TenantID  int64
	Confirm   string
}

// RemovedTenant is what RemoveTenant removed and kept.
type RemovedTenant struct {
	Tenant string `json:"tenant"`
	store.RemovedTenant
}

// RemoveTenant deletes a tenant with its provider connection and cached data (tenant.manage); its
// runs and the audit stay. It refuses while a run of the tenant is queued or running, and unless
// Confirm names the tenant. The audit event tenant.remove records what went.
func (s *Service) RemoveTenant(ctx context.Context, actor Actor, req RemoveTenantRequest) (RemovedTenant, error) {
	t, err := s.resolveTenant(ctx, s.db.Pool, actor, req.TenantID, req.TenantRef)
	if err != nil {
		return RemovedTenant{}, err
	}
	if _, err := authorize(ctx, s.db.Pool, actor, t.WorkspaceID, access.TenantManage); err != nil {
		return RemovedTenant{}, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	if req.Confirm != t.Name {
		return RemovedTenant{}, fmt.Errorf("%w: removing tenant %s deletes its connection, groups, inventory and backups; confirm by giving its name (%q)",
			ErrInvalid, t.Name, t.Name)
	}
	out := RemovedTenant{Tenant: t.Name}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		// Lock the tenant so no run starts for it (Start's insert takes a key-share lock) between the
		// check and the delete.
		if err := store.LockTenant(ctx, tx, t.ID); err != nil {
			return err
		}
		active, err := store.ActiveTenantRuns(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if len(active) > 0 {
			ids := make([]string, len(active))
			for i, id := range active {
				ids[i] = fmt.Sprint(id)
			}
			return fmt.Errorf("tenant %s has %d queued or running run(s) (%s): cancel them or let them finish, then remove it (%w)",
				t.Name, len(active), strings.Join(ids, ", "), ErrTenantBusy)
		}
		removed, err := store.DeleteTenant(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		out.RemovedTenant = removed
		return s.audit(ctx, tx, actor, &t.WorkspaceID, "tenant.remove", "tenant", t.Name, map[string]any{
			"tenant_id": t.ID, "tenant_guid": t.TenantGUID, "runs_kept": removed.RunsKept, "backup_sets": removed.BackupSets,
			"inventory_items": removed.InventoryItems, "directory_objects": removed.DirectoryObjects, "payloads_removed": removed.PayloadsRemoved})
	})
	if err != nil {
		return RemovedTenant{}, err
	}
	return out, nil
}
