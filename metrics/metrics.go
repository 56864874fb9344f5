// Package metrics is the DSR's Prometheus instrumentation: the app's own
// metrics, the Temporal SDK's (through tally) and the database pool's, all
// on one registry that the caller owns and serves on its own listener.
//
// No label ever carries a person's id, name or email: labels are notice
// kinds, update names, route patterns, statuses and ratings, all small
// fixed sets. A nil *Metrics records nothing, so code paths that run
// without metrics (tests, tools) need no special case.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"

	"github.com/bsw-dsr/dsr/store"
	"go.temporal.io/sdk/interceptor"
)

// Metrics holds the registry and the app's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	noticeCopies  *prometheus.CounterVec
	reminderLag   *prometheus.HistogramVec
	updateLatency *prometheus.HistogramVec
	httpDuration  *prometheus.HistogramVec
	readyz        *prometheus.CounterVec
	oldestUnsent  prometheus.Gauge
	people        *prometheus.GaugeVec
	refreshed     prometheus.Gauge
	refreshFails  prometheus.Counter
}

// Outcomes of one notice copy (one recipient's).
const (
	CopySent     = "sent"
	CopyRefused  = "refused"
	CopyRetrying = "retrying"
)

// New makes a registry holding the Go runtime and process collectors and
// the app's instruments.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		noticeCopies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsr_notice_copies_total",
			Help: "Copies of notices (one per recipient) by kind and outcome: sent (accepted by the mail server), refused (a permanent refusal, never retried) or retrying (failed for now, to be retried).",
		}, []string{"kind", "outcome"}),
		reminderLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dsr_notice_lag_seconds",
			Help: "Time from when a notice was due to be sent to when it was recorded as sent, by kind.",
			// From a second to a day: minutes matter, hours are an incident.
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
		}, []string{"kind"}),
		updateLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dsr_update_duration_seconds",
			Help:    "Time for a person's workflow to write or refuse a change (a Temporal update, waited for to completion), by update name.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13), // 5 ms .. 20 s
		}, []string{"update"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dsr_http_request_duration_seconds",
			Help:    "HTTP request duration by method, route pattern (never the raw path) and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "code"}),
		readyz: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsr_readyz_checks_total",
			Help: "Answers of /readyz by result (ok or failing).",
		}, []string{"result"}),
		oldestUnsent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dsr_notice_oldest_unsent_age_seconds",
			Help: "Age of the oldest notice claimed for sending and not yet recorded as sent (0: none).",
		}),
		people: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dsr_people",
			Help: "People on the register by status and rating (rating \"none\" before triage), refreshed on a timer.",
		}, []string{"status", "rating"}),
		refreshed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dsr_register_gauges_refreshed_timestamp_seconds",
			Help: "When the register gauges (people, oldest unsent notice) were last refreshed.",
		}),
		refreshFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dsr_register_gauges_refresh_errors_total",
			Help: "Refreshes of the register gauges that failed.",
		}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.noticeCopies, m.reminderLag, m.updateLatency, m.httpDuration, m.readyz,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Serve serves /metrics on ln until ctx ends, and Go's /debug/pprof/
// beside it when pprof is set.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener, pprof bool, logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if pprof {
		mux.HandleFunc("GET /debug/pprof/", httppprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("metrics server shutdown", "error", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}

// Temporal returns the SDK's metrics handler, reporting through tally into
// the registry, and a closer that stops its reporting loop.
func (m *Metrics) Temporal() (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       m.Registry,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// A clash is a bug in naming, not a reason to stop the process.
		OnRegisterError: func(err error) { slog.Warn("temporal metric not registered", "error", err) },
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &tallyprom.DefaultSanitizerOpts,
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}

// NoticeCopies counts n copies of a notice of kind with an outcome.
func (m *Metrics) NoticeCopies(kind, outcome string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.noticeCopies.WithLabelValues(kind, outcome).Add(float64(n))
}

// NoticeSent records a notice recorded as sent, due to go at due.
func (m *Metrics) NoticeSent(kind string, due, sent time.Time) {
	if m == nil || due.IsZero() {
		return
	}
	m.reminderLag.WithLabelValues(kind).Observe(max(0, sent.Sub(due).Seconds()))
}

// Update records one update's duration, whether the change was written
// or refused.
func (m *Metrics) Update(name string, d time.Duration) {
	if m == nil {
		return
	}
	m.updateLatency.WithLabelValues(name).Observe(d.Seconds())
}

// HTTP records one request. route is chi's route pattern; a request that
// matched no route is "unmatched", so a raw path never becomes a label.
func (m *Metrics) HTTP(method, route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	if code == 0 {
		code = http.StatusOK // nothing written: net/http answers 200
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // the method is the client's to choose: keep the set small
	}
	m.httpDuration.WithLabelValues(method, route, strconv.Itoa(code)).Observe(d.Seconds())
}

// Ready records one answer of /readyz.
func (m *Metrics) Ready(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "failing"
	}
	m.readyz.WithLabelValues(result).Inc()
}

// Pool exports a pgx pool's statistics, read at each scrape. Call it once
// per process, for the pool the process uses.
func (m *Metrics) Pool(pool *pgxpool.Pool) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(poolCollector{pool})
}

type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolAcquired  = prometheus.NewDesc("dsr_db_pool_acquired_conns", "Connections in use.", nil, nil)
	poolIdle      = prometheus.NewDesc("dsr_db_pool_idle_conns", "Idle connections.", nil, nil)
	poolTotal     = prometheus.NewDesc("dsr_db_pool_total_conns", "Open connections.", nil, nil)
	poolMax       = prometheus.NewDesc("dsr_db_pool_max_conns", "The pool's maximum size.", nil, nil)
	poolAcquires  = prometheus.NewDesc("dsr_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaited    = prometheus.NewDesc("dsr_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolCanceled  = prometheus.NewDesc("dsr_db_pool_canceled_acquires_total", "Acquires given up (context ended) while waiting.", nil, nil)
	poolWaitTotal = prometheus.NewDesc("dsr_db_pool_acquire_seconds_total", "Time spent acquiring connections.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaited, poolCanceled, poolWaitTotal} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTotal, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

// Counts is what the register gauges show.
type Counts struct {
	// People counts people by status and rating ("" before triage).
	People []PeopleCount
	// OldestUnsent is the age of the oldest notice being sent (0: none).
	OldestUnsent time.Duration
}

// PeopleCount is the number of people with one status and rating.
type PeopleCount struct {
	Status, Rating string
	N              int
}

// Watch registers the register gauges and refreshes them every interval
// until ctx ends. Only one process per register should watch (the worker),
// so the gauges are not counted twice.
func (m *Metrics) Watch(ctx context.Context, every time.Duration, read func(context.Context) (Counts, error), logger *slog.Logger) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(m.oldestUnsent, m.people, m.refreshed, m.refreshFails)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.refresh(ctx, read, logger)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (m *Metrics) refresh(ctx context.Context, read func(context.Context) (Counts, error), logger *slog.Logger) {
	c, err := read(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.refreshFails.Inc()
			logger.Warn("metrics: refresh register gauges", "error", err)
		}
		return
	}
	// Reset, so a status and rating nobody has any more shows no stale count.
	m.people.Reset()
	for _, p := range c.People {
		rating := p.Rating
		if rating == "" {
			rating = "none"
		}
		m.people.WithLabelValues(p.Status, rating).Set(float64(p.N))
	}
	m.oldestUnsent.Set(c.OldestUnsent.Seconds())
	m.refreshed.SetToCurrentTime()
}

// Updates is a Temporal client interceptor timing each update by name,
// until the workflow has written or refused the change.
func (m *Metrics) Updates() interceptor.ClientInterceptor {
	return &updateInterceptor{m: m}
}

type updateInterceptor struct {
	interceptor.ClientInterceptorBase
	m *Metrics
}

func (i *updateInterceptor) InterceptClient(next interceptor.ClientOutboundInterceptor) interceptor.ClientOutboundInterceptor {
	return &updateOutbound{ClientOutboundInterceptorBase: interceptor.ClientOutboundInterceptorBase{Next: next}, m: i.m}
}

type updateOutbound struct {
	interceptor.ClientOutboundInterceptorBase
	m *Metrics
}

func (o *updateOutbound) UpdateWorkflow(ctx context.Context, in *interceptor.ClientUpdateWorkflowInput) (client.WorkflowUpdateHandle, error) {
	start := time.Now()
	h, err := o.Next.UpdateWorkflow(ctx, in)
	o.m.Update(in.UpdateName, time.Since(start))
	return h, err
}

// StoreCounts reads the register gauges from the store.
func StoreCounts(st *store.Store) func(context.Context) (Counts, error) {
	return func(ctx context.Context) (Counts, error) {
		var c Counts
		people, err := st.PeopleCounts(ctx)
		if err != nil {
			return c, err
		}
		for _, p := range people {
			c.People = append(c.People, PeopleCount{Status: p.Status, Rating: p.Rating, N: p.N})
		}
		u, err := st.UnsentOlderThan(ctx, 0)
		if err != nil {
			return c, err
		}
		if u.Oldest != nil {
			c.OldestUnsent = time.Since(*u.Oldest)
		}
		return c, nil
	}
}
