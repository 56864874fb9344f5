package api

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

type userKey struct{}

// userFrom returns the signed-in user (set by authenticate).
func userFrom(ctx context.Context) (store.User, bool) {
	u, ok := ctx.Value(userKey{}).(store.User)
	return u, ok
}

// actorFrom is the signed-in user as the audit log records them.
func actorFrom(r *http.Request) register.Actor {
	u, _ := userFrom(r.Context())
	return register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role, ClientAddr: clientAddr(r)}
}

// clientAddr is the peer's IP. X-Forwarded-For is not trusted: anyone can
// send it, and the audit log must say where a request really came from.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header ("" when there is none).
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// authenticate lets a request through only with a live API token, and puts
// its user in the request context.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearerToken(r)
		if token == "" {
			unauthorized(w, "missing bearer token: send Authorization: Bearer <token> (tokens come from dsr user add)")
			return
		}
		u, err := s.deps.Store.UserByToken(r.Context(), token)
		switch {
		case register.KindOf(err) == register.KindNotFound:
			loggerFrom(r).InfoContext(r.Context(), "rejected token", "client", clientAddr(r))
			unauthorized(w, "invalid or revoked token")
			return
		case err != nil:
			loggerFrom(r).ErrorContext(r.Context(), "checking token", "error", err)
			writeError(w, r, register.Unavailable("cannot check the token just now; try again shortly"))
			return
		}
		ctx := context.WithValue(r.Context(), userKey{}, u)
		ctx = context.WithValue(ctx, storeKey{}, s.deps.Store) // for auditRefusal
		ctx = context.WithValue(ctx, loggerKey{}, loggerFrom(r).With("user_id", u.ID))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="dsr"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: msg})
}

// requireRole lets through only users with one of the roles; others get
// 403. It must run after authenticate.
func requireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := userFrom(r.Context())
			if !ok || !slices.Contains(roles, u.Role) {
				auditRefusal(r, r.Method+" "+routePattern(r)+": not for the role "+u.Role)
				writeError(w, r, register.Forbidden("your role may not do this"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// me answers who the token belongs to: the way to check a token works.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	writeJSON(w, http.StatusOK, u)
}
