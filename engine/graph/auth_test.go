package graph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
)

func TestTokenSecretAndCertificate(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	certCreds, err := b.tenant.CertificateCredentials()
	require.NoError(t, err)
	byDomain := b.tenant.Credentials()
	byDomain.TenantID = b.tenant.Domain

	for _, tc := range []struct {
		name  string
		creds graph.Credentials
	}{
		{"client secret", b.tenant.Credentials()},
		{"certificate", certCreds},
		{"tenant by domain", byDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := b.newClient(t, tc.creds, setupOpts{})
			info, err := c.Token(context.Background(), true)
			require.NoError(t, err)
			require.Equal(t, b.tenant.ID, info.TenantID)
			require.Equal(t, b.tenant.ClientID, info.AppID)
			require.Equal(t, "https://graph.microsoft.com", info.Audience)
			require.ElementsMatch(t, b.tenant.Roles(), info.Roles)
			require.Empty(t, info.Missing(graph.RequiredPermissions()))
			require.WithinDuration(t, time.Now().Add(time.Hour), info.ExpiresAt, 2*time.Minute)

			// The same credential then authorises Graph calls through the kiota provider.
			_, err = c.Get(context.Background(), "groups.probe", nil, nil)
			require.NoError(t, err)
		})
	}
}

func TestTokenFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fault  graphsim.AuthFault
		mutate func(*graph.Credentials)
		cert   bool
		want   reason.Code
		aadsts int
	}{
		{name: "wrong secret", mutate: func(c *graph.Credentials) { c.ClientSecret = "Sim8Q~not-the-secret" }, want: reason.ProviderAuthFailed, aadsts: 7000215},
		{name: "secret rotated away", fault: graphsim.AuthWrongSecret, want: reason.ProviderAuthFailed, aadsts: 7000215},
		{name: "secret expired", fault: graphsim.AuthSecretExpired, want: reason.ProviderSecretExpired, aadsts: 7000222},
		{name: "unknown client id", mutate: func(c *graph.Credentials) { c.ClientID = "00000000-0000-4000-8000-000000000001" }, want: reason.ProviderAppNotFound, aadsts: 700016},
		{name: "app deleted", fault: graphsim.AuthAppNotFound, want: reason.ProviderAppNotFound, aadsts: 700016},
		{name: "unknown tenant", mutate: func(c *graph.Credentials) { c.TenantID = "11111111-1111-4111-8111-111111111111" }, want: reason.ProviderTenantNotFound, aadsts: 90002},
		{name: "tenant gone", fault: graphsim.AuthTenantNotFound, want: reason.ProviderTenantNotFound, aadsts: 90002},
		{name: "certificate not uploaded", fault: graphsim.AuthBadCertificate, cert: true, want: reason.ProviderAuthFailed, aadsts: 700027},
		{name: "invalid scope", fault: graphsim.AuthInvalidScope, want: reason.ProviderInvalidRequest, aadsts: 70011},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			creds := b.tenant.Credentials()
			if tc.cert {
				var err error
				creds, err = b.tenant.CertificateCredentials()
				require.NoError(t, err)
			}
			if tc.mutate != nil {
				tc.mutate(&creds)
			}
			b.tenant.SetAuthFault(tc.fault)
			c := b.newClient(t, creds, setupOpts{})

			_, err := c.Token(context.Background(), true)
			require.Error(t, err)
			var ge *graph.Error
			require.True(t, errors.As(err, &ge), "want *graph.Error, got %T: %v", err, err)
			require.Equal(t, tc.want, ge.Reason, err.Error())
			require.Equal(t, tc.aadsts, ge.AADSTS)
			require.Equal(t, tc.want, graph.ReasonOf(err))
			require.NotEmpty(t, ge.Hint())
			require.NotContains(t, err.Error(), b.tenant.ClientSecret)
			require.NotContains(t, err.Error(), "Sim8Q~not-the-secret")

			// A Graph call fails the same way: the kiota auth provider surfaces the sign-in error.
			_, err = c.Get(context.Background(), "groups.probe", nil, nil)
			require.Equal(t, tc.want, graph.ReasonOf(err), "%v", err)
		})
	}
}

func TestTokenWithoutRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.tenant.SetRoles(nil)
	info, err := b.client.Token(context.Background(), true)
	require.NoError(t, err)
	require.Empty(t, info.Roles, "no consent: the token has no roles claim")
	require.Equal(t, graph.RequiredPermissions(), info.Missing(graph.RequiredPermissions()))

	_, err = b.client.Get(context.Background(), "groups.probe", nil, nil)
	var ge *graph.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, reason.ProviderPermissionDenied, ge.Reason)
	require.Equal(t, []string{"Group.Read.All"}, ge.MissingPermissions)
}

func TestTokenFreshSeesNewRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := context.Background()
	_, err := b.client.Token(ctx, false)
	require.NoError(t, err)
	b.tenant.RemoveRoles("Group.Read.All", "Group.ReadWrite.All")

	cached, err := b.client.Token(ctx, false)
	require.NoError(t, err)
	require.Contains(t, cached.Roles, "Group.Read.All", "a cached token keeps the roles it was issued with")
	fresh, err := b.client.Token(ctx, true)
	require.NoError(t, err)
	require.Equal(t, []string{"Group.Read.All"}, fresh.Missing([]string{"Group.Read.All"}))
}

func TestCredentialsRedacted(t *testing.T) {
	t.Parallel()
	creds := graph.Credentials{TenantID: "t", ClientID: "c", ClientSecret: "super-secret-value", CertificatePEM: []byte("-----BEGIN PRIVATE KEY-----")}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("connect", "creds", creds)
	for _, s := range []string{fmt.Sprint(creds), fmt.Sprintf("%+v", creds), fmt.Sprintf("%#v", creds), fmt.Sprintf("%v", &creds), logs.String()} {
		require.NotContains(t, s, "super-secret-value")
		require.NotContains(t, s, "PRIVATE KEY")
	}
	require.Error(t, creds.Validate(), "secret and certificate are exclusive")
	_, err := graph.NewClient(graph.Config{}, graph.Credentials{TenantID: "t", ClientID: "c"}, nil)
	require.Error(t, err)
}
