package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/web"
)

// Browser sessions for staff using the web pages. API tokens stay for
// systems; the JSON API under /api/v1 takes only them, so a browser
// session can never be used against it from another site.
//
// A session is a random id in a cookie (HttpOnly, SameSite=Lax, Secure
// and __Host- prefixed when the register is served over HTTPS); the
// database keeps its SHA-256, the user, and when it ends (SessionLimits).
//
// Every state-changing request through the csrf middleware must pass both
// checks: net/http's CrossOriginProtection (the browser's Sec-Fetch-Site
// or Origin header must say the request comes from this site), and a
// token in the form field CSRFField or the X-CSRF-Token header. The token
// is a hash of the session id (or, before sign-in, of a random CSRF
// cookie), so a page from elsewhere can neither read nor forge it, and old
// browsers that send neither header are still protected.

// SessionLimits: a working day at most, and an hour without use.
var SessionLimits = store.SessionLimits{Lifetime: 10 * time.Hour, Idle: time.Hour}

// CSRFField is the hidden form field carrying the CSRF token.
const CSRFField = "csrf_token"

// CSRFHeader may carry the token instead, for requests made by script.
const CSRFHeader = "X-CSRF-Token"

type sessionKey struct{}
type csrfKey struct{}

// secureCookies is true when the register is served over HTTPS.
func (s *server) secureCookies() bool { return strings.HasPrefix(s.deps.Config.BaseURL, "https://") }

// cookieName prefixes __Host- when cookies are Secure: the browser then
// refuses the cookie unless it is Secure, host-only and for path /, so a
// sibling subdomain cannot plant one.
func (s *server) cookieName(base string) string {
	if s.secureCookies() {
		return "__Host-" + base
	}
	return base
}

func (s *server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     s.cookieName(name),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secureCookies(),
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1 // delete
	}
	http.SetCookie(w, c)
}

func (s *server) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(s.cookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// withSession puts the user of a live session, if any, in the request
// context under the same key as bearer authentication, so userFrom and
// actorFrom work the same for pages and the API. A request without one
// goes on without a user.
func (s *server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := s.cookie(r, "dsr_session")
		if id == "" {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.deps.Store.UserBySession(r.Context(), id, SessionLimits)
		switch {
		case register.KindOf(err) == register.KindNotFound:
			s.setCookie(w, "dsr_session", "", -1) // expired or signed out elsewhere
			next.ServeHTTP(w, r)
			return
		case err != nil:
			loggerFrom(r).ErrorContext(r.Context(), "checking session", "error", err)
			writeError(w, r, register.Unavailable("cannot check your session just now; try again shortly"))
			return
		}
		ctx := context.WithValue(r.Context(), userKey{}, u)
		ctx = context.WithValue(ctx, sessionKey{}, id)
		ctx = context.WithValue(ctx, loggerKey{}, loggerFrom(r).With("user_id", u.ID))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireSession is withSession that sends a request without a signed-in
// user to the sign-in page, to come back here afterwards.
func (s *server) requireSession(next http.Handler) http.Handler {
	return s.withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := userFrom(r.Context()); !ok {
			back := r.URL.Path
			if r.Method == http.MethodGet && r.URL.RawQuery != "" {
				back += "?" + r.URL.RawQuery
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(back), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// csrfTokenFor derives the token from the session id or CSRF cookie.
func csrfTokenFor(secret string) string {
	h := sha256.Sum256([]byte("dsr-csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// csrfToken is the token a form of this request's page must send back in
// CSRFField ("" outside the csrf middleware).
func csrfToken(r *http.Request) string {
	t, _ := r.Context().Value(csrfKey{}).(string)
	return t
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// csrf refuses a state-changing request from another site or without the
// page's token, and gives every request its token (csrfToken). Put it
// after withSession or requireSession.
func (s *server) csrf(next http.Handler) http.Handler {
	crossOrigin := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := s.cookie(r, "dsr_session")
		if secret == "" {
			if secret = s.cookie(r, "dsr_csrf"); secret == "" && safeMethod(r.Method) {
				secret = randomID()
				s.setCookie(w, "dsr_csrf", secret, 0)
			}
		}
		token := ""
		if secret != "" {
			token = csrfTokenFor(secret)
		}
		if !safeMethod(r.Method) {
			if err := crossOrigin.Check(r); err != nil {
				loggerFrom(r).InfoContext(r.Context(), "refused cross-origin request", "reason", err.Error())
				writeForbiddenPage(w, r, "This request came from another site and was refused.")
				return
			}
			got := r.Header.Get(CSRFHeader)
			if got == "" {
				got = r.PostFormValue(CSRFField)
			}
			if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				loggerFrom(r).InfoContext(r.Context(), "refused request without a valid CSRF token")
				writeForbiddenPage(w, r, "This form has expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfKey{}, token)))
	})
}

// localPath keeps a "next" parameter to a path on this site: anything
// else (another host, a scheme, //host, a backslash trick) becomes "/".
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// sessionRoutes adds sign-in, sign-out and the OIDC callback to the root
// router, and the codec endpoint.
func (s *server) sessionRoutes(r chi.Router) {
	o := newOIDC(s.deps.Config.OIDC)
	r.Group(func(r chi.Router) {
		r.Use(s.withSession, s.csrf)
		r.Get("/signin", func(w http.ResponseWriter, r *http.Request) { s.signinPage(w, r, o) })
		r.Post("/signin", s.devSignin)
		r.Post("/signout", s.signout)
		r.Get("/auth/callback", func(w http.ResponseWriter, r *http.Request) { s.oidcCallback(w, r, o) })
	})
	s.codecRoutes(r)
}

// devSignInOn: the page that signs in as anyone exists only in dsr dev
// and only when no identity provider is configured.
func (s *server) devSignInOn() bool {
	return s.deps.Config.DevSignIn && s.deps.Config.OIDC.Issuer == ""
}

// signinPage starts OIDC sign-in, or in dsr dev lists the users to sign in
// as.
func (s *server) signinPage(w http.ResponseWriter, r *http.Request, o *oidcClient) {
	next := localPath(r.URL.Query().Get("next"))
	switch {
	case o != nil:
		s.oidcStart(w, r, o, next)
	case s.devSignInOn():
		users, err := s.deps.Store.ListUsers(r.Context(), "")
		if err != nil {
			writeError(w, r, err)
			return
		}
		u, signedIn := userFrom(r.Context())
		writePage(w, http.StatusOK, signinTemplate, map[string]any{
			"Title": "Sign in", "Users": users, "Next": next, "CSRF": csrfToken(r), "CSRFField": CSRFField,
			"SignedIn": signedIn, "Current": u,
		})
	default:
		writePage(w, http.StatusServiceUnavailable, messageTemplate, map[string]any{
			"Title":   "Sign-in is not set up",
			"Message": "No identity provider is configured (DSR_OIDC_ISSUER). Systems can still use the API with tokens.",
		})
	}
}

// devSignin signs in as the chosen user: dsr dev only.
func (s *server) devSignin(w http.ResponseWriter, r *http.Request) {
	if !s.devSignInOn() {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such page"})
		return
	}
	id := r.PostFormValue("user")
	users, err := s.deps.Store.ListUsers(r.Context(), "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, u := range users {
		if u.ID == id {
			s.startSession(w, r, u, "dev", localPath(r.PostFormValue("next")))
			return
		}
	}
	writePage(w, http.StatusUnprocessableEntity, messageTemplate, map[string]any{
		"Title": "No such user", "Message": "Choose one of the users listed on the sign-in page.",
	})
}

// startSession signs the user in: any session the browser had ends, a new
// one (a new id: no fixation) is stored and audited, and the browser goes
// on to next.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, u store.User, via, next string) {
	a := register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role, ClientAddr: clientAddr(r)}
	if old := s.cookie(r, "dsr_session"); old != "" {
		if err := s.deps.Store.EndSession(r.Context(), old, a); err != nil {
			writeError(w, r, err)
			return
		}
	}
	// Sessions past their end are of no use to anyone: clear them out now
	// and then (best effort).
	if _, err := s.deps.Store.PurgeSessions(r.Context(), SessionLimits); err != nil {
		loggerFrom(r).WarnContext(r.Context(), "purging old sessions", "error", err)
	}
	id, err := s.deps.Store.NewSession(r.Context(), a, via, SessionLimits)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.setCookie(w, "dsr_session", id, SessionLimits.Lifetime)
	s.setCookie(w, "dsr_csrf", "", -1)
	loggerFrom(r).InfoContext(r.Context(), "signed in", "user_id", u.ID, "via", via)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout ends the session and goes back to the sign-in page.
func (s *server) signout(w http.ResponseWriter, r *http.Request) {
	if id, ok := r.Context().Value(sessionKey{}).(string); ok {
		if err := s.deps.Store.EndSession(r.Context(), id, actorFrom(r)); err != nil {
			writeError(w, r, err)
			return
		}
	}
	s.setCookie(w, "dsr_session", "", -1)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func writeForbiddenPage(w http.ResponseWriter, r *http.Request, msg string) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		writePage(w, http.StatusForbidden, messageTemplate, map[string]any{"Title": "Refused", "Message": msg})
		return
	}
	writeJSON(w, http.StatusForbidden, errorBody{Error: msg})
}

func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	t.Execute(w, data)
}

// The sign-in pages are plain HTML with no script or inline style (the
// CSP forbids both), styled by the web package's stylesheets.
const pageHead = `<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – Dynamic Support Register</title>
{{range stylesheets}}<link rel="stylesheet" href="{{.}}">{{end}}</head>
<body><main class="nhsuk-width-container" id="maincontent">`

// pageFuncs give the sign-in pages the web package's stylesheets.
var pageFuncs = template.FuncMap{"stylesheets": web.Stylesheets}

var signinTemplate = template.Must(template.New("signin").Funcs(pageFuncs).Parse(pageHead + `
<h1>Sign in</h1>
<p>This is the development server: choose who to sign in as. There is no password.</p>
{{if .SignedIn}}<p>You are signed in as {{.Current.Name}} ({{.Current.Role}}).</p>{{end}}
<ul class="nhsuk-list">
{{range .Users}}<li><form method="post" action="/signin">
<input type="hidden" name="{{$.CSRFField}}" value="{{$.CSRF}}">
<input type="hidden" name="next" value="{{$.Next}}">
<input type="hidden" name="user" value="{{.ID}}">
<button class="nhsuk-button" type="submit">Sign in as {{.Name}}</button> {{.Email}}, {{.Role}}
</form></li>
{{end}}</ul>
<p>Not staff? <a href="/refer">Refer yourself or someone you care for</a>: no sign-in needed.</p>
</main></body></html>`))

var messageTemplate = template.Must(template.New("message").Funcs(pageFuncs).Parse(pageHead + `
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p><a href="/signin">Sign in</a></p>
</main></body></html>`))
