package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// doctorWorld is a CLI on a test database with one tenant on a TLS Graph simulator, and an engine
// registered, so every doctor check can pass.
type doctorWorld struct {
	c   *cli
	sim *graphsim.Server
}

func newDoctorWorld(t *testing.T) *doctorWorld {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{Seed: 22, Tenants: []graphsim.TenantSpec{{Profile: graphsim.ProfileHealthy, Groups: 5}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	dir := t.TempDir()
	caFile := filepath.Join(dir, "graphsim-ca.pem")
	require.NoError(t, os.WriteFile(caFile, sim.CAPEM(), 0o600))
	c := newCLI(t)
	c.env["TENANTATLAS_GRAPH_URL"] = sim.GraphURL()
	c.env["TENANTATLAS_LOGIN_URL"] = sim.LoginURL()
	c.env["TENANTATLAS_GRAPH_CA_FILE"] = caFile
	st := sim.Tenants()[0]
	secret := filepath.Join(dir, "contoso.secret")
	require.NoError(t, os.WriteFile(secret, []byte(st.ClientSecret), 0o600))
	c.ok("tenants", "add", "--name", "contoso", "--tenant-id", st.ID, "--client-id", st.ClientID, "--secret-file", secret)

	db, err := store.Open(context.Background(), c.env["TENANTATLAS_DATABASE_URL"], store.Options{})
	require.NoError(t, err)
	defer db.Close()
	_, err = store.RegisterEngine(context.Background(), db.Pool, store.NewEngineRecord{Name: "eng:1", Host: "eng", PID: 1,
		Version: "test", SchemaVersion: store.LatestSchemaVersion()})
	require.NoError(t, err)
	return &doctorWorld{c: c, sim: sim}
}

type doctorJSON struct {
	OK      bool `json:"ok"`
	Version struct {
		GoVersion string `json:"go_version"`
	} `json:"version"`
	Checks []doctorCheck `json:"checks"`
}

func (w *doctorWorld) doctor(t *testing.T, args ...string) (int, string, doctorJSON) {
	t.Helper()
	r := w.c.run("", append([]string{"doctor"}, args...)...)
	jr := w.c.run("", append([]string{"doctor", "--json"}, args...)...)
	require.Equal(t, r.code, jr.code)
	var rep doctorJSON
	require.NoError(t, json.Unmarshal([]byte(jr.stdout), &rep), jr.stdout)
	return r.code, r.stdout, rep
}

func failedChecks(rep doctorJSON) []string {
	var out []string
	for _, c := range rep.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	code, out, rep := w.doctor(t)
	require.Equal(t, 0, code, out)
	require.True(t, rep.OK, failedChecks(rep))
	require.NotEmpty(t, rep.Version.GoVersion)
	for _, want := range []string{"tenantatlas ", "✔ database", "PostgreSQL", "✔ schema", "current (version", "✔ clock",
		"✔ engines", "1 alive: eng:1", "✔ secret key", "opens all 1 sealed credential", "✔ token", "contoso: signs in",
		"✔ permissions", "directory.sync granted", "✔ graph", "reachable directly", "everything checked is fine"} {
		require.Contains(t, out, want)
	}
	_, out, _ = w.doctor(t, "--tenant", "contoso")
	require.Contains(t, out, "contoso: signs in")
	r := w.c.run("", "doctor", "--tenant", "nope")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "✖ tenants")
}

func TestDoctorBadInput(t *testing.T) {
	t.Parallel()

	t.Run("DatabaseDown", func(t *testing.T) {
		t.Parallel()
		c := &cli{t: t, env: map[string]string{
			"TENANTATLAS_DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/none?connect_timeout=2",
			"TENANTATLAS_SECRET_KEY":   testSecretKey,
			"TENANTATLAS_GRAPH_URL":    "https://127.0.0.1:1",
		}}
		r := c.run("", "doctor")
		require.Equal(t, 1, r.code, r.stderr)
		require.Contains(t, r.stdout, "✖ database")
		require.Contains(t, r.stdout, "cannot reach the database at 127.0.0.1:1")
		require.Contains(t, r.stdout, "→ start PostgreSQL or correct --database-url")
		require.Contains(t, r.stdout, "– schema       skipped: needs the database")
		require.Contains(t, r.stdout, "✖ graph")
		require.NotContains(t, r.stdout, "hunter2")
	})

	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		w.c.env["TENANTATLAS_SECRET_KEY"] = strings.Repeat("ab", 32)
		code, out, rep := w.doctor(t)
		require.Equal(t, 1, code)
		require.False(t, rep.OK)
		require.Contains(t, out, "✖ secret key")
		require.Contains(t, out, "opens 0 of 1 credential(s); not: contoso (connection")
		require.Contains(t, out, "give the key that sealed them")
		require.Contains(t, out, "– tenants      skipped")
	})

	t.Run("NoKey", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		delete(w.c.env, "TENANTATLAS_SECRET_KEY")
		code, out, _ := w.doctor(t)
		require.Equal(t, 1, code)
		require.Contains(t, out, "✖ secret key   no secret key configured")
	})

	t.Run("ExpiredSecret", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		w.sim.Tenants()[0].SetAuthFault(graphsim.AuthSecretExpired)
		code, out, rep := w.doctor(t)
		require.Equal(t, 1, code)
		require.Contains(t, out, "✖ token        contoso: sign-in failed: provider_secret_expired (AADSTS7000222)")
		require.Contains(t, out, "→ ")
		require.Equal(t, []string{"token"}, names(failedChecksOnly(rep)))
	})

	t.Run("LostPermission", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		// Only Intune read: the directory permissions are gone.
		w.sim.Tenants()[0].SetRoles([]string{"DeviceManagementConfiguration.Read.All", "DeviceManagementApps.Read.All",
			"DeviceManagementServiceConfig.Read.All", "DeviceManagementRBAC.Read.All"})
		code, out, _ := w.doctor(t)
		require.Equal(t, 1, code)
		require.Contains(t, out, "✖ permissions  contoso: directory.sync needs ")
		require.Contains(t, out, "grant admin consent")
	})

	t.Run("UntrustedCA", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		delete(w.c.env, "TENANTATLAS_GRAPH_CA_FILE")
		code, out, _ := w.doctor(t)
		require.Equal(t, 1, code)
		require.Contains(t, out, "✖ graph")
		require.Contains(t, out, "CA bundle")
	})

	t.Run("NoEngine", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		c.env["TENANTATLAS_GRAPH_URL"] = "https://127.0.0.1:1"
		r := c.run("", "doctor")
		require.Equal(t, 1, r.code)
		require.Contains(t, r.stdout, "✖ engines      no engine alive")
		require.Contains(t, r.stdout, "tenantatlas engine")
	})
}

func failedChecksOnly(rep doctorJSON) []doctorCheck {
	var out []doctorCheck
	for _, c := range rep.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func names(cs []doctorCheck) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}
