package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a person (or automation) known to TenantAtlas. Over SSH a user is identified by a key.
type User struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	IsBootstrap bool      `json:"is_bootstrap"`
	CreatedAt   time.Time `json:"created_at"`
}

// SSHKey maps a public key fingerprint to a user.
type SSHKey struct {
	ID          int64     `json:"id"`
	UserID      int64     `json:"user_id"`
	UserName    string    `json:"user_name"`
	Fingerprint string    `json:"fingerprint"`
	PublicKey   string    `json:"public_key"`
	Comment     string    `json:"comment"`
	CreatedAt   time.Time `json:"created_at"`
}

func InsertUser(ctx context.Context, q Querier, name string) (User, error) {
	var u User
	err := q.QueryRow(ctx, `INSERT INTO users (name) VALUES ($1) RETURNING id, name, is_bootstrap, created_at`, name).
		Scan(&u.ID, &u.Name, &u.IsBootstrap, &u.CreatedAt)
	if isUniqueViolation(err, "") {
		return u, fmt.Errorf("user %q: %w", name, ErrConflict)
	}
	if err != nil {
		return u, fmt.Errorf("error creating user %q: %w", name, err)
	}
	return u, nil
}

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.IsBootstrap, &u.CreatedAt)
	return u, err
}

func GetUser(ctx context.Context, q Querier, id int64) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, userSelect+` WHERE id = $1`, id))
	if err != nil {
		return u, notFound(err, fmt.Sprintf("user %d", id))
	}
	return u, nil
}

func GetUserByName(ctx context.Context, q Querier, name string) (User, error) {
	if strings.IndexByte(name, 0) >= 0 { // no stored name holds a NUL; PostgreSQL would reject it
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	u, err := scanUser(q.QueryRow(ctx, userSelect+` WHERE name = $1`, name))
	if err != nil {
		return u, notFound(err, fmt.Sprintf("user %q", name))
	}
	return u, nil
}

// GetBootstrapUser returns the admin user the first migration created.
func GetBootstrapUser(ctx context.Context, q Querier) (User, error) {
	u, err := scanUser(q.QueryRow(ctx, userSelect+` WHERE is_bootstrap ORDER BY id LIMIT 1`))
	if err != nil {
		return u, notFound(err, "bootstrap user")
	}
	return u, nil
}

func ListUsers(ctx context.Context, q Querier) ([]User, error) {
	rows, err := q.Query(ctx, userSelect+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("error listing users: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

func InsertSSHKey(ctx context.Context, q Querier, k SSHKey) (SSHKey, error) {
	err := q.QueryRow(ctx, `INSERT INTO ssh_keys (user_id, fingerprint, public_key, comment) VALUES ($1, $2, $3, $4)
		RETURNING id, created_at`, k.UserID, k.Fingerprint, k.PublicKey, k.Comment).Scan(&k.ID, &k.CreatedAt)
	if isUniqueViolation(err, "") {
		return k, fmt.Errorf("key %s: %w", k.Fingerprint, ErrConflict)
	}
	if err != nil {
		return k, fmt.Errorf("error adding key: %w", err)
	}
	return k, nil
}

// DeleteSSHKey removes a user's key by fingerprint.
func DeleteSSHKey(ctx context.Context, q Querier, userID int64, fingerprint string) error {
	tag, err := q.Exec(ctx, `DELETE FROM ssh_keys WHERE user_id = $1 AND fingerprint = $2`, userID, fingerprint)
	if err != nil {
		return fmt.Errorf("error removing key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %s: %w", fingerprint, ErrNotFound)
	}
	return nil
}

func scanSSHKeys(rows pgx.Rows, err error) ([]SSHKey, error) {
	if err != nil {
		return nil, fmt.Errorf("error listing keys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SSHKey, error) {
		var k SSHKey
		return k, r.Scan(&k.ID, &k.UserID, &k.UserName, &k.Fingerprint, &k.PublicKey, &k.Comment, &k.CreatedAt)
	})
}

func ListSSHKeys(ctx context.Context, q Querier, userID int64) ([]SSHKey, error) {
	return scanSSHKeys(q.Query(ctx, sshKeySelect+` WHERE k.user_id = $1 ORDER BY k.id`, userID))
}

// GetSSHKeyByFingerprint finds the key (and its user) an SSH session authenticated with.
func GetSSHKeyByFingerprint(ctx context.Context, q Querier, fingerprint string) (SSHKey, error) {
	keys, err := scanSSHKeys(q.Query(ctx, sshKeySelect+` WHERE k.fingerprint = $1`, fingerprint))
	if err != nil {
		return SSHKey{}, err
	}
	if len(keys) == 0 {
		return SSHKey{}, fmt.Errorf("key %s: %w", fingerprint, ErrNotFound)
	}
	return keys[0], nil
}
