package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCLIGraphsimLatencyFlagsRefused: a latency the model cannot have is refused with a message
// naming the flag or the numbers, before the simulator listens (nothing is printed or served).
func TestCLIGraphsimLatencyFlagsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"P99WithoutMedian", []string{"graphsim", "--addr", "127.0.0.1:0", "--latency-p99", "400ms"}, 2, "--latency-p99 needs --latency-median"},
		{"P99BelowMedian", []string{"graphsim", "--addr", "127.0.0.1:0", "--latency-median", "1s", "--latency-p99", "1ms"}, 1,
			"graphsim: Latency.P99 1ms is below the median 1s"},
		{"NegativeMedian", []string{"graphsim", "--addr", "127.0.0.1:0", "--latency-median", "-5ms"}, 2, "--latency-median must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := run(context.Background(), c.args, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
			require.Equal(t, c.code, code, errOut.String())
			require.Contains(t, errOut.String(), c.msg)
			require.NotContains(t, out.String(), "graphsim listening", "nothing served")
		})
	}
}
