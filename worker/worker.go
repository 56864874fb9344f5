// Package worker builds and runs the Temporal worker: registrations, data
// converter and the reconciler.
package worker

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/store"
)

// TaskQueue is the one task queue the DSR uses.
const TaskQueue = "dsr"

// Deps is what the worker needs.
type Deps struct {
	Client client.Client
	Store  *store.Store
	Mailer mail.Sender
	Config config.Config
	Logger *slog.Logger
}

// Run runs the worker until ctx is done.
func Run(ctx context.Context, d Deps) error {
	<-ctx.Done()
	return nil
}
