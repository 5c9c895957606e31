package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/store"
)

// CreateUser creates a user (administrator only).
func (s *Service) CreateUser(ctx context.Context, actor Actor, name string) (store.User, error) {
	if err := requireAdmin(actor, "create users"); err != nil {
		return store.User{}, err
	}
	if err := validName("user", name); err != nil {
		return store.User{}, err
	}
	var u store.User
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = store.InsertUser(ctx, tx, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, nil, "user.create", "user", name, nil)
	})
	return u, err
}

// ListUsers lists users (administrator only).
func (s *Service) ListUsers(ctx context.Context, actor Actor) ([]store.User, error) {
	if err := requireAdmin(actor, "list users"); err != nil {
		return nil, err
	}
	return store.ListUsers(ctx, s.db.Pool)
}

// AddKey registers an OpenSSH public key (an authorized_keys line) for a user (administrator, or
// the user for itself).
func (s *Service) AddKey(ctx context.Context, actor Actor, userName, authorizedKey string) (store.SSHKey, error) {
	u, err := s.userForSelfOrAdmin(ctx, actor, userName, "add keys for other users")
	if err != nil {
		return store.SSHKey{}, err
	}
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(authorizedKey)))
	if err != nil {
		return store.SSHKey{}, fmt.Errorf("%w: not an OpenSSH public key (expected a line like \"ssh-ed25519 AAAA… comment\", e.g. the contents of ~/.ssh/id_ed25519.pub): %v", ErrInvalid, err)
	}
	k := store.SSHKey{UserID: u.ID, UserName: u.Name, Fingerprint: ssh.FingerprintSHA256(pub),
		PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), Comment: comment}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if k, err = store.InsertSSHKey(ctx, tx, k); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, nil, "key.add", "user", u.Name, map[string]any{"fingerprint": k.Fingerprint})
	})
	return k, err
}

// RemoveKey removes a user's key by fingerprint.
func (s *Service) RemoveKey(ctx context.Context, actor Actor, userName, fingerprint string) error {
	u, err := s.userForSelfOrAdmin(ctx, actor, userName, "remove keys of other users")
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := store.DeleteSSHKey(ctx, tx, u.ID, fingerprint); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, nil, "key.remove", "user", u.Name, map[string]any{"fingerprint": fingerprint})
	})
}

// ListKeys lists a user's keys.
func (s *Service) ListKeys(ctx context.Context, actor Actor, userName string) ([]store.SSHKey, error) {
	u, err := s.userForSelfOrAdmin(ctx, actor, userName, "list keys of other users")
	if err != nil {
		return nil, err
	}
	return store.ListSSHKeys(ctx, s.db.Pool, u.ID)
}
