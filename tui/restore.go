package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// The restore screen: the preview of restoring a backup set into a tenant (per
// item create or update, the field diff against the target's current object and the assignment
// mapping, unresolved references highlighted) and a typed confirmation: the start is enabled only
// once the target tenant's name is typed exactly. Everything shown comes from PostgreSQL
// (engine.Service.PreviewRestore makes no Graph call).

var restoreKeys = struct {
	Mode, CAState, Start, Confirm, Abort key.Binding
}{
	Mode:    binding("m", "create copy / overwrite"),
	CAState: binding("E", "Conditional Access: report-only / original state (asks again)"),
	Start:   binding("s", "restore… (type the tenant's name)"),
	Confirm: binding("enter", "start the restore, once the name is typed"),
	Abort:   binding("esc", "leave the confirmation"),
}

// restoreScreen previews and starts a restore.
type restoreScreen struct {
	env        *Env
	id         int64
	setID      int64
	targetRef  string
	mode       string
	fetch      fetcher[engine.RestorePreview]
	pv         *engine.RestorePreview
	body       []string // drawn when the preview arrives
	err        error
	scroll     scroller
	confirming bool
	typed      lineInput
	starting   bool
	caState    string    // engine.CAStateReportOnly or, after a second confirmation, engine.CAStateOriginal
	caConfirm  confirmer // the second confirmation of the original state
}

type restoreStartedMsg struct {
	id      int64
	started engine.RestoreStarted
	err     error
}

func newRestore(c *Env, setID int64, targetRef string) *restoreScreen {
	return &restoreScreen{env: c, id: nextScreenID(), setID: setID, targetRef: targetRef, mode: store.RestoreCreateCopy,
		caState: engine.CAStateReportOnly, fetch: newFetcher[engine.RestorePreview]()}
}

func (s *restoreScreen) Title() string                    { return fmt.Sprintf("Restore set %d", s.setID) }
func (s *restoreScreen) Init() tea.Cmd                    { return s.Reload() }
func (s *restoreScreen) Capturing() bool                  { return s.confirming || s.caConfirm.asking() }
func (s *restoreScreen) Relevant(store.Notification) bool { return false }

func (s *restoreScreen) ShortHelp() []key.Binding {
	k := restoreKeys
	if s.confirming {
		return []key.Binding{k.Confirm, k.Abort}
	}
	if s.caConfirm.asking() {
		return []key.Binding{confirmKeys.Yes}
	}
	// Without a preview (the role may not restore, or the set cannot be read) no key applies.
	mode, start := k.Mode, k.Start
	mode.SetEnabled(s.pv != nil)
	start.SetEnabled(s.pv != nil && len(s.pv.Items) > 0)
	ca := k.CAState
	ca.SetEnabled(s.hasCA())
	return []key.Binding{mode, ca, start}
}

// hasCA reports a preview holding Conditional Access policies: only then is their state offered.
func (s *restoreScreen) hasCA() bool {
	if s.pv == nil {
		return false
	}
	for _, it := range s.pv.Items {
		if it.Family == engine.FamilyConditionalAccessPolicies {
			return true
		}
	}
	return false
}

// caKey switches the Conditional Access state: back to report-only at once, to the original
// state only after a y to a second question (enabled policies would be enforced at once).
func (s *restoreScreen) caKey() tea.Cmd {
	if s.caState == engine.CAStateOriginal {
		s.caState = engine.CAStateReportOnly
		return s.Reload()
	}
	s.caConfirm.ask("Restore Conditional Access policies in their original state? Enabled ones are enforced at once, which can lock users out. y to confirm, any other key to keep report-only",
		"Conditional Access policies stay report-only", func() tea.Cmd {
			s.caState = engine.CAStateOriginal
			return s.Reload()
		})
	return nil
}

func (s *restoreScreen) FullHelp() []key.Binding {
	if s.confirming {
		return []key.Binding{restoreKeys.Confirm, restoreKeys.Abort}
	}
	return append(s.ShortHelp(), navHelp()...)
}

func (s *restoreScreen) request() engine.RestoreRequest {
	return engine.RestoreRequest{BackupSetID: s.setID, TenantRef: s.targetRef, Mode: s.mode, CAState: s.caState, Now: s.env.now()}
}

func (s *restoreScreen) Reload() tea.Cmd {
	c, req := s.env, s.request()
	return s.fetch.start(c, func(ctx context.Context) (engine.RestorePreview, error) {
		return c.Svc.PreviewRestore(ctx, c.Actor, req)
	})
}

func (s *restoreScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[engine.RestorePreview]:
		cmd, _ := s.fetch.receive(msg, &s.err, s.show, s.Reload)
		return s, cmd
	case restoreStartedMsg:
		if msg.id != s.id {
			return s, nil
		}
		s.starting = false
		if msg.err != nil {
			return s, flashErr(msg.err)
		}
		s.confirming = false
		s.typed.set("")
		// In order: navigating clears the flash line.
		return s, tea.Sequence(navigate(newRunDetail(s.env, msg.started.Run.ID)),
			flash(fmt.Sprintf("restore %d started as run %d", msg.started.Restore.ID, msg.started.Run.ID)))
	case tea.KeyPressMsg:
		if s.caConfirm.asking() {
			return s, s.caConfirm.answer(msg)
		}
		if s.confirming {
			return s, s.confirmKey(msg)
		}
		_, h := s.env.size()
		if s.scroll.key(msg, max(h-8, 1), len(s.body), s.visible()) {
			return s, nil
		}
		k := restoreKeys
		switch {
		case key.Matches(msg, k.Mode) && s.pv != nil:
			if s.mode == store.RestoreCreateCopy {
				s.mode = store.RestoreOverwrite
			} else {
				s.mode = store.RestoreCreateCopy
			}
			s.scroll = scroller{}
			return s, s.Reload()
		case key.Matches(msg, k.CAState) && s.hasCA():
			return s, s.caKey()
		case key.Matches(msg, k.Start) && s.pv != nil && len(s.pv.Items) > 0:
			s.confirming = true
			s.typed.set("")
		}
	}
	return s, nil
}

// show keeps a preview and draws its lines.
func (s *restoreScreen) show(pv engine.RestorePreview) {
	s.pv = &pv
	s.body = s.lines()
	s.scroll.by(0, len(s.body), s.visible())
}

// confirmKey handles the typed confirmation: enter starts only when the tenant's name matches.
func (s *restoreScreen) confirmKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, restoreKeys.Abort):
		s.confirming = false
		s.typed.set("")
		return nil
	case key.Matches(msg, restoreKeys.Confirm):
		if !s.confirmed() || s.starting {
			return nil
		}
		s.starting = true
		c, id, req := s.env, s.id, s.request()
		return func() tea.Msg {
			ctx, cancel := c.callContext()
			defer cancel()
			started, err := c.Svc.StartRestore(ctx, c.Actor, req)
			return restoreStartedMsg{id: id, started: started, err: err}
		}
	}
	s.typed.update(msg)
	return nil
}

func (s *restoreScreen) confirmed() bool {
	return s.pv != nil && s.typed.String() == s.pv.TargetTenant
}

func (s *restoreScreen) View(width, height int) string {
	t := s.env.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.pv == nil {
		return t.Dim.Render("previewing…")
	}
	head := s.head(width)
	visible := s.visibleIn(height)
	var body []string
	for _, l := range s.scroll.window(s.body, visible) {
		body = append(body, fit(l, width))
	}
	footer := s.footer(width)
	if q := s.caConfirm.view(t, width); q != "" {
		footer = q
	}
	return strings.Join(head, "\n") + "\n\n" + padLines(strings.Join(body, "\n"), visible) + "\n" + footer
}

// head is the lines above the items: source and target, mode, counts, the permissions the restore
// requires, and the warnings.
func (s *restoreScreen) head(width int) []string {
	t := s.env.Theme
	pv := s.pv
	mode := pv.Mode
	if pv.NameSuffix != "" {
		mode += t.Dim.Render("  copies named …" + pv.NameSuffix)
	}
	changing, identical, defaults := s.updateKinds()
	counts := fmt.Sprintf("%s  %s  %s  %s  %s",
		s.env.Tone("ok", fmt.Sprintf("+ %d create", pv.Creates)), s.env.Tone("warn", fmt.Sprintf("~ %d update", changing)),
		t.Dim.Render(fmt.Sprintf("= %d identical", identical)), t.Dim.Render(fmt.Sprintf("%d skip", pv.Skips)), unresolvedTone(s.env, pv.Unresolved))
	head := []string{
		fit(t.Header.Render("from ")+fmt.Sprintf("set %d of %s", pv.BackupSetID, pv.SourceTenant)+
			t.Header.Render("   into ")+s.env.Tone("info", pv.TargetTenant), width),
		fit(t.Header.Render("mode ")+mode, width),
		fit(counts, width),
	}
	if s.hasCA() {
		if pv.CAState == engine.CAStateOriginal {
			head = append(head, fit(t.Header.Render("CA state ")+s.env.Tone("bad", "original: enabled policies are enforced at once"), width))
		} else {
			head = append(head, fit(t.Header.Render("CA state ")+s.env.Tone("ok", "report-only")+
				t.Dim.Render(" (enabled policies restored enabledForReportingButNotEnforced; E for the original state)"), width))
		}
	}
	if len(pv.Permissions) > 0 {
		head = append(head, labelled(t.Header.Render("requires "), t.Dim.Render(strings.Join(pv.Permissions, ", ")+" (the app's write permissions)"), width)...)
	}
	if pv.Creates == 0 && changing == 0 && identical > 0 {
		head = append(head, fit(s.env.Tone("info", fmt.Sprintf("= nothing differs: all %d object(s) already match the target's inventory", identical)), width))
	}
	if pv.Mode == store.RestoreCreateCopy && defaults > 0 {
		head = append(head, fit(s.env.Tone("warn", fmt.Sprintf("⚠ %d [default] object(s) cannot be copied: they are updated in place", defaults)), width))
	}
	for _, w := range pv.Warnings {
		head = append(head, fit(s.env.Tone("warn", "⚠ "+w), width))
	}
	return head
}

// updateKinds splits the preview's updates into those that change fields and those identical to
// the target, and counts the [default] objects updated (in place).
func (s *restoreScreen) updateKinds() (changing, identical, defaults int) {
	for _, it := range s.pv.Items {
		if it.Action != store.RestoreActionUpdate {
			continue
		}
		if len(it.Changes) == 0 && !it.Truncated {
			identical++
		} else {
			changing++
		}
		if it.IsDefault {
			defaults++
		}
	}
	return changing, identical, defaults
}

// visibleIn is how many preview lines fit in height: what the head, a blank line and the footer leave.
func (s *restoreScreen) visibleIn(height int) int {
	width, _ := s.env.size()
	footer := 1
	if s.confirming {
		footer = 2 // the mode and counts restated over the prompt
	}
	return max(height-len(s.head(width))-1-footer, 1)
}

// visible is visibleIn for the terminal's height.
func (s *restoreScreen) visible() int {
	_, h := s.env.size()
	return s.visibleIn(bodyHeight(h))
}

func unresolvedTone(c *Env, n int) string {
	if n == 0 {
		return c.Tone("ok", "all references resolved")
	}
	return c.Tone("bad", fmt.Sprintf("✖ %d unresolved", n))
}

// lines lists every item with its mapping and, for updates, its field diff.
func (s *restoreScreen) lines() []string {
	t := s.env.Theme
	var out []string
	for _, it := range s.pv.Items {
		mark, tone := "+", "ok"
		switch it.Action {
		case store.RestoreActionUpdate:
			mark, tone = "~", "warn"
		case store.RestoreActionSkip:
			mark, tone = "-", "bad"
		}
		name := it.TargetName
		if name == "" {
			name = it.DisplayName
		}
		line := s.env.Tone(tone, fmt.Sprintf("%s %-6s %s", mark, it.Action, dashIfEmpty(name))) + t.Dim.Render("  "+it.Family+"/"+it.PolicyType)
		if it.IsDefault {
			line += t.Dim.Render(" [default]")
		}
		if it.Sensitive {
			line += " " + s.env.Badge("sensitive")
		}
		out = append(out, line)
		if it.Error != "" {
			out = append(out, s.env.Tone("bad", "    cannot restore: "+it.Error))
		}
		for _, n := range it.Notes {
			out = append(out, t.Dim.Render("    note: "+n))
		}
		for _, m := range it.Mapping {
			kind := strings.ReplaceAll(m.Kind, "_", " ")
			if m.Role != "" {
				kind += " " + m.Role
			}
			src := fmt.Sprintf("%q", dashIfEmpty(m.SourceName))
			if m.Status != engine.MappingResolved {
				line := fmt.Sprintf("    ✖ %s %s (%s) %s", kind, src, m.SourceID, strings.ToUpper(m.Status))
				if m.Note != "" {
					line += " — " + m.Note
				}
				out = append(out, s.env.Tone("bad", line))
				continue
			}
			out = append(out, t.Dim.Render(fmt.Sprintf("    ✔ %s %s → %s by %s", kind, src, dashIfEmpty(m.TargetName), m.By)))
		}
		if it.Action == store.RestoreActionUpdate {
			for _, c := range it.Changes {
				out = append(out, "    "+c.Path+": "+t.Dim.Render(dashIfEmpty(c.From))+" → "+dashIfEmpty(c.To))
			}
			if len(it.Changes) == 0 {
				out = append(out, t.Dim.Render("    no field differs from the target's inventory"))
			}
		} else if n := len(it.Changes); n > 0 {
			out = append(out, t.Dim.Render(fmt.Sprintf("    %d field(s) set, %d assignment(s)", n, it.Assignments)))
		}
		if it.Truncated {
			out = append(out, t.Dim.Render("    … more changes"))
		}
	}
	if len(out) == 0 {
		out = append(out, t.Dim.Render("  the set holds no items"))
	}
	return out
}

// footer is the confirmation line: the start is enabled only by the typed tenant name.
func (s *restoreScreen) footer(width int) string {
	t := s.env.Theme
	if !s.confirming {
		return fit(t.Dim.Render("press ")+t.Key.Render("s")+t.Dim.Render(" to restore into "+s.pv.TargetTenant+", ")+
			t.Key.Render("m")+t.Dim.Render(" to switch mode"), width)
	}
	changing, identical, _ := s.updateKinds()
	caNote := ""
	if s.hasCA() && s.pv.CAState == engine.CAStateOriginal {
		caNote = ", Conditional Access in its original state"
	}
	restate := fit(s.env.Tone("warn", fmt.Sprintf("restore in %s mode: %d create, %d update, %d identical into %s%s",
		strings.ReplaceAll(s.pv.Mode, "_", " "), s.pv.Creates, changing, identical, s.pv.TargetTenant, caNote)), width)
	prompt := fmt.Sprintf("type %q to restore: ", s.pv.TargetTenant)
	state := s.env.Tone("muted", "  enter disabled")
	if s.confirmed() {
		state = s.env.Tone("ok", "  enter starts the restore")
	}
	if s.starting {
		state = s.env.Tone("info", "  starting…")
	}
	return restate + "\n" + fit(s.env.Tone("warn", prompt)+t.Key.Render(s.typed.String()+"█")+state+t.Dim.Render("  esc cancels"), width)
}
