package termtext_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/internal/termtext"
)

// hostile is a group name as an attacker sets it in Entra: OSC 0 (title), OSC 52 (clipboard), CSI 2J
// (clear screen), SGR (red, concealed), CR LF (a forged row), DEL, a C1 CSI and an invalid byte.
const hostile = "Finance \x1b]0;PWNED\a\x1b]52;c;cm0gLXJmIH4=\a\x1b[2J\x1b[31mRED\x1b[8mhidden\r\nforged\tcell\x7f\u009b31m\xff end"

func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, escape, text string }{
		{"Plain", "Finance – Zürich 日本", "Finance – Zürich 日本", "Finance – Zürich 日本"},
		{"Hostile", hostile,
			`Finance \x1b]0;PWNED\x07\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[31mRED\x1b[8mhidden\r\nforged\tcell\x7f\u009b31m\xff end`,
			"Finance \\x1b]0;PWNED\\x07\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2J\\x1b[31mRED\\x1b[8mhidden\\r\nforged\tcell\\x7f\\u009b31m\\xff end"},
		{"Empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.escape, termtext.Escape(tc.in))
			require.Equal(t, tc.text, termtext.Text(tc.in))
			for _, out := range []string{termtext.Escape(tc.in), termtext.Text(tc.in)} {
				require.NotContains(t, out, "\x1b")
				require.NotContains(t, out, "\r")
				require.NotContains(t, out, "\u009b")
			}
		})
	}
}

func TestWriterSplitRunes(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := termtext.NewWriter(&b)
	in := []byte("Zürich\x1b[2J 日本\n")
	for i := range in { // one byte at a time: multi-byte runes arrive split
		_, err := w.Write(in[i : i+1])
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.Equal(t, "Zürich\\x1b[2J 日本\n", b.String())
}

type inner struct{ Name string }

type loaded struct {
	Name    string
	Ptr     *string
	Items   []inner
	Map     map[string]string
	Any     any
	Payload []byte
	private string
}

func TestScrub(t *testing.T) {
	t.Parallel()
	p := hostile
	v := loaded{Name: hostile, Ptr: &p, Items: []inner{{hostile}}, Map: map[string]string{hostile: hostile},
		Any: inner{hostile}, Payload: []byte(hostile), private: hostile}
	termtext.Scrub(&v)
	want := termtext.Escape(hostile)
	require.Equal(t, want, v.Name)
	require.Equal(t, want, *v.Ptr)
	require.Equal(t, want, v.Items[0].Name)
	require.Equal(t, map[string]string{want: want}, v.Map)
	require.Equal(t, inner{want}, v.Any)
	require.Equal(t, hostile, string(v.Payload), "raw payloads stay exact")
	require.Equal(t, want, v.private)
	require.False(t, strings.ContainsAny(want, "\x1b\r\n"))
}
