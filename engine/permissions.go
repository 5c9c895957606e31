package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// PermissionsMarkdown renders, from the operation and contract registries, the Microsoft Graph
// application permissions each operation needs: the README's table is generated from it, never
// copied by hand.
func PermissionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| operation | application permissions (least privilege) |\n|---|---|\n")
	for _, op := range Operations() {
		if op.Hidden {
			continue
		}
		perms := op.Permissions()
		if op.Type == TypeRestoreExecute {
			perms = graph.RequiredWritePermissions(graph.IntuneFamilies()...)
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", op.Type, codeList(perms))
	}
	b.WriteString("\nPer family (what inventory, backups and restore touch):\n\n| family | Graph collection | read | write (restore) |\n|---|---|---|---|\n")
	families := graph.Families()
	sort.SliceStable(families, func(i, j int) bool { return families[i].Family < families[j].Family })
	for _, f := range families {
		fmt.Fprintf(&b, "| %s | `%s %s` | `%s` | %s |\n", f.Family, f.Version, f.Collection, f.ReadPermission, codeList(graph.RequiredWritePermissions(f.Family)))
	}
	return b.String()
}

func codeList(perms []string) string {
	var out []string
	for _, p := range perms {
		if p != "" {
			out = append(out, "`"+p+"`")
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}
