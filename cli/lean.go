//go:build lean

package cli

import (
	"context"
	"errors"

	"github.com/bsw-dsr/dsr/config"
)

// A lean build (go build -tags lean) leaves out dsr dev and dsr
// temporal-server, and with them the embedded Temporal server, its UI and
// the dev PostgreSQL: what dsr api and dsr worker run is then about a
// seventh of the size (see the README).

var errLean = errors.New("not in this build of dsr (built with -tags lean for dsr api, dsr worker and the admin commands); use the full build")

func runDev(context.Context, Env, config.Config, []string) error {
	return usageError{"dsr dev: " + errLean.Error()}
}

func runBench(context.Context, Env, []string) error {
	return usageError{"dsr bench: " + errLean.Error()}
}

func runTemporalServer(context.Context, Env, config.Config, []string) error {
	return usageError{"dsr temporal-server: " + errLean.Error()}
}

var errLeanDB = &config.FieldError{Var: "DATABASE_URL", Problem: "required (a lean build does not use the dev database)"}

func devPostgresURL(int) (string, error) { return "", errLeanDB }

func startDevPostgres(context.Context, string) (string, func(), error) { return "", nil, errLeanDB }
