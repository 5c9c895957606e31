package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Theme holds every style the dashboard draws with. Colours are downsampled by Bubble Tea to what
// the terminal supports, and dropped entirely when NO_COLOR is set.
type Theme struct {
	Name      string
	Title     lipgloss.Style
	Crumb     lipgloss.Style
	Dim       lipgloss.Style
	Header    lipgloss.Style
	Selected  lipgloss.Style
	Marked    lipgloss.Style
	Key       lipgloss.Style
	Flash     lipgloss.Style
	Error     lipgloss.Style
	TabActive lipgloss.Style
	Tab       lipgloss.Style
	Box       lipgloss.Style
	Colors    map[string]color.Color // badge colours by tone: ok, warn, bad, info, muted
}

func newTheme(name string, accent, ok, warn, bad, info, muted color.Color) Theme {
	return Theme{
		Name:      name,
		Title:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		Crumb:     lipgloss.NewStyle().Foreground(accent),
		Dim:       lipgloss.NewStyle().Foreground(muted),
		Header:    lipgloss.NewStyle().Bold(true).Foreground(muted),
		Selected:  lipgloss.NewStyle().Reverse(true),
		Marked:    lipgloss.NewStyle().Foreground(warn).Bold(true),
		Key:       lipgloss.NewStyle().Foreground(accent).Bold(true),
		Flash:     lipgloss.NewStyle().Foreground(info),
		Error:     lipgloss.NewStyle().Foreground(bad).Bold(true),
		TabActive: lipgloss.NewStyle().Bold(true).Underline(true).Foreground(accent),
		Tab:       lipgloss.NewStyle().Foreground(muted),
		Box:       lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
		Colors:    map[string]color.Color{"ok": ok, "warn": warn, "bad": bad, "info": info, "muted": muted},
	}
}

// Themes available with --theme.
var Themes = map[string]Theme{
	"dark": newTheme("dark", lipgloss.Color("#7aa2f7"), lipgloss.Color("#9ece6a"), lipgloss.Color("#e0af68"),
		lipgloss.Color("#f7768e"), lipgloss.Color("#7dcfff"), lipgloss.Color("#737aa2")),
	"light": newTheme("light", lipgloss.Color("#2e59c9"), lipgloss.Color("#2d7d2d"), lipgloss.Color("#9a6700"),
		lipgloss.Color("#c4314b"), lipgloss.Color("#0b6e99"), lipgloss.Color("#6e7781")),
}

// ThemeNamed returns the named theme, or the dark one.
func ThemeNamed(name string) Theme {
	if t, ok := Themes[name]; ok {
		return t
	}
	return Themes["dark"]
}
