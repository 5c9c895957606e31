package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sealer encrypts provider credentials at rest with AES-256-GCM. The key never leaves the process;
// ciphertext is nonce || sealed bytes.
type Sealer struct {
	aead  cipher.AEAD
	keyID string
}

// ErrUndecryptable means a credential was sealed with another key.
var ErrUndecryptable = errors.New("credential cannot be decrypted with this secret key")

// NewSealer builds a sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("the secret key must be 32 bytes (64 hex characters or 44 base64 characters), got %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &Sealer{aead: aead, keyID: hex.EncodeToString(sum[:4])}, nil
}

// ParseSecretKey decodes a key given as 64 hex characters or standard/URL base64 of 32 bytes.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("the secret key must be 32 random bytes written as 64 hex characters or base64 (generate one with `openssl rand -hex 32`)")
}

// LoadOrCreateKeyFile reads a key file, or creates one with a fresh random key (mode 0600) when it
// does not exist: the local default's key lives next to its database.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseSecretKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("secret key file %s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot read secret key file %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process created it first
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create secret key file %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Sync()
}

// KeyID identifies the key (first 8 hex characters of its SHA-256), stored beside ciphertext so a
// mismatch is reported as such.
func (s *Sealer) KeyID() string { return s.keyID }

// Seal encrypts plaintext.
func (s *Sealer) Seal(plaintext []byte) ([]byte, error) { return s.SealWith(plaintext, nil) }

// Open decrypts ciphertext sealed by Seal with the same key.
func (s *Sealer) Open(ciphertext []byte) ([]byte, error) { return s.OpenWith(ciphertext, nil) }

// SealWith encrypts plaintext bound to associatedData (AES-GCM additional data): it opens only with
// the same associated data, so a ciphertext copied to another row does not decrypt there.
func (s *Sealer) SealWith(plaintext, associatedData []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, associatedData), nil
}

// OpenWith decrypts ciphertext sealed by SealWith with the same key and associated data.
func (s *Sealer) OpenWith(ciphertext, associatedData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, ErrUndecryptable
	}
	out, err := s.aead.Open(nil, ciphertext[:n], ciphertext[n:], associatedData)
	if err != nil {
		return nil, ErrUndecryptable
	}
	return out, nil
}
