// Package web serves the register's pages: server-rendered HTML in the
// NHS.UK design system, working without JavaScript. Every change goes
// through the same workflow updates as the JSON API, and every read through
// the same audited store calls.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/report"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
)

// Deps is what the pages need.
type Deps struct {
	Store     *store.Store
	Temporal  client.Client
	Referrals *starter.Referrals
	Config    config.Config
	Logger    *slog.Logger
	// Reports returns the anonymised summary of the period [from, to) for
	// the reports page (the JSON API's summary); nil leaves the page out.
	Reports func(ctx context.Context, from, to time.Time) (report.Summary, error)
	// Mailbox lists the mail captured by dsr dev; nil (production) leaves
	// the mail pages out.
	Mailbox func() []Mail
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Middleware is what the pages take from the HTTP layer that mounts them:
// the session, CSRF protection and the self-referral rate limit, so that the
// pages and the JSON API share one implementation of each.
type Middleware struct {
	// WithSession puts the signed-in user, if any, where User finds it.
	WithSession func(http.Handler) http.Handler
	// RequireSession does what WithSession does, and sends a request
	// without a signed-in user to sign in.
	RequireSession func(http.Handler) http.Handler
	// CSRF refuses a state-changing request without a valid token; it runs
	// after WithSession or RequireSession.
	CSRF func(http.Handler) http.Handler
	// User is the signed-in user of a request's context.
	User func(context.Context) (store.User, bool)
	// CSRFToken is the token every form must send back in CSRFField.
	CSRFToken func(*http.Request) string
	CSRFField string
	// SelfReferralLimit limits self-referrals per client (nil: no limit).
	SelfReferralLimit func(http.Handler) http.Handler
	// HoneypotField is the self-referral form's trap field.
	HoneypotField string
}

// server holds what the handlers share.
type server struct {
	d     Deps
	mw    Middleware
	log   *slog.Logger
	pages *pages
	now   func() time.Time
}

// Register adds the pages to r: "/" and below, beside the JSON API at
// /api/v1. It returns the "page not found" page, for the router to show
// browsers at paths nothing serves. It panics if the templates do not
// parse, which a test catches.
func Register(r chi.Router, d Deps, mw Middleware) (notFound http.Handler) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	if d.Referrals == nil {
		d.Referrals = &starter.Referrals{Store: d.Store, Temporal: d.Temporal, Logger: d.Logger, Localities: d.Config.Localities}
	}
	pass := func(next http.Handler) http.Handler { return next }
	for _, f := range []*func(http.Handler) http.Handler{&mw.WithSession, &mw.RequireSession, &mw.CSRF, &mw.SelfReferralLimit} {
		if *f == nil {
			*f = pass
		}
	}
	if mw.HoneypotField == "" {
		mw.HoneypotField = "website"
	}
	s := &server{d: d, mw: mw, log: d.Logger, pages: mustParsePages(), now: now}
	s.routes(r)
	return mw.WithSession(mw.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, register.NotFound("page"))
	})))
}

func (s *server) routes(r chi.Router) {
	static := staticHandler()
	r.Handle("/static/*", static)
	r.Get("/favicon.ico", faviconHandler)

	// Open to all: the self-referral form.
	r.Group(func(r chi.Router) {
		r.Use(s.mw.WithSession, s.mw.CSRF)
		r.Get("/refer", s.selfReferralForm)
		r.With(s.mw.SelfReferralLimit).Post("/refer", s.selfReferralPost)
		r.Get("/refer/sent", s.selfReferralSent)
	})

	// Staff only. RequireSession loads the session itself; CSRF comes
	// after it, as it must.
	r.Group(func(r chi.Router) {
		r.Use(s.mw.RequireSession, s.mw.CSRF)
		r.Get("/", s.home)
		staff := r.With(s.roles("coordinator", "professional", "manager"))
		staff.Get("/referrals/new", s.referralForm)
		staff.Post("/referrals/new", s.referralPost)
		staff.Get("/referrals/sent/{id}", s.referralSent)
		r.With(s.roles("coordinator")).Get("/triage", s.triageQueue)

		r.Route("/people/{id}", func(r chi.Router) {
			r.Use(s.roles("coordinator", "professional", "manager"), s.visible)
			r.Get("/", s.record)
			coord := r.With(s.roles("coordinator"))
			coord.Get("/triage", s.triageForm)
			coord.Post("/triage", s.triagePost)
			r.Get("/review", s.reviewForm)
			r.Post("/review", s.reviewPost)
			r.Get("/rating", s.ratingForm)
			r.Post("/rating", s.ratingPost)
			r.Get("/actions/new", s.actionForm)
			r.Post("/actions/new", s.actionPost)
			r.Get("/actions/{action_id}/complete", s.completeForm)
			r.Post("/actions/{action_id}/complete", s.completePost)
			coord.Get("/professionals", s.professionalsForm)
			coord.Post("/professionals", s.professionalsPost)
			coord.Get("/discharge", s.dischargeForm)
			coord.Post("/discharge", s.dischargePost)
			coord.Get("/correct", s.correctForm)
			coord.Post("/correct", s.correctPost)
			coord.Get("/export", s.exportHTML)
			s.cetrRoutes(r)
		})
		r.With(s.roles("coordinator", "professional", "manager")).Get("/meetings", s.meetingsList)
		r.With(s.roles("coordinator", "professional", "manager")).Get("/meetings/{meeting}", s.meeting)
		r.With(s.roles("coordinator")).Post("/meetings/{meeting}/people/{person}/not-discussed", s.meetingNotDiscussed)
		r.With(s.roles("coordinator")).Post("/meetings/{meeting}/close", s.meetingClose)
		coordMeetings := r.With(s.roles("coordinator"))
		coordMeetings.Get("/meetings/series/new", s.seriesNewForm)
		coordMeetings.Post("/meetings/series/new", s.seriesPost)
		coordMeetings.Get("/meetings/series/{series}", s.seriesEditForm)
		coordMeetings.Post("/meetings/series/{series}", s.seriesPost)
		coordMeetings.Get("/meetings/series/{series}/extra", s.extraForm)
		coordMeetings.Post("/meetings/series/{series}/extra", s.extraPost)
		coordMeetings.Get("/meetings/{meeting}/change", s.meetingChangeForm)
		coordMeetings.Post("/meetings/{meeting}/change", s.meetingChangePost)
		coordMeetings.Post("/meetings/{meeting}/agenda", s.agendaEditPost)
		staffCal := r.With(s.roles("coordinator", "professional", "manager"))
		staffCal.Get("/calendar", s.calendarForm)
		staffCal.Post("/calendar", s.calendarNew)
		staffCal.Post("/calendar/revoke", s.calendarRevoke)
		if s.d.Reports != nil {
			rep := r.With(s.roles("coordinator", "commissioner"))
			rep.Get("/reports", s.reports)
			rep.Get("/reports.csv", s.reportsCSV)
			rep.Get("/reports/returns/{month}", s.monthlyReturn)
		}
		if s.d.Mailbox != nil {
			r.Get("/dev/mail", s.mailList)
			r.Get("/dev/mail/{n}", s.mailOne)
		}
	})
}

// user is the signed-in user, if any.
func (s *server) user(r *http.Request) (store.User, bool) {
	if s.mw.User == nil {
		return store.User{}, false
	}
	return s.mw.User(r.Context())
}

// actor is the signed-in user as the audit log records them (anonymous on
// the public form).
func (s *server) actor(r *http.Request) register.Actor {
	u, ok := s.user(r)
	if !ok {
		return register.Actor{Role: "anonymous", ClientAddr: clientAddr(r)}
	}
	return register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role, ClientAddr: clientAddr(r)}
}

// clientAddr is the peer's IP; X-Forwarded-For is not trusted, as in the API.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// roles lets through only users with one of the roles; others see the
// "not allowed" page, and the refusal is audited (against the record the
// path names, if any), as the API's are, unless the request came from
// another site (see crossSite).
func (s *server) roles(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := s.user(r)
			for _, role := range roles {
				if ok && u.Role == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			if !crossSite(r) {
				pid := chi.URLParam(r, "id")
				if _, err := uuid.Parse(pid); err != nil {
					pid = ""
				}
				if err := s.d.Store.Audit(r.Context(), s.actor(r), "refused", pid, nil, r.Method+" web "+routePattern(r)); err != nil {
					s.log.WarnContext(r.Context(), "could not audit a refusal", "error", err)
				}
			}
			s.renderError(w, r, register.Forbidden("Your role does not give you access to this page."))
		})
	}
}
