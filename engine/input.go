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
