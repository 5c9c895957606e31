package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/store"
)

// ErrRekeyUnsafe means an alive engine could not open what rekey would write.
var ErrRekeyUnsafe = errors.New("re-sealing now would lock out running engines")

// RekeyRequest configures Rekey.
type RekeyRequest struct {
	// IgnoreEngines re-seals even though alive engines do not hold the new key (they then fail
	// their runs with provider_secret_undecryptable until restarted with it).
	IgnoreEngines bool
}

// RekeyResult is what Rekey re-sealed.
type RekeyResult struct {
	KeyID string `json:"key_id"`
	// Credentials and Payloads count the ciphertexts re-sealed; Replaced the credentials that a
	// concurrent set-credential replaced first (they are already under the new key).
	Credentials int                    `json:"credentials"`
	Replaced    int                    `json:"replaced"`
	Payloads    int                    `json:"payloads"`
	Before      []store.SealedKeyCount `json:"before"`
	After       []store.SealedKeyCount `json:"after"`
}

// Rekey re-seals every secret at rest — provider credentials and sealed backup payloads — under
// the sealer's primary key, each bound to its row, while engines keep running
// (docs/operations.md#rotating-the-secret-key). Each row is opened with whichever key sealed it
// (the primary or a previous key) and replaced only if unchanged meanwhile, so a concurrent writer
// always wins and a second run re-seals only what is left. It refuses while an alive engine does
// not hold the primary key, naming it, unless IgnoreEngines. Only the administrator may rekey.
func (s *Service) Rekey(ctx context.Context, actor Actor, req RekeyRequest) (RekeyResult, error) {
	if err := requireAdmin(actor, "re-seal every workspace's secrets"); err != nil {
		return RekeyResult{}, err
	}
	if s.sealer == nil {
		return RekeyResult{}, ErrNoSecretKey
	}
	out := RekeyResult{KeyID: s.sealer.KeyID()}
	if !req.IgnoreEngines {
		if err := s.enginesHoldKey(ctx, s.sealer.KeyID()); err != nil {
			return out, err
		}
	}
	var err error
	if out.Before, err = store.SealedKeyCounts(ctx, s.db.Pool); err != nil {
		return out, err
	}
	creds, err := store.CredentialsToReseal(ctx, s.db.Pool, s.sealer.KeyID())
	if err != nil {
		return out, err
	}
	var failed []string
	for _, c := range creds {
		replaced, err := s.resealCredential(ctx, c)
		switch {
		case errors.Is(err, ErrUndecryptable):
			failed = append(failed, fmt.Sprintf("%s (connection %d, sealed with key %s)", c.TenantName, c.ConnectionID, c.KeyID))
		case err != nil:
			return out, err
		case replaced:
			out.Credentials++
		default:
			out.Replaced++
		}
	}
	if out.Payloads, err = store.ResealPayloads(ctx, s.db.Pool, s.sealer); err != nil {
		return out, err
	}
	if out.After, err = store.SealedKeyCounts(ctx, s.db.Pool); err != nil {
		return out, err
	}
	if err := s.audit(ctx, s.db.Pool, actor, nil, "secret.rekey", "secret_key", out.KeyID, map[string]any{
		"credentials": out.Credentials, "payloads": out.Payloads, "undecryptable": len(failed)}); err != nil {
		return out, err
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%w: %d credential(s) open with none of the configured keys (%s): %s; give the key that sealed them as a previous key and run rekey again",
			ErrUndecryptable, len(failed), strings.Join(append([]string{s.sealer.KeyID()}, s.sealer.PreviousKeyIDs()...), ", "), strings.Join(failed, ", "))
	}
	return out, nil
}

// resealCredential opens one credential with whichever key sealed it and stores it sealed under the
// primary key, bound to its row, unless it changed meanwhile.
func (s *Service) resealCredential(ctx context.Context, c store.SealedCredential) (bool, error) {
	plain, err := s.openCredential(c.ConnectionID, c.TenantID, c.Bound, c.Ciphertext)
	if err != nil {
		return false, err
	}
	sealed, err := s.sealer.SealWith(plain, CredentialAAD(c.ConnectionID, c.TenantID))
	if err != nil {
		return false, err
	}
	return store.ResealCredential(ctx, s.db.Pool, c.ConnectionID, c.Ciphertext, sealed, s.sealer.KeyID())
}

// enginesHoldKey refuses when an alive engine did not register keyID (or is of a release that
// does not register its keys, and cannot open row-bound credentials).
func (s *Service) enginesHoldKey(ctx context.Context, keyID string) error {
	engines, err := store.AliveEngineKeys(ctx, s.db.Pool)
	if err != nil {
		return err
	}
	var lacking []string
	for _, e := range engines {
		switch {
		case e.KeyIDs == nil:
			lacking = append(lacking, fmt.Sprintf("%s (version %s: a release before row-bound credentials)", e.Name, e.Version))
		case !slices.Contains(e.KeyIDs, keyID):
			lacking = append(lacking, fmt.Sprintf("%s (holds %s)", e.Name, strings.Join(e.KeyIDs, ", ")))
		}
	}
	if len(lacking) > 0 {
		return fmt.Errorf("%w: %d alive engine(s) do not hold key %s: %s; restart them with the new key as TENANTATLAS_SECRET_KEY(_FILE) and the old one as TENANTATLAS_PREVIOUS_SECRET_KEY_FILE, then rekey",
			ErrRekeyUnsafe, len(lacking), keyID, strings.Join(lacking, ", "))
	}
	return nil
}

// bindCredentials re-seals, bound to their row, the credentials sealed under the primary key
// before migration 00013, when every alive engine can open the result. An engine runs it at start;
// rows under another key wait for `rekey`.
func (s *Service) bindCredentials(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	if err := s.enginesHoldKey(ctx, s.sealer.KeyID()); err != nil {
		return 0, nil //nolint:nilerr // an older engine is alive: binding waits for the next start or rekey
	}
	creds, err := store.CredentialsToReseal(ctx, s.db.Pool, s.sealer.KeyID())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range creds {
		if c.Bound || c.KeyID != s.sealer.KeyID() {
			continue
		}
		ok, err := s.resealCredential(ctx, c)
		if err != nil && !errors.Is(err, ErrUndecryptable) {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
