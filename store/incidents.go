package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AlertIncident is one (rule, subject) while its condition lasts, and afterwards its record.
type AlertIncident struct {
	ID             int64         `json:"id"`
	WorkspaceID    int64         `json:"workspace_id"`
	RuleID         int64         `json:"rule_id"`
	Subject        string        `json:"subject"`
	TenantID       *int64        `json:"tenant_id"`
	RunID          *int64        `json:"run_id"`
	State          IncidentState `json:"state"`
	Summary        string        `json:"summary"`
	Detail         string        `json:"detail"`
	Updates        int           `json:"updates"`
	Version        int           `json:"version"`
	ClearSince     *time.Time    `json:"clear_since"`
	OpenedAt       time.Time     `json:"opened_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	ResolvedAt     *time.Time    `json:"resolved_at"`
	AcknowledgedAt *time.Time    `json:"acknowledged_at"`
	AcknowledgedBy *string       `json:"acknowledged_by"`
	SilencedUntil  *time.Time    `json:"silenced_until"`

	// Joined for display.
	RuleName      string `json:"rule_name"`
	RuleCondition string `json:"condition"`
	TenantName    string `json:"tenant_name,omitempty"`
}

// Phase names where the incident stands, as the CLI and the dashboard show it: resolved, clearing
// (the condition has cleared and the incident resolves when it stays so), acknowledged, or open.
func (i *AlertIncident) Phase() string {
	switch {
	case i.State == IncidentResolved:
		return "resolved"
	case i.ClearSince != nil:
		return "clearing"
	case i.AcknowledgedAt != nil:
		return "acknowledged"
	}
	return "open"
}

// Silenced reports whether deliveries of the incident are held back at now.
func (i *AlertIncident) Silenced(now time.Time) bool {
	return i.SilencedUntil != nil && i.SilencedUntil.After(now)
}

const incidentColumns = `i.id, i.workspace_id, i.rule_id, i.subject, i.tenant_id, i.run_id, i.state, i.summary, i.detail, i.updates,
	i.version, i.clear_since, i.opened_at, i.updated_at, i.resolved_at, i.acknowledged_at, i.acknowledged_by, i.silenced_until,
	ar.name, ar.condition, coalesce(t.name, '')`

const incidentFrom = ` FROM alert_incidents i JOIN alert_rules ar ON ar.id = i.rule_id LEFT JOIN tenants t ON t.id = i.tenant_id`

func scanIncident(row pgx.Row) (AlertIncident, error) {
	var i AlertIncident
	err := row.Scan(&i.ID, &i.WorkspaceID, &i.RuleID, &i.Subject, &i.TenantID, &i.RunID, &i.State, &i.Summary, &i.Detail, &i.Updates,
		&i.Version, &i.ClearSince, &i.OpenedAt, &i.UpdatedAt, &i.ResolvedAt, &i.AcknowledgedAt, &i.AcknowledgedBy, &i.SilencedUntil,
		&i.RuleName, &i.RuleCondition, &i.TenantName)
	return i, err
}

// IncidentFiring is a condition that holds for a (rule, subject).
type IncidentFiring struct {
	WorkspaceID int64
	RuleID      int64
	Subject     string
	TenantID    *int64
	RunID       *int64
	Summary     string
	Detail      string
}

// FireIncident opens the (rule, subject) incident, or, if one is open, records that the condition
// fired again (updates + 1, a new version, no longer clearing). opened says which. The partial
// unique index makes concurrent firings meet on one incident.
func FireIncident(ctx context.Context, q Querier, f IncidentFiring) (inc AlertIncident, opened bool, err error) {
	var id int64
	err = q.QueryRow(ctx, `INSERT INTO alert_incidents (workspace_id, rule_id, subject, tenant_id, run_id, state, summary, detail)
		VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)
		ON CONFLICT (rule_id, subject) WHERE state = 'open' DO UPDATE SET updates = alert_incidents.updates + 1,
			version = alert_incidents.version + 1, clear_since = NULL, run_id = coalesce(EXCLUDED.run_id, alert_incidents.run_id),
			summary = EXCLUDED.summary, detail = EXCLUDED.detail, updated_at = now()
		RETURNING id, xmax = 0`, f.WorkspaceID, f.RuleID, f.Subject, f.TenantID, f.RunID, f.Summary, f.Detail).Scan(&id, &opened)
	if err != nil {
		return inc, false, fmt.Errorf("error opening incident %s of rule %d: %w", f.Subject, f.RuleID, err)
	}
	inc, err = GetIncident(ctx, q, id)
	return inc, opened, err
}

// OpenIncident locks and returns the open incident of (rule, subject), ErrNotFound when there is none.
func OpenIncident(ctx context.Context, q Querier, ruleID int64, subject string) (AlertIncident, error) {
	i, err := scanIncident(q.QueryRow(ctx, `SELECT `+incidentColumns+incidentFrom+`
		WHERE i.rule_id = $1 AND i.subject = $2 AND i.state = 'open' FOR UPDATE OF i`, ruleID, subject))
	if err != nil {
		return i, notFound(err, fmt.Sprintf("open incident %s of rule %d", subject, ruleID))
	}
	return i, nil
}

// MarkIncidentClearing records when the incident's condition was first seen clear (kept if set).
func MarkIncidentClearing(ctx context.Context, q Querier, id int64) error {
	if _, err := q.Exec(ctx, `UPDATE alert_incidents SET clear_since = coalesce(clear_since, now()), updated_at = now()
		WHERE id = $1 AND state = 'open'`, id); err != nil {
		return fmt.Errorf("error marking incident %d clearing: %w", id, err)
	}
	return nil
}

// ResolveIncident resolves an open incident (a new version); false when it was not open.
func ResolveIncident(ctx context.Context, q Querier, id int64) (AlertIncident, bool, error) {
	tag, err := q.Exec(ctx, `UPDATE alert_incidents SET state = 'resolved', version = version + 1, resolved_at = now(),
		updated_at = now() WHERE id = $1 AND state = 'open'`, id)
	if err != nil {
		return AlertIncident{}, false, fmt.Errorf("error resolving incident %d: %w", id, err)
	}
	inc, err := GetIncident(ctx, q, id)
	return inc, tag.RowsAffected() == 1, err
}

// DueClearingIncidents locks the open incidents whose condition has been clear for their rule's
// resolve_after, skipping those another engine is resolving.
func DueClearingIncidents(ctx context.Context, q Querier) ([]AlertIncident, error) {
	rows, err := q.Query(ctx, `SELECT `+incidentColumns+incidentFrom+`
		WHERE i.state = 'open' AND i.clear_since IS NOT NULL AND i.clear_since + ar.resolve_after <= now()
		ORDER BY i.id FOR UPDATE OF i SKIP LOCKED`)
	if err != nil {
		return nil, fmt.Errorf("error listing clearing incidents: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertIncident, error) { return scanIncident(r) })
}

// OpenIncidentsOfRule lists a rule's open incidents.
func OpenIncidentsOfRule(ctx context.Context, q Querier, ruleID int64) ([]AlertIncident, error) {
	rows, err := q.Query(ctx, `SELECT `+incidentColumns+incidentFrom+` WHERE i.rule_id = $1 AND i.state = 'open' ORDER BY i.id`, ruleID)
	if err != nil {
		return nil, fmt.Errorf("error listing open incidents of rule %d: %w", ruleID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertIncident, error) { return scanIncident(r) })
}

// AcknowledgeIncident records who acknowledged an open incident (a new version); false when it
// was not open or already acknowledged.
func AcknowledgeIncident(ctx context.Context, q Querier, id int64, by string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE alert_incidents SET acknowledged_at = now(), acknowledged_by = $2, version = version + 1,
		updated_at = now() WHERE id = $1 AND state = 'open' AND acknowledged_at IS NULL`, id, by)
	if err != nil {
		return false, fmt.Errorf("error acknowledging incident %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SilenceIncident holds back the incident's deliveries until until (a zero time lifts the silence).
func SilenceIncident(ctx context.Context, q Querier, id int64, until *time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE alert_incidents SET silenced_until = $2, updated_at = now() WHERE id = $1`, id, until); err != nil {
		return fmt.Errorf("error silencing incident %d: %w", id, err)
	}
	return nil
}

// GetIncident loads an incident by id.
func GetIncident(ctx context.Context, q Querier, id int64) (AlertIncident, error) {
	i, err := scanIncident(q.QueryRow(ctx, `SELECT `+incidentColumns+incidentFrom+` WHERE i.id = $1`, id))
	if err != nil {
		return i, notFound(err, fmt.Sprintf("incident %d", id))
	}
	return i, nil
}

// IncidentFilter narrows ListIncidents.
type IncidentFilter struct {
	WorkspaceIDs []int64
	OpenOnly     bool
	TenantID     int64 // 0: every tenant
	Limit        int   // 0: 200
}

// ListIncidents lists incidents, open ones first, newest first.
func ListIncidents(ctx context.Context, q Querier, f IncidentFilter) ([]AlertIncident, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	rows, err := q.Query(ctx, `SELECT `+incidentColumns+incidentFrom+`
		WHERE i.workspace_id = ANY($1) AND (NOT $2 OR i.state = 'open') AND ($3 = 0 OR i.tenant_id = $3)
		ORDER BY i.state = 'open' DESC, i.opened_at DESC, i.id DESC LIMIT $4`, f.WorkspaceIDs, f.OpenOnly, f.TenantID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("error listing incidents: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertIncident, error) { return scanIncident(r) })
}

// CountOpenIncidentsByTenant counts open incidents per tenant (tenant 0: none), for metrics.
func CountOpenIncidentsByTenant(ctx context.Context, q Querier) (map[int64]int, error) {
	rows, err := q.Query(ctx, `SELECT coalesce(tenant_id, 0), count(*) FROM alert_incidents WHERE state = 'open' GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("error counting open incidents: %w", err)
	}
	out := map[int64]int{}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// AlertDelivery is one incident state change sent to one route.
type AlertDelivery struct {
	ID          int64          `json:"id"`
	IncidentID  int64          `json:"incident_id"`
	RouteID     int64          `json:"route_id"`
	Version     int            `json:"version"`
	Event       DeliveryEvent  `json:"event"`
	Status      DeliveryStatus `json:"status"`
	Attempts    int            `json:"attempts"`
	LastError   *string        `json:"last_error"`
	JobID       *int64         `json:"-"`
	CreatedAt   time.Time      `json:"created_at"`
	DeliveredAt *time.Time     `json:"delivered_at"`

	// Joined for display.
	RouteName string `json:"route_name"`
	RouteKind string `json:"route_kind"`
}

const deliveryColumns = `d.id, d.incident_id, d.route_id, d.version, d.event, d.status, d.attempts, d.last_error, d.job_id, d.created_at,
	d.delivered_at, ro.name, ro.kind`

const deliveryFrom = ` FROM alert_deliveries d JOIN alert_routes ro ON ro.id = d.route_id`

func scanDelivery(row pgx.Row) (AlertDelivery, error) {
	var d AlertDelivery
	err := row.Scan(&d.ID, &d.IncidentID, &d.RouteID, &d.Version, &d.Event, &d.Status, &d.Attempts, &d.LastError, &d.JobID, &d.CreatedAt,
		&d.DeliveredAt, &d.RouteName, &d.RouteKind)
	return d, err
}

// InsertDelivery records that (incident, version) is to be sent to route. It returns false, writing
// nothing, when that delivery exists already: one state change is never queued twice.
func InsertDelivery(ctx context.Context, q Querier, incidentID int64, version int, routeID int64, event DeliveryEvent) (int64, bool, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO alert_deliveries (incident_id, version, route_id, event) VALUES ($1, $2, $3, $4)
		ON CONFLICT (incident_id, version, route_id) DO NOTHING RETURNING id`, incidentID, version, routeID, event).Scan(&id)
	if err == pgx.ErrNoRows {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("error queueing delivery of incident %d to route %d: %w", incidentID, routeID, err)
	}
	return id, true, nil
}

// SetDeliveryJob records the River job that owns a delivery.
func SetDeliveryJob(ctx context.Context, q Querier, id, jobID int64) error {
	if _, err := q.Exec(ctx, `UPDATE alert_deliveries SET job_id = $2 WHERE id = $1`, id, jobID); err != nil {
		return fmt.Errorf("error recording the job of delivery %d: %w", id, err)
	}
	return nil
}

// StaleDeliveries locks the pending deliveries whose job has been running for longer than after:
// its engine died mid-send (a live engine's attempt ends at its timeout).
func StaleDeliveries(ctx context.Context, q Querier, after time.Duration) ([]AlertDelivery, error) {
	rows, err := q.Query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` JOIN river_job j ON j.id = d.job_id
		WHERE d.status = 'pending' AND j.state = 'running' AND j.attempted_at < now() - $1::interval
		ORDER BY d.id FOR UPDATE OF d SKIP LOCKED`, after)
	if err != nil {
		return nil, fmt.Errorf("error listing stale deliveries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertDelivery, error) { return scanDelivery(r) })
}

// GetDelivery loads a delivery by id.
func GetDelivery(ctx context.Context, q Querier, id int64) (AlertDelivery, error) {
	d, err := scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.id = $1`, id))
	if err != nil {
		return d, notFound(err, fmt.Sprintf("delivery %d", id))
	}
	return d, nil
}

// RecordDeliveryAttempt records one attempt of a delivery: delivered when errText is "", else the
// error, and failed for good when final. The route carries the latest result too.
func RecordDeliveryAttempt(ctx context.Context, q Querier, d AlertDelivery, errText string, final bool) error {
	status := DeliveryDelivered
	var lastErr *string
	if errText != "" {
		status, lastErr = DeliveryPending, &errText
		if final {
			status = DeliveryFailed
		}
	}
	if _, err := q.Exec(ctx, `UPDATE alert_deliveries SET attempts = attempts + 1, status = $2, last_error = $3,
		delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1`, d.ID, status, lastErr); err != nil {
		return fmt.Errorf("error recording delivery %d: %w", d.ID, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO alert_delivery_attempts (delivery_id, attempt, ok, error)
		VALUES ($1, (SELECT attempts FROM alert_deliveries WHERE id = $1), $2, $3)`, d.ID, errText == "", errText); err != nil {
		return fmt.Errorf("error recording an attempt of delivery %d: %w", d.ID, err)
	}
	return RecordRouteResult(ctx, q, d.RouteID, errText)
}

// DeliveriesOfIncident lists an incident's deliveries, oldest first.
func DeliveriesOfIncident(ctx context.Context, q Querier, incidentID int64) ([]AlertDelivery, error) {
	rows, err := q.Query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.incident_id = $1 ORDER BY d.id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("error listing deliveries of incident %d: %w", incidentID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertDelivery, error) { return scanDelivery(r) })
}

// DeliveryAttempt is one try of a delivery.
type DeliveryAttempt struct {
	DeliveryID int64     `json:"delivery_id"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error"`
}

// AttemptsOfIncident lists the attempts of an incident's deliveries, oldest first.
func AttemptsOfIncident(ctx context.Context, q Querier, incidentID int64) ([]DeliveryAttempt, error) {
	rows, err := q.Query(ctx, `SELECT a.delivery_id, a.attempt, a.at, a.ok, a.error FROM alert_delivery_attempts a
		JOIN alert_deliveries d ON d.id = a.delivery_id WHERE d.incident_id = $1 ORDER BY a.id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("error listing delivery attempts of incident %d: %w", incidentID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryAttempt, error) {
		var a DeliveryAttempt
		err := r.Scan(&a.DeliveryID, &a.Attempt, &a.At, &a.OK, &a.Error)
		return a, err
	})
}

// DeliveryCount is the number of deliveries of one route in one status, for metrics.
type DeliveryCount struct {
	Route  string
	Kind   string
	Status DeliveryStatus
	Count  int64
}

// CountDeliveries counts deliveries by route and status.
func CountDeliveries(ctx context.Context, q Querier) ([]DeliveryCount, error) {
	rows, err := q.Query(ctx, `SELECT ro.name, ro.kind, d.status, count(*)`+deliveryFrom+` GROUP BY 1, 2, 3 ORDER BY 1, 3`)
	if err != nil {
		return nil, fmt.Errorf("error counting deliveries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryCount, error) {
		var c DeliveryCount
		err := r.Scan(&c.Route, &c.Kind, &c.Status, &c.Count)
		return c, err
	})
}

// TenantLastSuccess is when a tenant last had a successful run of some types (nil: never).
type TenantLastSuccess struct {
	TenantID    int64
	TenantName  string
	CreatedAt   time.Time
	LastSuccess *time.Time
}

// LastSuccessByTenant returns, per tenant of the workspace, the finish time of its latest succeeded
// or partially succeeded run of the types.
func LastSuccessByTenant(ctx context.Context, q Querier, workspaceID int64, types []string) ([]TenantLastSuccess, error) {
	rows, err := q.Query(ctx, `SELECT t.id, t.name, t.created_at, max(r.finished_at) FROM tenants t
		LEFT JOIN operation_runs r ON r.tenant_id = t.id AND r.type = ANY($2) AND r.outcome IN ('succeeded', 'partially_succeeded')
		WHERE t.workspace_id = $1 GROUP BY t.id ORDER BY t.id`, workspaceID, types)
	if err != nil {
		return nil, fmt.Errorf("error reading the last successful runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TenantLastSuccess, error) {
		var s TenantLastSuccess
		err := r.Scan(&s.TenantID, &s.TenantName, &s.CreatedAt, &s.LastSuccess)
		return s, err
	})
}

// TenantHasTag says whether the tenant carries the tag (false for a tenant that is gone).
func TenantHasTag(ctx context.Context, q Querier, tenantID int64, tag string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1 AND $2 = ANY(tags))`, tenantID, tag).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("error reading the tags of tenant %d: %w", tenantID, err)
	}
	return ok, nil
}

// TryAlertWatchLock takes the transaction-scoped advisory lock of the alert watch: one engine
// evaluates the time-based conditions at a time. false: another engine holds it.
func TryAlertWatchLock(ctx context.Context, tx pgx.Tx) (bool, error) {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('tenantatlas.alert_watch'))`).Scan(&ok); err != nil {
		return false, fmt.Errorf("error taking the alert watch lock: %w", err)
	}
	return ok, nil
}

// RoutesSentTo lists the routes an incident was already sent to (any delivery, any status).
func RoutesSentTo(ctx context.Context, q Querier, incidentID int64) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT route_id FROM alert_deliveries WHERE incident_id = $1 ORDER BY 1`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("error listing the routes of incident %d: %w", incidentID, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// DeliveriesOfIncidents lists the deliveries of the incidents, oldest first.
func DeliveriesOfIncidents(ctx context.Context, q Querier, incidentIDs []int64) ([]AlertDelivery, error) {
	rows, err := q.Query(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE d.incident_id = ANY($1) ORDER BY d.id`, incidentIDs)
	if err != nil {
		return nil, fmt.Errorf("error listing deliveries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertDelivery, error) { return scanDelivery(r) })
}

// FailedAttemptsOfIncidents lists the failed attempts of the incidents' deliveries, newest first
// (at most limit).
func FailedAttemptsOfIncidents(ctx context.Context, q Querier, incidentIDs []int64, limit int) ([]DeliveryAttempt, error) {
	rows, err := q.Query(ctx, `SELECT a.delivery_id, a.attempt, a.at, a.ok, a.error FROM alert_delivery_attempts a
		JOIN alert_deliveries d ON d.id = a.delivery_id WHERE d.incident_id = ANY($1) AND NOT a.ok ORDER BY a.id DESC LIMIT $2`, incidentIDs, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing delivery attempts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryAttempt, error) {
		var a DeliveryAttempt
		err := r.Scan(&a.DeliveryID, &a.Attempt, &a.At, &a.OK, &a.Error)
		return a, err
	})
}
