package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SealedCredential is one provider connection's sealed credential, for `tenantatlas doctor`'s check
// that the secret key opens every one.
type SealedCredential struct {
	ConnectionID    int64
	TenantID        int64
	TenantName      string
	KeyID           string
	Bound           bool // sealed with the row as associated data (ProviderConnection.CredentialBound)
	Ciphertext      []byte
	SecretExpiresAt *time.Time
}

// SealedCredentials lists every provider connection's sealed credential, all workspaces.
func SealedCredentials(ctx context.Context, q Querier) ([]SealedCredential, error) {
	rows, err := q.Query(ctx, `SELECT c.id, c.tenant_id, t.name, c.credential_key_id, c.credential_bound, c.credential_ciphertext, c.secret_expires_at
		FROM provider_connections c JOIN tenants t ON t.id = c.tenant_id ORDER BY t.name, c.id`)
	if err != nil {
		return nil, fmt.Errorf("error listing sealed credentials: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SealedCredential, error) {
		var c SealedCredential
		return c, r.Scan(&c.ConnectionID, &c.TenantID, &c.TenantName, &c.KeyID, &c.Bound, &c.Ciphertext, &c.SecretExpiresAt)
	})
	if err != nil {
		return nil, fmt.Errorf("error listing sealed credentials: %w", err)
	}
	return out, nil
}

// ServerInfo is what doctor reports of the database server: its version, and its clock read in
// the same round trip.
type ServerInfo struct {
	Version string
	Now     time.Time
}

// Server reads the server's version and clock.
func Server(ctx context.Context, q Querier) (ServerInfo, error) {
	var s ServerInfo
	if err := q.QueryRow(ctx, `SELECT current_setting('server_version'), clock_timestamp()`).Scan(&s.Version, &s.Now); err != nil {
		return s, fmt.Errorf("error reading the server's version: %w", err)
	}
	return s, nil
}
