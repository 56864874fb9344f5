package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

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
		detail := "temporal payloads via " + r.URL.Path
		if r.URL.Path != "/codec/decode" {
			if err := s.deps.Store.Audit(r.Context(), a, "read", "", nil, detail); err != nil {
				writeError(w, r, err)
				return
			}
			codecH.ServeHTTP(w, r)
			return
		}
		// A decode shows what a person's workflow holds: it is audited
		// against each person it names before anything is sent back.
		rec := httptest.NewRecorder()
		codecH.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			if err := s.deps.Store.AuditPayloadRead(r.Context(), a, personIDsIn(rec.Body.Bytes()), detail); err != nil {
				writeError(w, r, err)
				return
			}
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
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

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// personIDsIn finds the opaque ids in a codec decode's answer (the payloads'
// data is base64 in it): person ids are the workflows' inputs and their
// changes' subject. Which of them are people is for the store to say.
func personIDsIn(answer []byte) []string {
	var body struct {
		Payloads []struct {
			Data []byte `json:"data"`
		} `json:"payloads"`
	}
	if json.Unmarshal(answer, &body) != nil {
		return nil
	}
	seen := map[string]bool{}
	var ids []string
	for _, p := range body.Payloads {
		for _, id := range uuidPattern.FindAllString(strings.ToLower(string(p.Data)), -1) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}
