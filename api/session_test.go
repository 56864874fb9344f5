package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// webStack is the router over a fresh database, with a page behind
// requireSession that says who is signed in, and a form behind csrf.
type webStack struct {
	t     *testing.T
	url   string
	st    *store.Store
	users map[string]store.User // by email
}

// newWebStack serves the router at a URL known before it is built, so the
// configuration can name it (DSR_BASE_URL, the OIDC redirect).
func newWebStack(t *testing.T, edit func(*config.Config)) *webStack {
	t.Helper()
	ws := &webStack{t: t, st: testenv.DB(t), users: map[string]store.User{}}
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	ws.url = ts.URL
	cfg, err := config.Load(func(k string) string { return map[string]string{"DSR_BASE_URL": ts.URL}[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DevSignIn = true
	if edit != nil {
		edit(&cfg)
	}
	srv := &server{deps: Deps{Store: ws.st, Config: cfg}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := srv.router()
	r.With(srv.requireSession, srv.csrf).Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, _ := userFrom(r.Context())
		a := actorFrom(r)
		io.WriteString(w, u.Email+" "+a.Role+" token="+csrfTokenOf(r))
	})
	r.With(srv.withSession, srv.csrf).Post("/form", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "done")
	})
	h = r
	for _, u := range []store.User{
		{Email: "coord@example.org", Name: "Cora Ordinator", Role: "coordinator"},
		{Email: "sw@example.org", Name: "Sam Worker", Role: "professional"},
	} {
		saved, err := ws.st.UpsertUser(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		ws.users[u.Email] = saved
	}
	return ws
}

func csrfTokenOf(r *http.Request) string { return csrfToken(r) }

// browser is a client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (ws *webStack) get(c *http.Client, path string) (*http.Response, string) {
	ws.t.Helper()
	resp, err := c.Get(ws.url + path)
	if err != nil {
		ws.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (ws *webStack) post(c *http.Client, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	ws.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ws.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		ws.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var tokenInPage = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs in on the dev page as the user and returns the session cookie.
func (ws *webStack) signIn(c *http.Client, email string) *http.Cookie {
	ws.t.Helper()
	resp, page := ws.get(c, "/signin?next=/whoami")
	if resp.StatusCode != http.StatusOK {
		ws.t.Fatalf("GET /signin: %d %s", resp.StatusCode, page)
	}
	m := tokenInPage.FindStringSubmatch(page)
	if m == nil {
		ws.t.Fatalf("no CSRF token in the sign-in page:\n%s", page)
	}
	resp, body := ws.post(c, "/signin", url.Values{"csrf_token": {m[1]}, "user": {ws.users[email].ID}, "next": {"/whoami"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/whoami" {
		ws.t.Fatalf("POST /signin: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "dsr_session" && ck.Value != "" {
			return ck
		}
	}
	ws.t.Fatalf("no session cookie set: %v", resp.Header["Set-Cookie"])
	return nil
}

func TestDevSignInAndOut(t *testing.T) {
	t.Parallel()
	ws := newWebStack(t, nil)
	c := browser(t)

	// Not signed in: the page sends us to sign in, and comes back.
	resp, _ := ws.get(c, "/whoami?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2Fwhoami%3Fx%3D1" {
		t.Fatalf("unsigned GET /whoami: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The dev page lists the users, each with a button.
	_, page := ws.get(c, "/signin")
	for _, want := range []string{"Sign in as Cora Ordinator", "Sign in as Sam Worker", "coord@example.org, coordinator", `<link rel="stylesheet" href="/static/`,
		`<a href="/refer">Refer yourself or someone you care for</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	// The self-referral form it links to needs no sign-in.
	if resp, form := ws.get(c, "/refer"); resp.StatusCode != http.StatusOK || !strings.Contains(form, `action="/refer"`) {
		t.Errorf("GET /refer signed out: %d", resp.StatusCode)
	}

	ck := ws.signIn(c, "sw@example.org")
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Errorf("session cookie over http: HttpOnly %v SameSite %v Path %q Secure %v", ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
	}
	resp, body := ws.get(c, "/whoami")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "sw@example.org professional token=") {
		t.Fatalf("signed-in GET /whoami: %d %q", resp.StatusCode, body)
	}
	token := strings.TrimPrefix(body, "sw@example.org professional token=")
	// A wrong token differs from the right one in its first character,
	// whatever that character is.
	wrong := "x" + token[1:]
	if token[0] == 'x' {
		wrong = "y" + token[1:]
	}

	// Only its hash is stored.
	var stored int
	ws.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE hash = sha256($1::bytea)`, []byte(ck.Value)).Scan(&stored)
	if stored != 1 {
		t.Errorf("%d sessions stored under the hash of the cookie", stored)
	}

	// A state-changing form: refused without the token, with a wrong one,
	// or from another site even with the right one; accepted otherwise.
	for _, tc := range []struct {
		name  string
		form  url.Values
		hdr   map[string]string
		code  int
		reply string
	}{
		{"no token", url.Values{}, nil, http.StatusForbidden, ""},
		{"wrong token", url.Values{"csrf_token": {wrong}}, nil, http.StatusForbidden, ""},
		{"cross-site", url.Values{"csrf_token": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, ""},
		{"other origin", url.Values{"csrf_token": {token}}, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, ""},
		{"token in the form", url.Values{"csrf_token": {token}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK, "done"},
		{"token in the header", url.Values{}, map[string]string{CSRFHeader: token}, http.StatusOK, "done"},
	} {
		resp, body := ws.post(c, "/form", tc.form, tc.hdr)
		if resp.StatusCode != tc.code || (tc.reply != "" && body != tc.reply) {
			t.Errorf("%s: %d %q, want %d", tc.name, resp.StatusCode, body, tc.code)
		}
	}

	// Sign-out needs the token too; then the session is gone, server-side.
	if resp, _ := ws.post(c, "/signout", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without a token: %d", resp.StatusCode)
	}
	resp, _ = ws.post(c, "/signout", url.Values{"csrf_token": {token}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("sign-out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ws.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions`).Scan(&stored)
	if stored != 0 {
		t.Errorf("%d sessions left after sign-out", stored)
	}
	// The old cookie, replayed, signs no one in.
	replay := browser(t)
	u, _ := url.Parse(ws.url)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: "dsr_session", Value: ck.Value}})
	if resp, _ := ws.get(replay, "/whoami"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("replayed cookie after sign-out: %d", resp.StatusCode)
	}

	// Sign-in and sign-out are in the audit log.
	var actions []string
	rows, _ := ws.st.Pool.Query(context.Background(), `SELECT action FROM audit_log WHERE user_email = 'sw@example.org' ORDER BY id`)
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	if !slices.Equal(actions, []string{"signin", "signout"}) {
		t.Errorf("audit actions = %v", actions)
	}
}

// Sign-in is itself a form: a page on another site cannot sign a browser
// in as someone (login CSRF), and a token from one browser is no good in
// another.
func TestSignInNeedsTheToken(t *testing.T) {
	t.Parallel()
	ws := newWebStack(t, nil)
	c := browser(t)
	resp, _ := ws.post(c, "/signin", url.Values{"user": {ws.users["coord@example.org"].ID}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without a token: %d", resp.StatusCode)
	}
	_, page := ws.get(c, "/signin")
	token := tokenInPage.FindStringSubmatch(page)[1]
	other := browser(t)
	ws.get(other, "/signin") // its own CSRF cookie
	if resp, _ := ws.post(other, "/signin", url.Values{"csrf_token": {token}, "user": {ws.users["coord@example.org"].ID}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another browser's token: %d", resp.StatusCode)
	}
	if resp, _ := ws.post(c, "/signin", url.Values{"csrf_token": {token}, "user": {"00000000-0000-0000-0000-000000000000"}}, nil); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}
	// An open redirect is refused: next goes to a path on this site.
	resp, _ = ws.post(c, "/signin", url.Values{"csrf_token": {token}, "user": {ws.users["coord@example.org"].ID}, "next": {"//evil.example/x"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Outside dsr dev there is no page that signs in as anyone.
func TestNoDevSignInOutsideDev(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
	}{
		{"production", func(c *config.Config) { c.DevSignIn = false }},
	} {
		ws := newWebStack(t, tc.edit)
		c := browser(t)
		resp, page := ws.get(c, "/signin")
		if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(page, "Sign in as") {
			t.Errorf("%s: GET /signin: %d\n%s", tc.name, resp.StatusCode, page)
		}
		token := ""
		for _, ck := range c.Jar.Cookies(mustURL(ws.url)) {
			if ck.Name == "dsr_csrf" {
				token = csrfTokenFor(ck.Value)
			}
		}
		resp, _ = ws.post(c, "/signin", url.Values{"csrf_token": {token}, "user": {ws.users["coord@example.org"].ID}}, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: POST /signin: %d", tc.name, resp.StatusCode)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Served over HTTPS, cookies are Secure and __Host- prefixed, and HSTS is
// sent.
func TestSecureCookiesAndHSTSBehindTLS(t *testing.T) {
	t.Parallel()
	ws := newWebStack(t, func(c *config.Config) { c.BaseURL = "https://dsr.example.nhs.uk" })
	c := browser(t)
	resp, _ := ws.get(c, "/signin")
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("HSTS = %q", got)
	}
	var csrf *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-dsr_csrf" {
			csrf = ck
		}
	}
	if csrf == nil || !csrf.Secure || !csrf.HttpOnly || csrf.Path != "/" || csrf.Domain != "" {
		t.Fatalf("CSRF cookie behind TLS: %+v (all: %v)", csrf, resp.Header["Set-Cookie"])
	}
	// Sign in by hand (the jar will not send Secure cookies over http).
	form := url.Values{"csrf_token": {csrfTokenFor(csrf.Value)}, "user": {ws.users["coord@example.org"].ID}}
	req, _ := http.NewRequest(http.MethodPost, ws.url+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	resp, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-dsr_session" {
			sess = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" {
		t.Fatalf("sign-in behind TLS: %d, session cookie %+v", resp.StatusCode, sess)
	}
	// Over plain HTTP there is no HSTS.
	plain := newWebStack(t, nil)
	if resp, _ := plain.get(browser(t), "/healthz"); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent for an http:// base URL")
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	ws := newWebStack(t, nil)
	c := browser(t)
	for _, path := range []string{"/healthz", "/no-such-page", "/api/v1/me", "/signin", "/whoami"} {
		resp, _ := ws.get(c, path)
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/people/abc?tab=x":    "/people/abc?tab=x",
		"//evil.example":       "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"people":               "/",
		"/a\r\nSet-Cookie: x":  "/",
		"javascript:alert(1)":  "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDisabledUserIsOutAtOnce: disabling a user (dsr user disable) ends
// their browser session and their API tokens at once (401 on the next
// request), and they cannot sign in again until enabled; their old tokens
// stay revoked after that.
func TestDisabledUserIsOutAtOnce(t *testing.T) {
	t.Parallel()
	ws := newWebStack(t, nil)
	ctx := context.Background()
	c := browser(t)
	ws.signIn(c, "sw@example.org")
	token, err := ws.st.NewToken(ctx, ws.users["sw@example.org"].ID)
	if err != nil {
		t.Fatal(err)
	}
	me := func(tok string) int {
		req, _ := http.NewRequest("GET", ws.url+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := me(token); st != http.StatusOK {
		t.Fatalf("token before disabling: %d", st)
	}

	tokens, sessions, err := ws.st.DisableUser(ctx, register.Actor{Role: "operator"}, "SW@example.org")
	if err != nil || tokens != 1 || sessions != 1 {
		t.Fatalf("DisableUser: %d tokens, %d sessions, %v; want 1, 1", tokens, sessions, err)
	}
	if st := me(token); st != http.StatusUnauthorized {
		t.Errorf("token after disabling: %d, want 401", st)
	}
	if resp, body := ws.get(c, "/whoami"); resp.StatusCode == http.StatusOK {
		t.Errorf("session after disabling: %d %q", resp.StatusCode, body)
	}
	if _, err := ws.st.NewSession(ctx, register.Actor{UserID: ws.users["sw@example.org"].ID, Role: "professional"}, "dev",
		store.SessionLimits{Lifetime: time.Hour, Idle: time.Hour}); register.KindOf(err) != register.KindForbidden {
		t.Errorf("a disabled user signing in: %v, want refused", err)
	}

	if err := ws.st.EnableUser(ctx, register.Actor{Role: "operator"}, "sw@example.org"); err != nil {
		t.Fatal(err)
	}
	if st := me(token); st != http.StatusUnauthorized {
		t.Errorf("old token after enabling: %d, want 401 (it stays revoked)", st)
	}
	ws.signIn(c, "sw@example.org")
	if resp, body := ws.get(c, "/whoami"); resp.StatusCode != http.StatusOK {
		t.Errorf("signed in again after enabling: %d %q", resp.StatusCode, body)
	}
}

// TestTokensExpire: a token stops working at its expiry.
func TestTokensExpire(t *testing.T) {
	t.Parallel()
	ws := newWebStack(t, nil)
	token, err := ws.st.NewTokenFor(context.Background(), ws.users["sw@example.org"].ID, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.st.UserByToken(context.Background(), token); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	time.Sleep(time.Second)
	if _, err := ws.st.UserByToken(context.Background(), token); register.KindOf(err) != register.KindNotFound {
		t.Errorf("expired token: %v, want refused", err)
	}
}

// TestSelfReferralLimit: the JSON endpoint and the web form share one
// allowance per client; requests refused before their content is read
// (415, here) do not use it up; X-Forwarded-For names the client only when
// it comes from a trusted proxy (DSR_TRUSTED_PROXIES).
func TestSelfReferralLimit(t *testing.T) {
	t.Parallel()
	post := func(ws *webStack, contentType, xff, body string) int {
		req, _ := http.NewRequest("POST", ws.url+SelfReferralPath, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("shared, behind a trusted proxy", func(t *testing.T) {
		ws := newWebStack(t, func(c *config.Config) {
			var err error
			if c.TrustedProxies, err = config.ParsePrefixes("127.0.0.0/8, ::1"); err != nil {
				t.Fatal(err)
			}
		})
		const client = "203.0.113.7"
		for range 20 {
			if st := post(ws, "text/plain", client, `{}`); st != http.StatusUnsupportedMediaType {
				t.Fatalf("text/plain: %d, want 415", st)
			}
		}
		for i := range SelfReferralLimit / 2 {
			if st := post(ws, "application/json; charset=utf-8", "198.51.100.1, "+client, `{}`); st != http.StatusUnprocessableEntity {
				t.Fatalf("JSON %d: %d, want 422 (the 415s must not have used the allowance)", i, st)
			}
		}
		c := browser(t)
		_, page := ws.get(c, "/refer")
		m := tokenInPage.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF token in the form")
		}
		form := url.Values{"csrf_token": {m[1]}}
		for i := range SelfReferralLimit - SelfReferralLimit/2 {
			if resp, body := ws.post(c, "/refer", form, map[string]string{"X-Forwarded-For": client}); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("form %d: %d, want 422: %.300s", i, resp.StatusCode, body)
			}
		}
		if st := post(ws, "application/json", client, `{}`); st != http.StatusTooManyRequests {
			t.Errorf("JSON after %d (API and form together): %d, want 429", SelfReferralLimit, st)
		}
		if resp, _ := ws.post(c, "/refer", form, map[string]string{"X-Forwarded-For": client}); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("form after %d (API and form together): %d, want 429", SelfReferralLimit, resp.StatusCode)
		}
		if st := post(ws, "application/json", "203.0.113.8", `{}`); st != http.StatusUnprocessableEntity {
			t.Errorf("another client behind the proxy: %d, want 422", st)
		}
	})

	t.Run("X-Forwarded-For from an untrusted peer is ignored", func(t *testing.T) {
		ws := newWebStack(t, nil)
		for i := range SelfReferralLimit {
			if st := post(ws, "application/json", fmt.Sprintf("192.0.2.%d", i), `{}`); st != http.StatusUnprocessableEntity {
				t.Fatalf("request %d: %d, want 422", i, st)
			}
		}
		if st := post(ws, "application/json", "192.0.2.99", `{}`); st != http.StatusTooManyRequests {
			t.Errorf("a spoofed X-Forwarded-For escaped the limit: %d, want 429", st)
		}
	})
}
