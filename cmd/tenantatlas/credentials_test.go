package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
)

func (w *doctorWorld) db(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), w.c.env["TENANTATLAS_DATABASE_URL"], store.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

func (w *doctorWorld) auditCount(t *testing.T, action string) int {
	t.Helper()
	var n int
	require.NoError(t, w.db(t).Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE action = $1`, action).Scan(&n))
	return n
}

func TestCLISetCredential(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.secret")
	require.NoError(t, os.WriteFile(wrong, []byte("not-the-secret\n"), 0o600))
	pemFile := filepath.Join(dir, "contoso.pem")
	pem, err := w.sim.Tenants()[0].CertificatePEM()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pemFile, pem, 0o600))

	tests := []struct {
		name string
		as   string
		args []string
		code int
		want string
	}{
		{name: "NeitherFile", args: []string{"contoso"}, code: 2, want: "exactly one of --secret-file and --certificate-file"},
		{name: "BothFiles", args: []string{"contoso", "--secret-file", wrong, "--certificate-file", pemFile}, code: 2, want: "exactly one of"},
		{name: "MissingFile", args: []string{"contoso", "--secret-file", filepath.Join(dir, "nope")}, code: 2, want: "cannot read"},
		{name: "UnknownTenant", args: []string{"nosuch", "--secret-file", wrong}, code: 4, want: `"nosuch"`},
		{name: "RejectedByEntra", args: []string{"contoso", "--secret-file", wrong}, code: 1, want: "AADSTS7000215"},
		{name: "Readonly", as: "rita", args: []string{"contoso", "--certificate-file", pemFile}, code: 3, want: "tenant.manage"},
	}
	w.c.ok("users", "add", "rita")
	w.c.ok("members", "add", "default", "rita", "readonly")
	for _, tt := range tests {
		w.c.env["TENANTATLAS_USER"] = tt.as
		r := w.c.run("", append([]string{"tenants", "set-credential"}, tt.args...)...)
		require.Equal(t, tt.code, r.code, "%s: %s", tt.name, r.stderr)
		require.Contains(t, r.stderr, tt.want, tt.name)
		require.NotContains(t, r.stderr, "not-the-secret", tt.name)
	}
	w.c.env["TENANTATLAS_USER"] = ""
	r := w.c.run("", "tenants", "set-credential", "contoso", "--secret-file", wrong)
	require.Contains(t, r.stderr, "the old credential stays in place")
	// Nothing was lost: the old secret still signs in, nothing was audited.
	code, out, _ := w.doctor(t, "--tenant", "contoso")
	require.Equal(t, 0, code, out)
	require.Zero(t, w.auditCount(t, "tenant.set_credential"))

	out = w.c.ok("tenants", "set-credential", "contoso", "--certificate-file", pemFile)
	require.Contains(t, out, "replaced the certificate of contoso: signed in with it")
	require.Contains(t, out, "verification run")
	require.Contains(t, w.c.ok("tenants", "show", "contoso"), "certificate (encrypted, never shown)")
	code, out, _ = w.doctor(t, "--tenant", "contoso")
	require.Equal(t, 0, code, "the certificate signs in: %s", out)
	require.Equal(t, 1, w.auditCount(t, "tenant.set_credential"))

	out = w.c.ok("tenants", "set-credential", "contoso", "--secret-file", wrong, "--no-verify")
	require.Contains(t, out, "stored without signing in (--no-verify)")
	code, _, _ = w.doctor(t, "--tenant", "contoso")
	require.Equal(t, 1, code, "doctor now sees the unchecked secret fail")
}

func TestCLIRemoveTenant(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	runID := jsonNumber(func() map[string]any {
		var m map[string]any
		w.c.jsonOut(&m, "sync", "groups", "contoso")
		return m
	}()["id"])
	w.c.ok("runs", "cancel", runID)

	for _, tt := range []struct {
		name, stdin, want string
		code              int
	}{
		{name: "NoAnswer", stdin: "", code: 2, want: "not confirmed: nothing removed"},
		{name: "WrongName", stdin: "fabrikam\n", code: 2, want: `confirm by giving its name ("contoso")`},
	} {
		r := w.c.run(tt.stdin, "tenants", "remove", "contoso")
		require.Equal(t, tt.code, r.code, "%s: %s", tt.name, r.stderr)
		require.Contains(t, r.stderr, tt.want, tt.name)
		require.Contains(t, w.c.ok("tenants", "list"), "contoso", "%s: nothing lost", tt.name)
	}

	r := w.c.run("contoso\n", "tenants", "remove", "contoso")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "Type its name to confirm")
	require.Contains(t, r.stdout, "removed tenant contoso")
	require.Contains(t, r.stdout, "1 run(s) kept")
	require.NotContains(t, w.c.ok("tenants", "list"), "contoso")
	require.Contains(t, w.c.ok("runs", "show", runID), "contoso", "the run is kept and names its tenant")
	require.Equal(t, 1, w.auditCount(t, "tenant.remove"))
	require.Equal(t, 1, w.auditCount(t, "tenant.add"), "the earlier audit is kept")
	r = w.c.run("", "tenants", "remove", "contoso", "--yes")
	require.Equal(t, 4, r.code)
}

// TestCLIRekey rotates the secret key through the command line: rekey refuses while an engine
// lacks the new key (naming it), then re-seals under the new key opening with the previous one,
// and afterwards the new key alone opens every credential.
func TestCLIRekey(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t) // sealed under testSecretKey; eng:1 registered holding no key
	dir := t.TempDir()
	prev := filepath.Join(dir, "previous.key")
	require.NoError(t, os.WriteFile(prev, []byte("\n"+testSecretKey+"\n"), 0o600))
	newKey := strings.Repeat("5a", 32)
	w.c.env["TENANTATLAS_SECRET_KEY"] = newKey

	code, out, _ := w.doctor(t)
	require.Equal(t, 1, code, "the new key alone does not open the old credential")
	require.Contains(t, out, "opens 0 of 1")

	w.c.env["TENANTATLAS_PREVIOUS_SECRET_KEY_FILE"] = prev
	r := w.c.run("", "rekey")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "1 alive engine(s) do not hold key")
	require.Contains(t, r.stderr, "eng:1")

	db := w.db(t)
	engines, err := store.ListEngines(context.Background(), db.Pool, false)
	require.NoError(t, err)
	require.NoError(t, store.DeregisterEngine(context.Background(), db.Pool, engines[0].ID))
	out = w.c.ok("rekey")
	require.Contains(t, out, "re-sealed 1 credential(s)")
	require.Contains(t, w.c.ok("rekey"), "re-sealed 0 credential(s)", "a second rekey has nothing left")

	delete(w.c.env, "TENANTATLAS_PREVIOUS_SECRET_KEY_FILE")
	_, out, rep := w.doctor(t)
	require.Contains(t, out, "opens all 1 sealed credential", failedChecks(rep))

	require.NoError(t, os.WriteFile(prev, []byte("not a key\n"), 0o600))
	w.c.env["TENANTATLAS_PREVIOUS_SECRET_KEY_FILE"] = prev
	r = w.c.run("", "rekey")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "previous secret key file "+prev+", line 1")
}
