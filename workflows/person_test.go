package workflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

const day = 24 * time.Hour

func timing() register.Timing {
	return register.Timing{
		ReviewEvery:      map[register.Rating]time.Duration{register.Red: 7 * day, register.Amber: 28 * day, register.Green: 91 * day, register.Blue: 28 * day},
		ReminderLead:     3 * day,
		EscalateAfter:    2 * day,
		MaxEscalations:   3,
		TriageWithin:     5 * day,
		RedAfterHospital: 14 * day,
	}
}

// fakeRecord stands in for PostgreSQL and SMTP in the workflow unit tests:
// it records what the activities were asked to do and when. The real
// activities are tested end to end against real servers.
type fakeRecord struct {
	mu      sync.Mutex
	env     *testsuite.TestWorkflowEnvironment
	start   time.Time
	state   register.State
	changes []register.Change
	sent    []string // "kind#level@offset"
	skipped []string
	keys    map[string]bool
	// clocks is what LoadClocks answers; loadedClocks counts its calls.
	clocks       register.ClockFacts
	loadedClocks int
}

func (f *fakeRecord) LoadClocks(_ context.Context, _ string) (register.ClockFacts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadedClocks++
	return f.clocks, nil
}

func (f *fakeRecord) offset() time.Duration { return f.env.Now().Sub(f.start).Round(time.Minute) }

func (f *fakeRecord) LoadState(_ context.Context, id string) (register.State, error) {
	st := f.state
	st.PersonID = id
	return st, nil
}

func (f *fakeRecord) Persist(_ context.Context, c register.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, c)
	return nil
}

func label(n register.Notice) string {
	if n.Level > 0 {
		return fmt.Sprintf("%s#%d", n.Kind, n.Level)
	}
	return string(n.Kind)
}

// Notify records every notice it is asked to send, a repeat included: the
// workflow must not plan one twice, and a repeat shows in wantSent. (The
// outbox's once-only guarantee is tested against PostgreSQL and SMTP in
// e2e, where a repeat is counted at the mail server.)
func (f *fakeRecord) Notify(_ context.Context, personID string, n register.Notice) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[n.Key(personID)] = true
	f.sent = append(f.sent, fmt.Sprintf("%s@%s", label(n), fmtOffset(f.offset())))
	return nil
}

func (f *fakeRecord) SkipNotices(_ context.Context, _ string, ns []register.Notice) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range ns {
		f.skipped = append(f.skipped, label(n))
	}
	return nil
}

func fmtOffset(d time.Duration) string {
	days := d / day
	rest := d % day
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, rest)
}

func newEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	return s.NewTestWorkflowEnvironment()
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	rec *fakeRecord
	n   int
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, st register.State) *harness { return newHarnessTiming(t, st, timing()) }

func newHarnessTiming(t *testing.T, st register.State, tm register.Timing) *harness {
	env := newEnv()
	env.SetStartTime(t0)
	rec := &fakeRecord{env: env, start: t0, state: st, keys: map[string]bool{}}
	p := &Person{Timing: tm}
	env.RegisterWorkflowWithOptions(p.Run, workflow.RegisterOptions{Name: PersonWorkflowName})
	env.RegisterActivityWithOptions(rec.LoadState, activity.RegisterOptions{Name: ActivityLoadState})
	env.RegisterActivityWithOptions(rec.Persist, activity.RegisterOptions{Name: ActivityPersist})
	env.RegisterActivityWithOptions(rec.Notify, activity.RegisterOptions{Name: ActivityNotify})
	env.RegisterActivityWithOptions(rec.SkipNotices, activity.RegisterOptions{Name: ActivitySkip})
	env.RegisterActivityWithOptions(rec.LoadClocks, activity.RegisterOptions{Name: ActivityLoadClocks})
	return &harness{t: t, env: env, rec: rec}
}

func referred() register.State {
	return register.State{Status: register.Referred, ReferredAt: t0}
}

// update sends an update at offset; want is "" for success or a substring of
// the expected error.
func (h *harness) update(at time.Duration, name string, req any, want string) {
	h.n++
	id := fmt.Sprintf("u%d", h.n)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {
				if want != "" {
					h.t.Errorf("%s at %s accepted, want refusal %q", name, at, want)
				}
			},
			OnReject: func(err error) {
				if want == "" || !strings.Contains(errString(err), want) {
					h.t.Errorf("%s at %s rejected: %v (want %q)", name, at, err, want)
				}
			},
			OnComplete: func(_ any, err error) {
				if err != nil && (want == "" || !strings.Contains(errString(err), want)) {
					h.t.Errorf("%s at %s failed: %v", name, at, err)
				}
			},
		}, req)
	}, at)
}

func errString(err error) string {
	if d, ok := DomainError(err).(*register.Error); ok {
		var parts []string
		for k, v := range d.Fields {
			parts = append(parts, k+": "+v)
		}
		return d.Message + " " + strings.Join(parts, "; ")
	}
	return err.Error()
}

func (h *harness) run(in Input, until time.Duration) {
	h.env.SetTestTimeout(time.Minute)
	if until > 0 {
		h.env.RegisterDelayedCallback(func() { h.env.CancelWorkflow() }, until)
	}
	h.env.ExecuteWorkflow(PersonWorkflowName, in)
}

func (h *harness) wantSent(want ...string) {
	h.t.Helper()
	if got := strings.Join(h.rec.sent, " "); got != strings.Join(want, " ") {
		h.t.Errorf("sent:\n got  %s\n want %s", got, strings.Join(want, " "))
	}
}

var admin = register.Actor{UserID: "00000000-0000-0000-0000-000000000001", Role: "coordinator"}

func accept(r register.Rating) TriageRequest {
	return TriageRequest{Actor: admin, Decision: "accept", Rating: r}
}

func TestGreenPersonForAYear(t *testing.T) {
	h := newHarness(t, referred())
	h.update(time.Hour, UpdateTriage, accept(register.Green), "")
	// Reviews held a day or two before each is due, all year.
	for i, at := range []time.Duration{90 * day, 180 * day, 270 * day, 360 * day} {
		h.update(at, UpdateRecordReview, ReviewRequest{Actor: admin, Review: register.ReviewInput{
			ID: fmt.Sprintf("r%d", i), Rating: register.Green, Notes: "settled"}}, "")
	}
	h.run(Input{PersonID: "p1"}, 365*day)
	// Reviews fall on calendar days in London: offsets in UTC move by an
	// hour across the clock changes of March and October.
	h.wantSent("referral-received@0d",
		"review-due@88d", "review-due@178d", "review-due@268d", "review-due@358d1h0m0s")
	if len(h.rec.skipped) != 0 {
		t.Errorf("skipped %v", h.rec.skipped)
	}
	if got := len(h.rec.changes); got != 5 {
		t.Errorf("%d changes persisted, want 5", got)
	}
}

func TestRedMissedReviewEscalates(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Red), "")
	h.run(Input{PersonID: "p1"}, 60*day)
	h.wantSent("referral-received@0d", "review-due@4d", "review-overdue@7d",
		"review-escalated#1@9d", "review-escalated#2@11d", "review-escalated#3@13d")
}

func TestTriageOverdue(t *testing.T) {
	h := newHarness(t, referred())
	h.update(6*day, UpdateTriage, accept(register.Amber), "")
	h.run(Input{PersonID: "p1"}, 10*day)
	h.wantSent("referral-received@0d", "triage-overdue@5d")
}

func TestRatingChangeReplansAtOnce(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Green), "")
	h.update(10*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Red, Reason: "placement at risk"}, "")
	h.update(11*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Red, Reason: "again"}, "already red")
	h.run(Input{PersonID: "p1"}, 18*day)
	// Red is 7 days from the last review (day 0), already past at day 10, so
	// the review falls 7 days after the change.
	h.wantSent("referral-received@0d", "rag-changed@10d", "review-due@14d", "review-overdue@17d")
}

func TestDischargeEndsWorkflow(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Amber), "")
	h.update(2*day, UpdateDischarge, DischargeRequest{Actor: admin, Reason: "moved out of area"}, "")
	h.run(Input{PersonID: "p1"}, 0)
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	h.wantSent("referral-received@0d")
	last := h.rec.changes[len(h.rec.changes)-1]
	if last.Kind != register.ChangeDischarge || last.Status != register.Discharged || !last.NextReviewDue.IsZero() {
		t.Errorf("last change %+v", last)
	}
}

func TestDeclineNotifiesReferrerAndEnds(t *testing.T) {
	h := newHarness(t, referred())
	h.update(day, UpdateTriage, TriageRequest{Actor: admin, Decision: "decline"}, "reason: is required")
	h.update(2*day, UpdateTriage, TriageRequest{Actor: admin, Decision: "decline", Reason: "criteria not met"}, "")
	h.run(Input{PersonID: "p1"}, 0)
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	h.wantSent("referral-received@0d", "referral-declined@2d")
	if len(h.rec.changes) != 1 {
		t.Errorf("changes %+v", h.rec.changes)
	}
}

func TestBadUpdatesChangeNothing(t *testing.T) {
	h := newHarness(t, referred())
	h.update(time.Hour, UpdateRecordReview, ReviewRequest{Actor: admin, Review: register.ReviewInput{ID: "r", Rating: register.Red}}, "not active")
	h.update(2*time.Hour, UpdateTriage, TriageRequest{Actor: admin, Decision: "accept", Rating: "purple"}, "rag")
	h.update(3*time.Hour, UpdateTriage, TriageRequest{Actor: admin, Decision: "maybe"}, "decision")
	h.update(4*time.Hour, UpdateTriage, accept(register.Amber), "")
	h.update(5*time.Hour, UpdateTriage, accept(register.Red), "already been decided")
	h.update(6*time.Hour, UpdateRecordReview, ReviewRequest{Actor: admin, Review: register.ReviewInput{ID: "r", Rating: register.Amber,
		HeldAt: t0.Add(10 * day)}}, "held_at: must not be in the future")
	h.update(7*time.Hour, UpdateRecordReview, ReviewRequest{Actor: admin, Review: register.ReviewInput{ID: "r", Rating: register.Amber,
		HeldAt: t0.Add(-day)}}, "before the previous review")
	h.update(8*time.Hour, UpdateAddActions, ActionsRequest{Actor: admin, Actions: []register.NewAction{
		{ID: "a1", Description: " ", OwnerEmail: "not-an-email", Due: t0}}}, "actions[0].")
	h.update(9*time.Hour, UpdateCloseAction, CloseActionRequest{Actor: admin, ActionID: "nope", Outcome: "done"}, "no open action")
	h.update(10*time.Hour, UpdateProfessionals, ProfessionalsRequest{Actor: admin}, "at least one professional")
	h.update(11*time.Hour, UpdateDischarge, DischargeRequest{Actor: admin}, "reason: is required")
	// PostgreSQL cannot store NUL: refused here, never a failed write.
	h.update(12*time.Hour, UpdateDischarge, DischargeRequest{Actor: admin, Reason: "moved\x00away"}, "reason: must not contain a NUL")
	h.update(13*time.Hour, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Red, Reason: "worse\x00"}, "reason: must not contain a NUL")
	h.run(Input{PersonID: "p1"}, 2*day)
	if len(h.rec.changes) != 1 || h.rec.changes[0].Kind != register.ChangeAccept {
		t.Errorf("changes persisted: %+v", h.rec.changes)
	}
}

func TestHospitalRules(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Blue), "")
	h.update(day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Green, Reason: "discharged home"}, "returns to the register as red")
	h.update(2*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Red, Reason: "discharged home"}, "")
	h.update(3*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Amber, Reason: "settled"}, "stays red until")
	h.update(17*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Amber, Reason: "settled"}, "")
	h.run(Input{PersonID: "p1"}, 18*day)
}

func TestActionsEscalateIndependently(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Green), "")
	h.update(day, UpdateAddActions, ActionsRequest{Actor: admin, Actions: []register.NewAction{
		{ID: "a", Description: "book CETR", OwnerEmail: "sw@example.org", Due: t0.Add(10 * day)},
		{ID: "b", Description: "respite referral", OwnerEmail: "nurse@example.org", Due: t0.Add(20 * day)},
		{ID: "c", Description: "housing", OwnerEmail: "sw@example.org", Due: t0.Add(30 * day)},
	}}, "")
	h.update(21*day, UpdateCloseAction, CloseActionRequest{Actor: admin, ActionID: "b", Outcome: "respite agreed"}, "")
	h.update(31*day, UpdateCloseAction, CloseActionRequest{Actor: admin, ActionID: "c", Cancel: true, Outcome: "no longer needed"}, "")
	h.run(Input{PersonID: "p1"}, 60*day)
	h.wantSent("referral-received@0d",
		"action-due@7d", "action-overdue@10d", "action-escalated#1@12d", "action-escalated#2@14d", "action-escalated#3@16d",
		"action-due@17d", "action-overdue@20d",
		"action-due@27d", "action-overdue@30d")
}

// TestContinueAsNewCarriesState runs a red person whose review is missed,
// continuing as new after every wake, and follows each run into the next:
// the ladder goes on with no rung lost and none sent twice.
func TestContinueAsNewCarriesState(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Red), "")
	h.run(Input{PersonID: "p1", ContinueAfter: 1}, 0)
	var runs int
	for {
		err := h.env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if !errors.As(err, &can) {
			break
		}
		runs++
		var next Input
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
			t.Fatal(err)
		}
		if next.State == nil || next.State.Status != register.Active {
			t.Fatalf("state not carried: %+v", next.State)
		}
		// A fresh environment at the time the last run ended, sharing the
		// record, plays the next run.
		prev := h.rec
		now := h.env.Now()
		env := newEnv()
		env.SetStartTime(now)
		prev.env = env
		p := &Person{Timing: timing()}
		env.RegisterWorkflowWithOptions(p.Run, workflow.RegisterOptions{Name: PersonWorkflowName})
		env.RegisterActivityWithOptions(prev.LoadState, activity.RegisterOptions{Name: ActivityLoadState})
		env.RegisterActivityWithOptions(prev.Persist, activity.RegisterOptions{Name: ActivityPersist})
		env.RegisterActivityWithOptions(prev.Notify, activity.RegisterOptions{Name: ActivityNotify})
		env.RegisterActivityWithOptions(prev.SkipNotices, activity.RegisterOptions{Name: ActivitySkip})
		env.RegisterActivityWithOptions(prev.LoadClocks, activity.RegisterOptions{Name: ActivityLoadClocks})
		h.env = env
		if runs > 20 {
			break
		}
		env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, t0.Add(30*day).Sub(now))
		env.ExecuteWorkflow(PersonWorkflowName, next)
	}
	if runs < 3 {
		t.Fatalf("continued as new %d times, want several", runs)
	}
	h.wantSent("referral-received@0d", "review-due@4d", "review-overdue@7d",
		"review-escalated#1@9d", "review-escalated#2@11d", "review-escalated#3@13d")
}

func TestScheduleQuery(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Amber), "")
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(QuerySchedule)
		if err != nil {
			t.Fatal(err)
		}
		var s Schedule
		if err := v.Get(&s); err != nil {
			t.Fatal(err)
		}
		if s.Rating != register.Amber || s.NextReviewDue == nil || !s.NextReviewDue.Equal(t0.Add(28*day)) {
			t.Errorf("schedule %+v", s)
		}
		if len(s.Pending) != 1 || s.Pending[0].Kind != register.ReviewDue {
			t.Errorf("pending %+v", s.Pending)
		}
	}, day)
	h.run(Input{PersonID: "p1"}, 2*day)
}

// TestYearWith50Actions measures one person's history over a simulated
// year: a green person, four reviews, fifty actions (half completed after
// their reminder, half left to climb the whole escalation ladder).
func TestYearWith50Actions(t *testing.T) {
	h := newHarness(t, referred())
	h.update(time.Hour, UpdateTriage, accept(register.Green), "")
	for i, at := range []time.Duration{90 * day, 180 * day, 270 * day, 360 * day} {
		h.update(at, UpdateRecordReview, ReviewRequest{Actor: admin, Review: register.ReviewInput{
			ID: fmt.Sprintf("r%d", i), Rating: register.Green}}, "")
	}
	for i := range 50 {
		added := time.Duration(i)*7*day + 2*time.Hour
		id := fmt.Sprintf("a%d", i)
		h.update(added, UpdateAddActions, ActionsRequest{Actor: admin, Actions: []register.NewAction{
			{ID: id, Description: "action", OwnerEmail: "sw@example.org", Due: t0.Add(added + 10*day)}}}, "")
		if i%2 == 0 {
			h.update(added+8*day, UpdateCloseAction, CloseActionRequest{Actor: admin, ActionID: id, Outcome: "done"}, "")
		}
	}
	var sched Schedule
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(QuerySchedule)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&sched); err != nil {
			t.Fatal(err)
		}
	}, 364*day)
	h.run(Input{PersonID: "p1"}, 365*day)
	sent := len(h.rec.sent)
	// 1 referral-received, 4 review-due, 50 action-due, 25 overdue, 25×3 escalations.
	if want := 1 + 4 + 50 + 25 + 75; sent != want {
		t.Errorf("%d notices, want %d", sent, want)
	}
	// 1 acceptance, 4 reviews, 50 actions added and 25 completed.
	if want := 1 + 4 + 50 + 25; len(h.rec.changes) != want {
		t.Errorf("%d changes, want %d", len(h.rec.changes), want)
	}
	if sched.OpenActions != 25 {
		t.Errorf("%d open actions at the year's end, want the 25 left open", sched.OpenActions)
	}
	// The test environment keeps no history (its length reads 0), so the
	// history's bound is asserted on the real server: e2e
	// TestYearHistoryBound.
	t.Logf("simulated year, 4 reviews, 50 actions: %d notices, %d changes", sent, len(h.rec.changes))
}

// TestCatchUpPerAudience: a workflow that wakes long after its rungs fell
// due (the worker was down for days) tells each audience the latest thing
// for it, once: the professionals that the review is overdue, the managers
// the escalation reached. The legacy catch-up sent the escalation alone,
// and the professionals never heard the review was due.
func TestCatchUpPerAudience(t *testing.T) {
	st := register.State{Status: register.Active, Rating: register.Red, ReferredAt: t0.Add(-30 * day), LastReviewAt: t0.Add(-12 * day)}
	st.ReviewDue = t0.Add(-5 * day)
	st.Review = register.Ladder{Occasion: st.ReviewDue.Format(time.RFC3339)}
	h := newHarness(t, st)
	h.run(Input{PersonID: "p1"}, time.Hour)
	h.wantSent("review-overdue@0d", "review-escalated#2@0d")
	if got := strings.Join(h.rec.skipped, " "); got != "review-due review-escalated#1" {
		t.Errorf("skipped %s, want review-due review-escalated#1", got)
	}
}

// With a reminder window, review-due goes at the person's point in it, not
// later than due − lead; overdue and escalations keep their times.
func TestReminderWindow(t *testing.T) {
	tm := timing()
	tm.ReminderWindow = register.Window{From: 8 * time.Hour, To: 10 * time.Hour}
	h := newHarnessTiming(t, referred(), tm)
	h.update(0, UpdateTriage, accept(register.Red), "")
	h.run(Input{PersonID: "p1"}, 12*day)
	remind := tm.RemindAt("p1", t0.Add(7*day))
	if remind.After(t0.Add(4*day)) || remind.Before(t0.Add(3*day)) {
		t.Fatalf("the point %v is not within the day before due − lead", remind)
	}
	h.wantSent("referral-received@0d", "review-due@"+fmtOffset(remind.Sub(t0).Round(time.Minute)),
		"review-overdue@7d", "review-escalated#1@9d", "review-escalated#2@11d")
}
