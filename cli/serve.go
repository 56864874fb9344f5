package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bsw-dsr/dsr/api"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/worker"
)

// shutdownGrace is how long in-flight HTTP requests get to finish.
const shutdownGrace = 15 * time.Second

func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments (got %q)", cmd, args)}
	}
	return nil
}

// openStore connects and checks the schema is current.
func openStore(ctx context.Context, url string) (*store.Store, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := st.CheckSchema(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func runWorker(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if err := noArgs("worker", args); err != nil {
		return err
	}
	if err := cfg.RequireProduction(); err != nil {
		return err
	}
	logger := newLogger(env.Stderr, false, slog.LevelInfo)
	pm, err := startMetrics(ctx, cfg.MetricsAddr, false, cfg.Pprof, logger)
	if err != nil {
		return err
	}
	defer pm.stop()
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	pm.pool(st)
	pm.watchRegister(ctx, st, logger)
	tc, err := dialProduction(ctx, cfg, logger, pm)
	if err != nil {
		return err
	}
	defer tc.Close()
	mailer, err := mail.NewSMTP(cfg.SMTP, cfg.MailFrom, logger)
	if err != nil {
		return err
	}
	logger.Info("worker starting", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)
	if err := worker.Run(ctx, worker.Deps{Client: tc, Store: st, Mailer: mailer, Config: cfg, Logger: logger, Metrics: pm.metrics()}); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("worker stopped")
	return nil
}

func runAPI(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if err := noArgs("api", args); err != nil {
		return err
	}
	if err := cfg.RequireAPI(); err != nil {
		return err
	}
	logger := newLogger(env.Stderr, false, slog.LevelInfo)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (DSR_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	pm, err := startMetrics(ctx, cfg.MetricsAddr, false, cfg.Pprof, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer pm.stop()
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	pm.pool(st)
	tc, err := dialProduction(ctx, cfg, logger, pm)
	if err != nil {
		ln.Close()
		return err
	}
	defer tc.Close()
	logger.Info("api listening", "addr", ln.Addr().String())
	return serveHTTP(ctx, ln, api.New(api.Deps{Store: st, Temporal: tc, Config: cfg, Logger: logger, Metrics: pm.metrics()}), logger)
}

// serveHTTP serves until ctx ends, then shuts down gracefully: no new
// connections, in-flight requests get shutdownGrace to finish.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := api.NewHTTPServer(ln.Addr().String(), h, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
