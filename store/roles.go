package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GrantRuntimeRole gives role what TenantAtlas needs at run time and nothing more: read and write
// every table of the schema except the audit log, which it may only read and append to (its triggers
// stop updates and deletes; without UPDATE, DELETE and TRUNCATE the role cannot get around them, and
// as a non-superuser it cannot SET session_replication_role either), and old rows only through
// prune_audit_events, as the workspace's audit retention allows. Run it as the owner of the
// schema after migrating; tables that later migrations add get the same grants by default.
func GrantRuntimeRole(ctx context.Context, q Querier, role string) error {
	r := pgx.Identifier{role}.Sanitize()
	_, err := q.Exec(ctx, `GRANT USAGE ON SCHEMA public TO `+r+`;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+r+`;
		GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO `+r+`;
		ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO `+r+`;
		ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO `+r+`;
		REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM `+r+`;
		REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM PUBLIC`)
	if err == nil { // retention's only way to delete audit rows (migration 00016), where the schema has it
		var hasPrune bool
		if err = q.QueryRow(ctx, `SELECT to_regprocedure('prune_audit_events(bigint, integer)') IS NOT NULL`).Scan(&hasPrune); err == nil && hasPrune {
			_, err = q.Exec(ctx, `GRANT EXECUTE ON FUNCTION prune_audit_events(bigint, integer) TO `+r)
		}
	}
	if err != nil {
		return fmt.Errorf("cannot grant the %s role its privileges: %w", role, err)
	}
	return nil
}

// RoleWarnings checks the role this connection works as against the two-role setup
// (docs/architecture.md#database-roles) and returns what is wrong, for a warning at start: a
// superuser, an owner of TenantAtlas's tables, or a role that may change or delete audit events can
// rewrite the audit log around its triggers.
func RoleWarnings(ctx context.Context, q Querier) ([]string, error) {
	var role string
	var super, owns, auditWrite bool
	err := q.QueryRow(ctx, `SELECT current_user, r.rolsuper,
			EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user),
			coalesce(to_regclass('public.audit_events') IS NOT NULL AND (has_table_privilege('public.audit_events', 'UPDATE')
				OR has_table_privilege('public.audit_events', 'DELETE') OR has_table_privilege('public.audit_events', 'TRUNCATE')), false)
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&role, &super, &owns, &auditWrite)
	if err != nil {
		return nil, fmt.Errorf("cannot inspect the database role: %w", err)
	}
	var out []string
	if super {
		out = append(out, fmt.Sprintf("the database role %s is a superuser", role))
	} else if owns {
		out = append(out, fmt.Sprintf("the database role %s owns TenantAtlas's tables", role))
	}
	if auditWrite && !super && !owns {
		out = append(out, fmt.Sprintf("the database role %s may update or delete audit events", role))
	}
	return out, nil
}

// Migrate migrates the cluster's tenantatlas database as OwnerRole and grants RuntimeRole (which DSN
// connects as) its privileges.
func (c *LocalCluster) Migrate(ctx context.Context) error {
	owner, err := Open(ctx, c.OwnerDSN(), Options{MaxConns: 2, ApplicationName: "tenantatlas-migrate"})
	if err != nil {
		return err
	}
	defer owner.Close()
	if _, err := owner.Migrate(ctx); err != nil {
		return err
	}
	return GrantRuntimeRole(ctx, owner.Pool, RuntimeRole)
}

// OwnsTable reports whether the connection's role owns (or is a member of the owner of) table in
// the current schema: River's reindexer needs that on river_job, which the runtime role of the
// two-role setup does not have.
func OwnsTable(ctx context.Context, q Querier, table string) (bool, error) {
	var owns bool
	err := q.QueryRow(ctx, `SELECT coalesce((SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables
		WHERE schemaname = current_schema() AND tablename = $1), false)`, table).Scan(&owns)
	if err != nil {
		return false, fmt.Errorf("cannot inspect the owner of %s: %w", table, err)
	}
	return owns, nil
}
