package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tenant is an Entra tenant in a workspace.
type Tenant struct {
	ID          int64  `json:"id"`
	WorkspaceID int64  `json:"workspace_id"`
	Name        string `json:"name"`
	TenantGUID  string `json:"tenant_guid"`
	DisplayName string `json:"display_name"`
	// Tags group tenants for fleet actions ("eu", "tier-1"), lower case, sorted.
	Tags      []string  `json:"tags"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProviderConnection is a tenant's app registration. CredentialCiphertext is sealed by the engine's
// secret key; it never holds plaintext and is never serialised.
type ProviderConnection struct {
	ID                   int64  `json:"id"`
	TenantID             int64  `json:"tenant_id"`
	IsDefault            bool   `json:"is_default"`
	ClientID             string `json:"client_id"`
	AuthKind             string `json:"auth_kind"`
	CredentialCiphertext []byte `json:"-"`
	CredentialKeyID      string `json:"-"`
	// CredentialBound: sealed with the row as associated data (engine.CredentialAAD); false only for
	// rows sealed before migration 00013 and not re-sealed since.
	CredentialBound    bool           `json:"-"`
	SecretExpiresAt    *time.Time     `json:"secret_expires_at"`
	Status             string         `json:"status"`
	StatusReasonCode   *string        `json:"status_reason_code"`
	MissingPermissions []string       `json:"missing_permissions"`
	GrantedPermissions []string       `json:"granted_permissions"`
	Verification       map[string]any `json:"verification"`
	LastVerifiedAt     *time.Time     `json:"last_verified_at"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

const tenantColumns = `id, workspace_id, name, tenant_guid, display_name, tags, created_at, updated_at`

const tenantSelect = `SELECT ` + tenantColumns + ` FROM tenants`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.TenantGUID, &t.DisplayName, &t.Tags, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// SetTenantTags replaces a tenant's tags (the caller sorts and checks them; the database refuses
// malformed ones).
func SetTenantTags(ctx context.Context, q Querier, id int64, tags []string) (Tenant, error) {
	if tags == nil {
		tags = []string{}
	}
	t, err := scanTenant(q.QueryRow(ctx, `UPDATE tenants SET tags = $2, updated_at = now() WHERE id = $1 RETURNING `+tenantColumns, id, tags))
	if err != nil {
		return t, notFound(err, fmt.Sprintf("tenant %d", id))
	}
	return t, nil
}

// ListTenantsTagged lists the tenants of the given workspaces that carry tag.
func ListTenantsTagged(ctx context.Context, q Querier, workspaceIDs []int64, tag string) ([]Tenant, error) {
	rows, err := q.Query(ctx, tenantSelect+` WHERE workspace_id = ANY($1) AND tags @> ARRAY[$2::text] ORDER BY name, id`, workspaceIDs, tag)
	if err != nil {
		return nil, fmt.Errorf("error listing tenants tagged %q: %w", tag, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}

func InsertTenant(ctx context.Context, q Querier, t Tenant) (Tenant, error) {
	out, err := scanTenant(q.QueryRow(ctx, `INSERT INTO tenants (workspace_id, name, tenant_guid, display_name)
		VALUES ($1, $2, $3, $4) RETURNING `+tenantColumns,
		t.WorkspaceID, t.Name, t.TenantGUID, t.DisplayName))
	if isUniqueViolation(err, "") {
		return out, fmt.Errorf("tenant %q (or tenant id %s) in this workspace: %w", t.Name, t.TenantGUID, ErrConflict)
	}
	if err != nil {
		return out, fmt.Errorf("error creating tenant %q: %w", t.Name, err)
	}
	return out, nil
}

func GetTenant(ctx context.Context, q Querier, id int64) (Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, tenantSelect+` WHERE id = $1`, id))
	if err != nil {
		return t, notFound(err, fmt.Sprintf("tenant %d", id))
	}
	return t, nil
}

// FindTenants resolves ref (a tenant's name, numeric id or Entra tenant id) among the given workspaces.
func FindTenants(ctx context.Context, q Querier, workspaceIDs []int64, ref string) ([]Tenant, error) {
	id, _ := strconv.ParseInt(ref, 10, 64)
	rows, err := q.Query(ctx, tenantSelect+` WHERE workspace_id = ANY($1) AND (name = $2 OR id = $3 OR lower(tenant_guid) = lower($2))
		ORDER BY id`, workspaceIDs, ref, id)
	if err != nil {
		return nil, fmt.Errorf("error finding tenant %q: %w", ref, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}

func ListTenants(ctx context.Context, q Querier, workspaceIDs []int64) ([]Tenant, error) {
	rows, err := q.Query(ctx, tenantSelect+` WHERE workspace_id = ANY($1) ORDER BY name, id`, workspaceIDs)
	if err != nil {
		return nil, fmt.Errorf("error listing tenants: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}

const connectionSelect = `SELECT id, tenant_id, is_default, client_id, auth_kind, credential_ciphertext, credential_key_id,
	credential_bound, secret_expires_at, status, status_reason_code, missing_permissions, granted_permissions, verification, last_verified_at,
	created_at, updated_at FROM provider_connections`

func scanConnection(row pgx.Row) (ProviderConnection, error) {
	var c ProviderConnection
	err := row.Scan(&c.ID, &c.TenantID, &c.IsDefault, &c.ClientID, &c.AuthKind, &c.CredentialCiphertext, &c.CredentialKeyID,
		&c.CredentialBound, &c.SecretExpiresAt, &c.Status, &c.StatusReasonCode, &c.MissingPermissions, &c.GrantedPermissions, &c.Verification,
		&c.LastVerifiedAt, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// NextProviderConnectionID reserves the id of a connection about to be inserted: its credential
// is sealed with the id as associated data before the row exists.
func NextProviderConnectionID(ctx context.Context, q Querier) (int64, error) {
	var id int64
	if err := q.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('provider_connections', 'id'))`).Scan(&id); err != nil {
		return 0, fmt.Errorf("error reserving a provider connection id: %w", err)
	}
	return id, nil
}

// InsertProviderConnection inserts c, with c.ID when set (NextProviderConnectionID), else a new id.
func InsertProviderConnection(ctx context.Context, q Querier, c ProviderConnection) (ProviderConnection, error) {
	out, err := scanConnection(q.QueryRow(ctx, `INSERT INTO provider_connections
		(id, tenant_id, is_default, client_id, auth_kind, credential_ciphertext, credential_key_id, credential_bound, secret_expires_at)
		VALUES (CASE WHEN $1::bigint = 0 THEN nextval(pg_get_serial_sequence('provider_connections', 'id')) ELSE $1 END,
			$2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+connectionColumns,
		c.ID, c.TenantID, c.IsDefault, c.ClientID, c.AuthKind, c.CredentialCiphertext, c.CredentialKeyID, c.CredentialBound, c.SecretExpiresAt))
	if isUniqueViolation(err, "") {
		return out, fmt.Errorf("default connection of tenant %d: %w", c.TenantID, ErrConflict)
	}
	if err != nil {
		return out, fmt.Errorf("error saving provider connection: %w", err)
	}
	return out, nil
}

const connectionColumns = `id, tenant_id, is_default, client_id, auth_kind, credential_ciphertext, credential_key_id,
	credential_bound, secret_expires_at, status, status_reason_code, missing_permissions, granted_permissions, verification, last_verified_at,
	created_at, updated_at`

// GetDefaultConnection returns the tenant's default provider connection.
func GetDefaultConnection(ctx context.Context, q Querier, tenantID int64) (ProviderConnection, error) {
	c, err := scanConnection(q.QueryRow(ctx, connectionSelect+` WHERE tenant_id = $1 AND is_default`, tenantID))
	if err != nil {
		return c, notFound(err, fmt.Sprintf("default provider connection of tenant %d", tenantID))
	}
	return c, nil
}

// DefaultConnections returns the default provider connection of each of tenantIDs that has one, by
// tenant: one query for a list of tenants rather than one per tenant.
func DefaultConnections(ctx context.Context, q Querier, tenantIDs []int64) (map[int64]ProviderConnection, error) {
	rows, err := q.Query(ctx, connectionSelect+` WHERE tenant_id = ANY($1) AND is_default`, tenantIDs)
	if err != nil {
		return nil, fmt.Errorf("error loading default provider connections: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]ProviderConnection, len(tenantIDs))
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("error loading default provider connections: %w", err)
		}
		out[c.TenantID] = c
	}
	return out, rows.Err()
}

// ConnectionVerification is what a verification run records on the connection.
type ConnectionVerification struct {
	Status             string
	ReasonCode         *string
	MissingPermissions []string
	GrantedPermissions []string
	Result             map[string]any
}

func UpdateConnectionVerification(ctx context.Context, q Querier, id int64, v ConnectionVerification) error {
	if v.MissingPermissions == nil {
		v.MissingPermissions = []string{}
	}
	if v.GrantedPermissions == nil {
		v.GrantedPermissions = []string{}
	}
	if v.Result == nil {
		v.Result = map[string]any{}
	}
	_, err := q.Exec(ctx, `UPDATE provider_connections SET status = $2, status_reason_code = $3, missing_permissions = $4,
		granted_permissions = $5, verification = $6, last_verified_at = now(), updated_at = now() WHERE id = $1`,
		id, v.Status, v.ReasonCode, v.MissingPermissions, v.GrantedPermissions, v.Result)
	if err != nil {
		return fmt.Errorf("error saving verification of connection %d: %w", id, err)
	}
	return nil
}

// GetConnection loads a provider connection by id.
func GetConnection(ctx context.Context, q Querier, id int64) (ProviderConnection, error) {
	c, err := scanConnection(q.QueryRow(ctx, connectionSelect+` WHERE id = $1`, id))
	if err != nil {
		return c, notFound(err, fmt.Sprintf("provider connection %d", id))
	}
	return c, nil
}

// TenantsByID loads the tenants of ids that belong to the given workspaces, by name.
func TenantsByID(ctx context.Context, q Querier, workspaceIDs, ids []int64) ([]Tenant, error) {
	rows, err := q.Query(ctx, tenantSelect+` WHERE workspace_id = ANY($1) AND id = ANY($2) ORDER BY name, id`, workspaceIDs, ids)
	if err != nil {
		return nil, fmt.Errorf("error loading tenants: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}
