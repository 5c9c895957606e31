package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
)

// tenantActionKeys are the tenant detail's credential lifecycle and diagnosis keys.
var tenantActionKeys = struct{ Credential, Remove, Diagnose, Submit, Cancel key.Binding }{
	Credential: binding("c", "set credential"),
	Remove:     binding("X", "remove tenant"),
	Diagnose:   binding("D", "diagnose (doctor)"),
	Submit:     binding("enter", "submit"),
	Cancel:     binding("esc", "cancel"),
}

// slowCallTimeout bounds the calls that sign in to Entra or reach Graph (a new credential's check,
// the diagnosis): the service gives a sign-in 30 seconds.
const slowCallTimeout = 45 * time.Second

type tenantPrompt int

const (
	promptNone tenantPrompt = iota
	promptSecret
	promptRemove
)

// tenantActions is the part of the tenant detail that replaces the credential, removes the tenant
// and runs doctor's checks for it. The view only collects input and shows answers: the service
// authorizes each action (a readonly member's key press reaches it and shows its refusal).
type tenantActions struct {
	env      *Env
	id       int64 // routes answers to this screen
	tenantID int64
	prompt   tenantPrompt
	input    lineInput // the secret or the typed name; the secret is never drawn
	busy     string    // what is in flight
	result   []string  // the last action's answer
	resultOK bool
	diag     []engine.CheckLine
}

type (
	tenantCredentialMsg struct {
		id  int64
		res engine.SetCredentialResult
		err error
	}
	tenantRemovedMsg struct {
		id  int64
		res engine.RemovedTenant
		err error
	}
	tenantDiagnosisMsg struct {
		id    int64
		lines []engine.CheckLine
		err   error
	}
)

func newTenantActions(c *Env, tenantID int64) tenantActions {
	return tenantActions{env: c, id: nextScreenID(), tenantID: tenantID}
}

func (a *tenantActions) capturing() bool { return a.prompt != promptNone }

// bindings are the keys offered now: while a prompt is open only its own.
func (a *tenantActions) bindings(role access.Role) []key.Binding {
	k := tenantActionKeys
	if a.capturing() {
		return []key.Binding{k.Submit, k.Cancel}
	}
	cred, remove, diag := k.Credential, k.Remove, k.Diagnose
	cred.SetEnabled(a.busy == "")
	remove.SetEnabled(a.busy == "")
	diag.SetEnabled(a.busy == "" && role.Can(access.ProviderVerify))
	return []key.Binding{cred, remove, diag}
}

func (a *tenantActions) slowContext() (context.Context, context.CancelFunc) {
	base := a.env.Lifetime
	if base == nil {
		base = context.Background()
	}
	return context.WithTimeout(base, slowCallTimeout)
}

// key handles the actions' keys and, while a prompt is open, every key.
func (a *tenantActions) key(msg tea.KeyPressMsg, role access.Role) (tea.Cmd, bool) {
	k := tenantActionKeys
	if a.capturing() {
		switch {
		case key.Matches(msg, k.Cancel):
			a.prompt = promptNone
			a.input.set("")
			return flash("nothing changed"), true
		case key.Matches(msg, k.Submit):
			return a.submit(), true
		}
		a.input.update(msg)
		return nil, true
	}
	if a.busy != "" {
		return nil, false
	}
	switch {
	case key.Matches(msg, k.Credential):
		if !role.Can(access.TenantManage) {
			return a.setCredential(nil), true // the service refuses, saying which capability is missing
		}
		a.prompt, a.result = promptSecret, nil
		return nil, true
	case key.Matches(msg, k.Remove):
		if !role.Can(access.TenantManage) {
			return a.remove(""), true
		}
		a.prompt, a.result = promptRemove, nil
		return nil, true
	case key.Matches(msg, k.Diagnose):
		return a.diagnose(), true
	}
	return nil, false
}

func (a *tenantActions) submit() tea.Cmd {
	value := strings.TrimSpace(a.input.String())
	a.input.set("") // the secret leaves the screen's memory
	p := a.prompt
	a.prompt = promptNone
	if value == "" {
		return flash("nothing typed: nothing changed")
	}
	if p == promptSecret {
		return a.setCredential([]byte(value))
	}
	return a.remove(value)
}

func (a *tenantActions) setCredential(secret []byte) tea.Cmd {
	c, id, tenantID := a.env, a.id, a.tenantID
	a.busy = "signing in with the new secret…"
	return func() tea.Msg {
		ctx, cancel := a.slowContext()
		defer cancel()
		res, err := c.Svc.SetCredential(ctx, c.Actor, engine.SetCredentialRequest{TenantID: tenantID, ClientSecret: secret})
		return tenantCredentialMsg{id: id, res: res, err: err}
	}
}

func (a *tenantActions) remove(confirm string) tea.Cmd {
	c, id, tenantID := a.env, a.id, a.tenantID
	a.busy = "removing…"
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		res, err := c.Svc.RemoveTenant(ctx, c.Actor, engine.RemoveTenantRequest{TenantID: tenantID, Confirm: confirm})
		return tenantRemovedMsg{id: id, res: res, err: err}
	}
}

func (a *tenantActions) diagnose() tea.Cmd {
	c, id, tenantID := a.env, a.id, a.tenantID
	a.busy, a.diag = "running doctor's checks…", nil
	return func() tea.Msg {
		ctx, cancel := a.slowContext()
		defer cancel()
		lines, err := c.Svc.DiagnoseTenant(ctx, c.Actor, tenantID)
		return tenantDiagnosisMsg{id: id, lines: lines, err: err}
	}
}

// receive takes an action's answer. It reports false for messages of other screens.
func (a *tenantActions) receive(msg tea.Msg, reload func() tea.Cmd) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case tea.PasteMsg: // a secret is usually pasted
		if !a.capturing() {
			return nil, false
		}
		a.input.value = append(a.input.value, []rune(strings.TrimSpace(msg.Content))...)
		return nil, true
	case tenantCredentialMsg:
		if msg.id != a.id {
			return nil, false
		}
		a.busy = ""
		if msg.err != nil {
			a.result, a.resultOK = []string{"✖ " + msg.err.Error()}, false
			return nil, true
		}
		a.result, a.resultOK = []string{"✔ new " + msg.res.Tenant.Connection.AuthKind + " stored: it signed in"}, true
		if v := msg.res.Verification; v != nil {
			a.result = append(a.result, fmt.Sprintf("  verification run %d started", v.ID))
		}
		return reload(), true
	case tenantRemovedMsg:
		if msg.id != a.id {
			return nil, false
		}
		a.busy = ""
		if msg.err != nil {
			a.result, a.resultOK = []string{"✖ " + msg.err.Error()}, false
			return nil, true
		}
		return tea.Sequence(func() tea.Msg { return backMsg{} },
			flash(fmt.Sprintf("removed tenant %s (%d backup set(s)); its %d run(s) and the audit are kept", msg.res.Tenant, msg.res.BackupSets, msg.res.RunsKept))), true
	case tenantDiagnosisMsg:
		if msg.id != a.id {
			return nil, false
		}
		a.busy = ""
		if msg.err != nil {
			a.diag = []engine.CheckLine{{Name: "doctor", Detail: msg.err.Error()}}
			return nil, true
		}
		a.diag = msg.lines
		return nil, true
	}
	return nil, false
}

// view is the actions' lines: the open prompt, what is in flight, the last answer and the
// diagnosis, each check with ✔/✖ and its fix.
func (a *tenantActions) view(c *Env, name string, width int) []string {
	t := c.Theme
	var lines []string
	switch a.prompt {
	case promptSecret:
		lines = append(lines, fit(t.Header.Render("new secret  ")+strings.Repeat("•", len(a.input.value))+"█", width),
			fit(t.Dim.Render("            the client secret's Value, signed in with before it replaces the old one (a certificate: tenants set-credential --certificate-file) · enter submit · esc cancel"), width))
	case promptRemove:
		lines = append(lines, fit(t.Error.Render("remove      type "+name+" to delete it with its connection, groups, inventory and backups (runs and audit stay): ")+a.input.String()+"█", width))
	}
	if a.busy != "" {
		lines = append(lines, fit(c.Tone("info", "● "+a.busy), width))
	}
	for _, l := range a.result {
		if a.resultOK {
			lines = append(lines, labelled("  ", c.Tone("ok", l), width)...)
		} else {
			lines = append(lines, labelled("  ", t.Error.Render(l), width)...)
		}
	}
	if len(a.diag) > 0 {
		lines = append(lines, t.Header.Render("diagnosis"))
		for _, l := range a.diag {
			mark, tone := "✔", "ok"
			switch {
			case l.Skipped:
				mark, tone = "–", "info"
			case !l.OK:
				mark, tone = "✖", "bad"
			}
			text := fmt.Sprintf("%s %-12s %s", mark, l.Name, l.Detail)
			lines = append(lines, labelled("  ", c.Tone(tone, text), width)...)
			if !l.OK && l.Fix != "" {
				lines = append(lines, labelled("    → ", l.Fix, width)...)
			}
		}
	}
	return lines
}
