package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
)

// paletteCommand is one `:` command.
type paletteCommand struct {
	name  string
	alias string // a short name that runs it too (`:q`)
	usage string
	help  string
	args  func(c *Env) []string // completions for the argument
	run   func(c *Env, arg string) (tea.Cmd, error)
}

// paletteCommands is every `:` command, in the order the help lists them. It is filled in init:
// the help, one of the commands, reads it.
var paletteCommands []paletteCommand

func init() {
	paletteCommands = []paletteCommand{
		{name: "home", usage: "home", help: "triage: what needs attention now",
			run: func(c *Env, _ string) (tea.Cmd, error) { return jump(newHome(c)), nil }},
		{name: "runs", usage: "runs [queued|running|failed|blocked|all|legacy]", help: "operations, on a tab",
			args: func(*Env) []string { return runTabNames() },
			run: func(c *Env, arg string) (tea.Cmd, error) {
				tab, err := runTabByName(arg)
				if err != nil {
					return nil, err
				}
				return jump(newRuns(c, runsOptions{tab: tab})), nil
			}},
		{name: "run", usage: "run ID", help: "one run: summary, failures, log",
			run: func(c *Env, arg string) (tea.Cmd, error) {
				id, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64)
				if err != nil || id <= 0 {
					return nil, fmt.Errorf("usage: :run ID (a run number such as 4812)")
				}
				// Like :tenant NAME, a run that does not exist (or the actor may not view) keeps the
				// palette open with the error instead of opening a dead screen.
				ctx, cancel := c.callContext()
				defer cancel()
				if _, err := c.Svc.GetRun(ctx, c.Actor, id); err != nil {
					return nil, err
				}
				return jump(newRunDetail(c, id)), nil
			}},
		{name: "tenants", usage: "tenants", help: "tenants and their connections",
			run: func(c *Env, _ string) (tea.Cmd, error) { return jump(newTenants(c)), nil }},
		tenantCommand("tenant", "tenant NAME", "one tenant: connection, verification, last runs",
			func(c *Env, t engine.TenantView) Screen { return newTenantDetail(c, t.ID, t.Name) }),
		tenantCommand("groups", "groups TENANT", "a tenant's cached groups (search, sync now)",
			func(c *Env, t engine.TenantView) Screen { return newGroups(c, t.ID, t.Name) }),
		tenantCommand("roles", "roles TENANT", "a tenant's cached directory role definitions",
			func(c *Env, t engine.TenantView) Screen { return newRoles(c, t.ID, t.Name) }),
		{name: "onboard", usage: "onboard", help: "add a tenant: details, connection, verification, first syncs",
			run: func(c *Env, _ string) (tea.Cmd, error) {
				if !c.mayAddTenants() {
					return nil, fmt.Errorf("your role cannot add tenants: ask a workspace owner or manager")
				}
				return jump(newWizard(c)), nil
			}},
		{name: "engines", usage: "engines", help: "engines alive, queue depths, runs per minute, throttled tenants",
			run: func(c *Env, _ string) (tea.Cmd, error) { return newEnginesCmd(c), nil }},
		{name: "audit", usage: "audit", help: "the audit log",
			run: func(c *Env, _ string) (tea.Cmd, error) { return jump(newAudit(c)), nil }},
		{name: "help", usage: "help", help: "keys and commands (same as ?)",
			run: func(c *Env, _ string) (tea.Cmd, error) { return func() tea.Msg { return showHelpMsg{} }, nil }},
		{name: "quit", usage: "quit (or q)", help: "leave the dashboard", alias: "q",
			run: func(*Env, string) (tea.Cmd, error) { return tea.Quit, nil }},
		{name: "backups", usage: "backups [TENANT]", help: "backup sets; enter shows the drift to the previous set",
			args: tenantNames,
			run: func(c *Env, arg string) (tea.Cmd, error) {
				if arg == "" {
					return jump(newBackups(c, 0, 0, "")), nil
				}
				t, err := paletteTenant(c, arg, "backups")
				if err != nil {
					return nil, err
				}
				return jump(newBackups(c, t.ID, 0, "Backups of "+t.Name)), nil
			}},
		{name: "schedules", usage: "schedules", help: "backup schedules with their next fire times",
			run: func(c *Env, _ string) (tea.Cmd, error) { return jump(newSchedules(c)), nil }},
		tenantCommand("inventory", "inventory TENANT", "a tenant's Intune inventory, classified by type",
			func(c *Env, t engine.TenantView) Screen { return newInventory(c, t.ID, t.Name) }),
		{name: "restore", usage: "restore SET [TENANT]", help: "preview restoring a backup set (into TENANT, default its own tenant), then start it",
			run: func(c *Env, arg string) (tea.Cmd, error) {
				fields := strings.Fields(arg)
				if len(fields) == 0 || len(fields) > 2 {
					return nil, fmt.Errorf("usage: :restore SET [TENANT] (a backup set id such as 12)")
				}
				id, err := strconv.ParseInt(strings.TrimPrefix(fields[0], "#"), 10, 64)
				if err != nil || id <= 0 {
					return nil, fmt.Errorf("usage: :restore SET [TENANT] (a backup set id such as 12)")
				}
				target := ""
				if len(fields) == 2 {
					target = fields[1]
				}
				return jump(newRestore(c, id, target)), nil
			}},
		{name: "alerts", usage: "alerts", help: "incidents, open first, with their deliveries and errors; a acknowledges",
			run: func(c *Env, _ string) (tea.Cmd, error) { return jump(newAlerts(c)), nil }},
	}
}

// tenantCommand is a command whose argument names a tenant the actor may view, and that opens a
// screen on it.
func tenantCommand(name, usage, help string, open func(c *Env, t engine.TenantView) Screen) paletteCommand {
	return paletteCommand{name: name, usage: usage, help: help, args: tenantNames,
		run: func(c *Env, arg string) (tea.Cmd, error) {
			t, err := paletteTenant(c, arg, name)
			if err != nil {
				return nil, err
			}
			return jump(open(c, t)), nil
		}}
}

type showHelpMsg struct{}

// paletteTenant resolves a palette argument to a tenant the actor may view.
func paletteTenant(c *Env, arg, command string) (engine.TenantView, error) {
	if arg == "" {
		return engine.TenantView{}, fmt.Errorf("usage: :%s TENANT", command)
	}
	ctx, cancel := c.callContext()
	defer cancel()
	return c.Svc.GetTenant(ctx, c.Actor, arg)
}

func tenantNames(c *Env) []string {
	ctx, cancel := c.callContext()
	defer cancel()
	ts, err := c.Svc.ListTenants(ctx, c.Actor)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// paletteKeys are the command line's keys; any other types into it.
var paletteKeys = struct{ Close, Run, Complete key.Binding }{
	Close:    binding("esc", "close"),
	Run:      binding("enter", "run the command"),
	Complete: binding("tab", "complete"),
}

// palette is the `:` command line with completion.
type palette struct {
	env   *Env
	input lineInput
	err   string
	// candidates are what tab found for the word being typed, listed under the line while several
	// match; tab again cycles through them (pick is the one shown).
	candidates []string
	pick       int
}

func newPalette(c *Env) *palette { return &palette{env: c} }

// update handles a key; done means the palette closes.
func (p *palette) update(msg tea.KeyPressMsg) (cmd tea.Cmd, done bool) {
	switch {
	case key.Matches(msg, paletteKeys.Close):
		return nil, true
	case key.Matches(msg, paletteKeys.Run):
		cmd, err := p.execute()
		if err != nil {
			p.err = err.Error()
			return nil, false
		}
		return cmd, true
	case key.Matches(msg, paletteKeys.Complete):
		p.complete()
		return nil, false
	}
	p.err = ""
	p.candidates = nil
	p.input.update(msg)
	return nil, false
}

// parsePalette splits a command line into a known command and its argument.
func parsePalette(line string) (*paletteCommand, string, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil, "", fmt.Errorf("type a command, e.g. runs failed")
	}
	name, arg := strings.ToLower(fields[0]), strings.Join(fields[1:], " ")
	for i := range paletteCommands {
		if paletteCommands[i].name == name || (paletteCommands[i].alias != "" && paletteCommands[i].alias == name) {
			return &paletteCommands[i], arg, nil
		}
	}
	return nil, "", fmt.Errorf("unknown command %q (try: %s)", name, strings.Join(commandNames(), ", "))
}

// commandNames are the commands' names, in table order.
func commandNames() []string {
	names := make([]string, len(paletteCommands))
	for i, c := range paletteCommands {
		names[i] = c.name
	}
	return names
}

func (p *palette) execute() (tea.Cmd, error) {
	cmd, arg, err := parsePalette(p.input.String())
	if err != nil {
		return nil, err
	}
	return cmd.run(p.env, arg)
}

// complete extends the word being typed, a command name, then its argument, inline: one candidate
// is taken whole, several to their common prefix and listed; tab again cycles through them.
func (p *palette) complete() {
	line := p.input.String()
	fields := strings.Fields(line)
	trailingSpace := strings.HasSuffix(line, " ")
	if len(p.candidates) > 1 {
		p.pick = (p.pick + 1) % len(p.candidates)
		head := ""
		if len(fields) > 1 || (len(fields) == 1 && trailingSpace) {
			head = fields[0] + " "
		}
		p.input.set(head + p.candidates[p.pick])
		return
	}
	if len(fields) == 0 || (len(fields) == 1 && !trailingSpace) {
		prefix := ""
		if len(fields) == 1 {
			prefix = fields[0]
		}
		p.offer("", prefix, commandNames(), " ")
		return
	}
	cmd, _, err := parsePalette(fields[0])
	if err != nil || cmd.args == nil {
		return
	}
	prefix := ""
	if !trailingSpace {
		prefix = fields[len(fields)-1]
	}
	p.offer(fields[0]+" ", prefix, cmd.args(p.env), "")
}

// offer completes prefix from candidates after head: the only match whole (then tail), or their
// common prefix with the matches listed.
func (p *palette) offer(head, prefix string, candidates []string, tail string) {
	var matches []string
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), strings.ToLower(prefix)) {
			matches = append(matches, c)
		}
	}
	slices.Sort(matches)
	p.candidates, p.pick = nil, -1
	switch len(matches) {
	case 0:
		p.err = fmt.Sprintf("nothing starts with %q", prefix)
	case 1:
		p.input.set(head + matches[0] + tail)
	default:
		p.candidates = matches
		if m := completeFrom(prefix, matches); m != "" {
			p.input.set(head + m)
		}
	}
}

// completeFrom returns the only candidate with prefix, or their longest common prefix.
func completeFrom(prefix string, candidates []string) string {
	var matches []string
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), strings.ToLower(prefix)) {
			matches = append(matches, c)
		}
	}
	if len(matches) == 0 {
		return ""
	}
	slices.Sort(matches)
	common := matches[0]
	for _, m := range matches[1:] {
		for !strings.HasPrefix(m, common) {
			common = common[:len(common)-1]
		}
	}
	if len(common) < len(prefix) {
		return ""
	}
	return common
}

func (p *palette) view(w int) string {
	t := p.env.Theme
	line := t.Key.Render(":") + p.input.String() + "█"
	if p.err != "" {
		line += "  " + t.Error.Render(p.err)
	} else if len(p.candidates) > 1 {
		line += "  " + t.Dim.Render("tab: "+strings.Join(p.candidates, " "))
	} else if hint := p.hint(); hint != "" {
		line += "  " + t.Dim.Render(hint)
	}
	return fit(line, w)
}

func (p *palette) hint() string {
	cmd, _, err := parsePalette(p.input.String())
	if err != nil {
		return "tab completes · enter runs · esc closes"
	}
	return cmd.usage + " — " + cmd.help
}
