// Package cli is the dsr command: it reads the configuration once, starts
// what a subcommand needs, and turns failures into an exit status with a
// one-line reason on stderr.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/tclient"
)

// Env is how the command sees the outside world; tests give their own.
type Env struct {
	Args   []string // after the program name
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// Dir is the working directory dev keeps its state under (./.dsr).
	Dir string
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `usage: dsr <command> [flags]

commands:
  dev       [--demo] the whole system on this machine (state under ./.dsr/);
            --demo loads 30 fictitious people into an empty register
  worker    the Temporal worker (production)
  api       the HTTP API (production)
  migrate   [--app-role NAME]
            apply database migrations and exit; with --app-role, then grant
            NAME (created NOLOGIN if missing) only what api and worker need
  user add  --email E --name N --role R [--team T] [--manager-email M] [--expires 365d]
            create or update a user; prints a new API token on the last line
  user disable --email E / user enable --email E
            disabling revokes the user's tokens and ends their sessions at once
  user list every user, with their live tokens and when these expire
  start     --file referral.json | --csv register.csv
            submit a referral, or import a register (beside dsr dev, or with
            DATABASE_URL, TEMPORAL_ADDRESS and DSR_PAYLOAD_KEY)
  temporal-server
            a standalone Temporal server on PostgreSQL (DSR_TEMPORAL_DATABASE_URL,
            listening on DSR_TEMPORAL_LISTEN), as docker-compose.yml runs it
  keygen    print a new DSR_PAYLOAD_KEY
  retention --dry-run | --now
            list the ids of closed records the daily retention run would
            delete now (DSR_RETAIN_CLOSED_FOR), changing nothing; or run it
            now in the running worker
  bench     [--n 10000] [--clients 16] [--lead 4m] [--keep] [--only bare|dsr]
            measure the register against bare Temporal on this machine, in
            one run: a reminder burst, updates during it, a referral burst,
            an import, memory (takes about 20 minutes at 10,000)

Configuration comes from the environment; see README.md.
`

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Main runs one command and returns the exit status.
func Main(env Env) int {
	if env.Dir == "" {
		env.Dir = "."
	}
	if len(env.Args) == 0 || env.Args[0] == "help" || env.Args[0] == "-h" || env.Args[0] == "--help" {
		fmt.Fprint(env.Stderr, usage)
		if len(env.Args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, args := env.Args[0], env.Args[1:]

	// Configuration is read and checked once, before anything starts, so a
	// bad value stops every command with the variable named.
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		return fail(env, err)
	}
	if cfg.PayloadKey != "" {
		if _, err := codec.New(cfg.PayloadKey); err != nil {
			return fail(env, &config.FieldError{Var: "DSR_PAYLOAD_KEY", Problem: err.Error()})
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills at once (the default).
	go func() { <-ctx.Done(); stop() }()

	switch cmd {
	case "dev":
		err = runDev(ctx, env, cfg, args)
	case "worker":
		err = runWorker(ctx, env, cfg, args)
	case "api":
		err = runAPI(ctx, env, cfg, args)
	case "migrate":
		err = runMigrate(ctx, env, cfg, args)
	case "user":
		err = runUser(ctx, env, cfg, args)
	case "start":
		err = runStart(ctx, env, cfg, args)
	case "temporal-server":
		err = runTemporalServer(ctx, env, cfg, args)
	case "keygen":
		fmt.Fprintln(env.Stdout, codec.GenerateKey())
	case "retention":
		err = runRetention(ctx, env, cfg, args)
	case "bench":
		err = runBench(ctx, env, args)
	default:
		err = usageError{fmt.Sprintf("unknown command %q (try dsr help)", cmd)}
	}
	if err != nil {
		return fail(env, err)
	}
	return exitOK
}

// fail prints the reason on one line and picks the exit status.
func fail(env Env, err error) int {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " | ")), " ")
	if !strings.HasPrefix(msg, "dsr ") { // "dsr start: ..." names itself already
		msg = "dsr: " + msg
	}
	fmt.Fprintln(env.Stderr, msg)
	var ue usageError
	var fe *config.FieldError
	if errors.As(err, &ue) || errors.As(err, &fe) {
		return exitUsage
	}
	return exitError
}

// newLogger is the process's logger: JSON lines for production, readable
// text for a person at a terminal (dev). Personal data never goes in.
func newLogger(w io.Writer, text bool, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if text {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// dialTemporal is the one place a Temporal client is made: through
// tclient, so the payload codec is always on.
func dialTemporal(ctx context.Context, cfg config.Config, logger *slog.Logger) (client.Client, error) {
	return dialTemporalWith(ctx, cfg, logger, false, nil)
}

// dialProduction is dialTemporal for dsr worker and dsr api: payloads not
// encrypted with the key are refused (codec.Strict).
func dialProduction(ctx context.Context, cfg config.Config, logger *slog.Logger, pm *procMetrics) (client.Client, error) {
	return dialTemporalWith(ctx, cfg, logger, true, pm)
}

// dialTemporalWith dials with the payload codec, strict or not, and with
// the process's metrics when it has any (pm may be nil).
func dialTemporalWith(ctx context.Context, cfg config.Config, logger *slog.Logger, strict bool, pm *procMetrics) (client.Client, error) {
	o := tclient.Options{
		StrictPayloads: strict,
		HostPort:       cfg.TemporalAddress,
		Namespace:      cfg.TemporalNamespace,
		PayloadKey:     cfg.PayloadKey,
		Logger:         logger,
		TLSCert:        cfg.TemporalTLS.Cert,
		TLSKey:         cfg.TemporalTLS.Key,
		TLSCA:          cfg.TemporalTLS.CA,
		APIKey:         cfg.TemporalTLS.APIKey,
	}
	if pm != nil && pm.m != nil {
		o.MetricsHandler = pm.temporal
		o.Interceptors = append(o.Interceptors, pm.m.Updates())
	}
	return tclient.Dial(ctx, o)
}
