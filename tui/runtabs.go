package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"

	"github.com/tenantatlas/tenantatlas/store"
)

// runTab is one status tab of the operations screen.
type runTab struct {
	name     string
	label    string
	statuses []store.Status
	outcomes []store.Outcome
	countKey []string
	legacy   bool // the read-only imported history, not operation runs
}

var runTabs = []runTab{
	{name: "queued", label: "Queued", statuses: []store.Status{store.StatusQueued}, countKey: []string{string(store.StatusQueued)}},
	{name: "running", label: "Running", statuses: []store.Status{store.StatusRunning}, countKey: []string{string(store.StatusRunning)}},
	{name: "failed", label: "Failed", outcomes: []store.Outcome{store.OutcomeFailed, store.OutcomePartiallySucceeded},
		countKey: []string{string(store.OutcomeFailed), string(store.OutcomePartiallySucceeded)}},
	{name: "blocked", label: "Blocked", outcomes: []store.Outcome{store.OutcomeBlocked}, countKey: []string{string(store.OutcomeBlocked)}},
	{name: "all", label: "All"},
	{name: "legacy", label: "Legacy", legacy: true},
}

func runTabNames() []string {
	out := make([]string, len(runTabs))
	for i, t := range runTabs {
		out[i] = t.name
	}
	return out
}

// allTab is the index of the "All" tab.
const allTab = 4

func runTabByName(name string) (int, error) {
	if name == "" {
		return allTab, nil
	}
	for i, t := range runTabs {
		if t.name == strings.ToLower(name) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no tab %q (tabs: %s)", name, strings.Join(runTabNames(), ", "))
}

// tabKeys are the digits that go straight to a tab, one per tab.
func tabKeys() key.Binding {
	digits := make([]string, len(runTabs))
	for i := range runTabs {
		digits[i] = strconv.Itoa(i + 1)
	}
	return key.NewBinding(key.WithKeys(digits...), key.WithHelp(digits[0]+"-"+digits[len(digits)-1], "go to tab"))
}
