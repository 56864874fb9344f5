package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// newTestServer serves the router over a fresh database and no Temporal
// (the tests here that need Temporal start their own).
func newTestServer(t *testing.T, d Deps) (*httptest.Server, chi.Router, *syncWriter) {
	t.Helper()
	logs := &syncWriter{w: &bytes.Buffer{}}
	d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &server{deps: d, log: d.Logger}
	r := s.router()
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts, r, logs
}

// syncWriter serialises writes: httptest serves on other goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func do(t *testing.T, method, url, token string, body io.Reader) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, url, b)
		}
	}
	return res, m
}

func TestTokenAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	u, err := st.UpsertUser(ctx, store.User{Email: "coord@example.org", Name: "Cora", Role: store.RoleCoordinator})
	if err != nil {
		t.Fatal(err)
	}
	token, err := st.NewToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	revokedUser, _ := st.UpsertUser(ctx, store.User{Email: "gone@example.org", Name: "Gone", Role: store.RoleAuditor})
	revoked, _ := st.NewToken(ctx, revokedUser.ID)
	st.RevokeTokens(ctx, revokedUser.ID)

	ts, _, _ := newTestServer(t, Deps{Store: st})
	for _, tc := range []struct {
		name   string
		header string
		status int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"wrong scheme", "Basic " + token, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"invalid", "Bearer not-a-token", http.StatusUnauthorized},
		{"tampered", "Bearer " + token[:len(token)-2] + "xx", http.StatusUnauthorized},
		{"revoked", "Bearer " + revoked, http.StatusUnauthorized},
		{"valid", "Bearer " + token, http.StatusOK},
		{"valid, scheme in lower case", "bearer " + token, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+"/api/v1/me", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("body not JSON: %v", err)
			}
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (%v)", res.StatusCode, tc.status, body)
			}
			if tc.status == http.StatusUnauthorized {
				if msg, _ := body["error"].(string); msg == "" {
					t.Errorf("401 without an error message: %v", body)
				}
				if res.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			} else if body["email"] != "coord@example.org" || body["role"] != "coordinator" {
				t.Errorf("me = %v", body)
			}
		})
	}
	// Unknown paths under /api/v1 need a token too, so they reveal nothing.
	if res, _ := do(t, "GET", ts.URL+"/api/v1/no-such-thing", "", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown API path without token: %d, want 401", res.StatusCode)
	}
	if res, _ := do(t, "GET", ts.URL+"/api/v1/no-such-thing", token, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown API path with token: %d, want 404", res.StatusCode)
	}
}

func TestRequireRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	tokens := map[string]string{}
	for _, role := range store.Roles {
		u, err := st.UpsertUser(ctx, store.User{Email: role + "@example.org", Name: role, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		tokens[role], _ = st.NewToken(ctx, u.ID)
	}
	ts, r, _ := newTestServer(t, Deps{Store: st})
	r.Route("/api/v1/test", func(r chi.Router) {
		r.Use(s(st).authenticate)
		r.With(requireRole(store.RoleCoordinator, store.RoleAuditor)).Get("/", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, actorFrom(r))
		})
	})
	for role, token := range tokens {
		want := http.StatusForbidden
		if role == store.RoleCoordinator || role == store.RoleAuditor {
			want = http.StatusOK
		}
		res, body := do(t, "GET", ts.URL+"/api/v1/test/", token, nil)
		if res.StatusCode != want {
			t.Errorf("%s: status %d, want %d (%v)", role, res.StatusCode, want, body)
		}
		if want == http.StatusOK && (body["role"] != role || body["client_addr"] != "127.0.0.1") {
			t.Errorf("%s: actor = %v", role, body)
		}
		if want == http.StatusForbidden && body["error"] == "" {
			t.Errorf("%s: 403 without error", role)
		}
	}
}

// s builds a bare server over the store, for mounting test routes.
func s(st *store.Store) *server { return &server{deps: Deps{Store: st}, log: slog.Default()} }

func TestWriteErrorMapsKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		wantBody   string // substring of the body
		retryAfter bool
	}{
		{"invalid", register.Invalidf("person.nhs_number", "bad check digit"), 422, `"fields":{"person.nhs_number":"bad check digit"}`, false},
		{"malformed", &register.Error{Kind: register.KindMalformed, Message: "the body is not valid JSON"}, 400, `"error":"the body is not valid JSON"`, false},
		{"not found", register.NotFound("person"), 404, `"error":"person not found"`, false},
		{"conflict", register.Conflict("already referred", "abc-123"), 409, `"id":"abc-123"`, false},
		{"forbidden", register.Forbidden("no"), 403, `"error":"no"`, false},
		{"unavailable", register.Unavailable("Temporal is not answering"), 503, `"error":"Temporal is not answering"`, true},
		{"wrapped", fmtErr(register.NotFound("action")), 404, `"error":"action not found"`, false},
		{"too large", &http.MaxBytesError{Limit: MaxBodyBytes}, 413, `"error":"the request body is too large"`, false},
		{"internal", errors.New("pq: secret detail about Zebedee"), 500, `"error":"internal error`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("GET", "/", nil).WithContext(context.WithValue(context.Background(), loggerKey{}, slog.New(slog.DiscardHandler))), tc.err)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("body = %s, want it to contain %s", w.Body, tc.wantBody)
			}
			if strings.Contains(w.Body.String(), "Zebedee") {
				t.Error("internal error text reached the client")
			}
			if got := w.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After present = %v, want %v", got, tc.retryAfter)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func fmtErr(err error) error { return errors.Join(errors.New("context"), err) }

func TestMiddleware(t *testing.T) {
	t.Parallel()
	ts, r, logs := newTestServer(t, Deps{})
	r.Post("/t/size", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"n": n})
	})
	r.Get("/t/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Get("/t/deadline", func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		writeJSON(w, http.StatusOK, map[string]any{"ok": ok, "in": time.Until(d).Seconds()})
	})

	t.Run("healthz", func(t *testing.T) {
		res, body := do(t, "GET", ts.URL+"/healthz", "", nil)
		if res.StatusCode != 200 || body["status"] != "ok" {
			t.Fatalf("healthz: %d %v", res.StatusCode, body)
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})
	t.Run("body at the limit is read", func(t *testing.T) {
		res, body := do(t, "POST", ts.URL+"/t/size", "", bytes.NewReader(make([]byte, MaxBodyBytes)))
		if res.StatusCode != 200 || body["n"] != float64(MaxBodyBytes) {
			t.Fatalf("%d %v", res.StatusCode, body)
		}
	})
	t.Run("body over the limit is 413", func(t *testing.T) {
		res, _ := do(t, "POST", ts.URL+"/t/size", "", bytes.NewReader(make([]byte, MaxBodyBytes+1)))
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", res.StatusCode)
		}
	})
	t.Run("panic is a JSON 500 and the server lives on", func(t *testing.T) {
		res, body := do(t, "GET", ts.URL+"/t/panic", "", nil)
		if res.StatusCode != 500 || body["error"] == nil {
			t.Fatalf("%d %v", res.StatusCode, body)
		}
		if res, _ := do(t, "GET", ts.URL+"/healthz", "", nil); res.StatusCode != 200 {
			t.Fatal("server down after a panic")
		}
	})
	t.Run("requests have a deadline", func(t *testing.T) {
		_, body := do(t, "GET", ts.URL+"/t/deadline", "", nil)
		if body["ok"] != true || body["in"].(float64) > RequestTimeout.Seconds() {
			t.Fatalf("deadline: %v", body)
		}
	})
	t.Run("unknown path is a JSON 404", func(t *testing.T) {
		if res, body := do(t, "GET", ts.URL+"/nope", "", nil); res.StatusCode != 404 || body["error"] == nil {
			t.Fatalf("%d %v", res.StatusCode, body)
		}
	})
	t.Run("logs leave out query strings and bodies", func(t *testing.T) {
		do(t, "POST", ts.URL+"/t/size?nhs_number=9434765919", "", strings.NewReader(`{"given_name":"Zebedee"}`))
		// The log line is written just after the response is sent.
		var out string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			// The second such line: the first is the "at the limit" request.
			if out = logs.String(); strings.Count(out, `"path":"/t/size","status":200`) == 2 {
				break
			}
		}
		if strings.Count(out, `"path":"/t/size","status":200`) != 2 {
			t.Fatalf("request not logged: %s", out)
		}
		for _, secret := range []string{"9434765919", "Zebedee"} {
			if strings.Contains(out, secret) {
				t.Errorf("log contains %q: %s", secret, out)
			}
		}
	})
}
