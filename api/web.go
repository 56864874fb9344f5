package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/report"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/web"
)

// webRoutes mounts the web pages at "/" with this package's sessions, CSRF
// protection and self-referral limit, so pages and API share one of each.
func (s *server) webRoutes(r chi.Router) {
	limit := s.selfLimit.middleware(func(w http.ResponseWriter, r *http.Request) {
		writePage(w, http.StatusTooManyRequests, messageTemplate, map[string]any{
			"Title":   "Too many referrals from this address",
			"Message": "Please try again later, or ask the person's social worker, nurse or GP to refer.",
		})
	})
	notFound := web.Register(r, web.Deps{
		Store:     s.deps.Store,
		Temporal:  s.deps.Temporal,
		Referrals: &starter.Referrals{Store: s.deps.Store, Temporal: s.deps.Temporal, Logger: s.log, Localities: s.deps.Config.Localities},
		Config:    s.deps.Config,
		Logger:    s.log,
		Reports: func(ctx context.Context, from, to time.Time) (report.Summary, error) {
			return Summary(ctx, s.deps.Store, s.deps.Config, from, to)
		},
		Mailbox: s.deps.Mailbox,
	}, web.Middleware{
		WithSession:       s.withSession,
		RequireSession:    s.requireSession,
		CSRF:              s.csrf,
		User:              userFrom,
		CSRFToken:         csrfToken,
		CSRFField:         CSRFField,
		SelfReferralLimit: limit,
		HoneypotField:     HoneypotField,
	})
	// A browser at a path nothing serves gets the pages' 404; the API and
	// other clients keep the JSON one.
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || !strings.Contains(r.Header.Get("Accept"), "text/html") {
			writeJSON(w, http.StatusNotFound, errorBody{Error: "no such page"})
			return
		}
		notFound.ServeHTTP(w, r)
	})
}
