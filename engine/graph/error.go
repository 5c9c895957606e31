package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// ErrDeltaExpired means Graph no longer knows the sync state behind a stored deltaLink
// (400/410 with code syncStateNotFound or resyncRequired; identity delta links live 7 days).
// The caller must drop the stored link and run a full sync. The *Error returned by Delta wraps
// it, so test with errors.Is.
var ErrDeltaExpired = errors.New("delta token expired: drop the stored delta link and run a full sync")

// ErrRetryBudgetExhausted is wrapped by the *Error of a throttled or unavailable response that was
// not retried because the run's retry-time budget (see WithRetryBudget) was spent.
var ErrRetryBudgetExhausted = errors.New("retry budget exhausted")

// Error is a classified failure of a Graph or login call. Every error the client returns for a
// request that reached the network is an *Error; use errors.As to read it and ReasonOf for the
// reason code. Its text never contains secrets, tokens or request bodies.
type Error struct {
	// Reason is the taxonomy code (engine/reason).
	Reason reason.Code
	// Contract is the registry name of the call ("token.acquire" for sign-in).
	Contract string
	// Status is the HTTP status (0 when no response arrived).
	Status int
	// GraphCode is Graph's error.code ("Authorization_RequestDenied", "ModelValidationFailure", ...)
	// or, for sign-in failures, the OAuth error ("invalid_client").
	GraphCode string
	// AADSTS is the Entra error number of a sign-in failure (7000215, ...), 0 otherwise.
	AADSTS int
	// Message is the service's message, reduced to its first line. For Intune's JSON-inside-message
	// bodies it is the inner Message.
	Message string
	// MissingPermissions names the application permissions the service asked for: the scope list
	// of Intune's 403, or the contract's required permission for a directory 403.
	MissingPermissions []string
	// RequestID is Graph's request-id (for Microsoft support).
	RequestID string
	// RetryAfter is the Retry-After of a throttled response, if any.
	RetryAfter time.Duration
	// Err is the underlying cause, if any: a network or decode error, ErrDeltaExpired or
	// ErrRetryBudgetExhausted.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph")
	if e.Contract != "" {
		b.WriteString(" " + e.Contract)
	}
	b.WriteString(": " + string(e.Reason))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.GraphCode != "" {
			b.WriteString(" " + e.GraphCode)
		}
		b.WriteString(")")
	} else if e.GraphCode != "" {
		b.WriteString(" (" + e.GraphCode + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.MissingPermissions) > 0 {
		b.WriteString("; missing permission: " + strings.Join(e.MissingPermissions, " or "))
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.RequestID != "" {
		b.WriteString(" [request-id " + e.RequestID + "]")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Hint is the operator hint of the reason code, naming the missing permission when known.
func (e *Error) Hint() string {
	h := reason.Hint(e.Reason)
	if len(e.MissingPermissions) > 0 {
		h += " Missing: " + strings.Join(e.MissingPermissions, " or ") + "."
	}
	return h
}

// ReasonOf returns the reason code of err: the Reason of an *Error in its chain, run_cancelled or
// run_timed_out for context errors, network_error for network errors, internal_error for anything
// else, and "" for nil.
func ReasonOf(err error) reason.Code {
	if err == nil {
		return ""
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Reason
	}
	switch {
	case errors.Is(err, context.Canceled):
		return reason.RunCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return reason.RunTimedOut
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return reason.NetworkError
	}
	return reason.InternalError
}

// HintOf returns the operator hint for err (the *Error's Hint, else the reason code's hint).
func HintOf(err error) string {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Hint()
	}
	return reason.Hint(ReasonOf(err))
}
