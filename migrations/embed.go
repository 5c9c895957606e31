// Package migrations holds TenantAtlas's goose SQL migrations, embedded in the binary.
//
// River's own schema is not here: store.Migrate applies it with rivermigrate in the same step.
package migrations

import "embed"

// FS holds every *.sql migration, applied in version order by store.Migrate.
//
//go:embed *.sql
var FS embed.FS
