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

// Sealer encrypts provider credentials and sensitive backup payloads at rest with AES-256-GCM. The
// keys never leave the process; ciphertext is nonce || sealed bytes. It seals with its primary key
// and opens with any of its keys: during a key rotation (docs/operations.md#rotating-the-secret-key)
// a process holds the new key as primary and the old one as a previous key, so rows not yet
// re-sealed by `tenantatlas rekey` still open.
type Sealer struct {
	primary  sealKey
	previous []sealKey
}

type sealKey struct {
	aead cipher.AEAD
	id   string
}

// ErrUndecryptable means a credential was sealed with another key, or for another row.
var ErrUndecryptable = errors.New("credential cannot be decrypted with this secret key")

// NewSealer builds a sealer from a 32-byte primary key and any previous keys (opened, never used
// to seal).
func NewSealer(key []byte, previous ...[]byte) (*Sealer, error) {
	primary, err := newSealKey(key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{primary: primary}
	for i, p := range previous {
		k, err := newSealKey(p)
		if err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i+1, err)
		}
		if k.id == primary.id {
			continue // the same key given twice
		}
		s.previous = append(s.previous, k)
	}
	return s, nil
}

func newSealKey(key []byte) (sealKey, error) {
	if len(key) != 32 {
		return sealKey{}, fmt.Errorf("the secret key must be 32 bytes (64 hex characters or 44 base64 characters), got %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealKey{}, err
	}
	sum := sha256.Sum256(key)
	return sealKey{aead: aead, id: hex.EncodeToString(sum[:4])}, nil
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

// KeyID identifies the primary key (first 8 hex characters of its SHA-256), stored beside each
// ciphertext so a mismatch is reported as such and `rekey` finds the rows still under another key.
func (s *Sealer) KeyID() string { return s.primary.id }

// PreviousKeyIDs are the ids of the keys this sealer opens but no longer seals with.
func (s *Sealer) PreviousKeyIDs() []string {
	ids := make([]string, 0, len(s.previous))
	for _, k := range s.previous {
		ids = append(ids, k.id)
	}
	return ids
}

// Seal encrypts plaintext bound to nothing. Provider credentials and payloads are bound to their
// row with SealWith; Seal remains for ciphertexts that have no row.
func (s *Sealer) Seal(plaintext []byte) ([]byte, error) { return s.SealWith(plaintext, nil) }

// Open decrypts ciphertext sealed by Seal with one of the sealer's keys.
func (s *Sealer) Open(ciphertext []byte) ([]byte, error) { return s.OpenWith(ciphertext, nil) }

// SealWith encrypts plaintext with the primary key, bound to associatedData (AES-GCM additional
// data): it opens only with the same associated data, so a ciphertext copied to another row does
// not decrypt there.
func (s *Sealer) SealWith(plaintext, associatedData []byte) ([]byte, error) {
	nonce := make([]byte, s.primary.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.primary.aead.Seal(nonce, nonce, plaintext, associatedData), nil
}

// OpenWith decrypts ciphertext sealed by SealWith with any of the sealer's keys and the same
// associated data. GCM authenticates, so trying a wrong key fails cleanly.
func (s *Sealer) OpenWith(ciphertext, associatedData []byte) ([]byte, error) {
	for _, k := range append([]sealKey{s.primary}, s.previous...) {
		n := k.aead.NonceSize()
		if len(ciphertext) < n {
			return nil, ErrUndecryptable
		}
		if out, err := k.aead.Open(nil, ciphertext[:n], ciphertext[n:], associatedData); err == nil {
			return out, nil
		}
	}
	return nil, ErrUndecryptable
}

// CredentialAAD is the associated data a provider connection's credential is sealed with: its
// connection and tenant ids, so a ciphertext moved to another connection (or tenant) fails to open.
func CredentialAAD(connectionID, tenantID int64) []byte {
	return fmt.Appendf(nil, "tenantatlas provider_connections id=%d tenant_id=%d", connectionID, tenantID)
}
