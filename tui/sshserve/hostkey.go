package sshserve

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadOrCreateHostKey reads the server's ed25519 host key from path (OpenSSH private key format),
// generating it with mode 0600 on first start so clients see the same host key on every restart.
func loadOrCreateHostKey(path string) (gossh.Signer, error) {
	if _, err := os.Stat(path); err == nil {
		return loadExisting(path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot read the SSH host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("error generating the SSH host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "tenantatlas host key")
	if err != nil {
		return nil, fmt.Errorf("error encoding the SSH host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the directory of the SSH host key: %w", err)
	}
	// Write to a temporary file and link it into place: two servers starting at once on one data
	// directory end up with the same key, and a crash never leaves half a key behind.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ssh_host_key-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write the SSH host key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("cannot write the SSH host key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("cannot write the SSH host key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cannot write the SSH host key %s: %w", path, err)
	}
	return loadExisting(path)
}

func loadExisting(path string) (gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the SSH host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("cannot read the SSH host key %s: %w (move it away to generate a new one)", path, err)
	}
	return signer, nil
}
