package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// newCredential builds the azidentity client-credentials credential for creds: a client secret or a
// PEM certificate with its private key. The authority is cfg.LoginURL with instance discovery
// disabled, so any host serving the OpenID metadata and token endpoints works (sovereign clouds,
// graphsim); the login host is reached over the same CA pool as Graph. azcore's own retry policy
// is kept small: throttling of the login host is rare and sign-in errors are not retried.
func newCredential(cfg Config, creds Credentials, transport *http.Client) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.LoginURL + "/"},
		Transport: transport,
		Retry:     policy.RetryOptions{MaxRetries: 1, RetryDelay: 500 * time.Millisecond},
		Telemetry: policy.TelemetryOptions{ApplicationID: cfg.UserAgent},
	}
	switch creds.Kind() {
	case "secret":
		cred, err := azidentity.NewClientSecretCredential(creds.TenantID, creds.ClientID, creds.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, fmt.Errorf("error creating client-secret credential: %w", err)
		}
		return cred, nil
	case "certificate":
		certs, key, err := azidentity.ParseCertificates(creds.CertificatePEM, nil)
		if err != nil {
			// The parse error never echoes key material.
			return nil, fmt.Errorf("error reading the certificate PEM (need the certificate and its unencrypted private key): %w", err)
		}
		cred, err := azidentity.NewClientCertificateCredential(creds.TenantID, creds.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, fmt.Errorf("error creating client-certificate credential: %w", err)
		}
		return cred, nil
	}
	return nil, fmt.Errorf("invalid credentials: %w", creds.Validate())
}

// TokenInfo is what verification needs from an app-only access token. It is decoded from the
// JWT payload without checking the signature (Graph checks it; we only introspect).
type TokenInfo struct {
	// Roles are the application permissions consented for the app. An app-only token can be issued
	// with no roles claim at all when nothing is consented: Roles is then empty, which verification
	// reports as provider_consent_missing.
	Roles []string
	// TenantID is the tid claim; AppID the appid (or azp) claim; Audience the aud claim.
	TenantID, AppID, Audience string
	// ExpiresAt is the token's expiry.
	ExpiresAt time.Time
}

// Missing returns the required permissions the token's roles do not grant (see Granted).
func (t TokenInfo) Missing(required []string) []string {
	return MissingPermissions(t.Roles, required)
}

// Token acquires an access token for Scope and decodes it. fresh=true bypasses the credential's
// token cache by using a throwaway credential: roles are baked in at issuance, so verification
// after an admin granted consent must not look at a cached token. Failures are *Error with the
// AADSTS classification of ClassifyAuthError.
func (c *Client) Token(ctx context.Context, fresh bool) (TokenInfo, error) {
	cred := c.cred
	if fresh {
		var err error
		if cred, err = newCredential(c.cfg, c.creds, c.loginHTTP); err != nil {
			return TokenInfo{}, &Error{Contract: "token.acquire", Reason: reason.ProviderAuthFailed, Err: err}
		}
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		if ctx.Err() != nil { // azidentity does not always wrap the context's error
			err = ctx.Err()
		}
		return TokenInfo{}, ClassifyAuthError(err)
	}
	info, err := DecodeToken(tok.Token)
	if err != nil {
		return TokenInfo{}, &Error{Contract: "token.acquire", Reason: reason.ProviderMalformedResponse, Err: err}
	}
	if info.ExpiresAt.IsZero() {
		info.ExpiresAt = tok.ExpiresOn
	}
	return info, nil
}

// DecodeToken decodes the claims of a JWT access token without verifying it.
func DecodeToken(jwt string) (TokenInfo, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return TokenInfo{}, fmt.Errorf("access token is not a JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenInfo{}, fmt.Errorf("error decoding the access token payload: %w", err)
	}
	var claims struct {
		Roles []string        `json:"roles"`
		TID   string          `json:"tid"`
		AppID string          `json:"appid"`
		AZP   string          `json:"azp"`
		Aud   json.RawMessage `json:"aud"`
		Exp   int64           `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return TokenInfo{}, fmt.Errorf("error decoding the access token claims: %w", err)
	}
	info := TokenInfo{Roles: claims.Roles, TenantID: claims.TID, AppID: firstNonEmpty(claims.AppID, claims.AZP)}
	var aud string
	if json.Unmarshal(claims.Aud, &aud) != nil {
		var auds []string
		if json.Unmarshal(claims.Aud, &auds) == nil && len(auds) > 0 {
			aud = auds[0]
		}
	}
	info.Audience = aud
	if claims.Exp > 0 {
		info.ExpiresAt = time.Unix(claims.Exp, 0)
	}
	return info, nil
}
