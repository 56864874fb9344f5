package e2e

// The notice guarantee (issue 10): every reminder and escalation reaches
// the right people exactly once, through refused addresses, slow and
// uncertain writes, continue-as-new, a database restart and the loss of
// Temporal's state. Every count here is of what reached the SMTP server.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/tclient"
	"github.com/bsw-dsr/dsr/workflows"
)

// wantOnce fails unless each of the addresses got exactly one copy of the
// kind of notice about the person, and nobody else got any.
func (s *stack) wantOnce(kind, person string, to ...string) {
	s.t.Helper()
	got := s.copies(kind, person)
	for _, a := range to {
		if got[a] != 1 {
			s.t.Errorf("%s reached %s %d times, want once", kind, a, got[a])
		}
		delete(got, a)
	}
	for a, n := range got {
		s.t.Errorf("%s reached %s %d times, want never", kind, a, n)
	}
}

// schedule asks the person's workflow for its schedule.
func (s *stack) schedule(id string) workflows.Schedule {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := s.client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QuerySchedule)
	if err != nil {
		s.t.Fatalf("query schedule: %v", err)
	}
	var sc workflows.Schedule
	if err := v.Get(&sc); err != nil {
		s.t.Fatal(err)
	}
	return sc
}

// notifications counts, by notice key, the Notify activities the person's
// workflow scheduled (across its runs): each notice should be planned once.
func (s *stack) notifications(id string) map[string]int {
	s.t.Helper()
	c, err := codec.New(s.cfg.PayloadKey)
	if err != nil {
		s.t.Fatal(err)
	}
	dc := codec.DataConverter(c)
	n := map[string]int{}
	ctx := context.Background()
	runID := ""
	for {
		it := s.client.GetWorkflowHistory(ctx, workflows.WorkflowID(id), runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		next := ""
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				s.t.Fatal(err)
			}
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == workflows.ActivityNotify {
				var person string
				var notice register.Notice
				if err := dc.FromPayloads(a.GetInput(), &person, &notice); err != nil {
					s.t.Fatal(err)
				}
				n[notice.Key(person)]++
			}
			if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		if next == "" {
			return n
		}
		runID = next
	}
}

// rung reads one notice's outbox row: its status and how often it was
// claimed.
func (s *stack) rung(id string, kind register.NoticeKind, occasion string, level int) (status string, attempts int) {
	s.t.Helper()
	key := register.Notice{Kind: kind, Occasion: occasion, Level: level}.Key(id)
	err := s.store.Pool.QueryRow(context.Background(), `SELECT status, attempts FROM notices WHERE key = $1`, key).Scan(&status, &attempts)
	if err != nil {
		s.t.Fatalf("notice %s: %v", key, err)
	}
	return status, attempts
}

// waitSent waits until the notice's outbox row says sent: every copy has
// been accepted or refused.
func (s *stack) waitSent(id string, kind register.NoticeKind, occasion string, level int, within time.Duration) {
	s.t.Helper()
	key := register.Notice{Kind: kind, Occasion: occasion, Level: level}.Key(id)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var status string
		err := s.store.Pool.QueryRow(context.Background(), `SELECT status FROM notices WHERE key = $1`, key).Scan(&status)
		if err == nil && status == "sent" {
			return
		}
	}
	s.t.Fatalf("%s not sent within %s", key, within)
}

// TestRefusedAddressStopsNoOneElse: one of three recipients is refused for
// good (550 at RCPT TO). The other two get the notice once, the
// coordinators are told which address failed, the record shows it, and the
// ladder goes on.
func TestRefusedAddressStopsNoOneElse(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	s.smtp.RefuseAddress("nurse@example.org")
	id := s.referAndAccept("943 476 5919")

	s.waitMail("review-due", id, 20*time.Second)
	failed := s.waitMail("delivery-failed", id, 20*time.Second)
	s.waitMail("review-overdue", id, 20*time.Second)
	time.Sleep(2 * time.Second)

	s.wantOnce("review-due", id, "sw@example.org", "coord@example.org")
	s.wantOnce("review-overdue", id, "sw@example.org", "coord@example.org")
	// One delivery-failed per undelivered notice, to the coordinators only.
	if got := s.copies("delivery-failed", id)["coord@example.org"]; got != 2 {
		t.Errorf("coordinator got %d delivery-failed notices, want 2 (review-due, review-overdue)", got)
	}
	if n := len(s.copies("delivery-failed", id)); n != 1 {
		t.Errorf("delivery-failed went to %d addresses, want the coordinator alone", n)
	}
	text := failed.Text()
	if !strings.Contains(text, "nurse@example.org") || !strings.Contains(text, "review-due") {
		t.Errorf("delivery-failed does not name the address and the notice:\n%s", text)
	}
	checkMessage(t, failed, id)

	var p struct {
		Notices []register.NoticeSummary `json:"notices"`
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	seen := false
	for _, n := range p.Notices {
		if n.Kind == register.ReviewDue {
			seen = true
			if n.Status != "sent" || strings.Join(n.Undelivered, ",") != "nurse@example.org" {
				t.Errorf("record shows review-due %s, undelivered %v", n.Status, n.Undelivered)
			}
		}
	}
	if !seen {
		t.Error("the record shows no review-due notice")
	}
	// The run can still continue as new or close: nothing is pending.
	if sc := s.schedule(id); sc.Status != register.Active || len(sc.Pending) == 0 || sc.Pending[0].Kind != register.ReviewEscalated {
		t.Errorf("schedule after the refusals: %+v", sc)
	}
}

// TestTimerDuringSlowPersist: a rung falls due while a change is being
// written (the person's row is locked). The change must not undo the
// loop's progress, or the rung would be planned and sent again; and while
// the first send is still going (a slow mail server), a second claim must
// not send alongside it.
func TestTimerDuringSlowPersist(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	id := s.referAndAccept("401 023 2137")
	sc := s.schedule(id)
	due := *sc.NextReviewDue
	reminder := due.Add(-fast().ReminderLead)
	s.smtp.SetDelay(3 * time.Second)

	// Lock the row from just before the reminder until well after it.
	time.Sleep(time.Until(reminder.Add(-1500 * time.Millisecond)))
	ctx := context.Background()
	tx, err := s.store.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM people WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		done <- s.do("coord@example.org", "POST", "/people/"+id+"/actions",
			map[string]any{"description": "Book respite", "owner_email": "sw@example.org", "due": time.Now().Add(time.Hour).Format(time.RFC3339)}, nil)
	}()
	time.Sleep(time.Until(reminder.Add(1500 * time.Millisecond)))
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("adding the action: %d", code)
	}
	occasion := due.UTC().Format(time.RFC3339)
	s.waitSent(id, register.ReviewOverdue, occasion, 0, 40*time.Second)
	s.wantOnce("review-due", id, "sw@example.org", "nurse@example.org", "coord@example.org")
	s.wantOnce("review-overdue", id, "sw@example.org", "nurse@example.org", "coord@example.org")
	// Planned once, claimed once.
	key := register.Notice{Kind: register.ReviewDue, Occasion: due.UTC().Format(time.RFC3339)}.Key(id)
	if n := s.notifications(id)[key]; n != 1 {
		t.Errorf("review-due planned %d times, want once", n)
	}
	if status, attempts := s.rung(id, register.ReviewDue, due.UTC().Format(time.RFC3339), 0); status != "sent" || attempts != 1 {
		t.Errorf("review-due %s after %d claims, want sent after 1", status, attempts)
	}
}

// lockPerson holds the person's row locked until the returned func is
// called: a write to the record waits.
func (s *stack) lockPerson(id string) (release func()) {
	s.t.Helper()
	ctx := context.Background()
	tx, err := s.store.Pool.Begin(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM people WHERE id = $1 FOR UPDATE`, id); err != nil {
		s.t.Fatal(err)
	}
	var once sync.Once
	return func() { once.Do(func() { tx.Rollback(ctx) }) }
}

// doKeyed is do with an Idempotency-Key. It is safe from other goroutines:
// a failure to send is reported as status 0.
func (s *stack) doKeyed(email, method, path, key string, body any, out any) int {
	b, err := json.Marshal(body)
	if err != nil {
		s.t.Error(err)
		return 0
	}
	req, err := http.NewRequest(method, s.api.URL+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		s.t.Error(err)
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens[email])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Errorf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// TestPersistTimeoutNothingWritten: the write cannot finish in time (the
// row is locked past the bound). The caller hears 503 and nothing changed,
// in PostgreSQL and in the workflow alike. A retry with the same key and
// body then makes the change; another retry is answered as the first
// success was, without a second change; the same key with another body is
// refused.
func TestPersistTimeoutNothingWritten(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, fast(), codec.GenerateKey(), stackOptions{PersistWithin: 2 * time.Second})
	id := s.referAndAcceptAs("450 557 7104", "amber")
	release := s.lockPerson(id)
	body := map[string]any{"rag": "red", "reason": "placement breaking down"}
	code := s.doKeyed("coord@example.org", "PUT", "/people/"+id+"/rag", "k-1", body, nil)
	release()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("change while the row was locked: %d, want 503", code)
	}
	var p personView
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	if p.Rating != "amber" || s.schedule(id).Rating != register.Amber {
		t.Fatalf("after a refused write: record %s, workflow %s; want amber in both", p.Rating, s.schedule(id).Rating)
	}

	var first, again workflows.Result
	if code := s.doKeyed("coord@example.org", "PUT", "/people/"+id+"/rag", "k-1", body, &first); code != http.StatusOK {
		t.Fatalf("retry with the same key: %d, want 200", code)
	}
	if code := s.doKeyed("coord@example.org", "PUT", "/people/"+id+"/rag", "k-1", body, &again); code != http.StatusOK {
		t.Fatalf("second retry: %d, want 200", code)
	}
	if first.Rating != register.Red || again.Rating != first.Rating || !again.NextReviewDue.Equal(*first.NextReviewDue) {
		t.Errorf("answers differ: %+v then %+v", first, again)
	}
	var changes int
	s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM rating_history WHERE person_id = $1 AND to_rating = 'red'`, id).Scan(&changes)
	if changes != 1 {
		t.Errorf("%d rating changes to red written, want 1", changes)
	}
	var refused struct {
		Fields map[string]string `json:"fields"`
	}
	other := map[string]any{"rag": "green", "reason": "settled"}
	if code := s.doKeyed("coord@example.org", "PUT", "/people/"+id+"/rag", "k-1", other, &refused); code != http.StatusUnprocessableEntity || refused.Fields["Idempotency-Key"] == "" {
		t.Errorf("same key, other body: %d %v, want 422 naming Idempotency-Key", code, refused.Fields)
	}
	if s.schedule(id).Rating != register.Red {
		t.Error("the refused body changed the workflow")
	}
}

// TestLateCommitIsAdopted: the write commits only after the workflow has
// stopped waiting for it (a commit that takes longer than the bound). The
// workflow asks PostgreSQL, finds the change written, and adopts it: the
// caller hears success, and the record and the schedule agree.
func TestLateCommitIsAdopted(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, fast(), codec.GenerateKey(), stackOptions{PersistWithin: 2 * time.Second})
	id := s.referAndAcceptAs(nhsNumber(9101), "amber")
	// A deferred trigger makes the commit itself take 4 s, and shrugs off
	// the cancel the timed-out attempt sends.
	_, err := s.store.Pool.Exec(context.Background(), `
		CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE until timestamptz := clock_timestamp() + interval '4 seconds';
		BEGIN
			WHILE clock_timestamp() < until LOOP
				BEGIN PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END;
			END LOOP;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON rating_history
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.Result
	code := s.doKeyed("coord@example.org", "PUT", "/people/"+id+"/rag", "late-1", map[string]any{"rag": "red", "reason": "crisis"}, &res)
	if code != http.StatusOK || res.Rating != register.Red {
		t.Fatalf("change whose commit was late: %d %+v, want 200 red", code, res)
	}
	var p personView
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	sc := s.schedule(id)
	// (PostgreSQL keeps microseconds.)
	if p.Rating != "red" || sc.Rating != register.Red || !p.NextReviewDue.Equal(sc.NextReviewDue.Truncate(time.Microsecond)) {
		t.Errorf("record %s due %v, workflow %s due %v: they disagree", p.Rating, p.NextReviewDue, sc.Rating, sc.NextReviewDue)
	}
}

// TestKeyScopedToPersonAndOperation: one Idempotency-Key used for two
// people, and for two operations on one person, is four changes, each
// written; none is answered from another's result.
func TestKeyScopedToPersonAndOperation(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	a := s.referAndAcceptAs("943 476 5919", "amber")
	b := s.referAndAcceptAs("401 023 2137", "amber")
	for _, id := range []string{a, b} {
		if code := s.doKeyed("coord@example.org", "PUT", "/people/"+id+"/rag", "same", map[string]any{"rag": "red", "reason": "crisis"}, nil); code != http.StatusOK {
			t.Fatalf("rating change on %s: %d", id, code)
		}
		if code := s.doKeyed("coord@example.org", "POST", "/people/"+id+"/actions", "same",
			map[string]any{"description": "Book respite", "owner_email": "sw@example.org", "due": time.Now().Add(48 * time.Hour).Format(time.RFC3339)}, nil); code != http.StatusCreated {
			t.Fatalf("action on %s: %d", id, code)
		}
	}
	// NUL cannot be stored: refused by the validator (422), never a failed
	// write (503), and nothing changes.
	var refused struct {
		Fields map[string]string `json:"fields"`
	}
	if code := s.doKeyed("coord@example.org", "POST", "/people/"+a+"/discharge", "nul", map[string]any{"reason": "moved\x00away"}, &refused); code != http.StatusUnprocessableEntity || refused.Fields["reason"] == "" {
		t.Errorf("a reason with NUL: %d %v, want 422 naming reason", code, refused.Fields)
	}
	for _, id := range []string{a, b} {
		var p personView
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
		if p.Rating != "red" || len(p.Actions) != 1 {
			t.Errorf("%s: rating %s with %d actions, want red with 1", id, p.Rating, len(p.Actions))
		}
		if sc := s.schedule(id); sc.Rating != register.Red || sc.OpenActions != 1 {
			t.Errorf("%s: workflow %s with %d actions", id, sc.Rating, sc.OpenActions)
		}
	}
}

// TestUpdateDuringContinueAsNew: the workflow continues as new after every
// wake while changes pour in; every change is written once and carried
// into the new run.
func TestUpdateDuringContinueAsNew(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	id := s.referAndAcceptAs("450 557 7104", "green")
	ctx := context.Background()
	// Restart the person's workflow so that it continues as new at every wake.
	if err := s.client.TerminateWorkflow(ctx, workflows.WorkflowID(id), "", "test: continue as new at every wake"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(id), TaskQueue: starter.TaskQueue},
		workflows.PersonWorkflowName, workflows.Input{PersonID: id, ContinueAfter: 1}); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	codes := make([]int, n)
	answers := make([]map[string]any, n)
	for i := range n {
		wg.Go(func() {
			codes[i] = s.doKeyed("coord@example.org", "POST", "/people/"+id+"/actions", fmt.Sprintf("action-%d", i),
				map[string]any{"description": "Action", "owner_email": "sw@example.org", "due": time.Now().Add(time.Hour).Format(time.RFC3339)}, &answers[i])
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Errorf("action %d: %d %v", i, c, answers[i])
		}
	}
	var p personView
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	if len(p.Actions) != n {
		t.Errorf("%d actions written, want %d", len(p.Actions), n)
	}
	if sc := s.schedule(id); sc.OpenActions != n {
		t.Errorf("the workflow tracks %d actions, want %d", sc.OpenActions, n)
	}
	d, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
	if err != nil {
		t.Fatal(err)
	}
	if first := d.WorkflowExecutionInfo.GetFirstRunId(); first == d.WorkflowExecutionInfo.GetExecution().GetRunId() {
		t.Error("the workflow never continued as new")
	}
}

// TestDatabaseRestartMidLadder: PostgreSQL stops for 15 s in the middle of
// a ladder. Reads and /readyz answer 503 (never 500) meanwhile; afterwards
// every rung arrives, once.
func TestDatabaseRestartMidLadder(t *testing.T) {
	t.Parallel()
	pg := testenv.Cluster(t)
	s := newStackWith(t, fast(), codec.GenerateKey(), stackOptions{DatabaseURL: pg.URL()})
	id := s.referAndAccept(nhsNumber(9102))
	due := *s.schedule(id).NextReviewDue
	s.waitSent(id, register.ReviewDue, due.UTC().Format(time.RFC3339), 0, 20*time.Second)
	port, dir := pg.Port(), pg.Dir()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	if code := s.do("coord@example.org", "GET", "/people/"+id, nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("a read with the database down: %d, want 503", code)
	}
	resp, err := http.Get(s.api.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d, want 503", resp.StatusCode)
	}
	time.Sleep(time.Until(down.Add(15 * time.Second)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg2, err := devstack.StartPostgresWith(ctx, devstack.PostgresOptions{Dir: dir, Port: port, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg2.Stop() })
	// Each notice's retries back off (up to a minute apart) while the
	// database is down, so they come within a minute or so of its return.
	occasion := due.UTC().Format(time.RFC3339)
	s.waitSent(id, register.ReviewOverdue, occasion, 0, 2*time.Minute)
	for l := 1; l <= 3; l++ {
		s.waitSent(id, register.ReviewEscalated, occasion, l, 2*time.Minute)
	}
	s.wantOnce("review-due", id, "sw@example.org", "nurse@example.org", "coord@example.org")
	s.wantOnce("review-overdue", id, "sw@example.org", "nurse@example.org", "coord@example.org")
	if got := s.copies("review-escalated", id); got["mgr@example.org"] != 3 || got["coord@example.org"] != 3 || len(got) != 2 {
		t.Errorf("review-escalated copies %v, want 3 each to the manager and the coordinator", got)
	}
	if code := s.do("coord@example.org", "GET", "/people/"+id, nil, nil); code != http.StatusOK {
		t.Errorf("a read after the restart: %d", code)
	}
}

// TestTemporalStateLost: Temporal's state is lost (a new, empty server)
// while a notice is claimed but not yet sent. The worker rebuilds the
// workflow from PostgreSQL: what was sent is not sent again; what was not
// confirmed, and what follows, arrives once.
func TestTemporalStateLost(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	id := s.referAndAccept("943 476 5919")
	due := *s.schedule(id).NextReviewDue
	s.waitSent(id, register.ReviewDue, due.UTC().Format(time.RFC3339), 0, 20*time.Second)
	// The overdue notice is claimed while the mail server refuses it (451).
	s.smtp.SetRefuse(true)
	time.Sleep(time.Until(due.Add(time.Second)))
	if status, _ := s.rung(id, register.ReviewOverdue, due.UTC().Format(time.RFC3339), 0); status != "sending" {
		t.Fatalf("review-overdue is %s, want sending", status)
	}
	s.stopWorkerNow()
	s.temporal.Stop()
	var err error
	if s.temporal, err = devstack.StartTemporal(devstack.TemporalOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.temporal.Stop() })
	if s.client, err = tclient.Dial(context.Background(), tclient.Options{HostPort: s.temporal.Address(), PayloadKey: s.cfg.PayloadKey, Logger: s.logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.Close)
	s.smtp.SetRefuse(false)
	s.startWorker() // reconciles at start: the workflow is rebuilt
	s.waitMail("review-overdue", id, 30*time.Second)
	s.waitNth("review-escalated", id, 3, time.Minute)
	time.Sleep(2 * time.Second)
	s.wantOnce("review-due", id, "sw@example.org", "nurse@example.org", "coord@example.org")
	s.wantOnce("review-overdue", id, "sw@example.org", "nurse@example.org", "coord@example.org")
	if got := s.copies("review-escalated", id); got["mgr@example.org"] != 3 || got["coord@example.org"] != 3 || len(got) != 2 {
		t.Errorf("review-escalated copies %v, want 3 each to the manager and the coordinator", got)
	}
}
