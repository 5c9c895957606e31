// Package reason is the one reason-code taxonomy of TenantAtlas (docs/architecture.md#reason-codes).
//
// Every failure the engine records on a run, every error the Graph client classifies and every badge
// the dashboard draws names one of these codes. Nothing else defines reason codes: read them from here.
package reason

import "sort"

// Code is a stable, snake_case reason code stored in operation_runs.reason_code and run_events.
type Code string

const (
	ProviderAuthFailed          Code = "provider_auth_failed"
	ProviderSecretExpired       Code = "provider_secret_expired"
	ProviderAppNotFound         Code = "provider_app_not_found"
	ProviderTenantNotFound      Code = "provider_tenant_not_found"
	ProviderConsentMissing      Code = "provider_consent_missing"
	ProviderPermissionDenied    Code = "provider_permission_denied"
	ProviderLicenseMissing      Code = "provider_license_missing"
	ProviderThrottled           Code = "provider_throttled"
	ProviderUnavailable         Code = "provider_unavailable"
	ProviderNotFound            Code = "provider_not_found"
	ProviderInvalidRequest      Code = "provider_invalid_request"
	ProviderMalformedResponse   Code = "provider_malformed_response"
	ProviderConnectionMissing   Code = "provider_connection_missing"
	ProviderSecretUndecryptable Code = "provider_secret_undecryptable"
	NetworkError                Code = "network_error"
	RunInterrupted              Code = "run_interrupted"
	RunCancelled                Code = "run_cancelled"
	RunTimedOut                 Code = "run_timed_out"
	MappingUnresolved           Code = "mapping_unresolved"
	BaselineMissing             Code = "baseline_missing"
	InternalError               Code = "internal_error"
)

// Info describes how the engine and the operator treat a code.
type Info struct {
	Code Code
	// Blocking codes mean the run cannot succeed until someone changes configuration (a permission,
	// a secret, consent). The run ends with outcome "blocked" instead of "failed".
	Blocking bool
	// Retryable codes may succeed if the same run is started again unchanged.
	Retryable bool
	// Hint is one line telling the operator what to do next.
	Hint string
}

var taxonomy = map[Code]Info{
	ProviderAuthFailed: {Blocking: true,
		Hint: "The app could not sign in: check the client ID and that the secret value (not its ID) or certificate is current."},
	ProviderSecretExpired: {Blocking: true,
		Hint: "The client secret has expired: create a new secret in the app registration and update the connection."},
	ProviderAppNotFound: {Blocking: true,
		Hint: "The app is not registered in this tenant: check the client ID, or have an admin consent to the app in the tenant."},
	ProviderTenantNotFound: {Blocking: true,
		Hint: "The tenant was not found: check the tenant ID or domain of this tenant."},
	ProviderConsentMissing: {Blocking: true,
		Hint: "The app has no application permissions consented: grant admin consent in Entra ID > App registrations > API permissions."},
	ProviderPermissionDenied: {Blocking: true,
		Hint: "The app lacks a required permission: add the named application permission and grant admin consent, then verify again."},
	ProviderLicenseMissing: {Blocking: true,
		Hint: "The tenant has no active Intune licence for this API: assign an Intune licence or skip this family."},
	ProviderThrottled: {Retryable: true,
		Hint: "Microsoft Graph throttled the requests beyond the retry budget: retry later or lower the tenant's request rate."},
	ProviderUnavailable: {Retryable: true,
		Hint: "Microsoft Graph answered with a server error: retry later; check the Microsoft 365 service health page if it persists."},
	ProviderNotFound: {
		Hint: "The object no longer exists in Graph: sync again to refresh the cache."},
	ProviderInvalidRequest: {
		Hint: "Graph rejected the request as invalid: see the run log for the property Graph named."},
	ProviderMalformedResponse: {Retryable: true,
		Hint: "Graph sent a response that could not be decoded (truncated or not JSON): retry; report it if it repeats."},
	ProviderConnectionMissing: {Blocking: true,
		Hint: "The tenant has no default provider connection: add one with `tenantatlas tenants add` or the onboarding wizard."},
	ProviderSecretUndecryptable: {Blocking: true,
		Hint: "The stored secret cannot be decrypted with this secret key: use the key it was stored with, or re-enter the secret."},
	NetworkError: {Retryable: true,
		Hint: "Graph could not be reached: check DNS, proxy and firewall, then retry."},
	RunInterrupted: {Retryable: true,
		Hint: "The engine stopped while this run was in flight: start it again; items already applied are not re-applied."},
	RunCancelled: {
		Hint: "Cancelled by a user."},
	RunTimedOut: {Retryable: true,
		Hint: "The run exceeded its time limit: retry; for very large tenants raise the operation timeout."},
	MappingUnresolved: {
		Hint: "Some assignments reference groups, filters or scope tags that do not exist in the target tenant: see the mapping report."},
	BaselineMissing: {Blocking: true,
		Hint: "The tenant has no complete backup set to compare with: run a backup, or choose a baseline with `tenantatlas baselines set`."},
	InternalError: {Retryable: true,
		Hint: "TenantAtlas hit an unexpected error: see the run log and the engine log."},
}

// Lookup returns the taxonomy entry of c. An unknown code (for instance a verbatim legacy reason)
// comes back with ok=false and a neutral hint.
func Lookup(c Code) (Info, bool) {
	info, ok := taxonomy[c]
	info.Code = c
	if !ok {
		info.Hint = "Not a TenantAtlas reason code (kept verbatim)."
	}
	return info, ok
}

// Known reports whether c is part of the taxonomy.
func Known(c Code) bool {
	_, ok := taxonomy[c]
	return ok
}

// All returns every code of the taxonomy in name order.
func All() []Info {
	out := make([]Info, 0, len(taxonomy))
	for c := range taxonomy {
		info, _ := Lookup(c)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Hint is shorthand for Lookup(c).Hint.
func Hint(c Code) string {
	info, _ := Lookup(c)
	return info.Hint
}
