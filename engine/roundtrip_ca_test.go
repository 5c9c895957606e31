package engine_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/intune"
)

// restoredSuffix is what create_copy appends to names (restore.NameSuffix).
var restoredSuffix = regexp.MustCompile(` \(restored \d{4}-\d{2}-\d{2}\)$`)

// rtCAComparable replaces the ids a Conditional Access policy holds with the names its own backup
// recorded (copy suffixes dropped), so a copy in B equals its source in A exactly when every
// group, role, named location, authentication strength and context was mapped to B's object of
// the same name. Users and applications keep their ids (users are never mapped across tenants,
// appIds are global).
func rtCAComparable(t *testing.T, family string, p intune.Payload, obj map[string]any) {
	t.Helper()
	if family != string(graph.FamilyConditionalAccessPolicies) {
		return
	}
	intune.WalkCAReferences(obj, func(ref intune.CARef) (string, bool) {
		switch ref.Kind {
		case intune.RefCAUser, intune.RefApplication:
			return ref.ID, true
		case intune.RefCAGroup:
			require.NotEmpty(t, p.References.Groups[ref.ID], "the backup names group %s", ref.ID)
			return "group:" + p.References.Groups[ref.ID], true
		}
		n := p.References.Object(ref.Kind, ref.ID)
		require.NotEmpty(t, n.Name, "the backup names %s %s", ref.Kind, ref.ID)
		return string(ref.Kind) + ":" + restoredSuffix.ReplaceAllString(n.Name, ""), true
	})
}

// rtCAExpectedState: a create_copy restores an enabled policy report-only (lockout-safe restore).
func rtCAExpectedState(family string, want map[string]any) {
	if family != string(graph.FamilyConditionalAccessPolicies) {
		return
	}
	obj, _ := want["object"].(map[string]any)
	if s, ok := obj["state"].(string); ok {
		obj["state"] = intune.CARestoreState(s, false)
	}
}
