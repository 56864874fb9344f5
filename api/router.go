package api

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.temporal.io/sdk/client"
)

const (
	// MaxBodyBytes caps request bodies (CONTRACT.md: over 1 MiB is 413).
	MaxBodyBytes = 1 << 20
	// RequestTimeout bounds a request's context; longer than the time an
	// update waits for a workflow, so that wait ends first with a clear 503.
	RequestTimeout = 30 * time.Second
	// readyTimeout bounds each readiness check.
	readyTimeout = 3 * time.Second
)

// server holds what the handlers share.
type server struct {
	deps Deps
	log  *slog.Logger
	// selfLimit is the one self-referral limit of the endpoint and the form.
	selfLimit *selfReferralLimiter
}

func (s *server) router() chi.Router {
	r := chi.NewRouter()
	s.selfLimit = newSelfReferralLimiter()
	r.Use(
		trustProxies(s.deps.Config.TrustedProxies),
		s.securityHeaders,
		middleware.RequestID,
		s.logRequests,
		s.recoverPanics,
		middleware.RequestSize(MaxBodyBytes),
		withTimeout(RequestTimeout),
	)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such page"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method not allowed"})
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.readyz)
	r.Get("/calendar.ics", s.meetings().feed) // the private feed: its token is the credential
	s.publicRoutes(r)                         // no token: the self-referral form
	s.sessionRoutes(r)                        // sign-in and out, the codec endpoint
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		r.Get("/me", s.me)
		s.routesV1(r)
		s.accessRoutesV1(r) // audit log, reports
	})
	s.webRoutes(r) // the web pages, at /
	return r
}

// logRequests logs one line per request: method, route, path (never the
// query string, which could carry search terms), status, size, duration.
// Bodies are never logged. Probes log at debug level.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := middleware.GetReqID(r.Context())
		w.Header().Set("X-Request-Id", reqID)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		logger := s.log.With("request_id", reqID)
		r = r.WithContext(context.WithValue(r.Context(), loggerKey{}, logger))
		next.ServeHTTP(ww, r)

		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", ww.Status()),
			slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", reqID),
			slog.String("client", clientAddr(r)),
		}
		route := ""
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
			attrs = append(attrs, slog.String("route", route))
		}
		s.deps.Metrics.HTTP(r.Method, route, ww.Status(), time.Since(start))
		s.log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 with a JSON
// body, keeping the server up.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec) // the client went away; net/http handles it quietly
			}
			loggerFrom(r).ErrorContext(r.Context(), "panic in handler", "panic", rec, "stack", string(debug.Stack()))
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error; the request id is in the X-Request-Id header"})
		}()
		next.ServeHTTP(w, r)
	})
}

// withTimeout gives each request's context a deadline, so work on behalf
// of a client that has long given up stops.
func withTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// readyz reports whether the database and Temporal answer: 200, or 503
// naming what is down.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	type check struct {
		name string
		fn   func(context.Context) error
	}
	checks := []check{
		{"database", func(ctx context.Context) error { return s.deps.Store.Ping(ctx) }},
		{"temporal", func(ctx context.Context) error {
			_, err := s.deps.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
	}
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			results[i] = c.fn(ctx)
		})
	}
	wg.Wait()

	status := map[string]string{}
	var down []string
	for i, c := range checks {
		if err := results[i]; err != nil {
			status[c.name] = "unreachable"
			down = append(down, c.name)
			loggerFrom(r).WarnContext(r.Context(), "not ready", "check", c.name, "error", err)
			continue
		}
		status[c.name] = "ok"
	}
	s.deps.Metrics.Ready(len(down) == 0)
	if len(down) > 0 {
		w.Header().Set("Retry-After", RetryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable",
			"error":  strings.Join(down, " and ") + " unreachable",
			"checks": status,
		})
		return
	}
	body := map[string]any{"status": "ready", "checks": status}
	// Notices waiting too long are shown, not failed on: the register can
	// still take changes, and an operator must see what is stuck.
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if u, err := s.deps.Store.UnsentOlderThan(ctx, s.deps.Config.NoticeStuckAfter); err == nil {
		detail := map[string]any{"stuck_after": s.deps.Config.NoticeStuckAfter.String(), "stuck": u.Count}
		if u.Oldest != nil {
			detail["oldest_waiting_since"] = u.Oldest.UTC()
		}
		body["notices"] = detail
	}
	writeJSON(w, http.StatusOK, body)
}

// NewHTTPServer wraps the handler in an http.Server with timeouts that
// stop slow or idle clients from holding connections open.
func NewHTTPServer(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      RequestTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
