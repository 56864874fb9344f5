package api

import (
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/starter"
)

// routesV1 adds the JSON API's routes to r, which is mounted at /api/v1
// behind authenticate: every handler here has a signed-in user. Check
// roles per route with requireRole.
func (s *server) routesV1(r chi.Router) {
	p := &people{
		store:     s.deps.Store,
		temporal:  s.deps.Temporal,
		referrals: &starter.Referrals{Store: s.deps.Store, Temporal: s.deps.Temporal, Logger: s.log, Localities: s.deps.Config.Localities},
		now:       time.Now,
		timing:    s.deps.Config.Timing,
		riskTool:  s.deps.Config.RiskTool,
	}
	p.routes(r)
	intakeRoutes(r, p)
	s.meetings().routes(r)
}

func (s *server) meetings() *meetings {
	return &meetings{store: s.deps.Store, temporal: s.deps.Temporal, baseURL: s.deps.Config.BaseURL, from: s.deps.Config.MailFrom, now: time.Now}
}
