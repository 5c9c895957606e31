package engine

import (
	"fmt"
	"strings"
)

// checkText rejects text that PostgreSQL cannot hold: a NUL byte would otherwise reach the database
// as a parameter and come back as a raw "invalid byte sequence" error instead of a usage error.
// fields alternate name, value.
func checkText(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.IndexByte(fields[i+1], 0) >= 0 {
			return fmt.Errorf("%w: the %s contains a NUL byte (\\x00); remove it", ErrInvalid, fields[i])
		}
	}
	return nil
}

func validName(what, name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%w: a %s name must be 1 to 63 characters", ErrInvalid, what)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && strings.ContainsRune("._-@", r))
		if !ok {
			return fmt.Errorf("%w: %s name %q may hold only letters, digits and . _ - (starting with a letter or digit)", ErrInvalid, what, name)
		}
	}
	return nil
}
