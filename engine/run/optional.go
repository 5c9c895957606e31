package run

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/store"
)

// SkipUngrantedOptional drops, from a default family list (none asked for by name), the optional
// families (graph.FamilyInfo.Optional: Entra Conditional Access, Intune role definitions) whose read permission the token
// does not grant, with one warning naming what to consent to: an app consented for Intune only
// keeps syncing and backing up Intune (docs/graph.md#conditional-access). A family asked for by
// name is never dropped: its run ends blocked naming the permission, like any other.
func SkipUngrantedOptional(ctx context.Context, rc *RunContext, client *graph.Client, families []graph.Family) ([]graph.Family, error) {
	if !slices.ContainsFunc(families, func(f graph.Family) bool { fi, _ := graph.FamilyOf(f); return fi.Optional() }) {
		return families, nil
	}
	token, err := client.Token(ctx, false)
	if err != nil {
		return nil, err
	}
	var kept []graph.Family
	var skipped, perms []string
	for _, f := range families {
		fi, _ := graph.FamilyOf(f)
		if fi.Optional() && !graph.Granted(token.Roles, fi.ReadPermission) {
			skipped = append(skipped, string(f))
			if !slices.Contains(perms, fi.ReadPermission) {
				perms = append(perms, fi.ReadPermission)
			}
			continue
		}
		kept = append(kept, f)
	}
	if len(skipped) > 0 {
		rc.Event(ctx, store.RunEvent{Kind: store.EventLog, Level: store.LevelWarn, Message: fmt.Sprintf(
			"%s not covered: the app is not granted %s (grant admin consent to include them)",
			strings.Join(skipped, ", "), strings.Join(perms, ", "))})
	}
	return kept, nil
}
