package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantatlas/tenantatlas/store"
)

// TenantOpts are the options of Tenant.
type TenantOpts struct {
	WorkspaceID int64  // default: the default workspace
	Name        string // default: unique "tenant-N"
	TenantGUID  string // default: a unique GUID
	DisplayName string
	CreatedAt   *time.Time // default: now
}

// Tenant creates a tenant, without a provider connection (see Connection).
func Tenant(ctx context.Context, tb testing.TB, q store.Querier, opts *TenantOpts) store.Tenant {
	tb.Helper()
	opts = orZero(opts)
	n := next()
	v, err := store.InsertTenant(ctx, q, store.Tenant{WorkspaceID: workspaceOr(ctx, tb, q, opts.WorkspaceID),
		Name: or(opts.Name, fmt.Sprintf("tenant-%d", n)), TenantGUID: or(opts.TenantGUID, fmt.Sprintf("00000000-0000-4000-8000-%012d", n)),
		DisplayName: opts.DisplayName})
	must(tb, err)
	if opts.CreatedAt != nil {
		exec(ctx, tb, q, `UPDATE tenants SET created_at = $2, updated_at = $2 WHERE id = $1`, v.ID, *opts.CreatedAt)
		v, err = store.GetTenant(ctx, q, v.ID)
		must(tb, err)
	}
	return v
}

// ConnectionOpts are the options of Connection and UpdateConnection. The first group is only read
// by Connection; UpdateConnection applies the second to an existing connection. Setting Status
// records a verification as store.UpdateConnectionVerification does.
type ConnectionOpts struct {
	TenantID int64  // default: a new tenant in the default workspace
	ClientID string // default: a fixed GUID
	// CredentialCiphertext is stored as given: tests that decrypt it seal a real secret first.
	CredentialCiphertext []byte
	CredentialKeyID      string

	Status             string // default: "unverified" (as created)
	ReasonCode         *string
	MissingPermissions []string
	Verification       map[string]any
	LastVerifiedAt     *time.Time // default when Status is set: now
}

// Connection creates a tenant's default provider connection (secret auth).
func Connection(ctx context.Context, tb testing.TB, q store.Querier, opts *ConnectionOpts) store.ProviderConnection {
	tb.Helper()
	opts = orZero(opts)
	tenantID := opts.TenantID
	if tenantID == 0 {
		tenantID = Tenant(ctx, tb, q, nil).ID
	}
	c, err := store.InsertProviderConnection(ctx, q, store.ProviderConnection{TenantID: tenantID, IsDefault: true,
		ClientID: or(opts.ClientID, "3f2a0000-0000-4000-8000-000000000002"), AuthKind: "secret",
		CredentialCiphertext: orBytes(opts.CredentialCiphertext, []byte("storetest")), CredentialKeyID: or(opts.CredentialKeyID, "storetest")})
	must(tb, err)
	return UpdateConnection(ctx, tb, q, c.ID, opts)
}

// UpdateConnection forces a verification state on an existing connection (typically the one
// engine.Service.AddTenant created).
func UpdateConnection(ctx context.Context, tb testing.TB, q store.Querier, id int64, opts *ConnectionOpts) store.ProviderConnection {
	tb.Helper()
	opts = orZero(opts)
	if opts.Status != "" {
		must(tb, store.UpdateConnectionVerification(ctx, q, id, store.ConnectionVerification{Status: opts.Status,
			ReasonCode: opts.ReasonCode, MissingPermissions: opts.MissingPermissions, Result: opts.Verification}))
	}
	if opts.LastVerifiedAt != nil {
		exec(ctx, tb, q, `UPDATE provider_connections SET last_verified_at = $2 WHERE id = $1`, id, *opts.LastVerifiedAt)
	}
	var tenantID int64
	must(tb, q.QueryRow(ctx, `SELECT tenant_id FROM provider_connections WHERE id = $1`, id).Scan(&tenantID))
	c, err := store.GetDefaultConnection(ctx, q, tenantID)
	must(tb, err)
	return c
}
