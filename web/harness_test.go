package web_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/api"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/web"
	"github.com/bsw-dsr/dsr/worker"
	"github.com/bsw-dsr/dsr/workflows"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// site is the whole register for one test: PostgreSQL, Temporal, the
// worker, mail captured by a real SMTP server, and the HTTP handler with
// its sessions, serving the pages.
type site struct {
	t      *testing.T
	srv    *httptest.Server
	store  *store.Store
	client client.Client
	smtp   *devstack.SMTPCapture
	cfg    config.Config
	users  map[string]store.User // by email
}

// Users every test has.
var siteUsers = []store.User{
	{Email: "coord@example.org", Name: "Cora Ordinator", Role: store.RoleCoordinator, Team: "BSW ICB DSR team"},
	{Email: "pat@example.org", Name: "Pat Nurse", Role: store.RoleProfessional, Team: "Wiltshire CTPLD", ManagerEmail: "mgr@example.org"},
	{Email: "other@example.org", Name: "Olu Other", Role: store.RoleProfessional, Team: "Swindon Borough Council"},
	{Email: "mgr@example.org", Name: "Morgan Manager", Role: store.RoleManager},
	{Email: "comm@example.org", Name: "Chris Commissioner", Role: store.RoleCommissioner},
	{Email: "audit@example.org", Name: "Alex Auditor", Role: store.RoleAuditor},
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	s := &site{t: t, users: map[string]store.User{}}
	s.store = testenv.DB(t)
	s.smtp = testenv.SMTP(t)
	s.client = testenv.Temporal(t)
	var err error
	if s.cfg, err = config.Load(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	s.cfg.PayloadKey = testenv.PayloadKey()
	s.cfg.SMTP = config.SMTP{Host: s.smtp.Host(), Port: s.smtp.Port(), TLS: "none"}
	s.cfg.DevSignIn = true
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	// The handler needs the base URL, which the server has only once it
	// runs: start it on a handler that is set just after.
	var h http.Handler
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	s.cfg.BaseURL = s.srv.URL
	h = api.New(api.Deps{Store: s.store, Temporal: s.client, Config: s.cfg, Logger: logger, Mailbox: mailbox(s.smtp)})

	for _, u := range siteUsers {
		saved, err := s.store.UpsertUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		s.users[u.Email] = saved
	}

	mailer, err := mail.NewSMTP(s.cfg.SMTP, s.cfg.MailFrom, logger)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := worker.Run(wctx, worker.Deps{Client: s.client, Store: s.store, Mailer: mailer, Config: s.cfg, Logger: logger}); err != nil && wctx.Err() == nil {
			t.Errorf("worker: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// mailbox adapts the capture server to the pages, as dsr dev does.
func mailbox(c *devstack.SMTPCapture) func() []web.Mail {
	return func() []web.Mail {
		var out []web.Mail
		for _, m := range c.Messages() {
			out = append(out, web.Mail{Received: m.Received, From: m.From, To: m.To, Subject: m.Subject(),
				Kind: m.Header.Get("X-DSR-Kind"), Person: m.Header.Get("X-DSR-Person"), Text: m.Text()})
		}
		return out
	}
}

// actor is a user as the audit log records them.
func (s *site) actor(email string) register.Actor {
	u := s.users[email]
	return register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role, ClientAddr: "127.0.0.1"}
}

// refer submits a referral the way the pages and the API do, naming the
// professional with this email, and returns the person's id.
func (s *site) refer(given, family, nhs, professional string) string {
	s.t.Helper()
	return s.referRequest(validReferral(given, family, nhs, professional))
}

// referRequest submits a referral as a coordinator would.
func (s *site) referRequest(req register.ReferralRequest) string {
	s.t.Helper()
	refs := &starter.Referrals{Store: s.store, Temporal: s.client, Logger: slog.New(slog.DiscardHandler)}
	id, err := refs.Submit(context.Background(), req, s.actor("coord@example.org"), time.Now(), starter.Options{})
	if err != nil {
		s.t.Fatalf("refer: %v", err)
	}
	return id
}

func validReferral(given, family, nhs, professional string) register.ReferralRequest {
	return register.ReferralRequest{
		Person: register.ReferralPerson{GivenName: given, FamilyName: family, DateOfBirth: "1990-04-01", NHSNumber: nhs,
			Address: "1 High Street", Postcode: "SN1 1AA", Locality: "Swindon"},
		Referrer:      register.Referrer{Name: "Rhi Referrer", Email: "referrer@example.org", Organisation: "CTPLD"},
		Consent:       register.Consent{Basis: register.InformedConsent, RecordedOn: consentDay(), RecordedBy: "Pat Nurse"},
		ProposedRAG:   register.Amber,
		CurrentIssues: "placement under strain",
		Professionals: []register.Professional{{Name: "Pat Nurse", Email: professional, Role: "LD nurse", Organisation: "CTPLD"}},
	}
}

// update sends a workflow update as a coordinator would through the API.
func (s *site) update(id, name string, req any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.WorkflowID(id), UpdateName: name,
		Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		s.t.Fatalf("update %s: %v", name, err)
	}
}

// accept puts a referred person on the register with a rating.
func (s *site) accept(id string, r register.Rating) {
	s.t.Helper()
	s.update(id, workflows.UpdateTriage, workflows.TriageRequest{Actor: s.actor("coord@example.org"), Decision: "accept", Rating: r})
}

// browser is one person's browser: cookies kept, redirects not followed
// (the tests check them).
type browser struct {
	s    *site
	t    *testing.T
	c    *http.Client
	csrf string
}

func (s *site) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, t: t, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// as signs in as the user with this email through the dev sign-in page.
func (s *site) as(t *testing.T, email string) *browser {
	t.Helper()
	b := s.browser(t)
	b.signIn(email)
	return b
}

var csrfRE = regexp.MustCompile(`name="` + api.CSRFField + `" value="([^"]+)"`)

type page struct {
	status int
	body   string
	header http.Header
}

// has reports whether the page holds the text (HTML-unescaped first).
func (p page) has(s string) bool { return strings.Contains(html.UnescapeString(p.body), s) }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Accept", "text/html")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{status: resp.StatusCode, body: string(raw), header: resp.Header}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return p
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.s.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form with the CSRF token of the last page seen.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, set := f[api.CSRFField]; !set {
		f.Set(api.CSRFField, b.csrf)
	}
	return b.postRaw(path, f)
}

// postRaw sends a form exactly as given.
func (b *browser) postRaw(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.s.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) signIn(email string) {
	b.t.Helper()
	u, ok := b.s.users[email]
	if !ok {
		b.t.Fatalf("no user %s", email)
	}
	if p := b.get("/signin"); p.status != http.StatusOK {
		b.t.Fatalf("GET /signin: %d", p.status)
	}
	p := b.post("/signin", url.Values{"user": {u.ID}, "next": {"/"}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d %s", email, p.status, p.body)
	}
	// Take the session's CSRF token from a page.
	b.get("/refer")
}

// must fails the test unless the page has the status.
func (p page) must(t *testing.T, status int) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, status, clip(p.body))
	}
	return p
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// location is the redirect target of a 303.
func (p page) location() string { return p.header.Get("Location") }

func must(t *testing.T, p page, status int, texts ...string) page {
	t.Helper()
	p.must(t, status)
	for _, s := range texts {
		if !p.has(s) {
			t.Errorf("page lacks %q", s)
		}
	}
	return p
}

// clearOfMidnight waits, when London's next midnight is less than need
// away, until it has passed. A test that takes today's date from the clock
// and sends it in a form, which the server reads by its own clock, must
// not straddle a day: "today" would have become yesterday (a review held at
// midday yesterday, before the acceptance minutes ago, is refused), and
// "this month" last month.
func clearOfMidnight(t *testing.T, need time.Duration) {
	t.Helper()
	if wait := untilMidnightIfWithin(time.Now(), need); wait > 0 {
		t.Logf("London's midnight is %v away: waiting for it to pass", wait.Round(time.Millisecond))
		time.Sleep(wait)
	}
}

// untilMidnightIfWithin is how long from now until a second after London's
// next midnight, when that midnight is less than need away; else 0.
func untilMidnightIfWithin(now time.Time, need time.Duration) time.Duration {
	l := now.In(register.London)
	y, m, d := l.Date()
	midnight := time.Date(y, m, d+1, 0, 0, 0, 0, register.London)
	if left := midnight.Sub(now); left < need {
		return left + time.Second
	}
	return 0
}

func TestUntilMidnightIfWithin(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, register.London)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		now  string
		need time.Duration
		want time.Duration
	}{
		{"2026-06-10 12:00:00", 5 * time.Minute, 0},
		{"2026-06-10 23:54:59", 5 * time.Minute, 0},
		{"2026-06-10 23:55:01", 5 * time.Minute, 4*time.Minute + 60*time.Second},
		{"2026-06-10 23:59:59", 5 * time.Minute, 2 * time.Second},
		{"2026-06-11 00:00:00", 5 * time.Minute, 0},
		{"2026-01-31 23:58:00", 5 * time.Minute, 2*time.Minute + time.Second}, // month end
		{"2026-12-31 23:59:00", 5 * time.Minute, time.Minute + time.Second},   // year end
		// The clocks change at 01:00 UTC: London's midnight is no
		// different on those days.
		{"2026-03-28 23:58:00", 5 * time.Minute, 2*time.Minute + time.Second},
		{"2026-10-24 23:58:00", 5 * time.Minute, 2*time.Minute + time.Second},
	} {
		if got := untilMidnightIfWithin(at(tc.now), tc.need); got != tc.want {
			t.Errorf("%s: wait %v, want %v", tc.now, got, tc.want)
		}
	}
	// London's midnight, not UTC's: 23:30 UTC in summer is 00:30 in London.
	if got := untilMidnightIfWithin(time.Date(2026, 6, 10, 23, 58, 0, 0, time.UTC), 5*time.Minute); got != 0 {
		t.Errorf("UTC's midnight taken for London's: wait %v", got)
	}
}

// consentDay is a referral's consent date: a week ago, so that the consent
// clock (which runs from this day, 365 days by default) is not due at
// acceptance whenever the tests run.
func consentDay() string {
	return time.Now().In(register.London).AddDate(0, 0, -7).Format(time.DateOnly)
}
