package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Workspace is the isolation boundary: every tenant, run, schedule and audit event belongs to one.
type Workspace struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Membership gives a user a role in a workspace.
type Membership struct {
	WorkspaceID   int64     `json:"workspace_id"`
	WorkspaceName string    `json:"workspace_name"`
	UserID        int64     `json:"user_id"`
	UserName      string    `json:"user_name"`
	Role          string    `json:"role"`
	CreatedAt     time.Time `json:"created_at"`
}

func InsertWorkspace(ctx context.Context, q Querier, name string) (Workspace, error) {
	var w Workspace
	err := q.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ($1) RETURNING id, name, created_at`, name).
		Scan(&w.ID, &w.Name, &w.CreatedAt)
	if isUniqueViolation(err, "") {
		return w, fmt.Errorf("workspace %q: %w", name, ErrConflict)
	}
	if err != nil {
		return w, fmt.Errorf("error creating workspace %q: %w", name, err)
	}
	return w, nil
}

func GetWorkspace(ctx context.Context, q Querier, id int64) (Workspace, error) {
	var w Workspace
	err := q.QueryRow(ctx, `SELECT id, name, created_at FROM workspaces WHERE id = $1`, id).Scan(&w.ID, &w.Name, &w.CreatedAt)
	if err != nil {
		return w, notFound(err, fmt.Sprintf("workspace %d", id))
	}
	return w, nil
}

func GetWorkspaceByName(ctx context.Context, q Querier, name string) (Workspace, error) {
	var w Workspace
	if strings.IndexByte(name, 0) >= 0 { // no stored name holds a NUL; PostgreSQL would reject it
		return w, fmt.Errorf("%w: workspace %q", ErrNotFound, name)
	}
	err := q.QueryRow(ctx, `SELECT id, name, created_at FROM workspaces WHERE name = $1`, name).Scan(&w.ID, &w.Name, &w.CreatedAt)
	if err != nil {
		return w, notFound(err, fmt.Sprintf("workspace %q", name))
	}
	return w, nil
}

// ListWorkspacesOfUser lists the workspaces userID is a member of, with the role, by name.
func ListWorkspacesOfUser(ctx context.Context, q Querier, userID int64) ([]Membership, error) {
	return scanMemberships(q.Query(ctx, membershipSelect+` WHERE m.user_id = $1 ORDER BY w.name`, userID))
}

func ListAllWorkspaces(ctx context.Context, q Querier) ([]Workspace, error) {
	rows, err := q.Query(ctx, `SELECT id, name, created_at FROM workspaces ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("error listing workspaces: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workspace, error) {
		var w Workspace
		return w, r.Scan(&w.ID, &w.Name, &w.CreatedAt)
	})
}

const userSelect = `SELECT id, name, is_bootstrap, created_at FROM users`

const sshKeySelect = `SELECT k.id, k.user_id, u.name, k.fingerprint, k.public_key, k.comment, k.created_at
	FROM ssh_keys k JOIN users u ON u.id = k.user_id`

// UpsertMembership gives userID role in workspaceID, replacing an existing role.
func UpsertMembership(ctx context.Context, q Querier, workspaceID, userID int64, role string) error {
	_, err := q.Exec(ctx, `INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role`, workspaceID, userID, role)
	if err != nil {
		return fmt.Errorf("error saving membership: %w", err)
	}
	return nil
}

func DeleteMembership(ctx context.Context, q Querier, workspaceID, userID int64) error {
	tag, err := q.Exec(ctx, `DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID)
	if err != nil {
		return fmt.Errorf("error removing membership: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("membership: %w", ErrNotFound)
	}
	return nil
}

// GetRole returns userID's role in workspaceID, or ErrNotFound for a non-member.
func GetRole(ctx context.Context, q Querier, workspaceID, userID int64) (string, error) {
	var role string
	err := q.QueryRow(ctx, `SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID).Scan(&role)
	if err != nil {
		return "", notFound(err, "membership")
	}
	return role, nil
}

const membershipSelect = `SELECT m.workspace_id, w.name, m.user_id, u.name, m.role, m.created_at
	FROM memberships m JOIN workspaces w ON w.id = m.workspace_id JOIN users u ON u.id = m.user_id`

func scanMemberships(rows pgx.Rows, err error) ([]Membership, error) {
	if err != nil {
		return nil, fmt.Errorf("error listing memberships: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		return m, r.Scan(&m.WorkspaceID, &m.WorkspaceName, &m.UserID, &m.UserName, &m.Role, &m.CreatedAt)
	})
}

func ListMemberships(ctx context.Context, q Querier, workspaceID int64) ([]Membership, error) {
	return scanMemberships(q.Query(ctx, membershipSelect+` WHERE m.workspace_id = $1 ORDER BY u.name`, workspaceID))
}
