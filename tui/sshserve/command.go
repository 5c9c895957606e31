package sshserve

import (
	"context"
	"fmt"

	"charm.land/ssh"

	"github.com/tenantatlas/tenantatlas/engine"
)

// runCommand runs the session's command line through Config.Command, with the session's streams.
func (s *Server) runCommand(ctx context.Context, sess ssh.Session, actor engine.Actor) int {
	if s.cfg.Command == nil {
		fmt.Fprintln(sess.Stderr(), "tenantatlas: this server runs no commands; connect with a terminal (ssh -t) for the dashboard")
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MaxTimeout)
	defer cancel()
	return s.cfg.Command(ctx, actor, sess.Command(), sess, sess, sess.Stderr())
}
