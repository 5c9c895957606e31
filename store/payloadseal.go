package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
)

// PayloadSealer seals backup payloads that hold secrets (decrypted OMA-URI values and anything else a
// backup decrypts) at rest, with the key that seals provider credentials (engine.Sealer). The
// associated data binds each ciphertext to its row: a sealed payload moved to another row does not
// open.
type PayloadSealer interface {
	SealWith(plaintext, associatedData []byte) ([]byte, error)
	OpenWith(ciphertext, associatedData []byte) ([]byte, error)
	KeyID() string
}

type payloadSealerKey struct{}

// WithPayloadSealer returns ctx carrying the sealer that AddBackupItems seals sensitive payloads with
// and BackupPayloads opens them with. The engine sets it on every run's context and on the service
// calls that read payloads, so executors need no change to seal what they write.
func WithPayloadSealer(ctx context.Context, s PayloadSealer) context.Context {
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, payloadSealerKey{}, s)
}

// PayloadSealerFrom returns the sealer WithPayloadSealer put in ctx, or nil.
func PayloadSealerFrom(ctx context.Context) PayloadSealer { return payloadSealer(ctx) }

func payloadSealer(ctx context.Context) PayloadSealer {
	s, _ := ctx.Value(payloadSealerKey{}).(PayloadSealer)
	return s
}

// ErrNoPayloadKey means a sensitive backup payload was to be sealed or opened without the secret key.
var ErrNoPayloadKey = errors.New("sensitive backup payloads are sealed with the secret key, which this process does not have (set TENANTATLAS_SECRET_KEY or TENANTATLAS_SECRET_KEY_FILE)")

// ScopedPayloadHash is the key a payload is stored under in a workspace: the SHA-256 of the workspace
// id and the payload's content hash. Deduplication is per workspace, so a backup in one workspace
// never learns (from "0 new payloads") that another workspace holds the same configuration.
func ScopedPayloadHash(workspaceID int64, contentHash string) string {
	sum := sha256.Sum256([]byte("workspace:" + strconv.FormatInt(workspaceID, 10) + ":" + contentHash))
	return hex.EncodeToString(sum[:])
}

// payloadAAD is the associated data of a sealed payload: its table and key.
func payloadAAD(hash string) []byte { return []byte("tenantatlas:backup_payloads:" + hash) }
