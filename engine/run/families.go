package run

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// FamilyFailure is a family that could not be read to the end.
type FamilyFailure struct {
	Family graph.Family
	Err    error
}

// FamiliesError turns family failures into the run's error: a blocking failure (a missing
// permission, above all) wins and names what is missing.
func FamiliesError(failures []FamilyFailure, total int) error {
	var blocking []FamilyFailure
	for _, f := range failures {
		if info, _ := reason.Lookup(graph.ReasonOf(f.Err)); info.Blocking {
			blocking = append(blocking, f)
		}
	}
	pick := failures
	if len(blocking) > 0 {
		pick = blocking
	}
	code := graph.ReasonOf(pick[0].Err)
	var names []string
	perms := map[string][]string{}
	var permOrder []string
	for _, f := range pick {
		names = append(names, string(f.Family))
		var ge *graph.Error
		if errors.As(f.Err, &ge) && len(ge.MissingPermissions) > 0 {
			key := strings.Join(ge.MissingPermissions, " or ")
			if _, seen := perms[key]; !seen {
				permOrder = append(permOrder, key)
			}
			perms[key] = append(perms[key], string(f.Family))
		}
	}
	if code == reason.ProviderPermissionDenied && len(permOrder) > 0 {
		var parts []string
		for _, p := range permOrder {
			parts = append(parts, fmt.Sprintf("%s (needed by %s)", p, strings.Join(perms[p], ", ")))
		}
		return Failure(code, "the app lacks %s; %d of %d families synced, nothing stored was removed",
			strings.Join(parts, "; "), total-len(failures), total)
	}
	return Failure(code, "%s failed: %v; %d of %d families synced", strings.Join(names, ", "), pick[0].Err, total-len(failures), total)
}
