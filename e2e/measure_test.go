package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestYearHistoryBound measures, on the real server, the history of one
// person over a compressed year (a day lasts 60 ms): a green person with
// four reviews and fifty actions, each left to climb the whole ladder. The
// current run's history stays within the continue-as-new bound (plus one
// wake's events), whatever a year brings; -v prints the numbers.
func TestYearHistoryBound(t *testing.T) {
	t.Parallel()
	const d = 60 * time.Millisecond // one day
	s := newStack(t, register.Timing{
		ReviewEvery:    map[register.Rating]time.Duration{register.Red: 7 * d, register.Amber: 28 * d, register.Green: 91 * d, register.Blue: 28 * d},
		ReminderLead:   3 * d,
		EscalateAfter:  2 * d,
		MaxEscalations: 3,
		TriageWithin:   5 * d,
	})
	id := s.referAndAcceptAs("266 824 8159", "green")
	start := time.Now()
	at := func(days int) { time.Sleep(time.Until(start.Add(time.Duration(days) * d))) }
	reviews := map[int]bool{89: true, 178: true, 267: true, 356: true}
	actions := 0
	for day := 1; day <= 365; day++ {
		at(day)
		if reviews[day] {
			s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/reviews", map[string]any{"rag": "green"}, nil)
		}
		if day%7 == 0 && actions < 50 {
			s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/actions", map[string]any{
				"description": "action", "owner_email": "sw@example.org", "due": time.Now().Add(10 * d).UTC().Format(time.RFC3339Nano)}, nil)
			actions++
		}
	}
	q, err := s.client.QueryWorkflowWithOptions(context.Background(), &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: workflows.WorkflowID(id), QueryType: workflows.QuerySchedule})
	if err != nil {
		t.Fatal(err)
	}
	var sched workflows.Schedule
	if err := q.QueryResult.Get(&sched); err != nil {
		t.Fatal(err)
	}
	var notices int
	if err := s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM notices WHERE person_id = $1 AND status = 'sent'`, id).Scan(&notices); err != nil {
		t.Fatal(err)
	}
	t.Logf("compressed year: %d actions, %d notices sent, history length of the current run %d events", actions, notices, sched.HistoryLength)
	if sched.HistoryLength == 0 || sched.HistoryLength > workflows.MaxHistory+100 {
		t.Errorf("history length %d, want 1..%d", sched.HistoryLength, workflows.MaxHistory+100)
	}
	// Every action's reminder and every review's at least (the last
	// actions' ladders run on past the year's end).
	if actions != 50 || notices < 1+4+50 {
		t.Errorf("%d actions and %d notices sent, want 50 and at least %d", actions, notices, 1+4+50)
	}
}
