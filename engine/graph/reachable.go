package graph

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Reachable reports whether the Graph root in cfg answers over HTTPS through the proxy the
// environment configures (HTTPS_PROXY, NO_PROXY) and the CA bundle (cfg.CAPEM, cfg.RootCAs, else the
// system pool with SSL_CERT_FILE). Any HTTP answer counts: 401 without a token is Graph reachable.
// It returns the proxy used ("" for a direct connection). `tenantatlas doctor` uses it.
func Reachable(ctx context.Context, cfg Config) (string, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return "", err
	}
	pool, err := certPool(cfg)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.GraphURL+"/v1.0/", nil)
	if err != nil {
		return "", err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	defer tr.CloseIdleConnections()
	proxy := ""
	if u, err := tr.Proxy(req); err == nil && u != nil {
		proxy = u.Redacted()
	}
	client := &http.Client{Transport: tr, Timeout: min(cfg.HTTPTimeout, 15*time.Second),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			return proxy, fmt.Errorf("TLS: %v (the CA bundle does not trust %s's certificate)", certErr.Err, req.URL.Host)
		}
		return proxy, sanitizedNetworkError(err)
	}
	resp.Body.Close()
	return proxy, nil
}
