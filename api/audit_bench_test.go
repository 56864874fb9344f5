package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// BenchmarkRecordRead measures GET /api/v1/people/{id} by a named
// professional over HTTP against a real PostgreSQL, as served (the read is
// audited in its own transaction) and, for comparison, by the same handler
// with the audit write left out: token check, visibility check, the whole
// record, JSON. Each iteration is one request of each kind; it reports the
// median and 99th percentile latency of both.
//
//	go test ./api -run '^$' -bench RecordRead -benchtime 2000x
func BenchmarkRecordRead(b *testing.B) {
	ctx := context.Background()
	st := testenv.DB(b)
	u, err := st.UpsertUser(ctx, store.User{Email: "sw@example.org", Name: "Sam Worker", Role: "professional"})
	if err != nil {
		b.Fatal(err)
	}
	token, err := st.NewToken(ctx, u.ID)
	if err != nil {
		b.Fatal(err)
	}
	id := uuid.NewString()
	err = st.CreateReferral(ctx, register.Person{
		ID: id, NHSNumber: "9434765919", GivenName: "Bench", FamilyName: "Person", DateOfBirth: "1990-04-01",
		Consent:       register.Consent{Basis: register.InformedConsent, RecordedOn: "2026-01-02", RecordedBy: "Sam Worker"},
		ReferredAt:    time.Now().UTC().Truncate(time.Microsecond),
		CurrentIssues: "issues", Tried: "tried", CouldHelp: "respite",
		Professionals: []register.Professional{{Name: "Sam Worker", Email: "sw@example.org"}, {Name: "Nia Nurse", Email: "nurse@example.org"}},
	}, register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role})
	if err != nil {
		b.Fatal(err)
	}

	srv := &server{deps: Deps{Store: st}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := srv.router()
	p := &people{store: st, now: time.Now}
	// The handler of GET /people/{id} without its audit write.
	r.With(srv.authenticate, requireRole("coordinator", "professional", "manager")).Get("/bench/unaudited/{id}",
		func(w http.ResponseWriter, r *http.Request) {
			id, ok := p.visible(w, r)
			if !ok {
				return
			}
			person, err := p.store.GetPerson(r.Context(), id)
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, person)
		})
	ts := httptest.NewServer(r)
	defer ts.Close()

	// Alternate the two in one loop, so that whatever else the machine is
	// doing weighs on both alike.
	get := func(b *testing.B, path string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	var audited, unaudited []time.Duration
	for b.Loop() {
		audited = append(audited, get(b, "/api/v1/people/"+id))
		unaudited = append(unaudited, get(b, "/bench/unaudited/"+id))
	}
	pct := func(lat []time.Duration, p int) float64 {
		slices.Sort(lat)
		return float64(lat[(len(lat)-1)*p/100].Microseconds())
	}
	b.ReportMetric(pct(audited, 50), "audited-p50-µs")
	b.ReportMetric(pct(audited, 99), "audited-p99-µs")
	b.ReportMetric(pct(unaudited, 50), "unaudited-p50-µs")
	b.ReportMetric(pct(unaudited, 99), "unaudited-p99-µs")
	b.ReportMetric(0, "ns/op")
	var reads int
	st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'read' AND person_id = $1`, id).Scan(&reads)
	b.Logf("%d reads audited", reads)
}
