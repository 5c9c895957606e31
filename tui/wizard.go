package tui

import (
	"fmt"
	"maps"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

// Onboarding steps.
const (
	stepDetails = iota
	stepConnection
	stepVerify
	stepSyncs
)

var wizardSteps = []string{"details", "connection", "verification", "first syncs"}

// wizardKeys are the keys of the wizard's steps. While a form step has the keyboard, any other key
// types into the focused field.
var wizardKeys = struct {
	NextField, PrevField, Continue, Cancel, Verify, SyncAll, SyncGroups, SyncRoles, SyncInventory, Finish key.Binding
}{
	NextField:     binding("tab", "next field", "down"),
	PrevField:     binding("shift+tab", "previous field", "up"),
	Continue:      binding("enter", "continue"),
	Cancel:        binding("esc", "cancel"),
	Verify:        binding("v", "verify again"),
	SyncAll:       binding("a", "sync all"),
	SyncGroups:    binding("s", "groups"),
	SyncRoles:     binding("S", "roles"),
	SyncInventory: binding("i", "inventory"),
	Finish:        binding("enter", "finish"),
}

// wizardField is one text field of the form.
type wizardField struct {
	label  string
	hint   string
	secret bool
	input  lineInput
	// check is the engine's rule for the field, applied as it is typed (nil: any value).
	check func(string) error
}

// problem is what is wrong with the field's value as typed, or "" (an empty field is only reported
// on continue).
func (f *wizardField) problem() string {
	v := strings.TrimSpace(f.input.String())
	if v == "" || f.check == nil {
		return ""
	}
	if err := f.check(v); err != nil {
		return strings.TrimPrefix(err.Error(), engine.ErrInvalid.Error()+": ")
	}
	return ""
}

// wizard is the onboarding flow that adds a tenant: details → connection → verification with its
// live result → first syncs. The secret is typed into a masked field, kept only in memory until the
// tenant is saved (sealed by the engine), and never drawn.
type wizard struct {
	env    *Env
	id     int64
	step   int
	fields []*wizardField
	focus  int
	err    string
	busy   bool
	leave  confirmer // esc with something typed asks before dropping it

	tenant   *engine.TenantView
	verifyID int64
	verify   *store.Run
	started  map[string]int64     // first syncs started, by type
	syncs    map[string]store.Run // their latest state, followed live to their outcome
}

type (
	wizardSavedMsg struct {
		id     int64
		tenant engine.TenantView
		err    error
	}
	wizardRunMsg struct {
		id     int64
		verify *store.Run
		syncs  map[string]store.Run
	}
	wizardStartedMsg struct {
		id  int64
		typ string
		run store.Run
		err error
	}
)

func newWizard(c *Env) *wizard {
	return &wizard{env: c, id: nextScreenID(), started: map[string]int64{}, syncs: map[string]store.Run{}, fields: []*wizardField{
		{label: "Name", hint: "short name used in commands, e.g. contoso", check: engine.CheckTenantName},
		{label: "Tenant ID", hint: "Entra ID > Overview > Tenant ID (a GUID) or a verified domain", check: engine.CheckTenantID},
		{label: "Display name", hint: "optional"},
		{label: "Client ID", hint: "the app registration's Application (client) ID", check: engine.CheckClientID},
		{label: "Client secret", hint: "the secret's Value (not its ID); never shown, encrypted at rest", secret: true},
	}}
}

func (s *wizard) Title() string   { return "Add tenant" }
func (s *wizard) Init() tea.Cmd   { return nil }
func (s *wizard) Capturing() bool { return s.step <= stepConnection }
func (s *wizard) Relevant(n store.Notification) bool {
	return n.Table == store.TableRuns && (n.ID == s.verifyID || (s.tenant != nil && n.TenantID == s.tenant.ID))
}

func (s *wizard) ShortHelp() []key.Binding {
	k := wizardKeys
	switch s.step {
	case stepDetails, stepConnection:
		return []key.Binding{k.NextField, k.PrevField, k.Continue, k.Cancel}
	case stepVerify:
		return []key.Binding{k.Verify, k.Continue}
	}
	return []key.Binding{k.SyncAll, k.SyncGroups, k.SyncRoles, k.SyncInventory, k.Finish}
}

func (s *wizard) FullHelp() []key.Binding {
	if s.step <= stepConnection {
		k := wizardKeys
		return []key.Binding{k.NextField, k.PrevField, k.Continue, k.Cancel}
	}
	return s.ShortHelp()
}

func (s *wizard) stepFields() []*wizardField {
	if s.step == stepDetails {
		return s.fields[:3]
	}
	return s.fields[3:]
}

// Reload reads the verification and the first syncs again: the wizard follows them live.
func (s *wizard) Reload() tea.Cmd {
	if s.verifyID == 0 && len(s.started) == 0 {
		return nil
	}
	c, id, verifyID, started := s.env, s.id, s.verifyID, maps.Clone(s.started)
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		msg := wizardRunMsg{id: id, syncs: map[string]store.Run{}}
		if verifyID != 0 {
			if run, err := c.Svc.GetRun(ctx, c.Actor, verifyID); err == nil {
				msg.verify = &run
			}
		}
		for typ, runID := range started {
			if run, err := c.Svc.GetRun(ctx, c.Actor, runID); err == nil {
				msg.syncs[typ] = run
			}
		}
		return msg
	}
}

func (s *wizard) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case wizardSavedMsg:
		if msg.id != s.id {
			return s, nil
		}
		s.busy = false
		if msg.err != nil {
			s.err = msg.err.Error()
			return s, nil
		}
		s.fields[4].input.set("") // the secret leaves memory once sealed
		s.tenant = &msg.tenant
		s.step = stepVerify
		return s, s.startVerification()
	case wizardStartedMsg:
		if msg.id != s.id {
			return s, nil
		}
		if msg.err != nil {
			s.err = msg.err.Error()
			return s, nil
		}
		if msg.typ == engine.TypeProviderVerification {
			s.verifyID, s.verify = msg.run.ID, &msg.run
			return s, nil
		}
		s.started[msg.typ] = msg.run.ID
		s.syncs[msg.typ] = msg.run
	case wizardRunMsg:
		if msg.id != s.id {
			return s, nil
		}
		if msg.verify != nil {
			s.verify = msg.verify
		}
		maps.Copy(s.syncs, msg.syncs)
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

// typed reports whether any field holds text.
func (s *wizard) typed() bool {
	for _, f := range s.fields {
		if f.input.String() != "" {
			return true
		}
	}
	return false
}

func (s *wizard) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.leave.asking() {
		return s.leave.answer(msg)
	}
	switch s.step {
	case stepDetails, stepConnection:
		fields := s.stepFields()
		k := wizardKeys
		switch {
		case key.Matches(msg, k.Cancel):
			if s.typed() {
				s.leave.ask("Leave the wizard and drop what you typed? y to leave, any other key to stay", "still here: nothing lost",
					func() tea.Cmd { return func() tea.Msg { return backMsg{} } })
				return nil
			}
			return func() tea.Msg { return backMsg{} }
		case key.Matches(msg, k.NextField):
			s.focus = (s.focus + 1) % len(fields)
		case key.Matches(msg, k.PrevField):
			if s.step == stepConnection && s.focus == 0 {
				// Back to the details, as typed: nothing entered is lost going back and forth.
				s.step, s.focus, s.err = stepDetails, 2, ""
				return nil
			}
			s.focus = (s.focus + len(fields) - 1) % len(fields)
		case key.Matches(msg, k.Continue):
			if p := fields[s.focus].problem(); p != "" {
				s.err = p
				return nil
			}
			if s.focus < len(fields)-1 {
				s.focus++
				return nil
			}
			return s.advance()
		default:
			s.err = ""
			fields[s.focus].input.update(msg)
		}
	case stepVerify:
		switch {
		case key.Matches(msg, wizardKeys.Verify):
			if s.verify == nil || !s.verify.Active() {
				return s.startVerification()
			}
		case key.Matches(msg, wizardKeys.Continue):
			s.step = stepSyncs
		}
	case stepSyncs:
		k := wizardKeys
		switch {
		case key.Matches(msg, k.SyncAll):
			return tea.Batch(s.start(engine.TypeDirectoryGroupsSync), s.start(engine.TypeDirectoryRoleDefsSync), s.start(engine.TypeInventorySync))
		case key.Matches(msg, k.SyncGroups):
			return s.start(engine.TypeDirectoryGroupsSync)
		case key.Matches(msg, k.SyncRoles):
			return s.start(engine.TypeDirectoryRoleDefsSync)
		case key.Matches(msg, k.SyncInventory):
			return s.start(engine.TypeInventorySync)
		case key.Matches(msg, k.Finish):
			t := s.tenant
			return tea.Sequence(func() tea.Msg { return backMsg{} }, navigate(newTenantDetail(s.env, t.ID, t.Name)))
		}
	}
	return nil
}

// advance validates the step's fields and moves on; the connection step saves the tenant.
func (s *wizard) advance() tea.Cmd {
	for i, f := range s.stepFields() {
		if f.label != "Display name" && strings.TrimSpace(f.input.String()) == "" {
			s.err, s.focus = f.label+" is required: "+f.hint, i
			return nil
		}
		if p := f.problem(); p != "" {
			s.err, s.focus = p, i
			return nil
		}
	}
	if s.step == stepDetails {
		s.step, s.focus = stepConnection, 0
		return nil
	}
	if s.busy {
		return nil
	}
	s.busy = true
	c, id := s.env, s.id
	req := engine.AddTenantRequest{Name: strings.TrimSpace(s.fields[0].input.String()), TenantGUID: strings.TrimSpace(s.fields[1].input.String()),
		DisplayName: strings.TrimSpace(s.fields[2].input.String()), ClientID: strings.TrimSpace(s.fields[3].input.String()),
		ClientSecret: []byte(s.fields[4].input.String())}
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		t, err := c.Svc.AddTenant(ctx, c.Actor, req)
		return wizardSavedMsg{id: id, tenant: t, err: err}
	}
}

func (s *wizard) startVerification() tea.Cmd { return s.start(engine.TypeProviderVerification) }

func (s *wizard) start(typ string) tea.Cmd {
	c, id, tenantID := s.env, s.id, s.tenant.ID
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		res, err := c.Svc.Start(ctx, c.Actor, engine.StartRequest{Type: typ, TenantID: tenantID})
		return wizardStartedMsg{id: id, typ: typ, run: res.Run, err: err}
	}
}

func (s *wizard) View(width, height int) string {
	t := s.env.Theme
	var steps []string
	for i, name := range wizardSteps {
		label := fmt.Sprintf("%d %s", i+1, name)
		switch {
		case i == s.step:
			steps = append(steps, t.TabActive.Render(label))
		case i == stepVerify && i < s.step && !s.verified():
			// Passed over, not passed: never a ✔ on a verification that failed or has not ended.
			if s.verify != nil && !s.verify.Active() {
				steps = append(steps, s.env.Tone("bad", "✖ "+name))
			} else {
				steps = append(steps, s.env.Tone("warn", "… "+name))
			}
		case i < s.step:
			steps = append(steps, s.env.Tone("ok", "✔ "+name))
		default:
			steps = append(steps, t.Tab.Render(label))
		}
	}
	lines := []string{fit(strings.Join(steps, t.Dim.Render(" → ")), width), ""}
	switch s.step {
	case stepDetails, stepConnection:
		for i, f := range s.stepFields() {
			value := f.input.String()
			if f.secret {
				value = strings.Repeat("•", len([]rune(value)))
			}
			cursor := "  "
			if i == s.focus {
				cursor = t.Key.Render("▸ ")
				value += "█"
			}
			hint := t.Dim.Render(f.hint)
			if p := f.problem(); p != "" {
				hint = t.Error.Render("✖ " + p)
			}
			lines = append(lines, fit(cursor+fit(t.Header.Render(f.label), 14)+value, width))
			lines = append(lines, labelled("    ", hint, width)...)
			lines = append(lines, "")
		}
		if s.busy {
			lines = append(lines, t.Dim.Render("  saving…"))
		}
	case stepVerify:
		lines = append(lines, s.verifyView(width)...)
	case stepSyncs:
		lines = append(lines, fit(fmt.Sprintf("%s is registered. Fill its caches now (DB-only views show them as they land):", s.tenant.Name), width), "")
		for _, typ := range []string{engine.TypeDirectoryGroupsSync, engine.TypeDirectoryRoleDefsSync, engine.TypeInventorySync} {
			op, _ := engine.LookupOperation(typ)
			state := t.Dim.Render("not started")
			if r, ok := s.syncs[typ]; ok {
				state = fmt.Sprintf("run %d  %s", r.ID, s.env.RunBadge(r))
				if r.ReasonCode != nil {
					state += "  " + t.Error.Render(*r.ReasonCode)
				}
			}
			lines = append(lines, fit("  "+fit(op.Title, 24)+state, width))
		}
	}
	if s.err != "" {
		lines = append(lines, "", fit(t.Error.Render("✖ "+s.err), width))
	}
	if q := s.leave.view(t, width); q != "" {
		lines = append(lines, "", q)
	}
	return strings.Join(lines, "\n")
}

func (s *wizard) verifyView(width int) []string {
	t := s.env.Theme
	r := s.verify
	if r == nil {
		return []string{t.Dim.Render("  starting verification…")}
	}
	lines := []string{fit(fmt.Sprintf("  verification run %d  %s", r.ID, s.env.RunBadge(*r)), width)}
	if r.Active() {
		return append(lines, t.Dim.Render("  requesting a token, comparing its permissions, probing each family…"))
	}
	if r.ReasonCode != nil {
		lines = append(lines, fit("  "+t.Error.Render(*r.ReasonCode)+"  "+deref(r.ReasonDetail), width))
		lines = append(lines, wrap("  → "+reason.Hint(reason.Code(*r.ReasonCode)), width)...)
	}
	if v, ok := r.Result["verification"].(map[string]any); ok {
		lines = append(lines, "")
		for _, l := range verificationTable(&store.ProviderConnection{Verification: v}) {
			lines = append(lines, fit("  "+l, width))
		}
	}
	next := "  enter continues to the first syncs"
	if !s.verified() {
		next = "  v verifies again once the cause above is fixed; enter continues to the first syncs anyway"
	}
	lines = append(lines, "", t.Dim.Render(next))
	return lines
}

// verified reports whether the verification run ended successfully.
func (s *wizard) verified() bool {
	return s.verify != nil && !s.verify.Active() && s.verify.Outcome != nil && *s.verify.Outcome == store.OutcomeSucceeded
}
