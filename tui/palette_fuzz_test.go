package tui

import (
	"strings"
	"testing"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// FuzzParsePalette: any command line parses to a known command or a one-line error, never a panic.
func FuzzParsePalette(f *testing.F) {
	for _, s := range []string{"", " ", "runs failed", "RUN 4812", "run #12", "tenant contoso prod", ":runs", "groups '; DROP TABLE groups; --",
		"%_\\", "\x00", "Ωmega 🚀 日本語", "quit now", "\t\n", strings.Repeat("runs ", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, arg, err := parsePalette(line)
		if err != nil {
			if cmd != nil {
				t.Fatal("an error with a command")
			}
			if strings.ContainsAny(err.Error(), "\r\n") && !strings.ContainsAny(line, "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if cmd == nil {
			t.Fatal("no command and no error")
		}
		if first := strings.Fields(line)[0]; !strings.EqualFold(first, cmd.name) && (cmd.alias == "" || !strings.EqualFold(first, cmd.alias)) {
			t.Fatalf("%q parsed as %q", line, cmd.name)
		}
		if arg != strings.Join(strings.Fields(line)[1:], " ") {
			t.Fatalf("argument %q of %q", arg, line)
		}
		_ = completeFrom(arg, []string{"contoso", "fabrikam", arg})
	})
}

// FuzzLineInput types arbitrary text and editing keys into the one-line field behind every `/`
// filter and the palette: it never panics and holds exactly what was typed minus what was deleted.
func FuzzLineInput(f *testing.F) {
	for _, s := range []string{"abc", "'; DROP TABLE operation_runs; --", "%_\\", "\x00\x1b[31m", "Ωmega 🚀", "\x7f\x08"} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, text string, backspaces uint8) {
		var in lineInput
		var want []rune
		for _, r := range text {
			in.update(tea.KeyPressMsg{Code: r, Text: string(r)})
			want = append(want, r)
		}
		in.update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
		want = append(want, ' ')
		for range int(backspaces) % 8 {
			in.update(tea.KeyPressMsg{Code: tea.KeyBackspace})
			if len(want) > 0 {
				want = want[:len(want)-1]
			}
		}
		if in.String() != string(want) {
			t.Fatalf("field holds %q, want %q", in.String(), string(want))
		}
		if utf8.ValidString(text) && !utf8.ValidString(in.String()) {
			t.Fatalf("valid input became invalid UTF-8: %q", in.String())
		}
		in.update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
		if in.String() != "" {
			t.Fatalf("ctrl+u left %q", in.String())
		}
	})
}
