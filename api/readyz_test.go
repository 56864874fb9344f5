package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/store"
)

// TestReadyz: 200 with both up; 503 naming the database once PostgreSQL
// stops; 503 naming Temporal once it stops too.
func TestReadyz(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.Cluster(t) // our own: this test stops it
	st, err := store.Open(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	temporal := testenv.TemporalServer(t)
	tc := testenv.TemporalClient(t, temporal)

	ts, _, _ := newTestServer(t, Deps{Store: st, Temporal: tc})
	res, body := do(t, "GET", ts.URL+"/readyz", "", nil)
	if res.StatusCode != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("readyz with everything up: %d %v", res.StatusCode, body)
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	res, body = do(t, "GET", ts.URL+"/readyz", "", nil)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with PostgreSQL stopped: %d %v", res.StatusCode, body)
	}
	checks, _ := body["checks"].(map[string]any)
	if body["error"] != "database unreachable" || checks["database"] != "unreachable" || checks["temporal"] != "ok" {
		t.Fatalf("readyz body: %v", body)
	}
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	if err := temporal.Stop(); err != nil {
		t.Fatal(err)
	}
	res, body = do(t, "GET", ts.URL+"/readyz", "", nil)
	if res.StatusCode != http.StatusServiceUnavailable || body["error"] != "database and temporal unreachable" {
		t.Fatalf("readyz with both down: %d %v", res.StatusCode, body)
	}
}
