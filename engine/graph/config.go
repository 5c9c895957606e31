package graph

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

const (
	// DefaultGraphURL and DefaultLoginURL are the public-cloud hosts.
	DefaultGraphURL = "https://graph.microsoft.com"
	DefaultLoginURL = "https://login.microsoftonline.com"
	// EnvGraphURL and EnvLoginURL name the environment variables that override them
	// (sovereign clouds, graphsim).
	EnvGraphURL = "TENANTATLAS_GRAPH_URL"
	EnvLoginURL = "TENANTATLAS_LOGIN_URL"
	// Scope is the only scope TenantAtlas ever requests: every application permission the admin
	// consented to.
	Scope = "https://graph.microsoft.com/.default"
)

// Config is the process-wide Graph configuration. The zero value talks to the public cloud with
// the system CA pool.
type Config struct {
	// GraphURL is the Graph root without version ("https://graph.microsoft.com"). Tokens are only
	// ever attached to requests for this host.
	GraphURL string
	// LoginURL is the Entra authority host ("https://login.microsoftonline.com"). It must serve the
	// standard OpenID metadata (/{tenant}/v2.0/.well-known/openid-configuration) and token endpoints;
	// instance discovery is disabled so any such host works.
	LoginURL string
	// RootCAs replaces the system pool when set. With nil the system pool is used, which on Linux
	// honours SSL_CERT_FILE and SSL_CERT_DIR.
	RootCAs *x509.CertPool
	// CAPEM adds PEM certificates to RootCAs (or to a copy of the system pool), e.g. graphsim's CA.
	CAPEM []byte
	// HTTPTimeout bounds each attempt's dial, TLS handshake and wait for response headers
	// (default 100 s). Reading a streamed body and Retry-After waits are bounded by the context.
	HTTPTimeout time.Duration
	// Retry tunes the retry handler.
	Retry RetryPolicy
	// UserAgent is the product token sent in User-Agent (default "TenantAtlas").
	UserAgent string
	// Observer, when set, is told each request's final status, each retry and each retry refused
	// by the budget (metrics).
	Observer Observer
}

// RetryPolicy tunes kiota's retry handler. Only 429, 503 and 504 are retried (kiota's rule);
// Retry-After is honoured, otherwise the delay is DelaySeconds*2^(n-1) plus up to 1 s of jitter.
type RetryPolicy struct {
	// MaxRetries per request, 1..10 (kiota caps it at 10; default 10). The budget is the real bound.
	MaxRetries int
	// DelaySeconds is the base of the exponential backoff (default 3).
	DelaySeconds int
	// Budget is the retry-time budget of a request whose context carries none (default 2 min).
	// Runs should set one budget for the whole run with WithRetryBudget.
	Budget time.Duration
}

// ConfigFromEnv reads EnvGraphURL and EnvLoginURL through getenv (os.Getenv in production).
// Unset variables keep the defaults.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{GraphURL: getenv(EnvGraphURL), LoginURL: getenv(EnvLoginURL)}
}

func (c Config) withDefaults() (Config, error) {
	if c.GraphURL == "" {
		c.GraphURL = DefaultGraphURL
	}
	if c.LoginURL == "" {
		c.LoginURL = DefaultLoginURL
	}
	c.GraphURL = strings.TrimRight(c.GraphURL, "/")
	c.LoginURL = strings.TrimRight(c.LoginURL, "/")
	for name, raw := range map[string]string{"graph URL": c.GraphURL, "login URL": c.LoginURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return c, fmt.Errorf("invalid %s %q: want https://host", name, raw)
		}
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = 100 * time.Second
	}
	if c.Retry.MaxRetries <= 0 || c.Retry.MaxRetries > 10 {
		c.Retry.MaxRetries = 10
	}
	if c.Retry.DelaySeconds <= 0 {
		c.Retry.DelaySeconds = 3
	}
	if c.Retry.Budget <= 0 {
		c.Retry.Budget = 2 * time.Minute
	}
	if c.UserAgent == "" {
		c.UserAgent = "TenantAtlas"
	}
	return c, nil
}

// Credentials identify one app registration in one tenant: a client secret or a certificate.
// Their String, GoString and LogValue never show the secret or the private key.
type Credentials struct {
	// TenantID is the tenant GUID or a verified domain.
	TenantID string
	// ClientID is the application (client) ID.
	ClientID string
	// ClientSecret is the secret value (not its ID). Mutually exclusive with CertificatePEM.
	ClientSecret string
	// CertificatePEM holds the certificate (chain) and its unencrypted private key, PEM encoded.
	CertificatePEM []byte
}

// Kind is "secret" or "certificate" ("" when neither is set).
func (c Credentials) Kind() string {
	switch {
	case c.ClientSecret != "":
		return "secret"
	case len(c.CertificatePEM) > 0:
		return "certificate"
	}
	return ""
}

// Validate checks that exactly one secret kind and both identifiers are present.
func (c Credentials) Validate() error {
	var errs []error
	if strings.TrimSpace(c.TenantID) == "" {
		errs = append(errs, errors.New("tenant ID is empty"))
	}
	if strings.TrimSpace(c.ClientID) == "" {
		errs = append(errs, errors.New("client ID is empty"))
	}
	switch {
	case c.ClientSecret != "" && len(c.CertificatePEM) > 0:
		errs = append(errs, errors.New("both a client secret and a certificate are set: use one"))
	case c.ClientSecret == "" && len(c.CertificatePEM) == 0:
		errs = append(errs, errors.New("neither a client secret nor a certificate is set"))
	}
	return errors.Join(errs...)
}

func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{TenantID:%s ClientID:%s Kind:%s Secret:[REDACTED]}", c.TenantID, c.ClientID, c.Kind())
}

// GoString keeps %#v from printing the secret.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps slog from printing the secret.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant_id", c.TenantID), slog.String("client_id", c.ClientID),
		slog.String("kind", c.Kind()))
}
