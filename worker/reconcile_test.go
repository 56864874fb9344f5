package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// insertReferred adds a referred person straight to the table and returns
// the id.
func insertReferred(t *testing.T, st *store.Store, nhs string) string {
	t.Helper()
	id := uuid.NewString()
	_, err := st.Pool.Exec(context.Background(), `INSERT INTO people (id, nhs_number, status, given_name, family_name, date_of_birth,
		consent_basis, consent_recorded_on, consent_recorded_by, referred_at)
		VALUES ($1, $2, 'referred', 'A', 'B', '1990-01-01', 'informed_consent', '2026-01-01', 'x', now())`, id, nhs)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A start that fails (Temporal refused one person's workflow) is logged
// and the pass goes on: everyone after it still gets a workflow, and the
// error says how many failed. The pass used to stop at the first failure.
func TestReconcileGoesOnPastAFailedStart(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, insertReferred(t, st, fmt.Sprintf("%010d", 1000+i)))
	}
	ids, _ = st.OpenPeople(ctx) // in the order the pass takes them
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(&logs, io.Discard), nil))
	var started []string
	n, err := reconcile(ctx, st, logger, time.Time{}, func(_ context.Context, id string) error {
		if id == ids[1] {
			return errors.New("temporal said no")
		}
		started = append(started, id)
		return nil
	})
	if n != 4 || len(started) != 3 || started[2] != ids[3] {
		t.Errorf("checked %d, started %d (%v); want every person but the failed one", n, len(started), started)
	}
	if err == nil || !strings.Contains(err.Error(), "1 of 4") {
		t.Errorf("error %v, want one of four failed", err)
	}
	if !strings.Contains(logs.String(), ids[1]) {
		t.Errorf("the failed person's id was not logged:\n%s", logs.String())
	}
}

// Between full passes, only people referred or imported lately are
// checked: at 100,000 people a full pass every ten minutes would keep a
// core busy.
func TestReconcileSinceChecksOnlyTheRecent(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	insert := func(nhs string, referred, imported string) string {
		id := uuid.NewString()
		_, err := st.Pool.Exec(ctx, `INSERT INTO people (id, nhs_number, status, given_name, family_name, date_of_birth,
			consent_basis, consent_recorded_on, consent_recorded_by, referred_at, imported_at, import_key)
			VALUES ($1::uuid, $2, 'referred', 'A', 'B', '1990-01-01', 'informed_consent', '2026-01-01', 'x', now() - $3::interval, now() - $4::interval, $1::text)`,
			id, nhs, referred, imported)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := insert("2000000001", "2 days", "2 days")
	recent := insert("2000000002", "1 minute", "2 days")
	reimported := insert("2000000003", "30 days", "5 minutes")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	checked := func(since time.Time) map[string]bool {
		got := map[string]bool{}
		if _, err := reconcile(ctx, st, logger, since, func(_ context.Context, id string) error { got[id] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := checked(time.Now().Add(-time.Hour)); len(got) != 2 || !got[recent] || !got[reimported] {
		t.Errorf("recent pass checked %v; want only %s and %s", got, recent, reimported)
	}
	if got := checked(time.Time{}); len(got) != 3 || !got[old] {
		t.Errorf("full pass checked %v; want all three", got)
	}
}

// A pass skips the people whose workflows visibility lists as running, or
// Temporal describes as running when visibility lags, and starts only the
// rest: at 100,000 people a no-op start for everyone kept a core busy for
// minutes.
func TestReconcileSkipsTheRunning(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	c := testenv.Temporal(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, insertReferred(t, st, fmt.Sprintf("%010d", 3000+i)))
	}
	// Two run already (no worker here: their first tasks wait, and
	// visibility lists them as running).
	for _, id := range ids[:2] {
		if err := starter.StartPerson(ctx, c, id); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	var running map[string]bool
	for {
		var err error
		if running, err = runningPeople(ctx, c, time.Time{}, listBackoff); err != nil {
			t.Fatal(err)
		}
		if running[workflows.WorkflowID(ids[0])] && running[workflows.WorkflowID(ids[1])] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("visibility never listed the two running workflows")
		}
		time.Sleep(200 * time.Millisecond)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var started []string
	pass := unlessRunning(c, rate.NewLimiter(rate.Inf, 1), running, func(_ context.Context, id string) error {
		started = append(started, id)
		return nil
	})
	// One starts after the pass listed the running: visibility does not
	// list it, but it runs, and the pass must not try to start it.
	if err := starter.StartPerson(ctx, c, ids[3]); err != nil {
		t.Fatal(err)
	}
	n, err := reconcile(ctx, st, logger, time.Time{}, pass)
	if err != nil || n != 4 {
		t.Fatalf("reconcile: %d, %v", n, err)
	}
	if len(started) != 1 || started[0] != ids[2] {
		t.Errorf("started %v; want only %s, the one not running", started, ids[2])
	}
}

// slowVisibility is a real client whose first few lists fail as a list
// does when visibility is busy with an import's writes (a deadline
// exceeded); it counts every list.
type slowVisibility struct {
	client.Client
	failFirst int
	lists     atomic.Int32
	describes atomic.Int32
}

func (s *slowVisibility) DescribeWorkflowExecution(ctx context.Context, id, run string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	s.describes.Add(1)
	return s.Client.DescribeWorkflowExecution(ctx, id, run)
}

func (s *slowVisibility) ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if int(s.lists.Add(1)) <= s.failFirst {
		return nil, fmt.Errorf("list: %w", context.DeadlineExceeded)
	}
	return s.Client.ListWorkflow(ctx, req)
}

// A page of the running list that times out is asked for again before a
// pass gives up on the list: at 100,000 people one slow page made a pass
// describe 50,000 people during the import that made it slow. Only after
// listTries failures does the list fail.
func TestRunningListTriesAgain(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	c := testenv.Temporal(t)
	id := insertReferred(t, st, "0000003100")
	if err := starter.StartPerson(ctx, c, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		running, err := runningPeople(ctx, c, time.Time{}, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if running[workflows.WorkflowID(id)] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("visibility never listed the running workflow")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A pass over the recent lists only the workflows started since.
	for _, tc := range []struct {
		since  time.Time
		listed bool
	}{{time.Now().Add(-time.Hour), true}, {time.Now().Add(2 * time.Minute), false}} {
		running, err := runningPeople(ctx, c, tc.since, time.Millisecond)
		if err != nil || running[workflows.WorkflowID(id)] != tc.listed {
			t.Errorf("since %v: listed %v, err %v; want listed %v", tc.since, running[workflows.WorkflowID(id)], err, tc.listed)
		}
	}
	for _, tc := range []struct {
		name      string
		failFirst int
		wantErr   bool
	}{
		{"answers at once", 0, false},
		{"answers after one timeout", 1, false},
		{"answers at the last try", listTries - 1, false},
		{"never answers", listTries, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow := &slowVisibility{Client: c, failFirst: tc.failFirst}
			running, err := runningPeople(ctx, slow, time.Time{}, time.Millisecond)
			if tc.wantErr {
				if err == nil || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v; want the last try's deadline exceeded", err)
				}
			} else if err != nil || !running[workflows.WorkflowID(id)] {
				t.Fatalf("running = %v, err = %v; want the running workflow listed", running, err)
			}
			if got, want := int(slow.lists.Load()), min(tc.failFirst+1, listTries); got != want {
				t.Errorf("%d lists; want %d", got, want)
			}
		})
	}
}

// When visibility cannot list, a pass checks no one and leaves its people
// to the next (during a 100,000-row import one such pass described 55,663
// people, reads that slowed the import that made visibility slow); only
// the last resort describes everyone and starts whoever has no workflow.
func TestPassWaitsForVisibility(t *testing.T) {
	ctx := context.Background()
	st := testenv.DB(t)
	c := testenv.Temporal(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	running := insertReferred(t, st, "0000003200")
	missing := insertReferred(t, st, "0000003300")
	if err := starter.StartPerson(ctx, c, running); err != nil {
		t.Fatal(err)
	}
	status := func(id string) enumspb.WorkflowExecutionStatus {
		d, err := c.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
		if err != nil {
			return enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
		}
		return d.GetWorkflowExecutionInfo().GetStatus()
	}

	for _, since := range []time.Time{time.Now().Add(-time.Hour), {}} {
		slow := &slowVisibility{Client: c, failFirst: 1 << 30}
		n, listed, err := reconcileSince(ctx, slow, st, logger, since, time.Millisecond, false)
		if err == nil || listed || n != 0 {
			t.Errorf("pass since %v: %d checked, listed %v, err %v; want none checked and the list's error", since, n, listed, err)
		}
		if d := slow.describes.Load(); d != 0 {
			t.Errorf("pass since %v described %d people; want none", since, d)
		}
		if s := status(missing); s != enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
			t.Errorf("pass since %v: the missing workflow is %v; want it left to the next pass", since, s)
		}
	}

	slow := &slowVisibility{Client: c, failFirst: 1 << 30}
	n, listed, err := reconcileSince(ctx, slow, st, logger, time.Time{}, time.Millisecond, true)
	if err != nil || listed || n != 2 {
		t.Fatalf("last resort: %d checked, listed %v, err %v; want both checked, unlisted", n, listed, err)
	}
	if d := slow.describes.Load(); d != 2 {
		t.Errorf("last resort described %d people; want both", d)
	}
	if s := status(missing); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("last resort: the missing workflow is %v; want it started", s)
	}
}

// The passes: full at start and hourly, the recent in between; a full pass
// describes everyone only when the one before it could not list either.
func TestPassSchedule(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	type pass struct {
		at         time.Duration // after t0
		listed     bool
		full       bool // want
		lastResort bool // want
	}
	for _, tc := range []struct {
		name   string
		passes []pass
	}{
		{"visibility lists", []pass{
			{0, true, true, false},
			{10 * time.Minute, true, false, false},
			{50 * time.Minute, true, false, false},
			{60 * time.Minute, true, true, false},
			{70 * time.Minute, true, false, false},
		}},
		{"describing everyone waits for a second full pass that cannot list", []pass{
			{0, true, true, false},
			{10 * time.Minute, false, false, false},
			{60 * time.Minute, false, true, false},
			{70 * time.Minute, false, false, false},
			{120 * time.Minute, false, true, true},
			{130 * time.Minute, false, false, false},
			{180 * time.Minute, false, true, false},
			{240 * time.Minute, true, true, true},
			{300 * time.Minute, true, true, false},
			{310 * time.Minute, true, false, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s passSchedule
			for i, p := range tc.passes {
				now := t0.Add(p.at)
				since, lastResort := s.next(now)
				if full := since.IsZero(); full != p.full || lastResort != p.lastResort {
					t.Fatalf("pass %d at +%v: full %v, last resort %v; want %v, %v", i, p.at, full, lastResort, p.full, p.lastResort)
				}
				s.done(now, since.IsZero(), p.listed || lastResort)
			}
		})
	}
}
