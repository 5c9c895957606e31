package engine

import (
	"context"
	"regexp"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantatlas/tenantatlas/store"
)

// Metrics are the engine's Prometheus metrics (served on --metrics-addr).
type Metrics struct {
	Registry *prometheus.Registry
	started  *prometheus.CounterVec
	finished *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// deliveries counts alert delivery attempts by route, kind and result (delivered, retry, failed).
	deliveries *prometheus.CounterVec
	graph      *graphMetrics
	// collectors are every collector registered, for Names.
	collectors []prometheus.Collector
}

// NewMetrics registers the run metrics and, when db is set, queue-depth gauges read on scrape.
func NewMetrics(db *store.DB) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_runs_started_total",
			Help: "Operation runs created, by type."}, []string{"type"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_runs_finished_total",
			Help: "Operation runs completed, by type and outcome."}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tenantatlas_run_duration_seconds",
			Help: "Run duration from start to finish, by type.", Buckets: prometheus.ExponentialBuckets(0.05, 3, 12)}, []string{"type"}),
	}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantatlas_alert_deliveries_total",
		Help: "Alert delivery attempts, by route, route kind and result (delivered, retry, failed)."}, []string{"route", "kind", "result"})
	m.graph = newGraphMetrics()
	m.register(m.started, m.finished, m.duration, m.deliveries,
		m.graph.requests, m.graph.throttled, m.graph.retries, m.graph.exhausted)
	if db != nil {
		m.register(newTenantCollector(db))
		for _, status := range []store.Status{store.StatusQueued, store.StatusRunning} {
			m.register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tenantatlas_runs_" + string(status),
				Help: "Runs currently " + string(status) + " across all engines (queue depth)."}, func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				n, _ := store.CountRunsWithStatus(ctx, db.Pool, status) // a failed scrape reads 0
				return float64(n)
			}))
		}
	}
	return m
}

func (m *Metrics) register(cs ...prometheus.Collector) {
	m.Registry.MustRegister(cs...)
	m.collectors = append(m.collectors, cs...)
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names lists the name of every metric family the registry can serve, sorted (the Grafana
// dashboard and the alert rules may use only these).
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if sub := descName.FindStringSubmatch(d.String()); sub != nil {
			out = append(out, sub[1])
		}
	}
	sort.Strings(out)
	return out
}

func (m *Metrics) runStarted(typ string) { m.started.WithLabelValues(typ).Inc() }

func (m *Metrics) runFinished(r store.Run) {
	m.finished.WithLabelValues(r.Type, string(r.EndedAs())).Inc()
	if r.StartedAt != nil && r.FinishedAt != nil {
		m.duration.WithLabelValues(r.Type).Observe(r.FinishedAt.Sub(*r.StartedAt).Seconds())
	}
}

func (m *Metrics) delivered(route, kind string, err error, final bool) {
	result := "delivered"
	switch {
	case err != nil && final:
		result = "failed"
	case err != nil:
		result = "retry"
	}
	m.deliveries.WithLabelValues(route, kind, result).Inc()
}
