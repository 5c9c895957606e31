package graphsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Minimal JWT handling for the login simulator: RS256 signing of access tokens, RS256/PS256
// verification of access tokens and client assertions. No library: the formats are tiny and the
// simulator must not depend on what it is testing.

var b64 = base64.RawURLEncoding

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b) // #nosec G401 -- x5t is defined as SHA-1
	return s[:]
}

// signJWT returns header.payload.signature with RS256.
func signJWT(key *rsa.PrivateKey, header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("error signing the token: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// parsedJWT is a JWT split and decoded, not yet verified.
type parsedJWT struct {
	header  map[string]any
	claims  map[string]any
	signing string
	sig     []byte
}

func parseJWT(tok string) (*parsedJWT, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("JWT is not well formed: want three segments")
	}
	p := &parsedJWT{signing: parts[0] + "." + parts[1]}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("JWT header: %w", err)
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	if p.sig, err = b64.DecodeString(parts[2]); err != nil {
		return nil, fmt.Errorf("JWT signature: %w", err)
	}
	if err := json.Unmarshal(hb, &p.header); err != nil {
		return nil, fmt.Errorf("JWT header: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(cb)))
	dec.UseNumber()
	if err := dec.Decode(&p.claims); err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	return p, nil
}

// verify checks the signature with pub for RS256 or PS256.
func (p *parsedJWT) verify(pub *rsa.PublicKey) error {
	sum := sha256.Sum256([]byte(p.signing))
	switch alg, _ := p.header["alg"].(string); alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], p.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return fmt.Errorf("unsupported JWT alg %q", alg)
	}
}

func (p *parsedJWT) str(claim string) string {
	s, _ := p.claims[claim].(string)
	return s
}

func (p *parsedJWT) num(claim string) int64 {
	switch v := p.claims[claim].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	}
	return 0
}

func (p *parsedJWT) strings(claim string) []string {
	raw, _ := p.claims[claim].([]any)
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
