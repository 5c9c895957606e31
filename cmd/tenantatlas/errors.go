package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/internal/termtext"
)

// Exit codes (docs/design.md#command-line).
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitForbidden = 3
	exitNotFound  = 4
)

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries an explicit exit code without a message of its own (a run that did not succeed).
type exitCodeError struct {
	code int
	msg  string
}

func (e *exitCodeError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue *usageError
	var ce *exitCodeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ue), errors.Is(err, engine.ErrInvalid):
		return exitUsage
	case errors.Is(err, engine.ErrForbidden):
		return exitForbidden
	case errors.Is(err, engine.ErrNotFound):
		return exitNotFound
	}
	return exitError
}

// oneLine flattens an error to the single stderr line a user sees.
func oneLine(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "\r", " ")
	msg = strings.ReplaceAll(msg, "\n", " ")
	return termtext.Escape(msg)
}
