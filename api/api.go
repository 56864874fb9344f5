// Package api serves the JSON API under /api/v1 and the web pages.
package api

import (
	"log/slog"
	"net/http"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/metrics"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/web"
)

// Deps is what the HTTP layer needs.
type Deps struct {
	Store    *store.Store
	Temporal client.Client
	Config   config.Config
	Logger   *slog.Logger
	// Codec serves the /codec endpoint for the Temporal UI; nil means one
	// is made from Config.PayloadKey.
	Codec *codec.Codec
	// Mailbox lists the mail dsr dev captured, for the web pages; nil
	// (production) leaves those pages out.
	Mailbox func() []web.Mail
	// Metrics records request durations and readiness; nil records none.
	Metrics *metrics.Metrics
}

// New returns the whole HTTP handler.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	s := &server{deps: d, log: d.Logger}
	return s.router()
}
