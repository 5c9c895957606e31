// Package graphsim is a Microsoft Graph and Entra login simulator for tests, the demo and
// benchmarks. One TLS server (own CA, see CAPEM) plays the login host (OpenID metadata, the
// client-credentials token endpoint with secrets and certificate assertions) and Graph under
// /v1.0 and /beta for every call of the engine/graph contract registry, for any number of
// tenants generated deterministically from a seed.
//
// It follows Microsoft, not the engine: every behaviour is what Microsoft documents (the Graph
// metadata, the docs pages) or what real tenants showed the peer tools (IntuneCD,
// IntuneManagement), with its source next to the rule. Bearer tokens are verified and their roles
// checked against the permissions Microsoft accepts for each call (403 bodies per service); page
// sizes and $top caps, $select, nextLink/deltaLink, @removed, gzip request bodies, $batch and the
// documented error bodies of docs/graph.md. The Intune families (intune_*.go) answer in OData
// minimal metadata — @odata.type only on derived types, script bodies only in a GET of one
// object, navigation properties only when $expand-ed — and validate writes and actions against
// the beta entity types and the documented action parameters (intune_schema.go,
// intune_writes.go, intune_actions.go); graphsim also serves Graph endpoints the registry does not
// list yet (intune_routes.go). Faults (throttling, 5xx, slowness, malformed or truncated bodies,
// sign-in failures, lost permissions, licence) and mutations (groups and policies) are driven per
// tenant through the Go API (Server.Tenant) or the HTTP admin API under /_sim/. Optionally every
// request waits for a seeded draw of a latency model, a $batch for its slowest sub-request
// (Options.Latency, latency.go), and Microsoft's Intune limits are enforced (Options.Throttle).
package graphsim

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Options configure a Server.
type Options struct {
	// Seed makes every generated id, name and secret reproducible.
	Seed int64
	// Tenants to simulate (default: one healthy tenant).
	Tenants []TenantSpec
	// Addr is the listen address of Start (default "127.0.0.1:0": a free port).
	Addr string
	// Hosts are extra DNS names or IPs for the TLS certificate (localhost, 127.0.0.1 and ::1 are
	// always included).
	Hosts []string
	// Logf, if set, receives one line per answered request.
	Logf func(format string, args ...any)
	// Throttle, if set, enforces these limits on every tenant's Intune requests with Graph's 429
	// and Retry-After (IntuneThrottleLimits are Microsoft's). Unset, a tenant is never throttled
	// by volume, as if the rest of the tenant's apps left it the whole budget and the test sent
	// less than the limit; throttling faults (FaultThrottle) still apply.
	Throttle *ThrottleLimits
	// Latency, if set, delays every Graph request by a draw from this distribution, seeded per
	// tenant from Seed (latency.go; DefaultLatency is the benchmarks'); a $batch envelope takes
	// its slowest sub-request. Unset, requests are answered as fast as the machine allows.
	// FaultSlow delays add to it.
	Latency *Latency
}

// Server is the simulator. Create it with New, then Start it (or mount Handler yourself).
type Server struct {
	opts    Options
	ca      *authority
	signKey *rsa.PrivateKey
	kid     string
	tenants []*Tenant
	byKey   map[string]*Tenant
	routes  []route
	started int64
	reqSeq  atomic.Uint64

	latency map[*Tenant]*latencySampler // nil without Options.Latency; read-only after New

	throttleMu    sync.Mutex
	windows       map[*Tenant]*throttleWindow
	throttleCount throttleCounters

	tokensMu sync.Mutex
	verified map[string]*parsedJWT // access tokens whose signature was verified (verifiedToken)

	adminOnce sync.Once
	adminMux  *http.ServeMux

	mu   sync.Mutex
	ln   net.Listener
	srv  *http.Server
	base string
	done chan struct{}
}

// New generates the CA, the token-signing key and the tenants. It does not listen.
func New(opts Options) (*Server, error) {
	if len(opts.Tenants) == 0 {
		opts.Tenants = []TenantSpec{{Profile: ProfileHealthy}}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Latency != nil {
		if err := opts.Latency.validate(); err != nil {
			return nil, err
		}
	}
	ca, err := newAuthority(opts.Hosts)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("error generating the token signing key: %w", err)
	}
	s := &Server{opts: opts, ca: ca, signKey: key, byKey: map[string]*Tenant{}, started: time.Now().UnixNano(),
		kid: deterministicUUID("kid", opts.Seed)}
	for i, spec := range opts.Tenants {
		t, err := newTenant(opts.Seed, i, spec)
		if err != nil {
			return nil, err
		}
		if s.byKey[t.ID] != nil {
			return nil, fmt.Errorf("duplicate tenant id %s", t.ID)
		}
		s.tenants = append(s.tenants, t)
		s.byKey[t.ID] = t
		s.byKey[strings.ToLower(t.Domain)] = t
	}
	if opts.Latency != nil {
		s.latency = make(map[*Tenant]*latencySampler, len(s.tenants))
		for _, t := range s.tenants {
			s.latency[t] = newLatencySampler(*opts.Latency, t.seed)
		}
	}
	s.routes = buildRoutes()
	return s, nil
}

// Start listens on Options.Addr and serves TLS in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("graphsim: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", s.opts.Addr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.base = "https://" + net.JoinHostPort(host, port)
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.ca.leaf}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"}})
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // clients that distrust the CA are expected in tests
	srv, tlsLn, done := s.srv, s.ln, make(chan struct{})
	s.done = done
	go func() {
		defer close(done)
		_ = srv.Serve(tlsLn)
	}()
	return nil
}

// Close stops the server; it tolerates never-started and double Close.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	return nil
}

// URL is the base URL (https://127.0.0.1:port) once started.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// LoginURL is the authority host for graph.Config.LoginURL (TENANTATLAS_LOGIN_URL).
func (s *Server) LoginURL() string { return s.URL() }

// GraphURL is the Graph root for graph.Config.GraphURL (TENANTATLAS_GRAPH_URL).
func (s *Server) GraphURL() string { return s.URL() }

// CAPEM is the simulator CA certificate, PEM encoded.
func (s *Server) CAPEM() []byte { return bytes.Clone(s.ca.caPEM) }

// CertPool is a pool holding only the simulator CA.
func (s *Server) CertPool() *x509.CertPool { return s.ca.pool.Clone() }

// GraphConfig returns a graph.Config pointed at the simulator, trusting its CA.
func (s *Server) GraphConfig() graph.Config {
	return graph.Config{GraphURL: s.GraphURL(), LoginURL: s.LoginURL(), RootCAs: s.CertPool()}
}

// Tenants returns every simulated tenant in spec order.
func (s *Server) Tenants() []*Tenant { return append([]*Tenant(nil), s.tenants...) }

// Tenant finds a tenant by GUID, domain or display name (nil if none).
func (s *Server) Tenant(key string) *Tenant {
	if t := s.byKey[strings.ToLower(key)]; t != nil {
		return t
	}
	for _, t := range s.tenants {
		if strings.EqualFold(t.Name, key) {
			return t
		}
	}
	return nil
}

// Handler serves login, Graph and the admin API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_sim/"):
		s.serveAdmin(w, r)
	case strings.HasPrefix(p, "/v1.0/"), strings.HasPrefix(p, "/beta/"):
		s.serveGraph(w, r)
	default:
		s.serveLogin(w, r)
	}
}

func baseURL(r *http.Request) string {
	return "https://" + r.Host
}

// simRequest is one Graph request (top-level or $batch sub-request) after decoding.
type simRequest struct {
	method  string
	version graph.APIVersion
	path    string // after the version, e.g. "/groups/delta"
	query   url.Values
	header  http.Header
	body    []byte
	gzip    bool
	base    string
	tenant  *Tenant
	roles   []string
	ctx     context.Context
	// inBatch: a sub-request of a $batch envelope (a slow fault delays the envelope once instead).
	inBatch bool
	// latency is the latency model's draw for this request (already waited; for the record).
	latency time.Duration
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	version, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	req := &simRequest{method: r.Method, version: graph.APIVersion(version), path: "/" + rest, query: r.URL.Query(),
		header: r.Header, base: baseURL(r), ctx: r.Context()}
	body, gz, err := readBody(r)
	if err != nil {
		s.graphError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	req.body, req.gzip = body, gz
	t, roles, msg := s.authenticate(r.Header.Get("Authorization"))
	if t == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+req.base+`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		s.graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return
	}
	req.tenant, req.roles = t, roles
	defer t.enter()()
	if req.path == "/$batch" && r.Method == http.MethodPost {
		s.serveBatch(w, req)
		return
	}
	if sampler := s.latency[t]; sampler != nil {
		req.latency = sampler.next()
		if !wait(req.ctx, req.latency) {
			return
		}
	}
	s.dispatch(w, req)
}

// readBody reads the request body, gunzipping it when Content-Encoding is gzip (Go's server does
// not). A gzip header over a plain body — kiota's retry-before-compression bug — is a 400.
func readBody(r *http.Request) ([]byte, bool, error) {
	if r.Body == nil {
		return nil, false, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return nil, false, fmt.Errorf("error reading the request body: %w", err)
	}
	if !strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		return raw, false, nil
	}
	// A reader is reused (gzip.Reader.Reset): a new one per request allocates its decompressor
	// state each time, which was most of the simulator's allocations in the fleet night.
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(raw))
	} else {
		err = zr.Reset(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, false, fmt.Errorf("the request body is not valid gzip although Content-Encoding is gzip: %w", err)
	}
	body, err := io.ReadAll(zr)
	gzipReaders.Put(zr)
	if err != nil {
		return nil, false, fmt.Errorf("the request body is not valid gzip although Content-Encoding is gzip: %w", err)
	}
	return body, true, nil
}

var gzipReaders sync.Pool

// route is a contract compiled into a path matcher.
type route struct {
	contract graph.Contract
	re       *regexp.Regexp
	literal  int // literal characters: more specific routes win
}

func buildRoutes() []route {
	var out []route
	contracts := graph.Contracts()
	known := map[string]bool{}
	for _, c := range contracts {
		known[c.Method+" "+string(c.Version)+c.Path] = true
	}
	for _, c := range simContracts() { // Graph endpoints the registry does not list yet (intune_routes.go)
		if !known[c.Method+" "+string(c.Version)+c.Path] {
			contracts = append(contracts, c)
		}
	}
	for _, c := range contracts {
		if c.Kind == graph.KindToken || c.Kind == graph.KindProbe {
			continue // probes are served by their list contract
		}
		var b strings.Builder
		b.WriteString("^")
		rest := c.Path
		literal := 0
		for {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				b.WriteString(regexp.QuoteMeta(rest))
				literal += len(rest)
				break
			}
			j := strings.IndexByte(rest[i:], '}')
			b.WriteString(regexp.QuoteMeta(rest[:i]))
			literal += i
			b.WriteString(`([^/']+)`)
			rest = rest[i+j+1:]
		}
		b.WriteString("$")
		out = append(out, route{contract: c, re: regexp.MustCompile(b.String()), literal: literal})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].literal > out[j].literal })
	return out
}

// match finds the contract of a request.
func (s *Server) match(method string, version graph.APIVersion, path string) (*graph.Contract, []string, bool) {
	pathKnown := false
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.contract.Version != version {
			continue
		}
		m := rt.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		pathKnown = true
		if rt.contract.Method != method {
			continue
		}
		return &rt.contract, m[1:], true
	}
	return nil, nil, pathKnown
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// dispatch answers one Graph request: route, permission, licence, faults, handler.
func (s *Server) dispatch(rw http.ResponseWriter, req *simRequest) {
	w := &statusWriter{ResponseWriter: rw}
	c, args, pathKnown := s.match(req.method, req.version, req.path)
	name := "unknown"
	if c != nil {
		name = c.Name
	}
	defer func() {
		hdr := req.header.Clone()
		hdr.Del("Authorization")
		rec := RequestRecord{Contract: name, Method: req.method, Path: req.path, Status: w.status, Header: hdr, Gzip: req.gzip,
			Latency: req.latency}
		if req.method != http.MethodGet {
			rec.Body = req.body
		}
		req.tenant.record(rec)
		if s.opts.Logf != nil {
			s.opts.Logf("graphsim %s %s %s /%s%s -> %d", req.tenant.ID[:8], name, req.method, req.version, req.path, w.status)
		}
	}()
	if c == nil {
		if pathKnown {
			s.graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The HTTP method '"+req.method+"' is not supported on this resource.")
			return
		}
		seg := req.path[strings.LastIndexByte(req.path, '/')+1:]
		s.graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+seg+"'.")
		return
	}
	if !permitted(req.roles, c) {
		s.forbidden(w, c)
		return
	}
	_, _, licensed, _ := req.tenant.snapshot()
	if c.Service == graph.ServiceIntune && !licensed {
		s.graphError(w, http.StatusBadRequest, "BadRequest", "Request not applicable to target tenant.")
		return
	}
	if s.opts.Throttle != nil && c.Service == graph.ServiceIntune {
		s.throttleCount.requests.Add(1)
		if ok, retryAfter := s.window(req.tenant).admit(*s.opts.Throttle, isWrite(req.method), time.Now()); !ok {
			s.throttleCount.throttled.Add(1)
			s.throttled(w, retryAfter)
			return
		}
	}
	var capture FaultKind
	if f := req.tenant.nextFault(c, false); f != nil {
		switch f.Kind {
		case FaultThrottle:
			s.throttled(w, f.RetryAfter)
			return
		case FaultServerError:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
			}
			code := map[int]string{500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}[f.Status]
			if code == "" {
				code = "UnknownError"
			}
			s.graphError(w, f.Status, code, "The service is temporarily unavailable. Please retry later.")
			return
		case FaultSlow:
			if req.inBatch {
				break // the envelope carried the delay
			}
			select {
			case <-time.After(f.Delay):
			case <-req.ctx.Done():
				return
			}
		case FaultMalformedJSON, FaultTruncated, FaultDuplicateItem, FaultMistypedItem:
			capture = f.Kind
		}
	}
	if capture == "" {
		s.handle(w, req, c, args)
		return
	}
	rec := newRecorder()
	s.handle(rec, req, c, args)
	body := rec.buf.Bytes()
	switch capture {
	case FaultMalformedJSON:
		body = []byte(`<html><body>Bad gateway: upstream sent {"value": [ garbage</body></html>`)
	case FaultTruncated:
		body = body[:len(body)/2]
	case FaultDuplicateItem, FaultMistypedItem:
		body = editFirstItem(body, capture)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	_, _ = w.Write(body)
}

func (s *Server) window(t *Tenant) *throttleWindow {
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	if s.windows == nil {
		s.windows = map[*Tenant]*throttleWindow{}
	}
	w, ok := s.windows[t]
	if !ok {
		w = &throttleWindow{}
		s.windows[t] = w
	}
	return w
}

// editFirstItem lists a page's first item twice (FaultDuplicateItem) or gives it a numeric
// displayName (FaultMistypedItem). An answer that is not a page is left alone.
func editFirstItem(body []byte, kind FaultKind) []byte {
	var page map[string]json.RawMessage
	var items []json.RawMessage
	if json.Unmarshal(body, &page) != nil || json.Unmarshal(page["value"], &items) != nil || len(items) == 0 {
		return body
	}
	if kind == FaultDuplicateItem {
		items = append([]json.RawMessage{items[0]}, items...)
	} else {
		var first map[string]json.RawMessage
		if json.Unmarshal(items[0], &first) != nil {
			return body
		}
		first["displayName"] = json.RawMessage("42")
		items[0], _ = json.Marshal(first)
	}
	page["value"], _ = json.Marshal(items)
	out, _ := json.Marshal(page)
	return out
}

// recorder buffers a handler's answer (for the malformed/truncated faults and $batch).
type recorder struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.buf.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// forbidden writes the 403 of the contract's service: the directory's Authorization_RequestDenied
// or Intune's JSON-inside-message body naming the scopes that would do.
func (s *Server) forbidden(w http.ResponseWriter, c *graph.Contract) {
	if c.Service == graph.ServiceDirectory {
		s.graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	scopes := []string{c.Permission}
	if c.Permission == c.ReadPermission && c.WritePermission != "" {
		scopes = append(scopes, c.WritePermission)
	}
	s.intuneError(w, http.StatusForbidden, "Forbidden",
		"Application is not authorized to perform this operation. Application must have one of the following scopes: "+strings.Join(scopes, ", "))
}

// handle runs the contract's handler once routing, permission, licence and faults passed.
func (s *Server) handle(w http.ResponseWriter, req *simRequest, c *graph.Contract, args []string) {
	switch c.Family {
	case graph.FamilyGroups:
		s.serveGroups(w, req, string(c.Kind), args)
	case graph.FamilyDirectoryRoleDefinitions:
		s.serveRoleDefinitions(w, req)
	case graph.FamilyConditionalAccessPolicies, graph.FamilyNamedLocations, graph.FamilyAuthenticationStrengthPolicies,
		graph.FamilyAuthenticationContextClassReferences:
		s.serveConditionalAccess(w, req, c, args)
	case graph.FamilyGroupPolicyDefinitions:
		s.serveADMXCatalog(w, req, c, args)
	default:
		s.serveIntune(w, req, c, args)
	}
}
