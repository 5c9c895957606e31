package engine

import (
	"context"

	"github.com/tenantatlas/tenantatlas/engine/graph"
)

// DecodeGroup exposes decodeGroup to the engine_test package.
var DecodeGroup = decodeGroup

// ListGroups lists a tenant's groups as a full sync does — each decoded and turned into its cache row —
// and writes nothing: the Graph side of a sync, alone.
func ListGroups(ctx context.Context, client *graph.Client) (int, error) {
	n := 0
	for g, err := range graph.ListAs[graphGroup](ctx, client, "groups.list", nil, nil) {
		if err != nil {
			return n, err
		}
		if _, err := g.toStore(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
