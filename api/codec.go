package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/store"
)

// codecRoutes mounts Temporal's codec server protocol at /codec/encode and
// /codec/decode, so that a coordinator can read the encrypted payloads of
// a person's workflow in the Temporal UI (set its codec endpoint to
// DSR_BASE_URL/codec). Coordinators only, by API token (the UI's "pass
// access token" setting, or the CLI's --codec-auth) or by browser session;
// the browser may call it from the Temporal UI's origin
// (DSR_TEMPORAL_UI_ORIGIN) and no other. Each call is audited, since a
// decode shows what the workflow holds.
//
// Without a payload key (a Config not from config.Load) there is nothing
// to decode and the endpoint is absent.
func (s *server) codecRoutes(r chi.Router) {
	c := s.deps.Codec
	if c == nil && s.deps.Config.PayloadKey != "" {
		var err error
		if c, err = codec.New(s.deps.Config.PayloadKey); err != nil {
			// config and tclient refuse a bad key before we get here.
			s.log.Error("codec endpoint disabled: bad payload key", "error", err)
			return
		}
	}
	if c == nil {
		return
	}
	crossOrigin := http.NewCrossOriginProtection()
	if err := crossOrigin.AddTrustedOrigin(s.deps.Config.TemporalUIOrigin); err != nil {
		s.log.Warn("DSR_TEMPORAL_UI_ORIGIN is not an origin; the Temporal UI cannot use the codec endpoint", "error", err)
	}
	codecH := codec.Handler(c)
	authed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, bySession := r.Context().Value(sessionKey{}).(string)
		if bySession {
			// A cookie comes with any request the browser makes, so a
			// session may only be used from this site or the Temporal UI.
			if err := crossOrigin.Check(r); err != nil {
				writeJSON(w, http.StatusForbidden, errorBody{Error: "cross-origin request refused"})
				return
			}
		}
		a := actorFrom(r)
		if err := s.deps.Store.Audit(r.Context(), a, "read", "", nil, "temporal payloads via "+r.URL.Path); err != nil {
			writeError(w, r, err)
			return
		}
		codecH.ServeHTTP(w, r)
	})
	chain := s.codecAuth(requireRole(store.RoleCoordinator)(authed))
	h := codec.WithCORS(chain, s.deps.Config.TemporalUIOrigin)
	for _, op := range []string{"/codec/encode", "/codec/decode"} {
		r.Method(http.MethodPost, op, h)
		r.Method(http.MethodOptions, op, h) // the browser's preflight, answered by WithCORS
	}
}

// codecAuth takes an API token, or else a browser session: 401 without
// either.
func (s *server) codecAuth(next http.Handler) http.Handler {
	bearer := s.authenticate(next)
	session := s.withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := userFrom(r.Context()); !ok {
			unauthorized(w, "sign in, or send an API token")
			return
		}
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearerToken(r) == "" && s.cookie(r, "dsr_session") != "" {
			session.ServeHTTP(w, r)
			return
		}
		bearer.ServeHTTP(w, r)
	})
}
