package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	// None of these may panic: code paths without metrics call them.
	m.HTTP("GET", "/x", 200, time.Second)
	m.NoticeCopies("review-due", CopySent, 1)
	m.NoticeSent("review-due", time.Now(), time.Now())
	m.Update("triage", time.Second)
	m.Ready(true)
	m.Pool(nil)
	m.Watch(context.Background(), time.Second, nil, nil)
}

func TestLabels(t *testing.T) {
	m := New()
	m.HTTP("GET", "/api/v1/people/{id}", 200, 10*time.Millisecond)
	m.HTTP("GET", "", 404, time.Millisecond)    // no route matched
	m.HTTP("PROPFIND", "", 0, time.Millisecond) // odd method, nothing written
	m.NoticeCopies("review-due", CopySent, 2)
	m.NoticeCopies("review-due", CopyRefused, 1)
	m.NoticeCopies("review-due", CopyRetrying, 0) // nothing to count
	m.NoticeSent("review-due", time.Now().Add(-90*time.Second), time.Now())
	m.NoticeSent("review-due", time.Time{}, time.Now()) // no due time: not observed
	m.Update("triage", 30*time.Millisecond)
	m.Ready(false)
	text := scrape(t, m)
	for _, want := range []string{
		`dsr_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/people/{id}"} 1`,
		`dsr_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
		`dsr_http_request_duration_seconds_count{code="200",method="other",route="unmatched"} 1`,
		`dsr_notice_copies_total{kind="review-due",outcome="sent"} 2`,
		`dsr_notice_copies_total{kind="review-due",outcome="refused"} 1`,
		`dsr_notice_lag_seconds_bucket{kind="review-due",le="60"} 0`,
		`dsr_notice_lag_seconds_bucket{kind="review-due",le="120"} 1`,
		`dsr_notice_lag_seconds_count{kind="review-due"} 1`,
		`dsr_update_duration_seconds_count{update="triage"} 1`,
		`dsr_readyz_checks_total{result="failing"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %s in:\n%s", want, text)
		}
	}
	if strings.Contains(text, `outcome="retrying"`) {
		t.Error("a zero count made a series")
	}
}

func TestWatchRefreshesAndResets(t *testing.T) {
	m := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reads := make(chan Counts, 3)
	reads <- Counts{People: []PeopleCount{{Status: "referred", N: 2}, {Status: "active", Rating: "red", N: 3}}, OldestUnsent: 90 * time.Second}
	reads <- Counts{People: []PeopleCount{{Status: "active", Rating: "red", N: 4}}}
	var fail = errors.New("database down")
	read := func(context.Context) (Counts, error) {
		select {
		case c := <-reads:
			return c, nil
		default:
			return Counts{}, fail
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m.refresh(ctx, read, logger) // what Watch does on each tick
	if got := testutil.ToFloat64(m.people.WithLabelValues("referred", "none")); got != 2 {
		t.Errorf("referred, untriaged: %v", got)
	}
	if got := testutil.ToFloat64(m.oldestUnsent); got != 90 {
		t.Errorf("oldest unsent: %v", got)
	}
	m.refresh(ctx, read, logger)
	if n := testutil.CollectAndCount(m.people); n != 1 {
		t.Errorf("%d series after the referred person went: want 1 (stale ones reset)", n)
	}
	if got := testutil.ToFloat64(m.oldestUnsent); got != 0 {
		t.Errorf("oldest unsent with none: %v", got)
	}
	m.refresh(ctx, read, logger) // fails: the last values stay, the failure counts
	if got := testutil.ToFloat64(m.refreshFails); got != 1 {
		t.Errorf("refresh failures: %v", got)
	}
	if got := testutil.ToFloat64(m.people.WithLabelValues("active", "red")); got != 4 {
		t.Errorf("active red after a failed refresh: %v", got)
	}

	// Watch itself registers the gauges and refreshes at once.
	reads <- Counts{People: []PeopleCount{{Status: "active", Rating: "green", N: 7}}}
	m.Watch(ctx, time.Hour, read, logger)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(scrape(t, m), `dsr_people{rating="green",status="active"} 7`) {
		if time.Now().After(deadline) {
			t.Fatalf("Watch did not refresh:\n%s", scrape(t, m))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The SDK's metrics reach the registry through tally, with Prometheus
// names.
func TestTemporalMetricsReachTheRegistry(t *testing.T) {
	m := New()
	h, closer := m.Temporal()
	defer closer.Close()
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(3)
	h.Timer("temporal_workflow_task_execution_latency").Record(40 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := scrape(t, m)
		if strings.Contains(text, `temporal_request_total{namespace="default"} 3`) &&
			strings.Contains(text, `temporal_workflow_task_execution_latency_seconds_count 1`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SDK's metrics did not reach /metrics:\n%s", text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// /debug/pprof/ is served beside /metrics only when asked for.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- New().Serve(ctx, ln, pprof, slog.New(slog.DiscardHandler)) }()
		base := "http://" + ln.Addr().String()
		for path, want := range map[string]int{"/metrics": 200, "/debug/pprof/heap": map[bool]int{false: 404, true: 200}[pprof]} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("pprof %v: %s answered %d, want %d", pprof, path, resp.StatusCode, want)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
