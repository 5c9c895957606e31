package graph_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	info, err := b.client.Token(ctx, true)
	require.NoError(t, err)
	require.Equal(t, b.tenant.ID, info.TenantID)
	n := 0
	for item, err := range b.client.List(ctx, "groups.list", nil, nil) {
		require.NoError(t, err)
		require.NotEmpty(t, item)
		n++
	}
	require.Equal(t, 250, n)
}
