package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/starter"
)

// temporalAddrFile is where dsr dev notes its embedded Temporal's address,
// so that commands run beside it (dsr start) can reach it.
const temporalAddrFile = "temporal.addr"

// besideDev fills in Temporal's address and the payload key from a dsr dev
// running in this directory, when the configuration names no Temporal.
func besideDev(env Env, cfg *config.Config) error {
	if cfg.TemporalAddress == "" {
		state := filepath.Join(env.Dir, stateDirName)
		b, err := os.ReadFile(filepath.Join(state, temporalAddrFile))
		if err != nil || !devRunning(state) {
			return &config.FieldError{Var: "TEMPORAL_ADDRESS", Problem: "required (or run dsr dev in this directory first)"}
		}
		cfg.TemporalAddress = strings.TrimSpace(string(b))
		if cfg.PayloadKey == "" {
			if cfg.PayloadKey, err = devPayloadKey(state); err != nil {
				return err
			}
		}
	}
	if cfg.PayloadKey == "" {
		return &config.FieldError{Var: "DSR_PAYLOAD_KEY", Problem: "required"}
	}
	return nil
}

func runStart(ctx context.Context, env Env, cfg config.Config, args []string) error {
	if err := besideDev(env, &cfg); err != nil {
		return err
	}
	url, done, err := databaseURL(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer done()
	st, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	logger := newLogger(env.Stderr, true, slog.LevelWarn)
	tc, err := dialTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	return starter.Command(ctx, args, env.Stdout, env.Stderr, starter.Deps{Store: st, Temporal: tc, Timing: cfg.Timing, Localities: cfg.Localities, Logger: logger})
}

// devRunning reports whether a dsr dev holds the state directory.
func devRunning(state string) bool {
	lock, err := lockState(state)
	if err == nil {
		lock.Close()
		return false
	}
	return errors.Is(err, errStateBusy)
}
