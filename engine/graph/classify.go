package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// Classification turns Graph and login failures into reason codes (docs/architecture.md#reason-codes,
// docs/graph.md#sign-in and docs/graph.md#errors). Graph is branched on error.code and status, never on
// free text, except where Microsoft gives nothing better: the scope list inside Intune's
// JSON-inside-message 403 and the licence shape.

// graphErrorBody is Graph's error envelope (concepts/errors.md).
type graphErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
			Code      string `json:"code"`
		} `json:"innerError"`
	} `json:"error"`
}

// intuneInnerMessage is the JSON document Intune puts, as a string, into error.message.
type intuneInnerMessage struct {
	Version int    `json:"_version"`
	Message string `json:"Message"`
}

var (
	scopesRE  = regexp.MustCompile(`(?i)must have one of the following scopes:\s*(.+?)(?:\s+-\s+Operation ID|\s+-\s+Activity ID|\s*$)`)
	aadstsRE  = regexp.MustCompile(`AADSTS(\d+)`)
	licenseRE = regexp.MustCompile(`(?i)not applicable to target tenant|not licensed|no valid license|license is required|intune license`)
)

// ClassifyResponse classifies a failed Graph response (status >= 400) from its status, headers
// and body. contract may be nil; when set, a directory 403 names the contract's permission.
// Delta-expiry responses come back with Err = ErrDeltaExpired.
func ClassifyResponse(status int, header http.Header, body []byte, contract *Contract) *Error {
	e := &Error{Status: status}
	if contract != nil {
		e.Contract = contract.Name
	}
	if header != nil {
		e.RequestID = firstNonEmpty(header.Get("request-id"), header.Get("client-request-id"))
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"))
	}
	var env graphErrorBody
	if json.Unmarshal(body, &env) == nil {
		e.GraphCode = env.Error.Code
		e.Message = env.Error.Message
		if e.RequestID == "" {
			e.RequestID = env.Error.InnerError.RequestID
		}
	} else if len(body) > 0 && status < 500 {
		e.Message = truncate(string(body), 200)
	}
	// Intune: {"error":{"code":"Forbidden","message":"{\r\n \"_version\": 3, \"Message\": \"...\" ...}"}}
	if trimmed := strings.TrimSpace(e.Message); strings.HasPrefix(trimmed, "{") {
		var inner intuneInnerMessage
		if json.Unmarshal([]byte(trimmed), &inner) == nil && inner.Message != "" {
			e.Message = inner.Message
		}
	}
	e.Message = firstLine(e.Message)
	if m := scopesRE.FindStringSubmatch(e.Message); m != nil {
		for _, p := range strings.Split(m[1], ",") {
			if p = strings.TrimSpace(p); p != "" {
				e.MissingPermissions = append(e.MissingPermissions, p)
			}
		}
	}

	code := strings.ToLower(e.GraphCode)
	switch {
	case (status == http.StatusBadRequest || status == http.StatusGone) && (code == "syncstatenotfound" || code == "resyncrequired"),
		status == http.StatusGone:
		e.Reason = reason.ProviderInvalidRequest
		e.Err = ErrDeltaExpired
	case status == http.StatusUnauthorized:
		e.Reason = reason.ProviderAuthFailed
	case status == http.StatusTooManyRequests:
		e.Reason = reason.ProviderThrottled
	case status >= 500:
		e.Reason = reason.ProviderUnavailable
	case licenseRE.MatchString(e.Message) && (status == http.StatusBadRequest || status == http.StatusForbidden):
		e.Reason = reason.ProviderLicenseMissing
	case status == http.StatusForbidden:
		e.Reason = reason.ProviderPermissionDenied
		if len(e.MissingPermissions) == 0 && contract != nil && contract.Permission != "" {
			e.MissingPermissions = []string{contract.Permission}
		}
	case status == http.StatusNotFound:
		e.Reason = reason.ProviderNotFound
	case status == http.StatusRequestTimeout:
		e.Reason = reason.ProviderUnavailable
	default:
		e.Reason = reason.ProviderInvalidRequest
	}
	return e
}

// oauthErrorBody is the token endpoint's error body.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
}

// aadstsReasons maps Entra sign-in error numbers (docs/graph.md#sign-in) to reason codes.
// Microsoft warns the numbers may change; unknown numbers fall back to provider_auth_failed.
var aadstsReasons = map[int]reason.Code{
	7000215: reason.ProviderAuthFailed,     // invalid client secret (or the secret ID was pasted)
	7000222: reason.ProviderSecretExpired,  // client secret expired
	700016:  reason.ProviderAppNotFound,    // application not found in the directory
	90002:   reason.ProviderTenantNotFound, // tenant not found
	900023:  reason.ProviderTenantNotFound, // tenant identifier is neither a GUID nor a verified domain
	90072:   reason.ProviderTenantNotFound, // account does not exist in the tenant
	700027:  reason.ProviderAuthFailed,     // client assertion signature invalid (certificate not uploaded)
	700024:  reason.ProviderAuthFailed,     // client assertion outside its validity window (clock skew)
	7000112: reason.ProviderAuthFailed,     // application disabled
	70011:   reason.ProviderInvalidRequest, // invalid scope
	65001:   reason.ProviderConsentMissing, // consent not granted
}

// ClassifyAuthError classifies an error of the token credential (azidentity) or of the kiota auth
// provider that wraps it. AADSTS numbers come from the token response body when azidentity kept
// it (*azidentity.AuthenticationFailedError.RawResponse), else from the error text.
func ClassifyAuthError(err error) *Error {
	e := &Error{Contract: "token.acquire", Reason: reason.ProviderAuthFailed}
	if ctxErr := contextReason(err); ctxErr != "" {
		e.Reason, e.Err = ctxErr, err
		return e
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		e.Status = afe.RawResponse.StatusCode
		if body, rerr := runtime.Payload(afe.RawResponse); rerr == nil {
			var ob oauthErrorBody
			if json.Unmarshal(body, &ob) == nil {
				e.GraphCode = ob.Error
				e.Message = firstLine(ob.ErrorDescription)
				if len(ob.ErrorCodes) > 0 {
					e.AADSTS = ob.ErrorCodes[0]
				}
			}
		}
	}
	if e.AADSTS == 0 {
		src := e.Message
		if src == "" {
			src = err.Error()
		}
		if m := aadstsRE.FindStringSubmatch(src); m != nil {
			e.AADSTS, _ = strconv.Atoi(m[1])
			if e.Message == "" {
				e.Message = firstLine(src[strings.Index(src, m[0]):])
			}
		}
	}
	if e.AADSTS != 0 {
		if r, ok := aadstsReasons[e.AADSTS]; ok {
			e.Reason = r
		}
		return e
	}
	if isNetworkError(err) {
		e.Reason = reason.NetworkError
		e.Err = sanitizedNetworkError(err)
		return e
	}
	if e.Status >= 500 {
		e.Reason = reason.ProviderUnavailable
	}
	if e.Message == "" {
		// azidentity's text carries the response body of the login host, never our secret.
		e.Message = firstLine(err.Error())
	}
	return e
}

// classifyTransportError classifies an error that happened before a response arrived.
func classifyTransportError(err error, contract *Contract) *Error {
	e := &Error{Err: err, Reason: reason.NetworkError}
	if contract != nil {
		e.Contract = contract.Name
	}
	if r := contextReason(err); r != "" {
		e.Reason = r
		return e
	}
	e.Err = sanitizedNetworkError(err)
	return e
}

// classifyDecodeError classifies an error that happened while reading or decoding a successful
// response: truncated or malformed JSON is provider_malformed_response; a reset connection is a
// network error; a cancelled context is the context's reason.
func classifyDecodeError(err error, status int, contract *Contract) *Error {
	e := &Error{Err: err, Status: status, Reason: reason.ProviderMalformedResponse}
	if contract != nil {
		e.Contract = contract.Name
	}
	if r := contextReason(err); r != "" {
		e.Reason = r
		return e
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Reason = reason.NetworkError
	}
	return e
}

func contextReason(err error) reason.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return reason.RunCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return reason.RunTimedOut
	}
	return ""
}

func isNetworkError(err error) bool {
	var ne net.Error
	var ue x509.UnknownAuthorityError
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// MSAL flattens some transport errors into text.
	s := err.Error()
	for _, frag := range []string{"dial tcp", "connection refused", "no such host", "x509:", "tls:", "i/o timeout", "connection reset"} {
		if strings.Contains(s, frag) {
			return true
		}
	}
	return false
}

// sanitizedNetworkError keeps the cause but drops the query string of the URL in a *url.Error
// (skip and delta tokens are long and say nothing to an operator).
func sanitizedNetworkError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
			return &url.Error{Op: ue.Op, URL: ue.URL[:i], Err: ue.Err}
		}
	}
	return err
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return truncate(s, 500)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
