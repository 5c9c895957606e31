package graphsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestThrottleWindow: the window admits up to its limits, refuses with the seconds until the
// oldest counted request leaves it, counts refused requests too (Graph: retrying at once accrues
// against the limit), and has room again once the window has passed.
func TestThrottleWindow(t *testing.T) {
	t.Parallel()
	lim := ThrottleLimits{Window: 20 * time.Second, Requests: 4, Writes: 2}
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		at         time.Duration
		write      bool
		ok         bool
		retryAfter int
	}{
		{"FirstWrite", 0, true, true, 0},
		{"SecondWrite", time.Second, true, true, 0},
		{"ThirdWriteOverTheWriteLimit", 2 * time.Second, true, false, 18},
		{"AReadStillFits", 3 * time.Second, false, true, 0}, // the fourth request counted, the refused write among them
		{"ReadsOverTheRequestLimit", 4 * time.Second, false, false, 16},
		// Five counted now (two refused): room again when two have left, at 21 s.
		{"RefusedRequestsCountedToo", 10 * time.Second, false, false, 11},
		{"RoomAgainAfterTheWindow", 31 * time.Second, false, true, 0},
	}
	var w throttleWindow
	for _, c := range cases {
		ok, ra := w.admit(lim, c.write, t0.Add(c.at))
		require.Equal(t, c.ok, ok, c.name)
		require.Equal(t, c.retryAfter, ra, c.name)
	}
}

func TestIntuneThrottleLimitsAreMicrosofts(t *testing.T) {
	t.Parallel()
	require.Equal(t, ThrottleLimits{Window: 20 * time.Second, Requests: 1000, Writes: 100}, IntuneThrottleLimits())
}
