//go:build !lean

package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"

	tlog "go.temporal.io/server/common/log"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
)

// runTemporalServer runs a standalone Temporal server (every service in
// this one process) on PostgreSQL, as docker-compose.yml and the scale-out
// test run it: the same server code as dsr dev's, with its state in the
// databases temporal and temporal_visibility, created and migrated at start
// with the server's own schema tool.
func runTemporalServer(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if err := noArgs("temporal-server", args); err != nil {
		return err
	}
	if cfg.TemporalServer.DatabaseURL == "" {
		return &config.FieldError{Var: "DSR_TEMPORAL_DATABASE_URL", Problem: "required: the PostgreSQL server for Temporal's databases"}
	}
	host, portText, _ := net.SplitHostPort(cfg.TemporalServer.Listen) // checked by config
	port, err := strconv.Atoi(portText)
	if err != nil {
		return &config.FieldError{Var: "DSR_TEMPORAL_LISTEN", Problem: "the port must be a number"}
	}
	logger := newLogger(env.Stderr, false, 0)
	srv, err := devstack.StartTemporal(devstack.TemporalOptions{
		Postgres:     cfg.TemporalServer.DatabaseURL,
		Namespace:    cfg.TemporalNamespace,
		FrontendPort: port,
		BindIP:       host,
		// The server's own warnings and errors, as JSON lines on stderr.
		Logger: tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{Level: "warn", Format: "json"})),
	})
	if err != nil {
		return fmt.Errorf("temporal-server: %w", err)
	}
	logger.Info("temporal server ready", "listen", cfg.TemporalServer.Listen, "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	logger.Info("temporal server stopping")
	if err := srv.Stop(); err != nil {
		return fmt.Errorf("temporal-server: stop: %w", err)
	}
	return nil
}
