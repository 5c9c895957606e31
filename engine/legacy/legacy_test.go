package legacy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMapReason: the free-text reasons the old trackers wrote map onto reason codes; anything
// unrecognised stays unmapped rather than guessed.
func TestMapReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		code string
	}{
		{"Forbidden: Application must have one of the following scopes: X", "provider_permission_denied"},
		{"AADSTS7000222: secret expired", "provider_secret_expired"},
		{"AADSTS7000215: Invalid client secret provided", "provider_auth_failed"},
		{"TooManyRequests", "provider_throttled"},
		{"503 Service Unavailable", "provider_unavailable"},
		{"dial tcp: lookup graph.microsoft.com: no such host", "network_error"},
		{"worker lost", "run_interrupted"},
		{"", ""},
		{"Flux capacitor misaligned", ""},
	} {
		code, ok := MapReason(tc.text)
		require.Equal(t, tc.code, string(code), tc.text)
		require.Equal(t, tc.code != "", ok)
	}

}
