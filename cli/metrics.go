package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/metrics"
	"github.com/bsw-dsr/dsr/store"
)

// devMetricsAddr is where dsr dev serves /metrics unless told otherwise.
const devMetricsAddr = "127.0.0.1:9090"

// gaugesEvery is how often the worker refreshes the register gauges.
const gaugesEvery = 30 * time.Second

// procMetrics is one process's metrics and the listener serving them. A
// nil m means metrics are off.
type procMetrics struct {
	m        *metrics.Metrics
	temporal client.MetricsHandler
	tally    io.Closer
	addr     string
	cancel   context.CancelFunc
	done     chan error
}

// startMetrics serves a fresh registry's /metrics on addr until ctx ends;
// addr "" or "off" turns metrics off; pprof adds /debug/pprof/. In dev (fallback true), a busy
// default port gives way to any free one, so two dsr dev can run.
func startMetrics(ctx context.Context, addr string, fallback, pprof bool, logger *slog.Logger) (*procMetrics, error) {
	if addr == "" || addr == "off" {
		return &procMetrics{}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && fallback {
		logger.Warn("metrics: the usual address is busy; using another", "addr", addr, "error", err)
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s (DSR_METRICS_ADDR): %w", addr, err)
	}
	pm := &procMetrics{m: metrics.New(), addr: ln.Addr().String(), done: make(chan error, 1)}
	pm.temporal, pm.tally = pm.m.Temporal()
	ctx, pm.cancel = context.WithCancel(ctx)
	go func() { pm.done <- pm.m.Serve(ctx, ln, pprof, logger) }()
	logger.Info("metrics listening", "addr", pm.addr)
	return pm, nil
}

// metrics is the registry, nil when metrics are off.
func (pm *procMetrics) metrics() *metrics.Metrics {
	if pm == nil {
		return nil
	}
	return pm.m
}

// stop stops the metrics server and tally's reporting loop.
func (pm *procMetrics) stop() error {
	if pm == nil || pm.m == nil {
		return nil
	}
	pm.cancel()
	pm.tally.Close()
	return <-pm.done
}

// pool exports the store's pool statistics.
func (pm *procMetrics) pool(st *store.Store) {
	if pm == nil || pm.m == nil {
		return
	}
	pm.m.Pool(st.Pool)
}

// watchRegister keeps the register gauges fresh (the worker's job alone,
// so the gauges are not counted twice).
func (pm *procMetrics) watchRegister(ctx context.Context, st *store.Store, logger *slog.Logger) {
	if pm == nil || pm.m == nil {
		return
	}
	pm.m.Watch(ctx, gaugesEvery, metrics.StoreCounts(st), logger)
}
