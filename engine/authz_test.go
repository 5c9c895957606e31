package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

// TestAuthorizationMatrix checks every role × operation type × command: a non-member gets not found,
// a member without the capability forbidden, the others succeed (docs/architecture.md#authorization).
//
//nolint:tparallel // the subtests share one tenant and its active runs: each starts and cancels its own, in order
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tenant := b.addTenant(t)

	actors := map[string]engine.Actor{}
	for _, role := range access.Roles {
		actors[string(role)] = b.addUser(t, "user-"+string(role), string(role))
	}
	actors["non-member"] = b.addUser(t, "stranger", "")

	type expect int
	const (
		allowed expect = iota
		forbidden
		notFound
	)
	want := func(actorName string, c access.Capability) expect {
		if actorName == "non-member" {
			return notFound
		}
		if access.Role(actorName).Can(c) {
			return allowed
		}
		return forbidden
	}
	check := func(t *testing.T, what string, got error, exp expect) {
		t.Helper()
		switch exp {
		case allowed:
			require.NoError(t, got, what)
		case forbidden:
			require.ErrorIs(t, got, engine.ErrForbidden, what)
		case notFound:
			require.ErrorIs(t, got, engine.ErrNotFound, what)
		}
	}

	for _, op := range engine.Operations() {
		if op.SystemOnly {
			continue
		}
		for actorName, actor := range actors {
			t.Run(fmt.Sprintf("%s/%s", op.Type, actorName), func(t *testing.T) {
				req := engine.StartRequest{Type: op.Type, TenantID: tenant.ID}
				seed, err := b.svc.Start(ctx, b.admin, req)
				require.NoError(t, err)

				_, err = b.svc.GetRun(ctx, actor, seed.Run.ID)
				check(t, "view", err, want(actorName, op.ViewCapability))

				events, err := b.svc.RunEvents(ctx, actor, store.EventFilter{RunID: seed.Run.ID})
				check(t, "events", err, want(actorName, op.ViewCapability))
				if err == nil {
					require.NotEmpty(t, events)
				}

				listed, err := b.svc.ListRuns(ctx, actor, engine.RunQuery{Types: []string{op.Type}})
				require.NoError(t, err)
				found := false
				for _, r := range listed {
					found = found || r.ID == seed.Run.ID
				}
				require.Equal(t, want(actorName, op.ViewCapability) == allowed, found, "listed")

				_, err = b.svc.Start(ctx, actor, req)
				check(t, "start", err, want(actorName, op.Capability))

				_, err = b.svc.Cancel(ctx, actor, seed.Run.ID)
				cancelExp := want(actorName, op.Capability)
				if want(actorName, op.ViewCapability) == notFound {
					cancelExp = notFound
				}
				check(t, "cancel", err, cancelExp)
				if err != nil {
					_, err = b.svc.Cancel(ctx, b.admin, seed.Run.ID)
					require.NoError(t, err)
				}
			})
		}
	}

	t.Run("ReadonlyMayReadVerificationButNotStartIt", func(t *testing.T) {
		res, err := b.svc.Start(ctx, actors["operator"], engine.StartRequest{Type: engine.TypeProviderVerification, TenantRef: tenant.Name})
		require.NoError(t, err)
		_, err = b.svc.GetRun(ctx, actors["readonly"], res.Run.ID)
		require.NoError(t, err)
		_, err = b.svc.Start(ctx, actors["readonly"], engine.StartRequest{Type: engine.TypeProviderVerification, TenantRef: tenant.Name})
		require.ErrorIs(t, err, engine.ErrForbidden)
		require.Contains(t, err.Error(), "provider.verify")
	})

	t.Run("NonMemberCannotSeeTenantsOrAudit", func(t *testing.T) {
		_, err := b.svc.GetTenant(ctx, actors["non-member"], tenant.Name)
		require.ErrorIs(t, err, engine.ErrNotFound)
		tenants, err := b.svc.ListTenants(ctx, actors["non-member"])
		require.NoError(t, err)
		require.Empty(t, tenants)
		audit, err := b.svc.ListAudit(ctx, actors["non-member"], store.AuditFilter{})
		require.NoError(t, err)
		require.Empty(t, audit)
	})

	t.Run("MemberManagement", func(t *testing.T) {
		_, err := b.svc.AddMember(ctx, actors["manager"], "default", "stranger", "readonly")
		require.ErrorIs(t, err, engine.ErrForbidden)
		_, err = b.svc.AddMember(ctx, actors["non-member"], "default", "stranger", "readonly")
		require.ErrorIs(t, err, engine.ErrNotFound)
		_, err = b.svc.CreateUser(ctx, actors["owner"], "someone")
		require.ErrorIs(t, err, engine.ErrForbidden, "only the administrator creates users")
		err = b.svc.RemoveMember(ctx, b.admin, "default", "admin")
		require.NoError(t, err, "admin is not the only owner: user-owner is one too")
	})
}

func TestScheduledRunsAreSystemOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenant := b.addTenant(t)
	_, err := b.svc.Start(context.Background(), b.admin, engine.StartRequest{Type: engine.TypeBackupScheduled, TenantID: tenant.ID})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.Contains(t, err.Error(), "only by the scheduler")
}
