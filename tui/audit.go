package tui

import (
	"encoding/json"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/store"
)

var auditKeys = struct{ Up, Down key.Binding }{
	Up:   binding("k", "up", "up"),
	Down: binding("j", "down", "down"),
}

// audit is the audit log, newest first.
type audit struct {
	env   *Env
	id    int64
	load  loader
	rows  []store.AuditEvent
	err   error
	table table
}

type auditLoadedMsg struct {
	id   int64
	rows []store.AuditEvent
	err  error
}

func newAudit(c *Env) *audit { return &audit{env: c, id: nextScreenID()} }

func (s *audit) Title() string                    { return "Audit" }
func (s *audit) Init() tea.Cmd                    { return s.Reload() }
func (s *audit) Capturing() bool                  { return false }
func (s *audit) Relevant(store.Notification) bool { return false }
func (s *audit) Bindings() []key.Binding          { return nil }

func (s *audit) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id := s.env, s.id
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		rows, err := c.Svc.ListAudit(ctx, c.Actor, store.AuditFilter{Limit: 500})
		return auditLoadedMsg{id: id, rows: rows, err: err}
	}
}

func (s *audit) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case auditLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		s.load.done()
		s.rows, s.err = msg.rows, msg.err
	case tea.KeyPressMsg:
		h := s.env.Height - 5
		switch {
		case key.Matches(msg, auditKeys.Up):
			s.table.move(-1, len(s.rows), h)
		case key.Matches(msg, auditKeys.Down):
			s.table.move(1, len(s.rows), h)
		}
	}
	return s, nil
}

func (s *audit) View(width, height int) string {
	t := s.env.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if len(s.rows) == 0 {
		return t.Dim.Render("  no audit events you may see (the audit log needs the tenant.manage capability)")
	}
	s.table.cols = []column{{title: "WHEN", width: 14}, {title: "WHO", width: 10}, {title: "ACTION", width: 14},
		{title: "TARGET", width: 14}, {title: "DETAILS", width: 10, flex: true}}
	s.table.rows = nil
	for _, e := range s.rows {
		details, _ := json.Marshal(e.Details)
		s.table.rows = append(s.table.rows, []string{e.At.Local().Format("01-02 15:04:05"), e.ActorName, e.Action,
			fmt.Sprintf("%s %s", e.TargetKind, e.TargetID), string(details)})
	}
	return s.table.view(s.env, width, height)
}
