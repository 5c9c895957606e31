package sshserve

import (
	"context"
	"errors"
	"fmt"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tenantatlas/tenantatlas/engine"
)

// verifiedKeyExtension is the Permissions extension in which verifyKey records the fingerprint of
// the key whose signature the server checked.
const verifiedKeyExtension = "tenantatlas-verified-key"

// acceptOfferedKey is the PublicKeyHandler. charm.land/ssh calls it for every key the client OFFERS,
// before the client has proven that it holds the private half, so it decides nothing about who the
// client is and records nothing: a client may offer someone else's public key first and then sign
// with its own. It accepts every key, so that an unknown key's owner is told in one line which key
// was refused and what to do about it; whether the key maps to a user is decided by identify, from
// the key that actually authenticated.
func acceptOfferedKey(ssh.Context, ssh.PublicKey) bool { return true }

// serverConfig adds the one callback x/crypto/ssh calls only after a signature has been verified: it
// stamps the proven key's fingerprint into the connection's permissions. Password and
// keyboard-interactive authentication stay off (their handlers are never set).
func serverConfig(ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{VerifiedPublicKeyCallback: verifyKey}
}

func verifyKey(_ gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
	if perms == nil {
		perms = &gossh.Permissions{}
	}
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[verifiedKeyExtension] = gossh.FingerprintSHA256(key)
	return perms, nil
}

// authenticatedFingerprint is the SHA256 fingerprint of the key that authenticated the session.
// sess.PublicKey() is the key charm.land/ssh re-parses from the permissions x/crypto/ssh kept for
// the key whose signature it verified; it must agree with the fingerprint verifyKey stamped at that
// moment. Either source alone would do today; both together keep a library regression from turning
// an offered key into an identity.
func authenticatedFingerprint(sess ssh.Session) (string, error) {
	pk := sess.PublicKey()
	if pk == nil {
		return "", errors.New("the session was not authenticated with a public key")
	}
	fp := gossh.FingerprintSHA256(pk)
	perms := sess.Permissions()
	if perms.Permissions == nil || perms.Extensions[verifiedKeyExtension] != fp {
		return "", fmt.Errorf("the session's key %s is not the key whose signature was verified", fp)
	}
	return fp, nil
}

// identify returns the user owning the session's authenticated key. An unknown key yields an error
// whose text is the one line shown to the client.
func (s *Server) identify(ctx context.Context, sess ssh.Session) (engine.Actor, error) {
	fp, err := authenticatedFingerprint(sess)
	if err != nil {
		return engine.Actor{}, err
	}
	actor, err := s.cfg.Service.ActorByKeyFingerprint(ctx, fp)
	if errors.Is(err, engine.ErrNotFound) {
		return engine.Actor{}, fmt.Errorf("SSH key %s is not registered to any TenantAtlas user; ask an administrator to run `tenantatlas keys add USER KEYFILE` (with several keys in your agent, pick the registered one: ssh -i KEY -o IdentitiesOnly=yes)", fp)
	}
	if err != nil {
		return engine.Actor{}, fmt.Errorf("cannot look up SSH key %s: %w", fp, err)
	}
	return actor, nil
}
