package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// fakeSeries stands in for the meeting activities: weekly meetings on a
// Tuesday, the first carrying one person over. The real activities run
// against PostgreSQL, Temporal and SMTP in e2e.
type fakeSeries struct {
	mu       sync.Mutex
	env      *testsuite.TestWorkflowEnvironment
	meetings []MeetingRef
	log      []string
	onPlan   func() // called as an agenda is planned
}

func (f *fakeSeries) note(format string, a ...any) {
	f.log = append(f.log, fmt.Sprintf("%s@%s", fmt.Sprintf(format, a...), fmtOffset(f.env.Now().Sub(t0).Round(time.Hour))))
}

func (f *fakeSeries) NextMeeting(_ context.Context, _ string, after time.Time) (MeetingRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.meetings {
		if !m.Start.Before(after) {
			return m, nil
		}
	}
	return MeetingRef{}, nil
}

func (f *fakeSeries) PlanMeetingAgenda(_ context.Context, id string) ([]register.Carry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("plan %s", id)
	if f.onPlan != nil {
		f.onPlan()
	}
	for i, m := range f.meetings {
		if m.ID == id && i+1 < len(f.meetings) && i == 0 {
			return []register.Carry{{PersonID: "p9", To: f.meetings[i+1].ID, Due: f.meetings[i+1].Start, Times: 1}}, nil
		}
	}
	return nil, nil
}

func (f *fakeSeries) CarryOver(_ context.Context, c register.Carry, from string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("carry %s from %s to %s", c.PersonID, from, c.To)
	return nil
}

func (f *fakeSeries) SendMeetingInvitations(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.meetings {
		if f.meetings[i].ID == id {
			f.note("invite %s#%d", id, f.meetings[i].Sequence)
			f.meetings[i].AgendaSent = true
		}
	}
	return nil
}

func (f *fakeSeries) MeetingsChanged(_ context.Context, _ string) ([]ChangedMeeting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ChangedMeeting
	for i, m := range f.meetings {
		if m.AgendaSent && m.End.After(f.env.Now()) {
			f.note("changed %s#%d", m.ID, m.Sequence)
			j := ChangedMeeting{MeetingID: m.ID}
			if m.Cancelled && i+1 < len(f.meetings) {
				j.Carried = []register.Carry{{PersonID: "p1", To: f.meetings[i+1].ID, Due: f.meetings[i+1].Start, Times: 1}}
			}
			out = append(out, j)
		}
	}
	return out, nil
}

func newSeriesEnv(t *testing.T, meetings []MeetingRef) (*testsuite.TestWorkflowEnvironment, *fakeSeries) {
	t.Helper()
	env := newEnv()
	env.SetStartTime(t0)
	f := &fakeSeries{env: env, meetings: meetings}
	s := &Series{Lead: 5 * day}
	env.RegisterWorkflowWithOptions(s.Run, workflow.RegisterOptions{Name: SeriesWorkflowName})
	env.RegisterActivityWithOptions(f.NextMeeting, activity.RegisterOptions{Name: ActivityNextMeeting})
	env.RegisterActivityWithOptions(f.PlanMeetingAgenda, activity.RegisterOptions{Name: ActivityPlanAgenda})
	env.RegisterActivityWithOptions(f.CarryOver, activity.RegisterOptions{Name: ActivityCarryOver})
	env.RegisterActivityWithOptions(f.SendMeetingInvitations, activity.RegisterOptions{Name: ActivitySendInvitations})
	env.RegisterActivityWithOptions(f.MeetingsChanged, activity.RegisterOptions{Name: ActivityMeetingsChanged})
	env.SetTestTimeout(time.Minute)
	return env, f
}

func weekly(n int) []MeetingRef {
	var ms []MeetingRef
	for i := range n {
		s := t0.Add(time.Duration(8+7*i) * day) // t0 is a Monday 09:00; meetings Tuesdays 09:00
		ms = append(ms, MeetingRef{ID: fmt.Sprintf("m%d", i+1), Start: s, End: s.Add(time.Hour)})
	}
	return ms
}

func TestSeriesPlansCarriesAndInvitesBeforeEachMeeting(t *testing.T) {
	env, f := newSeriesEnv(t, weekly(3))
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 20*day)
	env.ExecuteWorkflow(SeriesWorkflowName, SeriesInput{SeriesID: "s"})
	want := "plan m1@3d carry p9 from m1 to m2@3d invite m1#0@3d plan m2@10d invite m2#0@10d plan m3@17d invite m3#0@17d"
	if got := strings.Join(f.log, " "); got != want {
		t.Errorf("log:\n got  %s\n want %s", got, want)
	}
}

// A meeting moved after its agenda went out: the invitation goes again
// with the new sequence, and the agenda is not planned again.
func TestSeriesResendsInvitationOnChange(t *testing.T) {
	env, f := newSeriesEnv(t, weekly(2))
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.meetings[0].Sequence++
		f.meetings[0].Start = f.meetings[0].Start.Add(2 * time.Hour)
		f.meetings[0].End = f.meetings[0].End.Add(2 * time.Hour)
		f.mu.Unlock()
		env.SignalWorkflow(SignalSeriesChanged, nil)
	}, 5*day)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 12*day)
	env.ExecuteWorkflow(SeriesWorkflowName, SeriesInput{SeriesID: "s"})
	// The moved meeting comes round again (its start is later): sequence 1
	// is asked for twice, and the outbox sends it once.
	want := "plan m1@3d carry p9 from m1 to m2@3d invite m1#0@3d changed m1#1@5d invite m1#1@5d plan m2@10d invite m2#0@10d"
	if got := strings.Join(f.log, " "); got != want {
		t.Errorf("log:\n got  %s\n want %s", got, want)
	}
}

// An extra meeting added before the next one is picked up at once when
// the workflow is told.
func TestSeriesPicksUpAnExtraMeeting(t *testing.T) {
	env, f := newSeriesEnv(t, weekly(1))
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		s := t0.Add(day + 6*time.Hour)
		f.meetings = append([]MeetingRef{{ID: "x1", Start: s, End: s.Add(time.Hour)}}, f.meetings...)
		f.mu.Unlock()
		env.SignalWorkflow(SignalSeriesChanged, nil)
	}, time.Hour)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 9*day)
	env.ExecuteWorkflow(SeriesWorkflowName, SeriesInput{SeriesID: "s"})
	if got := strings.Join(f.log, " "); !strings.HasPrefix(got, "plan x1@0d1h0m0s") || !strings.Contains(got, "invite x1#0@0d1h0m0s plan m1@3d invite m1#0@3d") {
		t.Errorf("log: %s", got)
	}
}

// A meeting cancelled after its agenda went out: the cancellation goes
// and its people are carried to the next meeting.
func TestSeriesCarriesACancelledMeetingsPeople(t *testing.T) {
	env, f := newSeriesEnv(t, weekly(2))
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.meetings[0].Sequence++
		f.meetings[0].Cancelled = true
		f.mu.Unlock()
		env.SignalWorkflow(SignalSeriesChanged, nil)
	}, 6*day)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 12*day)
	env.ExecuteWorkflow(SeriesWorkflowName, SeriesInput{SeriesID: "s"})
	if got := strings.Join(f.log, " "); !strings.Contains(got, "changed m1#1@6d carry p1 from m1 to m2@6d plan m2@10d") {
		t.Errorf("log: %s", got)
	}
}

// Continuing as new after its meetings, the workflow first acts on a
// change that came while it planned the last one.
func TestSeriesActsOnAChangeBeforeContinuingAsNew(t *testing.T) {
	env, f := newSeriesEnv(t, weekly(1))
	f.onPlan = func() { env.SignalWorkflow(SignalSeriesChanged, nil) }
	env.ExecuteWorkflow(SeriesWorkflowName, SeriesInput{SeriesID: "s", ContinueAfter: 1})
	if !workflow.IsContinueAsNewError(env.GetWorkflowError()) {
		t.Fatalf("workflow ended with %v", env.GetWorkflowError())
	}
	if got := strings.Join(f.log, " "); !strings.HasSuffix(got, "invite m1#0@3d changed m1#0@3d") {
		t.Errorf("log: %s", got)
	}
}
