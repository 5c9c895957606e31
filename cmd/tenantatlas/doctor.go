package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/internal/buildinfo"
	"github.com/tenantatlas/tenantatlas/store"
)

// doctorCheck is one line of `tenantatlas doctor` (the dashboard's diagnosis shows the same lines).
type doctorCheck = engine.CheckLine

// doctorReport is what doctor prints (--json) and what decides its exit code.
type doctorReport struct {
	Version buildinfo.Info `json:"version"`
	OK      bool           `json:"ok"`
	Checks  []doctorCheck  `json:"checks"`
}

// maxClockSkew is the skew against the database that doctor reports: schedules fire by this
// machine's clock, heartbeats and staleness are judged by the database's.
const maxClockSkew = 2 * time.Second

func (a *app) doctorCommand() *cobra.Command {
	var tenant string
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the database, schema, secret key, engines, clock, tenants' sign-in and Graph; say what to fix",
		Long: `Run every check an on-call engineer would, one line each, ✔ or ✖ with the fix:
the database (reachable, its version), the schema (current, pending, or newer than this binary),
the secret key (opens every sealed credential; secrets about to expire), engines (alive, stale),
the clock against the database's, each tenant's sign-in (a fresh token, AADSTS failures classified)
and the permissions each capability needs, and Graph reachable through the configured proxy and CA
bundle. It changes nothing: no migration, no run. The exit code is 1 when a check fails.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := a.doctor(cmd.Context(), tenant)
			if err := a.printDoctor(rep); err != nil {
				return err
			}
			if !rep.OK {
				return &exitCodeError{code: exitError}
			}
			return nil
		},
	}
	c.Flags().StringVar(&tenant, "tenant", "", "check only this tenant's sign-in and permissions (name or id)")
	return c
}

func (a *app) printDoctor(rep doctorReport) error {
	if a.cfg.JSON {
		return a.printJSON(rep)
	}
	v := rep.Version
	fmt.Fprintf(a.stdout, "tenantatlas %s (commit %s, built %s, %s)\n", v.Version, v.Commit, v.BuildDate, v.GoVersion)
	failed := 0
	for _, c := range rep.Checks {
		mark := "✔"
		switch {
		case c.Skipped:
			mark = "–"
		case !c.OK:
			mark = "✖"
			failed++
		}
		line := fmt.Sprintf("%s %-12s %s", mark, c.Name, c.Detail)
		if c.Fix != "" {
			line += " → " + c.Fix
		}
		fmt.Fprintln(a.stdout, line)
	}
	if failed > 0 {
		fmt.Fprintf(a.stdout, "%d problem(s) found\n", failed)
	} else {
		fmt.Fprintln(a.stdout, "everything checked is fine")
	}
	return nil
}

// doctor runs the checks. It never migrates and never starts a run.
func (a *app) doctor(ctx context.Context, tenant string) (rep doctorReport) {
	rep = doctorReport{Version: buildinfo.Get()}
	add := func(c doctorCheck) { rep.Checks = append(rep.Checks, c) }
	skip := func(name, why string) {
		add(doctorCheck{Name: name, OK: true, Skipped: true, Detail: "skipped: " + why})
	}
	defer func() {
		rep.OK = !slices.ContainsFunc(rep.Checks, func(c doctorCheck) bool { return !c.OK })
	}()

	// Database.
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := a.connectOnly(cctx)
	cancel()
	if err != nil {
		add(doctorCheck{Name: "database", Detail: oneLine(err),
			Fix: "start PostgreSQL or correct --database-url / TENANTATLAS_DATABASE_URL (host, port, user, password, sslmode)"})
		for _, n := range []string{"schema", "secret key", "engines", "clock", "tenants", "graph"} {
			if n == "graph" {
				a.doctorGraph(ctx, add)
				continue
			}
			skip(n, "needs the database")
		}
		return rep
	}
	t0 := time.Now()
	srv, err := store.Server(ctx, a.db.Pool)
	t1 := time.Now()
	if err != nil {
		add(doctorCheck{Name: "database", Detail: oneLine(err), Fix: "check the database user's rights"})
		return rep
	}
	where := "the local cluster"
	if a.cfg.DatabaseURL != "" {
		where = redactURL(a.cfg.DatabaseURL)
	}
	add(doctorCheck{Name: "database", OK: true, Detail: fmt.Sprintf("PostgreSQL %s at %s (%s round trip)", srv.Version, where, t1.Sub(t0).Round(time.Millisecond))})

	// Schema.
	schemaOK := a.doctorSchema(ctx, add)

	// Clock: the server's clock read halfway through the round trip.
	skew := srv.Now.Sub(t0.Add(t1.Sub(t0) / 2))
	if skew.Abs() > maxClockSkew {
		add(doctorCheck{Name: "clock", Detail: fmt.Sprintf("this machine's clock is %s off the database's", skew.Abs().Round(time.Millisecond)),
			Fix: "synchronise both machines with NTP (timedatectl set-ntp true): schedules fire by this clock, heartbeats are judged by the database's"})
	} else {
		add(doctorCheck{Name: "clock", OK: true, Detail: fmt.Sprintf("within %s of the database's (%s)", maxClockSkew, skew.Round(time.Millisecond))})
	}
	if !schemaOK {
		for _, n := range []string{"secret key", "engines", "tenants"} {
			skip(n, "needs the schema")
		}
		a.doctorGraph(ctx, add)
		return rep
	}

	// Engines.
	a.doctorEngines(ctx, add)

	// Secret key and tenants need the service.
	sealer, sealErr := a.sealer()
	svc, err := engine.NewService(a.db, engine.ServiceOptions{Logger: a.logger, Sealer: sealer})
	if err != nil {
		add(doctorCheck{Name: "secret key", Detail: oneLine(err)})
		return rep
	}
	keyOK := true
	switch {
	case sealErr != nil:
		keyOK = false
		add(doctorCheck{Name: "secret key", Detail: oneLine(sealErr), Fix: "give a 64-hex-character key in TENANTATLAS_SECRET_KEY or a file holding it in --secret-key-file"})
	case sealer == nil:
		keyOK = false
		add(doctorCheck{Name: "secret key", Detail: "no secret key configured",
			Fix: "give the key that seals credentials in TENANTATLAS_SECRET_KEY or --secret-key-file (every engine needs the same key)"})
	default:
		var cc engine.CredentialsCheck
		actor, err := svc.ActorByName(ctx, a.cfg.User)
		if err == nil {
			cc, err = svc.CheckCredentials(ctx, actor, time.Now())
		}
		switch {
		case err != nil:
			keyOK = false
			add(doctorCheck{Name: "secret key", Detail: oneLine(err)})
		case len(cc.Undecryptable) > 0:
			keyOK = false
			var names []string
			for _, p := range cc.Undecryptable {
				names = append(names, fmt.Sprintf("%s (connection %d, sealed with key %s)", p.Tenant, p.ConnectionID, p.SealedWith))
			}
			add(doctorCheck{Name: "secret key", Detail: fmt.Sprintf("key %s opens %d of %d credential(s); not: %s", cc.KeyID,
				cc.Connections-len(cc.Undecryptable), cc.Connections, strings.Join(names, ", ")),
				Fix: "give the key that sealed them (the one every engine uses; after a rotation as --previous-secret-key-file, then `tenantatlas rekey`), or store each again with `tenantatlas tenants set-credential`"})
		default:
			add(doctorCheck{Name: "secret key", OK: true, Detail: fmt.Sprintf("key %s opens all %d sealed credential(s)", cc.KeyID, cc.Connections)})
		}
		if err == nil && len(cc.Expiring) > 0 {
			add(doctorCheck{Name: "secret expiry", Detail: "client secret expired or expiring within 14 days: " + strings.Join(cc.Expiring, ", "),
				Fix: "create a new client secret in the app registration and store it: `tenantatlas tenants set-credential TENANT --secret-file FILE`"})
		}
	}

	// Tenants: sign-in and permissions per capability.
	if !keyOK {
		skip("tenants", "needs a secret key that opens the credentials")
	} else {
		a.doctorTenants(ctx, svc, tenant, add)
	}
	a.doctorGraph(ctx, add)
	return rep
}

func (a *app) doctorSchema(ctx context.Context, add func(doctorCheck)) bool {
	have, err := store.SchemaVersion(ctx, a.db.Pool)
	want := store.LatestSchemaVersion()
	switch {
	case err != nil:
		add(doctorCheck{Name: "schema", Detail: "no TenantAtlas schema: " + oneLine(err), Fix: "run `tenantatlas migrate`"})
		return false
	case have < want:
		add(doctorCheck{Name: "schema", Detail: fmt.Sprintf("at version %d, this binary needs %d", have, want), Fix: "run `tenantatlas migrate`"})
		return have > 0
	case have > want:
		add(doctorCheck{Name: "schema", Detail: fmt.Sprintf("at version %d, newer than this binary (%d): its engines refuse to start on it", have, want),
			Fix: "upgrade this tenantatlas to the release that migrated the database"})
		return true
	}
	add(doctorCheck{Name: "schema", OK: true, Detail: fmt.Sprintf("current (version %d)", have)})
	return true
}

func (a *app) doctorEngines(ctx context.Context, add func(doctorCheck)) {
	engines, err := store.ListEngines(ctx, a.db.Pool, false)
	if err != nil {
		add(doctorCheck{Name: "engines", Detail: oneLine(err)})
		return
	}
	var alive, stale []string
	for _, e := range engines {
		desc := fmt.Sprintf("%s %s", e.Name, e.Version)
		if e.Alive() {
			alive = append(alive, desc)
		} else {
			stale = append(stale, desc)
		}
	}
	var queued int64
	if p, err := store.EnginePulse(ctx, a.db.Pool); err == nil {
		queued = p.QueuedRuns
	}
	if len(alive) == 0 {
		add(doctorCheck{Name: "engines", Detail: fmt.Sprintf("no engine alive (%d run(s) queued)", queued),
			Fix: "start one: `tenantatlas engine` or `systemctl start tenantatlas-engine`"})
	} else {
		add(doctorCheck{Name: "engines", OK: true, Detail: fmt.Sprintf("%d alive: %s", len(alive), strings.Join(alive, ", "))})
	}
	if len(stale) > 0 {
		add(doctorCheck{Name: "engines", Detail: fmt.Sprintf("%d stale (no heartbeat for %s): %s", len(stale), store.EngineStaleAfter, strings.Join(stale, ", ")),
			Fix: "an engine died without deregistering: restart it, or ignore this if it was removed (stale engines leave `tenantatlas engines` after a day)"})
	}
}

func (a *app) doctorTenants(ctx context.Context, svc *engine.Service, tenant string, add func(doctorCheck)) {
	actor, err := svc.ActorByName(ctx, a.cfg.User)
	if err != nil {
		add(doctorCheck{Name: "tenants", Detail: oneLine(err), Fix: "pass --as a user that exists"})
		return
	}
	cfg, err := a.graphConfig()
	if err != nil {
		add(doctorCheck{Name: "tenants", Detail: oneLine(err)})
		return
	}
	checks, err := svc.CheckTenantTokens(ctx, actor, tenant, cfg)
	if err != nil {
		fix := ""
		if errors.Is(err, engine.ErrNotFound) {
			fix = "see `tenantatlas tenants list`"
		}
		add(doctorCheck{Name: "tenants", Detail: oneLine(err), Fix: fix})
		return
	}
	if len(checks) == 0 {
		add(doctorCheck{Name: "tenants", OK: true, Detail: "no tenants yet"})
	}
	for _, tc := range checks {
		for _, l := range tc.Lines() {
			add(l)
		}
	}
}

func (a *app) doctorGraph(ctx context.Context, add func(doctorCheck)) {
	cfg, err := a.graphConfig()
	if err != nil {
		add(doctorCheck{Name: "graph", Detail: oneLine(err), Fix: "point --graph-ca-file at a readable PEM file"})
		return
	}
	add(engine.GraphReachable(ctx, cfg))
}
