package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Alert tables (migrations/00010_alerts.sql) as notification names.
const (
	TableAlertIncidents  = "alert_incidents"
	TableAlertDeliveries = "alert_deliveries"
	TableAlertRoutes     = "alert_routes"
	TableAlertRules      = "alert_rules"
)

// IncidentState is where an incident is: open while its condition holds (or has not been clear
// for the rule's resolve_after yet), then resolved for good.
type IncidentState string

const (
	IncidentOpen     IncidentState = "open"
	IncidentResolved IncidentState = "resolved"
)

// DeliveryEvent is the incident state change a delivery announces.
type DeliveryEvent string

const (
	DeliveryTrigger     DeliveryEvent = "trigger"
	DeliveryUpdate      DeliveryEvent = "update"
	DeliveryAcknowledge DeliveryEvent = "acknowledge"
	DeliveryResolve     DeliveryEvent = "resolve"
)

// DeliveryStatus is where a delivery is: pending until a receiver accepted it (delivered) or its
// job gave up (failed).
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// AlertRoute is a receiver of alert messages. SecretCiphertext is sealed by the engine's secret
// key and never serialised.
type AlertRoute struct {
	ID               int64          `json:"id"`
	WorkspaceID      int64          `json:"workspace_id"`
	Name             string         `json:"name"`
	Kind             string         `json:"kind"`
	Config           map[string]any `json:"config"`
	SecretCiphertext []byte         `json:"-"`
	SecretKeyID      string         `json:"-"`
	LastError        *string        `json:"last_error"`
	LastErrorAt      *time.Time     `json:"last_error_at"`
	LastDeliveredAt  *time.Time     `json:"last_delivered_at"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

const routeColumns = `id, workspace_id, name, kind, config, secret_ciphertext, secret_key_id, last_error, last_error_at,
	last_delivered_at, created_at, updated_at`

func scanRoute(row pgx.Row) (AlertRoute, error) {
	var r AlertRoute
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.Name, &r.Kind, &r.Config, &r.SecretCiphertext, &r.SecretKeyID, &r.LastError,
		&r.LastErrorAt, &r.LastDeliveredAt, &r.CreatedAt, &r.UpdatedAt)
	if r.Config == nil {
		r.Config = map[string]any{}
	}
	return r, err
}

// InsertAlertRoute creates a route; a duplicate name in the workspace is ErrConflict.
func InsertAlertRoute(ctx context.Context, q Querier, r AlertRoute) (AlertRoute, error) {
	out, err := scanRoute(q.QueryRow(ctx, `INSERT INTO alert_routes (workspace_id, name, kind, config, secret_ciphertext, secret_key_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+routeColumns, r.WorkspaceID, r.Name, r.Kind, nonNilMap(r.Config), r.SecretCiphertext, r.SecretKeyID))
	if isUniqueViolation(err, "") {
		return out, fmt.Errorf("alert route %q in this workspace: %w", r.Name, ErrConflict)
	}
	if err != nil {
		return out, fmt.Errorf("error creating alert route %q: %w", r.Name, err)
	}
	return out, nil
}

// UpdateAlertRoute replaces a route's settings and secret.
func UpdateAlertRoute(ctx context.Context, q Querier, r AlertRoute) (AlertRoute, error) {
	out, err := scanRoute(q.QueryRow(ctx, `UPDATE alert_routes SET config = $2, secret_ciphertext = $3, secret_key_id = $4,
		updated_at = now() WHERE id = $1 RETURNING `+routeColumns, r.ID, nonNilMap(r.Config), r.SecretCiphertext, r.SecretKeyID))
	if err != nil {
		return out, notFound(err, fmt.Sprintf("alert route %d", r.ID))
	}
	return out, nil
}

// DeleteAlertRoute removes a route (its deliveries go with it).
func DeleteAlertRoute(ctx context.Context, q Querier, id int64) error {
	if _, err := q.Exec(ctx, `DELETE FROM alert_routes WHERE id = $1`, id); err != nil {
		return fmt.Errorf("error deleting alert route %d: %w", id, err)
	}
	return nil
}

// GetAlertRoute loads a route by id.
func GetAlertRoute(ctx context.Context, q Querier, id int64) (AlertRoute, error) {
	r, err := scanRoute(q.QueryRow(ctx, `SELECT `+routeColumns+` FROM alert_routes WHERE id = $1`, id))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("alert route %d", id))
	}
	return r, nil
}

// FindAlertRoute loads a route by name in a workspace.
func FindAlertRoute(ctx context.Context, q Querier, workspaceID int64, name string) (AlertRoute, error) {
	r, err := scanRoute(q.QueryRow(ctx, `SELECT `+routeColumns+` FROM alert_routes WHERE workspace_id = $1 AND name = $2`, workspaceID, name))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("alert route %q", name))
	}
	return r, nil
}

// ListAlertRoutes lists the routes of the workspaces, by name.
func ListAlertRoutes(ctx context.Context, q Querier, workspaceIDs []int64) ([]AlertRoute, error) {
	rows, err := q.Query(ctx, `SELECT `+routeColumns+` FROM alert_routes WHERE workspace_id = ANY($1) ORDER BY name, id`, workspaceIDs)
	if err != nil {
		return nil, fmt.Errorf("error listing alert routes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertRoute, error) { return scanRoute(r) })
}

// RecordRouteResult notes a delivery attempt on its route: the error, or the last success.
func RecordRouteResult(ctx context.Context, q Querier, routeID int64, errText string) error {
	var err error
	if errText == "" {
		_, err = q.Exec(ctx, `UPDATE alert_routes SET last_error = NULL, last_error_at = NULL, last_delivered_at = now() WHERE id = $1`, routeID)
	} else {
		_, err = q.Exec(ctx, `UPDATE alert_routes SET last_error = $2, last_error_at = now() WHERE id = $1`, routeID, errText)
	}
	if err != nil {
		return fmt.Errorf("error recording the result of alert route %d: %w", routeID, err)
	}
	return nil
}

// AlertRule is a condition watched on the tenants of a workspace, and the routes it alerts. Its
// scope is TenantID or Tag, at most one of them set (neither: every tenant of the workspace); a tag
// covers the tenants carrying it when a condition is evaluated.
type AlertRule struct {
	ID           int64         `json:"id"`
	WorkspaceID  int64         `json:"workspace_id"`
	Name         string        `json:"name"`
	Condition    string        `json:"condition"`
	TenantID     *int64        `json:"tenant_id"`
	Tag          string        `json:"tag"`
	RunTypes     []string      `json:"run_types"`
	Outcomes     []string      `json:"outcomes"`
	ReasonCodes  []string      `json:"reason_codes"`
	Threshold    int           `json:"threshold"`
	ResolveAfter time.Duration `json:"resolve_after"`
	Enabled      bool          `json:"enabled"`
	RouteIDs     []int64       `json:"route_ids"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`

	// Joined for display.
	TenantName string   `json:"tenant_name,omitempty"`
	RouteNames []string `json:"route_names"`
}

const ruleSelect = `SELECT ar.id, ar.workspace_id, ar.name, ar.condition, ar.tenant_id, ar.tag, ar.run_types, ar.outcomes, ar.reason_codes,
	ar.threshold, ar.resolve_after, ar.enabled, ar.created_at, ar.updated_at, coalesce(t.name, ''),
	coalesce(array(SELECT rr.route_id FROM alert_rule_routes rr JOIN alert_routes ro ON ro.id = rr.route_id WHERE rr.rule_id = ar.id ORDER BY ro.name), '{}'),
	coalesce(array(SELECT ro.name FROM alert_rule_routes rr JOIN alert_routes ro ON ro.id = rr.route_id WHERE rr.rule_id = ar.id ORDER BY ro.name), '{}')
	FROM alert_rules ar LEFT JOIN tenants t ON t.id = ar.tenant_id`

func scanRule(row pgx.Row) (AlertRule, error) {
	var r AlertRule
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.Name, &r.Condition, &r.TenantID, &r.Tag, &r.RunTypes, &r.Outcomes, &r.ReasonCodes,
		&r.Threshold, &r.ResolveAfter, &r.Enabled, &r.CreatedAt, &r.UpdatedAt, &r.TenantName, &r.RouteIDs, &r.RouteNames)
	return r, err
}

// SaveAlertRule inserts a rule (ID 0) or updates one, and sets its routes, in q's transaction.
func SaveAlertRule(ctx context.Context, q Querier, r AlertRule) (AlertRule, error) {
	for _, s := range []*[]string{&r.RunTypes, &r.Outcomes, &r.ReasonCodes} {
		if *s == nil {
			*s = []string{}
		}
	}
	var err error
	if r.ID == 0 {
		err = q.QueryRow(ctx, `INSERT INTO alert_rules (workspace_id, name, condition, tenant_id, tag, run_types, outcomes, reason_codes,
			threshold, resolve_after, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			r.WorkspaceID, r.Name, r.Condition, r.TenantID, r.Tag, r.RunTypes, r.Outcomes, r.ReasonCodes, r.Threshold, r.ResolveAfter, r.Enabled).Scan(&r.ID)
	} else {
		_, err = q.Exec(ctx, `UPDATE alert_rules SET condition = $2, tenant_id = $3, tag = $4, run_types = $5, outcomes = $6, reason_codes = $7,
			threshold = $8, resolve_after = $9, enabled = $10, updated_at = now() WHERE id = $1`,
			r.ID, r.Condition, r.TenantID, r.Tag, r.RunTypes, r.Outcomes, r.ReasonCodes, r.Threshold, r.ResolveAfter, r.Enabled)
	}
	if isUniqueViolation(err, "") {
		return r, fmt.Errorf("alert rule %q in this workspace: %w", r.Name, ErrConflict)
	}
	if err != nil {
		return r, fmt.Errorf("error saving alert rule %q: %w", r.Name, err)
	}
	if _, err := q.Exec(ctx, `DELETE FROM alert_rule_routes WHERE rule_id = $1`, r.ID); err != nil {
		return r, fmt.Errorf("error saving the routes of alert rule %q: %w", r.Name, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO alert_rule_routes (rule_id, route_id) SELECT $1, unnest($2::bigint[])`, r.ID, r.RouteIDs); err != nil {
		return r, fmt.Errorf("error saving the routes of alert rule %q: %w", r.Name, err)
	}
	return GetAlertRule(ctx, q, r.ID)
}

// DeleteAlertRule removes a rule with its incidents and their deliveries.
func DeleteAlertRule(ctx context.Context, q Querier, id int64) error {
	if _, err := q.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id); err != nil {
		return fmt.Errorf("error deleting alert rule %d: %w", id, err)
	}
	return nil
}

// GetAlertRule loads a rule by id.
func GetAlertRule(ctx context.Context, q Querier, id int64) (AlertRule, error) {
	r, err := scanRule(q.QueryRow(ctx, ruleSelect+` WHERE ar.id = $1`, id))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("alert rule %d", id))
	}
	return r, nil
}

// FindAlertRule loads a rule by name in a workspace.
func FindAlertRule(ctx context.Context, q Querier, workspaceID int64, name string) (AlertRule, error) {
	r, err := scanRule(q.QueryRow(ctx, ruleSelect+` WHERE ar.workspace_id = $1 AND ar.name = $2`, workspaceID, name))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("alert rule %q", name))
	}
	return r, nil
}

// ListAlertRules lists the rules of the workspaces, by name.
func ListAlertRules(ctx context.Context, q Querier, workspaceIDs []int64) ([]AlertRule, error) {
	rows, err := q.Query(ctx, ruleSelect+` WHERE ar.workspace_id = ANY($1) ORDER BY ar.name, ar.id`, workspaceIDs)
	if err != nil {
		return nil, fmt.Errorf("error listing alert rules: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertRule, error) { return scanRule(r) })
}

// EnabledAlertRules lists the enabled rules with one of the conditions: of one workspace, or of
// every workspace when workspaceID is 0.
func EnabledAlertRules(ctx context.Context, q Querier, workspaceID int64, conditions []string) ([]AlertRule, error) {
	rows, err := q.Query(ctx, ruleSelect+` WHERE ar.enabled AND ar.condition = ANY($2) AND ($1 = 0 OR ar.workspace_id = $1)
		ORDER BY ar.id`, workspaceID, conditions)
	if err != nil {
		return nil, fmt.Errorf("error listing alert rules: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertRule, error) { return scanRule(r) })
}

// RuleRoutes lists a rule's routes.
func RuleRoutes(ctx context.Context, q Querier, ruleID int64) ([]AlertRoute, error) {
	rows, err := q.Query(ctx, `SELECT `+routeColumns+` FROM alert_routes WHERE id IN (SELECT route_id FROM alert_rule_routes WHERE rule_id = $1)
		ORDER BY id`, ruleID)
	if err != nil {
		return nil, fmt.Errorf("error listing the routes of alert rule %d: %w", ruleID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertRoute, error) { return scanRoute(r) })
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
