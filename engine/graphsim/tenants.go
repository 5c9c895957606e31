package graphsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// Tenant profiles for demos and tests.
const (
	// ProfileHealthy: every read and write permission of the contract registry is granted.
	ProfileHealthy = "healthy"
	// ProfileLostPermission: like healthy, but the app lacks DeviceManagementConfiguration.Read.All
	// (and ReadWrite), so inventory and verification are blocked and name that permission.
	ProfileLostPermission = "lost-permission"
	// ProfileLargeThrottled: 50,000 groups and every 10th Graph request answered 429 with
	// Retry-After: 1.
	ProfileLargeThrottled = "large-throttled"
)

// TenantSpec describes one simulated tenant. Everything not given is derived deterministically
// from Options.Seed and the tenant's position.
type TenantSpec struct {
	// Name is the display name (default: "Contoso <n> (<profile>)").
	Name string
	// Profile is one of the Profile* constants (default ProfileHealthy).
	Profile string
	// Groups is the number of generated groups, 0..1,000,000, produced lazily by index so a large
	// tenant costs no memory (default 250; 50,000 for ProfileLargeThrottled; -1 means none).
	Groups int
	// PoliciesPerFamily is the number of generated objects of each Intune family (default 4).
	// Some families always add fixed objects (the enrollment defaults, a policy with >25
	// assignments, a settings-catalog policy with >25 settings).
	PoliciesPerFamily int
	// FamilyCounts overrides PoliciesPerFamily for the families it names (a tenant in realistic
	// proportions: many device configurations, few driver update profiles).
	FamilyCounts map[graph.Family]int
	// ID fixes the tenant GUID (default: derived from the seed).
	ID string
}

// AuthFault makes the login endpoint fail for a tenant the way Entra does (docs/graph.md#sign-in).
type AuthFault string

const (
	AuthOK             AuthFault = ""
	AuthSecretExpired  AuthFault = "secret_expired"   // AADSTS7000222 on client_secret
	AuthWrongSecret    AuthFault = "wrong_secret"     // AADSTS7000215: every secret is rejected
	AuthAppNotFound    AuthFault = "app_not_found"    // AADSTS700016
	AuthTenantNotFound AuthFault = "tenant_not_found" // AADSTS90002 (metadata and token endpoints)
	AuthBadCertificate AuthFault = "bad_certificate"  // AADSTS700027: the uploaded certificate is unknown
	AuthInvalidScope   AuthFault = "invalid_scope"    // AADSTS70011
)

// Tenant is one simulated tenant: its app registration, directory, Intune data, faults and
// mutation API. All methods are safe for concurrent use with the server.
type Tenant struct {
	// ID is the tenant GUID; Domain its initial domain (also accepted as tenant on login).
	ID, Name, Domain, Profile string
	// ClientID and ClientSecret are the app registration's credentials.
	ClientID, ClientSecret string

	mu        sync.Mutex
	roles     []string
	authFault AuthFault
	licensed  bool
	cert      *appCertificate
	faults    []*faultRule
	log       []RequestRecord
	counts    map[string]int
	// inFlight and peakInFlight count the tenant's Graph requests being answered (PeakInFlight).
	inFlight, peakInFlight int

	groups *groupStore
	intune *intuneStore
	ca     *caStore // Entra Conditional Access (conditionalaccess.go)
	seed   uint64
}

// deterministicUUID derives a stable GUID from the parts.
func deterministicUUID(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func deterministicSecret(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	// Looks like an Entra secret value: 40 chars with a "~" after a 3-char prefix.
	s := hex.EncodeToString(h.Sum(nil))
	return "Sim8Q~" + s[:34]
}

// AllPermissions is what a healthy tenant's app is granted: every read and write permission of
// the contract registry.
func AllPermissions() []string {
	all := append(graph.RequiredPermissions(), graph.RequiredWritePermissions()...)
	slices.Sort(all)
	return slices.Compact(all)
}

func newTenant(seed int64, index int, spec TenantSpec) (*Tenant, error) {
	if spec.Profile == "" {
		spec.Profile = ProfileHealthy
	}
	switch spec.Profile {
	case ProfileHealthy, ProfileLostPermission, ProfileLargeThrottled:
	default:
		return nil, fmt.Errorf("unknown tenant profile %q (want %s, %s or %s)", spec.Profile,
			ProfileHealthy, ProfileLostPermission, ProfileLargeThrottled)
	}
	groups := spec.Groups
	switch {
	case groups < 0:
		groups = 0
	case groups == 0 && spec.Profile == ProfileLargeThrottled:
		groups = 50_000
	case groups == 0:
		groups = 250
	}
	if groups > 1_000_000 {
		return nil, fmt.Errorf("tenant %d: %d groups is above the simulator's 1,000,000", index, groups)
	}
	id := strings.ToLower(spec.ID)
	if id == "" {
		id = deterministicUUID("tenant", seed, index)
	}
	name := spec.Name
	if name == "" {
		name = fmt.Sprintf("Contoso %d (%s)", index+1, spec.Profile)
	}
	sum := sha256.Sum256([]byte(id))
	t := &Tenant{
		ID: id, Name: name, Profile: spec.Profile,
		Domain:       fmt.Sprintf("contoso%d.onmicrosoft.com", index+1),
		ClientID:     deterministicUUID("app", seed, id),
		ClientSecret: deterministicSecret("secret", seed, id),
		licensed:     true,
		counts:       map[string]int{},
		seed:         binary.BigEndian.Uint64(sum[:8]) ^ uint64(seed),
	}
	t.roles = AllPermissions()
	switch spec.Profile {
	case ProfileLostPermission:
		t.roles = slices.DeleteFunc(t.roles, func(r string) bool { return strings.HasPrefix(r, "DeviceManagementConfiguration.") })
	case ProfileLargeThrottled:
		t.faults = append(t.faults, &faultRule{Fault: Fault{Kind: FaultThrottle, Every: 10, RetryAfter: 1}})
	}
	per := spec.PoliciesPerFamily
	if per <= 0 {
		per = 4
	}
	t.groups = newGroupStore(t, groups)
	t.intune = newIntuneStore(t, per, spec.FamilyCounts)
	t.ca = newCAStore(t)
	return t, nil
}

// Credentials returns the client-secret credentials of the tenant's app.
func (t *Tenant) Credentials() graph.Credentials {
	return graph.Credentials{TenantID: t.ID, ClientID: t.ClientID, ClientSecret: t.ClientSecret}
}

// CertificateCredentials returns certificate credentials (see CertificatePEM).
func (t *Tenant) CertificateCredentials() (graph.Credentials, error) {
	pem, err := t.CertificatePEM()
	if err != nil {
		return graph.Credentials{}, err
	}
	return graph.Credentials{TenantID: t.ID, ClientID: t.ClientID, CertificatePEM: pem}, nil
}

// CertificatePEM returns the app's certificate and private key (PEM), generating and
// registering them on first use. The token endpoint accepts client assertions signed by it.
func (t *Tenant) CertificatePEM() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cert == nil {
		c, err := newAppCertificate(t.ClientID)
		if err != nil {
			return nil, err
		}
		t.cert = c
	}
	return slices.Clone(t.cert.pem), nil
}

// Roles returns the application permissions the app currently has (the next token's roles).
func (t *Tenant) Roles() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.roles)
}

// SetRoles replaces the app's permissions. nil or empty means no consent at all: tokens are then
// issued without a roles claim. Like Entra, tokens already issued keep their roles: call
// graph.Client.Token(ctx, true) or create a new client to see the change.
func (t *Tenant) SetRoles(roles []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.roles = slices.Clone(roles)
}

// RemoveRoles revokes permissions (the ReadWrite variant is not removed implicitly).
func (t *Tenant) RemoveRoles(roles ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.roles = slices.DeleteFunc(t.roles, func(r string) bool {
		return slices.ContainsFunc(roles, func(x string) bool { return strings.EqualFold(x, r) })
	})
}

// GrantRoles adds permissions.
func (t *Tenant) GrantRoles(roles ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range roles {
		if !slices.Contains(t.roles, r) {
			t.roles = append(t.roles, r)
		}
	}
}

// SetAuthFault makes sign-in fail as f describes (AuthOK clears it).
func (t *Tenant) SetAuthFault(f AuthFault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.authFault = f
}

// SetIntuneLicensed switches the tenant's Intune licence. Unlicensed tenants answer every Intune
// call with 400 BadRequest "Request not applicable to target tenant." (the shape Intune is
// commonly reported to use; not verified against Microsoft documentation).
func (t *Tenant) SetIntuneLicensed(licensed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.licensed = licensed
}

func (t *Tenant) snapshot() (roles []string, fault AuthFault, licensed bool, cert *appCertificate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.roles), t.authFault, t.licensed, t.cert
}

// GroupCount is the number of groups currently present (generated + added - deleted).
func (t *Tenant) GroupCount() int { return t.groups.count() }

// RequestRecord is one Graph request the simulator answered for a tenant (the last 1,000 are
// kept), for tests that assert on headers and retries.
type RequestRecord struct {
	Contract string
	Method   string
	Path     string
	Status   int
	// Header holds the request headers (Authorization removed).
	Header map[string][]string
	// Gzip reports that the body arrived gzip-encoded and decoded cleanly.
	Gzip bool
	// Body is the decoded request body (writes only).
	Body []byte
	// Latency is the latency model's draw for the request (Options.Latency; zero without it);
	// for a $batch envelope, the largest of its sub-requests' draws, which it waited for.
	Latency time.Duration
}

const maxLog = 1000

func (t *Tenant) record(r RequestRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[r.Contract]++
	if len(t.log) >= maxLog {
		t.log = slices.Delete(t.log, 0, len(t.log)-maxLog+1)
	}
	t.log = append(t.log, r)
}

// Requests returns the recorded requests, oldest first.
func (t *Tenant) Requests() []RequestRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.log)
}

// enter counts a Graph request (top level; a $batch envelope is one) as in flight until the
// returned func is called.
func (t *Tenant) enter() func() {
	t.mu.Lock()
	t.inFlight++
	t.peakInFlight = max(t.peakInFlight, t.inFlight)
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.inFlight--
		t.mu.Unlock()
	}
}

// PeakInFlight is the largest number of the tenant's Graph requests (top level; a $batch
// envelope counts one, the login host none) answered at the same time since ResetPeakInFlight
// or the start: how many a client keeps in flight. An observation; it changes no answer.
func (t *Tenant) PeakInFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peakInFlight
}

// ResetPeakInFlight starts PeakInFlight again from the requests in flight now.
func (t *Tenant) ResetPeakInFlight() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.peakInFlight = t.inFlight
}

// RequestCount returns how many requests of a contract (or "$batch") were answered, all statuses.
func (t *Tenant) RequestCount(contract string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[contract]
}
