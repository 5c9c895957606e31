package graph

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abs "github.com/microsoft/kiota-abstractions-go"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// Client is the only code in TenantAtlas that speaks HTTP to Microsoft. One Client serves one
// provider connection (tenant + app); it is safe for concurrent use by many workers.
//
// The stack is the real one: azidentity client credentials behind kiota's azure authentication
// provider (scope Scope, valid hosts = the Graph host only), kiota's request adapter to turn a
// RequestInformation into an authorised *http.Request, and kiota-http-go's middleware pipeline
// (see newPipeline) as the *http.Client transport. The client sends the request itself with that
// *http.Client instead of the adapter's Send* methods, because those buffer the whole response:
// this way list pages are decoded from the live body token by token (see List), and every byte
// still went through the kiota auth provider and middleware.
type Client struct {
	cfg       Config
	creds     Credentials
	graphURL  *url.URL
	cred      azcore.TokenCredential
	adapter   *khttp.NetHttpRequestAdapter
	http      *http.Client // kiota middleware pipeline
	loginHTTP *http.Client // plain transport (same CA pool) for azidentity
	transport *http.Transport
	limiter   *TenantLimiter
}

// NewClient builds a client for creds. limiters should be the process-wide registry so that
// every client of a tenant shares its token buckets; nil gives this client private default limits.
// NewClient does not contact Microsoft: credential problems surface on the first call (or Token).
func NewClient(cfg Config, creds Credentials, limiters *Limiters) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := creds.Validate(); err != nil {
		return nil, fmt.Errorf("invalid credentials: %w", err)
	}
	graphURL, _ := url.Parse(cfg.GraphURL)
	pool, err := certPool(cfg)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.ResponseHeaderTimeout = cfg.HTTPTimeout
	tr.TLSHandshakeTimeout = min(cfg.HTTPTimeout, tr.TLSHandshakeTimeout)
	tr.MaxIdleConnsPerHost = 16
	tr.ForceAttemptHTTP2 = true

	c := &Client{cfg: cfg, creds: creds, graphURL: graphURL, transport: tr,
		loginHTTP: &http.Client{Transport: tr, Timeout: cfg.HTTPTimeout}}
	if limiters == nil {
		limiters = NewLimiters(DefaultLimits())
	}
	c.limiter = limiters.Tenant(creds.TenantID)
	if c.cred, err = newCredential(cfg, creds, c.loginHTTP); err != nil {
		return nil, err
	}
	auth, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(c.cred,
		[]string{Scope}, []string{graphURL.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("error creating the kiota authentication provider: %w", err)
	}
	c.http = &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(tr, c.newPipeline()...),
		// Redirects are the RedirectHandler's job (it drops Authorization across hosts).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.adapter, err = khttp.NewNetHttpRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, c.http)
	if err != nil {
		return nil, fmt.Errorf("error creating the kiota request adapter: %w", err)
	}
	c.adapter.SetBaseUrl(cfg.GraphURL)
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}

// TenantID is the tenant of the client's credentials.
func (c *Client) TenantID() string { return c.creds.TenantID }

func certPool(cfg Config) (*x509.CertPool, error) {
	if len(cfg.CAPEM) == 0 {
		return cfg.RootCAs, nil
	}
	var pool *x509.CertPool
	if cfg.RootCAs != nil {
		pool = cfg.RootCAs.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil {
		pool = sys
	} else {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(cfg.CAPEM) {
		return nil, errors.New("config CAPEM holds no PEM certificate")
	}
	return pool, nil
}

// Query holds optional OData parameters of a read. Zero fields keep the contract's defaults.
type Query struct {
	// Select overrides the contract's $select (an empty non-nil slice sends none).
	Select []string
	// Top overrides the contract's page size ($top).
	Top int
	// Filter is sent as $filter.
	Filter string
	// Expand overrides the contract's $expand.
	Expand string
	// Extra holds further parameters, sent verbatim ("$deltatoken": "latest", ...).
	Extra map[string]string
}

// request is one HTTP exchange inside the client.
type request struct {
	contract *Contract
	method   string
	url      *url.URL
	body     []byte
}

// resolve finds the contract and builds its URL.
func (c *Client) resolve(name string, args []string, q *Query) (*Contract, *url.URL, error) {
	ct, ok := Lookup(name)
	if !ok {
		return nil, nil, &Error{Contract: name, Reason: reason.InternalError, Err: errors.New("no such contract in the registry")}
	}
	if ct.Kind == KindToken {
		return nil, nil, &Error{Contract: name, Reason: reason.InternalError, Err: errors.New("token contracts are served by Token")}
	}
	path, err := ct.expandPath(args)
	if err != nil {
		return nil, nil, &Error{Contract: name, Reason: reason.InternalError, Err: err}
	}
	u, err := url.Parse(c.cfg.GraphURL + "/" + string(ct.Version) + path)
	if err != nil {
		return nil, nil, &Error{Contract: name, Reason: reason.InternalError, Err: fmt.Errorf("error building the URL: %w", err)}
	}
	u.RawQuery = encodeQuery(ct.queryParams(q))
	return &ct, u, nil
}

// queryParams merges the contract's defaults with q (reads only).
func (ct Contract) queryParams(q *Query) map[string]string {
	p := map[string]string{}
	if ct.Method != http.MethodGet {
		return p
	}
	sel, top, expand := ct.Select, ct.PageSize, ct.Expand
	if ct.Filter != "" {
		p["$filter"] = ct.Filter
	}
	if q != nil {
		if q.Select != nil {
			sel = q.Select
		}
		if q.Top > 0 {
			top = q.Top
		}
		if q.Expand != "" {
			expand = q.Expand
		}
		if q.Filter != "" {
			p["$filter"] = q.Filter
		}
		for k, v := range q.Extra {
			p[k] = v
		}
	}
	if len(sel) > 0 {
		p["$select"] = strings.Join(sel, ",")
	}
	if top > 0 && ct.Kind != KindDelta && ct.Kind != KindGet {
		p["$top"] = strconv.Itoa(top)
	}
	if expand != "" {
		p["$expand"] = expand
	}
	return p
}

// encodeQuery encodes OData parameters readably: "$" and "," stay literal, spaces become %20.
func encodeQuery(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(odataEscape(k) + "=" + odataEscape(p[k]))
	}
	return b.String()
}

func odataEscape(s string) string {
	s = url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "%24", "$", "%2C", ",", "%27", "'").Replace(s)
}

var methods = map[string]abs.HttpMethod{
	http.MethodGet: abs.GET, http.MethodPost: abs.POST, http.MethodPatch: abs.PATCH,
	http.MethodPut: abs.PUT, http.MethodDelete: abs.DELETE,
}

// do sends one request through the kiota stack. It returns the response when the status is
// below 400 (the caller closes the body), otherwise a classified *Error with the body consumed.
// A request whose context carries no RetryBudget gets its own of Config.Retry.Budget.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	budget, ok := RetryBudgetFrom(ctx)
	if !ok {
		budget = NewRetryBudget(c.cfg.Retry.Budget)
		ctx = WithRetryBudget(ctx, budget)
	}
	if !sameOrigin(r.url, c.graphURL) {
		return nil, &Error{Contract: r.contract.Name, Reason: reason.ProviderMalformedResponse,
			Err: fmt.Errorf("refusing to send a token to %s://%s: not the configured Graph host", r.url.Scheme, r.url.Host)}
	}
	if r.contract.ReadOnly {
		ctx = withRequestCost(ctx, requestCost{reads: 1})
	}
	ctx = context.WithValue(ctx, serviceKey{}, r.contract.Service)
	ctx = context.WithValue(ctx, familyKey{}, r.contract.Family)
	// A fresh RequestInformation per send: the auth provider writes Authorization into it.
	ri := abs.NewRequestInformation()
	ri.Method = methods[r.method]
	ri.SetUri(*r.url)
	ri.Headers.Add("Accept", "application/json")
	if r.contract.LowPriority {
		ri.Headers.Add("x-ms-throttle-priority", "low")
	}
	if r.body != nil {
		ri.SetStreamContentAndContentType(r.body, "application/json")
	}
	native, err := c.adapter.ConvertToNativeRequest(ctx, ri)
	if err != nil {
		if ctx.Err() != nil { // azidentity does not always wrap the context's error
			return nil, classifyTransportError(ctx.Err(), r.contract)
		}
		e := ClassifyAuthError(err)
		e.Contract = r.contract.Name
		return nil, e
	}
	req := native.(*http.Request)
	if r.body != nil {
		// A known length makes the request retriable for kiota's retry handler; the compression
		// handler (first in the pipeline) replaces the body with a seekable gzip stream.
		req.ContentLength = int64(len(r.body))
	}
	resp, err := c.http.Do(req)
	if obs := c.cfg.Observer; obs != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		obs.Request(r.contract.Family, status)
	}
	if err != nil {
		return nil, classifyTransportError(err, r.contract)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if rerr != nil && len(body) == 0 {
		body = nil
	}
	e := ClassifyResponse(resp.StatusCode, resp.Header, body, r.contract)
	if budget.Exhausted() && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) && e.Err == nil {
		e.Err = ErrRetryBudgetExhausted
	}
	return nil, e
}

func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host)
}

// Get reads one object (or one page) with a GET contract and returns its JSON.
func (c *Client) Get(ctx context.Context, contract string, args []string, q *Query) (json.RawMessage, error) {
	return c.call(ctx, http.MethodGet, contract, args, q, nil)
}

// Post sends a POST contract (create, assign, setPriority, actions) and returns the response JSON
// (nil for 204 No Content). body is a json.RawMessage, []byte of JSON, or a value to marshal.
func (c *Client) Post(ctx context.Context, contract string, args []string, body any) (json.RawMessage, error) {
	return c.call(ctx, http.MethodPost, contract, args, nil, body)
}

// Patch sends a PATCH contract (update in place).
func (c *Client) Patch(ctx context.Context, contract string, args []string, body any) (json.RawMessage, error) {
	return c.call(ctx, http.MethodPatch, contract, args, nil, body)
}

// Put sends a PUT contract (settings catalog: replaces the policy and all its settings).
func (c *Client) Put(ctx context.Context, contract string, args []string, body any) (json.RawMessage, error) {
	return c.call(ctx, http.MethodPut, contract, args, nil, body)
}

// Delete sends a DELETE contract (one child entity); Graph answers 204 No Content.
func (c *Client) Delete(ctx context.Context, contract string, args []string) error {
	_, err := c.call(ctx, http.MethodDelete, contract, args, nil, nil)
	return err
}

// maxObjectBytes bounds a single non-streamed response.
const maxObjectBytes = 64 << 20

func (c *Client) call(ctx context.Context, method, name string, args []string, q *Query, body any) (json.RawMessage, error) {
	ct, u, err := c.resolve(name, args, q)
	if err != nil {
		return nil, err
	}
	if ct.Method != method {
		return nil, &Error{Contract: name, Reason: reason.InternalError,
			Err: fmt.Errorf("contract is %s, called with %s", ct.Method, method)}
	}
	var payload []byte
	if method != http.MethodGet && method != http.MethodDelete {
		if payload, err = encodeBody(body); err != nil {
			return nil, &Error{Contract: name, Reason: reason.InternalError, Err: err}
		}
	}
	resp, err := c.do(ctx, request{contract: ct, method: method, url: u, body: payload})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxObjectBytes))
	if err != nil {
		return nil, classifyDecodeError(fmt.Errorf("error reading the response: %w", err), resp.StatusCode, ct)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if !json.Valid(data) {
		return nil, classifyDecodeError(errors.New("response is not valid JSON"), resp.StatusCode, ct)
	}
	return data, nil
}

func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, errors.New("request body is not valid JSON")
		}
		return b, nil
	case []byte:
		if !json.Valid(b) {
			return nil, errors.New("request body is not valid JSON")
		}
		return b, nil
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("error encoding the request body: %w", err)
		}
		return data, nil
	}
}
