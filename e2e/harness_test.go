// Package e2e runs the register end to end against real parts: PostgreSQL,
// the embedded Temporal server, an in-process SMTP server, the worker and
// the HTTP API, with second-scale intervals.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"github.com/bsw-dsr/dsr/api"
	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/metrics"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/tclient"
	"github.com/bsw-dsr/dsr/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is one whole register for one test.
type stack struct {
	t        *testing.T
	cfg      config.Config
	store    *store.Store
	smtp     *devstack.SMTPCapture
	temporal *devstack.Temporal
	client   client.Client
	api      *httptest.Server
	logs     *bytes.Buffer
	logBuf   *syncBuffer // logs, behind its lock: see logText
	logger   *slog.Logger
	tokens   map[string]string // by email
	// metrics is the stack's registry: the API's, the worker's and the
	// Temporal client's metrics, as dsr dev has them.
	metrics *metrics.Metrics

	mu         sync.Mutex
	stopWorker context.CancelFunc
	workerDone chan struct{}
	// persistWithin is the worker's bound on one change's write (0: default).
	persistWithin time.Duration
}

// stackOptions vary a stack for the tests that need to.
type stackOptions struct {
	// DatabaseURL replaces the shared test cluster's fresh database (a test
	// that stops PostgreSQL brings its own cluster).
	DatabaseURL string
	// PersistWithin shortens how long the workflow waits for a write.
	PersistWithin time.Duration
	// Edit changes the configuration before anything is started.
	Edit func(*config.Config)
	// StrictPayloads makes the worker's and the API's client refuse
	// unencrypted payloads, as dsr worker and dsr api do.
	StrictPayloads bool
}

// fast is second-scale timing: red reviews every 12 s, reminders 5 s
// before, escalations every 4 s after.
func fast() register.Timing {
	return register.Timing{
		ReviewEvery:      map[register.Rating]time.Duration{register.Red: 12 * time.Second, register.Amber: time.Hour, register.Green: 2 * time.Hour, register.Blue: time.Hour},
		ReminderLead:     5 * time.Second,
		EscalateAfter:    4 * time.Second,
		MaxEscalations:   3,
		TriageWithin:     time.Hour,
		RedAfterHospital: time.Hour,
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// logText is everything logged so far, read under the buffer's lock.
func (s *stack) logText() string {
	s.logBuf.mu.Lock()
	defer s.logBuf.mu.Unlock()
	return s.logBuf.b.String()
}

func newStack(t *testing.T, timing register.Timing) *stack {
	t.Helper()
	return newStackWithKey(t, timing, codec.GenerateKey())
}

// newStackWithKey is newStack with a given payload key.
func newStackWithKey(t *testing.T, timing register.Timing, key string) *stack {
	t.Helper()
	return newStackWith(t, timing, key, stackOptions{})
}

// newStackEdit is newStackWithKey with a change to the configuration
// before anything is started (nil: none).
func newStackEdit(t *testing.T, timing register.Timing, key string, edit func(*config.Config)) *stack {
	t.Helper()
	return newStackWith(t, timing, key, stackOptions{Edit: edit})
}

// newStackWith is newStack with a payload key and options.
func newStackWith(t *testing.T, timing register.Timing, key string, opts stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{t: t, tokens: map[string]string{}, persistWithin: opts.PersistWithin}
	var logBuf syncBuffer
	s.logger = slog.New(slog.NewJSONHandler(io.MultiWriter(&logBuf, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	s.logs = &logBuf.b
	s.logBuf = &logBuf
	if opts.DatabaseURL != "" {
		st, err := store.Open(ctx, opts.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		s.store = st
	} else {
		s.store = testenv.DB(t)
	}
	s.smtp = testenv.SMTP(t)

	var err error
	s.temporal, err = devstack.StartTemporal(devstack.TemporalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.temporal.Stop() })

	s.metrics = metrics.New()
	sdkMetrics, tallyCloser := s.metrics.Temporal()
	t.Cleanup(func() { tallyCloser.Close() })
	s.metrics.Pool(s.store.Pool)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	t.Cleanup(stopWatch)
	s.metrics.Watch(watchCtx, time.Second, metrics.StoreCounts(s.store), s.logger)

	s.client, err = tclient.Dial(ctx, tclient.Options{HostPort: s.temporal.Address(), PayloadKey: key, Logger: s.logger, StrictPayloads: opts.StrictPayloads,
		MetricsHandler: sdkMetrics, Interceptors: []interceptor.ClientInterceptor{s.metrics.Updates()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.Close)

	s.cfg, err = config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Timing = timing
	s.cfg.PayloadKey = key
	s.cfg.SMTP = config.SMTP{Host: s.smtp.Host(), Port: s.smtp.Port(), TLS: "none"}

	s.cfg.DevSignIn = true // the sign-in page that lists the users, as in dsr dev
	if opts.Edit != nil {
		opts.Edit(&s.cfg)
	}
	s.api = httptest.NewServer(api.New(api.Deps{Store: s.store, Temporal: s.client, Config: s.cfg, Logger: s.logger, Metrics: s.metrics}))
	t.Cleanup(s.api.Close)
	s.cfg.BaseURL = s.api.URL

	for _, u := range []store.User{
		{Email: "coord@example.org", Name: "Cora Ordinator", Role: "coordinator"},
		{Email: "sw@example.org", Name: "Sam Worker", Role: "professional", ManagerEmail: "mgr@example.org"},
		{Email: "nurse@example.org", Name: "Nia Nurse", Role: "professional"},
		{Email: "mgr@example.org", Name: "Mo Manager", Role: "manager"},
		{Email: "other@example.org", Name: "Olu Other", Role: "professional"},
		{Email: "comm@example.org", Name: "Cam Commissioner", Role: "commissioner"},
		{Email: "audit@example.org", Name: "Aud Itor", Role: "auditor"},
	} {
		saved, err := s.store.UpsertUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if s.tokens[u.Email], err = s.store.NewToken(ctx, saved.ID); err != nil {
			t.Fatal(err)
		}
	}
	s.startWorker()
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (s *stack) startWorker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	mailer, err := mail.NewSMTP(s.cfg.SMTP, s.cfg.MailFrom, s.logger)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := worker.Run(ctx, worker.Deps{Client: s.client, Store: s.store, Mailer: mailer, Config: s.cfg, Logger: s.logger,
			PersistWithin: s.persistWithin, Metrics: s.metrics}); err != nil {
			s.t.Errorf("worker: %v", err)
		}
	}()
	s.stopWorker, s.workerDone = cancel, done
	// Cleanups run last-registered first: registered here, at each start,
	// the worker stops before the client or server it was started with is
	// closed by a cleanup registered earlier (a worker still starting on a
	// closed client failed TestHistoriesReadableAfterKeyRotation in CI).
	s.t.Cleanup(s.stopWorkerNow)
}

func (s *stack) stopWorkerNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopWorker != nil {
		s.stopWorker()
		<-s.workerDone
		s.stopWorker = nil
	}
}

// do sends a JSON request as the user with this email and decodes the
// answer into out (when not nil); it returns the status.
func (s *stack) do(email, method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		if raw, ok := body.(string); ok {
			rd = strings.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				s.t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, s.api.URL+"/api/v1"+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if email != "" {
		req.Header.Set("Authorization", "Bearer "+s.tokens[email])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// must is do that fails the test unless the status is want.
func (s *stack) must(want int, email, method, path string, body any, out any) {
	s.t.Helper()
	var raw json.RawMessage
	if got := s.do(email, method, path, body, &raw); got != want {
		s.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, email, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatal(err)
		}
	}
}

// referral is a valid referral naming the social worker and the nurse.
func referral(nhs, given string) map[string]any {
	return map[string]any{
		"person": map[string]any{"given_name": given, "family_name": "Testperson", "date_of_birth": "1990-04-01",
			"nhs_number": nhs, "address": "1 High Street", "postcode": "SN1 1AA", "locality": "Swindon"},
		"referrer":       map[string]any{"name": "Rhi Referrer", "email": "referrer@example.org", "organisation": "CTPLD", "phone": "01793 000000"},
		"consent":        map[string]any{"basis": "informed_consent", "recorded_on": consentDay(), "recorded_by": "Sam Worker", "details": ""},
		"proposed_rag":   "red",
		"current_issues": "placement under strain",
		"tried":          "extra support hours",
		"could_help":     "respite",
		"professionals": []map[string]any{
			{"name": "Sam Worker", "role": "Social worker", "organisation": "Swindon Borough Council", "email": "sw@example.org"},
			{"name": "Nia Nurse", "role": "LD nurse", "organisation": "CTPLD", "email": "nurse@example.org"},
		},
	}
}

// mails returns the notices of a kind for a person. Each recipient gets a
// copy of their own, with the notice's Message-ID: copies are merged back
// into one message with every recipient in To, except that a second copy
// to the same recipient counts as another message, so that a notice sent
// twice is seen twice.
func (s *stack) mails(kind, person string) []devstack.Captured {
	return notices(s.smtp.Messages(), func(m devstack.Captured) bool {
		return m.Header.Get("X-DSR-Kind") == kind && (person == "" || m.Header.Get("X-DSR-Person") == person)
	})
}

// notices merges per-recipient copies of the matching messages (see mails).
func notices(all []devstack.Captured, match func(devstack.Captured) bool) []devstack.Captured {
	var out []devstack.Captured
	open := map[string]int{} // Message-ID → index in out of the copy being merged
	for _, m := range all {
		if !match(m) {
			continue
		}
		id := m.Header.Get("Message-Id")
		if i, ok := open[id]; ok && !hasAny(out[i].To, m.To) {
			out[i].To = append(append([]string(nil), out[i].To...), m.To...)
			continue
		}
		open[id] = len(out)
		out = append(out, m)
	}
	return out
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

// copies counts, per recipient, the copies of a kind of notice about a
// person: anything above 1 is a notice sent twice.
func (s *stack) copies(kind, person string) map[string]int {
	n := map[string]int{}
	for _, m := range s.smtp.Messages() {
		if m.Header.Get("X-DSR-Kind") == kind && m.Header.Get("X-DSR-Person") == person {
			for _, to := range m.To {
				n[strings.ToLower(to)]++
			}
		}
	}
	return n
}

// waitMail waits for a message of this kind for the person.
func (s *stack) waitMail(kind, person string, within time.Duration) devstack.Captured {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	m, err := s.smtp.WaitFor(ctx, func(c devstack.Captured) bool {
		return c.Header.Get("X-DSR-Kind") == kind && c.Header.Get("X-DSR-Person") == person
	})
	if err != nil {
		s.t.Fatalf("no %s mail for %s within %s", kind, person, within)
	}
	return m
}

// recipients lists, sorted, everyone a notice went to: each recipient gets
// a copy of their own, all with the notice's Message-ID, sent back to back.
// It waits until no more copies have come for half a second.
func (s *stack) recipients(m devstack.Captured) string {
	s.t.Helper()
	id := m.Header.Get("Message-Id")
	var r []string
	for deadline, last := time.Now().Add(10*time.Second), -1; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r = r[:0]
		for _, c := range s.smtp.Messages() {
			if c.Header.Get("Message-Id") == id {
				r = append(r, c.To...)
			}
		}
		if len(r) == last && time.Since(m.Received) > 500*time.Millisecond {
			break
		}
		last = len(r)
	}
	return recipientList(r)
}

// recipientList is addresses lower-cased, sorted and joined.
func recipientList(to []string) string {
	r := append([]string(nil), to...)
	for i := range r {
		r[i] = strings.ToLower(r[i])
	}
	slices.Sort(r)
	return strings.Join(r, ",")
}

// consentDay is a referral's consent date: a week ago, so that the consent
// clock (which runs from this day, 365 days by default) is not due at
// acceptance whenever the tests run.
func consentDay() string {
	return time.Now().In(register.London).AddDate(0, 0, -7).Format(time.DateOnly)
}
