package graphsim

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// The login host: OpenID metadata, instance discovery, JWKS and the client-credentials token
// endpoint, answering like Entra including its AADSTS error bodies (docs/graph.md#sign-in).

const graphAudience = "https://graph.microsoft.com"

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	base := baseURL(r)
	switch {
	case len(parts) == 3 && parts[1] == "discovery" && parts[2] == "instance":
		writeJSON(w, http.StatusOK, map[string]any{
			"tenant_discovery_endpoint": base + "/" + parts[0] + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata":                  []any{map[string]any{"preferred_network": r.Host, "preferred_cache": r.Host, "aliases": []string{r.Host}}},
		})
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		s.serveMetadata(w, base, parts[0])
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" && r.Method == http.MethodPost:
		s.serveToken(w, r, base, parts[0])
	case len(parts) == 4 && parts[1] == "discovery" && parts[2] == "v2.0" && parts[3] == "keys":
		pub := s.signKey.PublicKey
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{map[string]any{
			"kty": "RSA", "use": "sig", "kid": s.kid, "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	default:
		http.NotFound(w, r)
	}
}

// loginTenant resolves the tenant segment (GUID or domain); nil when unknown or faulted away.
func (s *Server) loginTenant(key string) *Tenant {
	t := s.byKey[strings.ToLower(key)]
	if t == nil {
		return nil
	}
	if _, fault, _, _ := t.snapshot(); fault == AuthTenantNotFound {
		return nil
	}
	return t
}

func (s *Server) tenantNotFound(w http.ResponseWriter, key string) {
	s.oauthError(w, http.StatusBadRequest, "invalid_request", 90002,
		"Tenant '"+key+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")
}

func (s *Server) serveMetadata(w http.ResponseWriter, base, key string) {
	if key == "common" || key == "organizations" {
		key = "common"
	} else if s.loginTenant(key) == nil {
		s.tenantNotFound(w, key)
		return
	}
	issuerTenant := "{tenantid}"
	if t := s.loginTenant(key); t != nil {
		issuerTenant = t.ID
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/" + key + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/" + key + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/" + issuerTenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                base + "/" + key + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/" + key + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/" + key + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "tid"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

// serveToken implements the client-credentials grant with client_secret or a client_assertion
// signed by the app's registered certificate (PS256 or RS256, x5t#S256 or x5t header).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, base, key string) {
	if err := r.ParseForm(); err != nil {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	t := s.loginTenant(key)
	if t == nil {
		s.tenantNotFound(w, key)
		return
	}
	roles, fault, _, cert := t.snapshot()
	form := r.PostForm
	if form.Get("grant_type") != "client_credentials" {
		s.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+form.Get("grant_type")+"'.")
		return
	}
	clientID := form.Get("client_id")
	if !strings.EqualFold(clientID, t.ClientID) || fault == AuthAppNotFound {
		s.oauthError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '"+clientID+"' was not found in the directory '"+t.Name+"'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
		return
	}
	if !validScope(form.Get("scope")) || fault == AuthInvalidScope {
		s.oauthError(w, http.StatusBadRequest, "invalid_scope", 70011,
			"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope "+form.Get("scope")+" is not valid.")
		return
	}
	acr := "1"
	switch {
	case form.Get("client_secret") != "":
		if fault == AuthSecretExpired {
			s.oauthError(w, http.StatusUnauthorized, "invalid_client", 7000222,
				"The provided client secret keys for app '"+t.ClientID+"' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.")
			return
		}
		if fault == AuthWrongSecret || subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(t.ClientSecret)) != 1 {
			s.oauthError(w, http.StatusUnauthorized, "invalid_client", 7000215,
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+t.ClientID+"'.")
			return
		}
	case form.Get("client_assertion") != "":
		acr = "2"
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			s.oauthError(w, http.StatusBadRequest, "invalid_request", 50027, "Invalid client_assertion_type.")
			return
		}
		if code, msg := verifyAssertion(form.Get("client_assertion"), t.ClientID, cert, fault); code != 0 {
			s.oauthError(w, http.StatusUnauthorized, "invalid_client", code, msg)
			return
		}
	default:
		s.oauthError(w, http.StatusUnauthorized, "invalid_client", 7000216,
			"'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	now := time.Now()
	claims := map[string]any{
		"aud": graphAudience, "iss": "https://sts.windows.net/" + t.ID + "/",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"appid": t.ClientID, "appidacr": acr, "idtyp": "app", "oid": deterministicUUID("sp", t.ID),
		"sub": deterministicUUID("sp", t.ID), "tid": t.ID, "ver": "1.0", "uti": s.requestID(),
		"app_displayname": "TenantAtlas",
	}
	if len(roles) > 0 {
		claims["roles"] = roles // no consent => no roles claim at all, as Entra does
	}
	tok, err := signJWT(s.signKey, map[string]any{"typ": "JWT", "alg": "RS256", "kid": s.kid, "x5t": s.kid}, claims)
	if err != nil {
		s.oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

func validScope(scope string) bool {
	ok := false
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case graph.Scope, "00000003-0000-0000-c000-000000000000/.default":
			ok = true
		case "openid", "profile", "offline_access":
		default:
			return false
		}
	}
	return ok
}

// verifyAssertion checks a client assertion; it returns 0 or the AADSTS code and message.
func verifyAssertion(assertion, clientID string, cert *appCertificate, fault AuthFault) (int, string) {
	keyNotFound := "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s']"
	p, err := parseJWT(assertion)
	if err != nil {
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ."
	}
	x5tS256, _ := p.header["x5t#S256"].(string)
	x5t, _ := p.header["x5t"].(string)
	thumb := firstNonEmpty(x5tS256, x5t)
	if cert == nil || fault == AuthBadCertificate {
		return 700027, strings.Replace(keyNotFound, "%s", thumb, 1)
	}
	match := false
	if x5tS256 != "" {
		match = decodeThumb(x5tS256) == string(cert.thumbprint[:])
	} else if x5t != "" {
		match = decodeThumb(x5t) == string(cert.sha1Thumb)
	}
	if !match {
		return 700027, strings.Replace(keyNotFound, "%s", thumb, 1)
	}
	pub, ok := cert.cert.PublicKey.(*rsa.PublicKey)
	if !ok || p.verify(pub) != nil {
		return 700027, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]"
	}
	if !strings.EqualFold(p.str("iss"), clientID) || !strings.EqualFold(p.str("sub"), clientID) {
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
	}
	if exp := p.num("exp"); exp != 0 && time.Unix(exp, 0).Before(time.Now().Add(-5*time.Minute)) {
		return 700024, "Client assertion is not within its valid time range."
	}
	if !strings.HasSuffix(p.str("aud"), "/oauth2/v2.0/token") {
		return 700212, "No matching federated identity record found for presented assertion audience."
	}
	return 0, ""
}

// decodeThumb accepts the standard or URL-safe base64 encodings clients use for x5t.
func decodeThumb(s string) string {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return string(b)
		}
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// authenticate verifies a Graph bearer token and returns its tenant and roles, or the
// InvalidAuthenticationToken message.
func (s *Server) authenticate(authz string) (*Tenant, []string, string) {
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, nil, "Access token is empty."
	}
	p, ok := s.verifiedToken(tok)
	if !ok {
		var err error
		if p, err = parseJWT(tok); err != nil {
			return nil, nil, "IDX14100: JWT is not well formed, there are no dots (.)."
		}
		if p.verify(&s.signKey.PublicKey) != nil {
			return nil, nil, "Access token validation failure. Invalid signature."
		}
		s.rememberToken(tok, p)
	}
	if aud := p.str("aud"); aud != graphAudience && aud != "00000003-0000-0000-c000-000000000000" {
		return nil, nil, "Access token validation failure. Invalid audience."
	}
	if time.Unix(p.num("exp"), 0).Before(time.Now()) {
		return nil, nil, "Lifetime validation failed, the token is expired."
	}
	t := s.byKey[strings.ToLower(p.str("tid"))]
	if t == nil {
		return nil, nil, "Access token validation failure. Invalid issuer."
	}
	return t, p.strings("roles"), ""
}

// maxVerifiedTokens bounds the cache of verified access tokens (a client reuses its token for
// its lifetime, so a handful per tenant).
const maxVerifiedTokens = 4096

// verifiedToken returns the parsed claims of an access token whose signature was verified before.
// A token's signature never stops being valid for the key that signed it, so a token is verified
// once, not on every request (an RSA verification per request was 15% of the simulator's CPU in
// the fleet night); its audience, lifetime and tenant are still checked on every request.
func (s *Server) verifiedToken(tok string) (*parsedJWT, bool) {
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	p, ok := s.verified[tok]
	return p, ok
}

func (s *Server) rememberToken(tok string, p *parsedJWT) {
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	if s.verified == nil || len(s.verified) >= maxVerifiedTokens {
		s.verified = map[string]*parsedJWT{}
	}
	s.verified[tok] = p
}
