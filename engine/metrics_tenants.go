package engine

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/store"
)

// tenantCollector reads every tenant's health from the database at each scrape (two queries): the
// numbers are the database's, whichever engine serves them. A failed read yields no tenant series
// and tenantatlas_scrape_errors_total counts it.
type tenantCollector struct {
	db     *store.DB
	errors prometheus.Counter

	connection, lastSuccess, backupAge, drifted, incidents, engines *prometheus.Desc
}

func newTenantCollector(db *store.DB) *tenantCollector {
	labels := []string{"workspace", "tenant"}
	return &tenantCollector{db: db,
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantatlas_scrape_errors_total",
			Help: "Scrapes whose database read of the tenant metrics failed."}),
		connection: prometheus.NewDesc("tenantatlas_tenant_connection_status",
			"The tenant's default provider connection status: 1 for its current status (ok, blocked, unverified, none).",
			append(labels, "status"), nil),
		lastSuccess: prometheus.NewDesc("tenantatlas_tenant_last_success_timestamp_seconds",
			"When the tenant's latest succeeded (or partially succeeded) run of each type finished, as a Unix time.",
			append(labels, "type"), nil),
		backupAge: prometheus.NewDesc("tenantatlas_tenant_backup_age_seconds",
			"Seconds since the tenant's latest complete backup set; absent for a tenant never backed up.", labels, nil),
		drifted: prometheus.NewDesc("tenantatlas_tenant_drifted_items",
			"Items the tenant's latest drift check found differing from its baseline.", labels, nil),
		incidents: prometheus.NewDesc("tenantatlas_tenant_open_incidents",
			"Open alert incidents about the tenant.", labels, nil),
		engines: prometheus.NewDesc("tenantatlas_engines_alive",
			"Engines whose registry heartbeat is younger than 30 s, across every process sharing the database.", nil, nil),
	}
}

func (c *tenantCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connection, c.lastSuccess, c.backupAge, c.drifted, c.incidents, c.engines} {
		ch <- d
	}
	c.errors.Describe(ch)
}

func (c *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer c.errors.Collect(ch)
	if n, err := store.CountAliveEngines(ctx, c.db.Pool); err == nil {
		ch <- prometheus.MustNewConstMetric(c.engines, prometheus.GaugeValue, float64(n))
	} else {
		c.errors.Inc()
	}
	health, err := store.TenantHealthAll(ctx, c.db.Pool)
	if err != nil {
		c.errors.Inc()
		return
	}
	now := time.Now()
	for _, h := range health {
		ch <- prometheus.MustNewConstMetric(c.connection, prometheus.GaugeValue, 1, h.Workspace, h.Tenant, h.ConnectionStatus)
		for typ, at := range h.LastSuccess {
			ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(at.Unix()), h.Workspace, h.Tenant, typ)
		}
		if h.LastBackupAt != nil {
			ch <- prometheus.MustNewConstMetric(c.backupAge, prometheus.GaugeValue, now.Sub(*h.LastBackupAt).Seconds(), h.Workspace, h.Tenant)
		}
		ch <- prometheus.MustNewConstMetric(c.drifted, prometheus.GaugeValue, float64(h.Drifted), h.Workspace, h.Tenant)
		ch <- prometheus.MustNewConstMetric(c.incidents, prometheus.GaugeValue, float64(h.OpenIncidents), h.Workspace, h.Tenant)
	}
}

// graphMetrics count Microsoft Graph requests for the graph.Observer the engine's clients get.
type graphMetrics struct {
	requests, throttled, retries, exhausted *prometheus.CounterVec
}

func newGraphMetrics() *graphMetrics {
	return &graphMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_graph_requests_total",
			Help: "Microsoft Graph requests by contract family and final HTTP status (0: no response), after retries."}, []string{"family", "status"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_graph_throttled_total",
			Help: "Graph responses 429 Too Many Requests, retried or not, by contract family."}, []string{"family"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_graph_retries_total",
			Help: "Graph requests sent again after a 429, 503 or 504, by contract family and the status retried."}, []string{"family", "status"}),
		exhausted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_graph_retry_budget_exhausted_total",
			Help: "Graph retries refused because the run's retry-time budget was spent, by contract family."}, []string{"family"}),
	}
}

func familyLabel(f graph.Family) string {
	if f == "" {
		return "none"
	}
	return string(f)
}

// Request implements graph.Observer.
func (m *Metrics) Request(f graph.Family, status int) {
	m.graph.requests.WithLabelValues(familyLabel(f), strconv.Itoa(status)).Inc()
	if status == 429 {
		m.graph.throttled.WithLabelValues(familyLabel(f)).Inc()
	}
}

// Retry implements graph.Observer.
func (m *Metrics) Retry(f graph.Family, status int) {
	m.graph.retries.WithLabelValues(familyLabel(f), strconv.Itoa(status)).Inc()
	if status == 429 {
		m.graph.throttled.WithLabelValues(familyLabel(f)).Inc()
	}
}

// BudgetExhausted implements graph.Observer.
func (m *Metrics) BudgetExhausted(f graph.Family) {
	m.graph.exhausted.WithLabelValues(familyLabel(f)).Inc()
}
