package register

import (
	"testing"
	"time"
)

var day = 24 * time.Hour

func testTiming() Timing {
	return Timing{
		ReviewEvery:      map[Rating]time.Duration{Red: 7 * day, Amber: 28 * day, Green: 91 * day, Blue: 28 * day},
		ReminderLead:     3 * day,
		EscalateAfter:    2 * day,
		MaxEscalations:   3,
		TriageWithin:     5 * day,
		RedAfterHospital: 14 * day,
	}
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func kinds(ns []Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, string(n.Kind)+levelSuffix(n.Level))
	}
	return out
}

func levelSuffix(l int) string {
	if l == 0 {
		return ""
	}
	return "#" + string(rune('0'+l))
}

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func activeRed() State {
	tm := testTiming()
	s := State{PersonID: "p1", Status: Referred, ReferredAt: t0}
	tm.Accept(&s, Red, t0)
	return s
}

func TestPlanReviewLadder(t *testing.T) {
	tm := testTiming()
	due := t0.Add(7 * day)
	tests := []struct {
		name     string
		done     int
		now      time.Time
		send     []string
		skip     []string
		wake     time.Time
		wantDone int
	}{
		{"before reminder", 0, t0, nil, nil, due.Add(-3 * day), 0},
		{"at reminder", 0, due.Add(-3 * day), []string{"review-due"}, nil, due, 1},
		{"between reminder and due, reminder sent", 1, due.Add(-day), nil, nil, due, 1},
		{"at due", 1, due, []string{"review-overdue"}, nil, due.Add(2 * day), 2},
		{"first escalation", 2, due.Add(2 * day), []string{"review-escalated#1"}, nil, due.Add(4 * day), 3},
		{"second escalation", 3, due.Add(4 * day), []string{"review-escalated#2"}, nil, due.Add(6 * day), 4},
		{"third and last escalation", 4, due.Add(6 * day), []string{"review-escalated#3"}, nil, time.Time{}, 5},
		{"ladder finished", 5, due.Add(60 * day), nil, nil, time.Time{}, 5},
		{"woke late: only the latest is sent", 0, due.Add(5 * day), []string{"review-escalated#2"},
			[]string{"review-due", "review-overdue", "review-escalated#1"}, due.Add(6 * day), 4},
		{"woke very late", 1, due.Add(100 * day), []string{"review-escalated#3"},
			[]string{"review-overdue", "review-escalated#1", "review-escalated#2"}, time.Time{}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := activeRed()
			s.Review.Done = tt.done
			p := tm.PlanAt(s, tt.now)
			if !eq(kinds(p.Send), tt.send) || !eq(kinds(p.Skip), tt.skip) {
				t.Errorf("send %v skip %v, want %v %v", kinds(p.Send), kinds(p.Skip), tt.send, tt.skip)
			}
			if !p.Wake.Equal(tt.wake) {
				t.Errorf("wake %v, want %v", p.Wake, tt.wake)
			}
			tm.Advance(&s, tt.now)
			if s.Review.Done != tt.wantDone {
				t.Errorf("done %d, want %d", s.Review.Done, tt.wantDone)
			}
			if again := tm.PlanAt(s, tt.now); len(again.Send)+len(again.Skip) != 0 {
				t.Errorf("after Advance, plan still sends %v", kinds(again.Send))
			}
		})
	}
}

func TestPlanTriage(t *testing.T) {
	tm := testTiming()
	s := State{PersonID: "p1", Status: Referred, ReferredAt: t0}
	p := tm.PlanAt(s, t0)
	if len(p.Send) != 0 || !p.Wake.Equal(t0.Add(5*day)) {
		t.Fatalf("plan at referral: %+v", p)
	}
	p = tm.PlanAt(s, t0.Add(5*day))
	if !eq(kinds(p.Send), []string{"triage-overdue"}) || !p.Wake.IsZero() {
		t.Fatalf("plan at triage deadline: %+v", p)
	}
	tm.Advance(&s, t0.Add(5*day))
	if p := tm.PlanAt(s, t0.Add(50*day)); len(p.Send) != 0 {
		t.Fatalf("triage-overdue sent twice: %+v", p)
	}
	// Accepting stops the triage ladder and starts the review clock.
	s = State{PersonID: "p1", Status: Referred, ReferredAt: t0}
	tm.Accept(&s, Green, t0.Add(day))
	p = tm.PlanAt(s, t0.Add(5*day))
	// 91 calendar days in London: the clocks go forward in between, so the
	// reminder is an hour earlier in UTC.
	if len(p.Send) != 0 || !p.Wake.Equal(t0.Add(day+88*day-time.Hour)) {
		t.Fatalf("after accept: %+v", p)
	}
}

// A referral imported from the spreadsheet keeps its real referral date,
// weeks back, but its triage-overdue notice comes the full triage time
// after the import, under the same occasion (the referral).
func TestPlanTriageFromImport(t *testing.T) {
	tm := testTiming()
	imported := t0.Add(30 * day)
	s := State{PersonID: "p1", Status: Referred, ReferredAt: t0, TriageFrom: imported, Announced: true}
	p := tm.PlanAt(s, imported)
	if len(p.Send)+len(p.Skip) != 0 || !p.Wake.Equal(imported.Add(5*day)) {
		t.Fatalf("plan at import: %+v", p)
	}
	p = tm.PlanAt(s, imported.Add(5*day))
	if len(p.Send) != 1 || p.Send[0].Kind != TriageOverdue || p.Send[0].Occasion != occasionOf(t0) || !p.Send[0].DueAt.Equal(imported.Add(5*day)) {
		t.Fatalf("plan at the deadline: %+v", p)
	}
	// An earlier TriageFrom changes nothing: the referral's own clock runs.
	s.TriageFrom = t0.Add(-day)
	if p := tm.PlanAt(s, t0); !p.Wake.Equal(t0.Add(5 * day)) {
		t.Fatalf("TriageFrom before the referral: %+v", p)
	}
}

func TestPlanClosedHasNothing(t *testing.T) {
	tm := testTiming()
	for _, st := range []Status{Discharged, Declined} {
		s := activeRed()
		s.AddAction("a1", t0.Add(day))
		s.Close(st)
		if p := tm.PlanAt(s, t0.Add(365*day)); len(p.Send)+len(p.Skip) != 0 || !p.Wake.IsZero() {
			t.Errorf("%s: plan %+v", st, p)
		}
	}
}

func TestActionLadderAndCompletion(t *testing.T) {
	tm := testTiming()
	due := t0.Add(20 * day) // after the red review's ladder is finished
	at := []time.Time{due.Add(-3 * day), due, due.Add(2 * day), due.Add(4 * day), due.Add(6 * day)}
	want := []string{"action-due", "action-overdue", "action-escalated#1", "action-escalated#2", "action-escalated#3"}
	for stop := 0; stop <= len(at); stop++ {
		s := activeRed()
		s.Review.Done = 5
		s.AddAction("a1", due)
		var sent []string
		for i, now := range at {
			if i == stop {
				if !s.CloseAction("a1") {
					t.Fatal("CloseAction found nothing")
				}
			}
			p := tm.PlanAt(s, now)
			sent = append(sent, kinds(p.Send)...)
			tm.Advance(&s, now)
		}
		if !eq(sent, want[:stop]) {
			t.Errorf("completed before rung %d: sent %v, want %v", stop, sent, want[:stop])
		}
	}
}

func TestActionsEscalateIndependently(t *testing.T) {
	tm := testTiming()
	s := activeRed()
	s.Review.Done = 5
	s.AddAction("a", t0.Add(10*day))
	s.AddAction("b", t0.Add(11*day))
	p := tm.PlanAt(s, t0.Add(10*day))
	if !eq(kinds(p.Send), []string{"action-overdue", "action-due"}) {
		t.Fatalf("send %v", kinds(p.Send))
	}
	if p.Send[0].ActionID != "a" || p.Send[1].ActionID != "b" {
		t.Fatalf("wrong actions: %+v", p.Send)
	}
	if !p.Wake.Equal(t0.Add(11 * day)) {
		t.Fatalf("wake %v", p.Wake)
	}
}

func TestChangeRatingReplans(t *testing.T) {
	tm := testTiming()
	tests := []struct {
		name     string
		from, to Rating
		lastAgo  time.Duration // last review this long before the change
		wantIn   time.Duration // next review due this long after the change
	}{
		{"green to red soon after review", Green, Red, 2 * day, 5 * day},
		{"green to red long after review: a week from now", Green, Red, 30 * day, 7 * day},
		{"red to amber", Red, Amber, 3 * day, 25 * day},
		{"amber to green", Amber, Green, 10 * day, 81 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			change := t0.Add(100 * day)
			s := State{PersonID: "p", Status: Referred}
			tm.Accept(&s, tt.from, change.Add(-tt.lastAgo))
			oldOcc := s.Review.Occasion
			s.Review.Done = 1
			tm.ChangeRating(&s, tt.to, change)
			if got := s.ReviewDue.Sub(change); got != tt.wantIn {
				t.Errorf("due in %v, want %v", got, tt.wantIn)
			}
			if s.Review.Done != 0 || s.Review.Occasion == oldOcc {
				t.Errorf("ladder not restarted: %+v", s.Review)
			}
		})
	}
}

func TestCheckRatingChange(t *testing.T) {
	tm := testTiming()
	s := activeRed()
	tm.ChangeRating(&s, Blue, t0.Add(day))
	if err := tm.CheckRatingChange(s, Green, t0.Add(2*day)); err == nil {
		t.Error("blue to green allowed")
	}
	if err := tm.CheckRatingChange(s, Red, t0.Add(2*day)); err != nil {
		t.Errorf("blue to red refused: %v", err)
	}
	tm.ChangeRating(&s, Red, t0.Add(2*day))
	if err := tm.CheckRatingChange(s, Amber, t0.Add(10*day)); err == nil {
		t.Error("lowered within 14 days of leaving hospital")
	}
	if err := tm.CheckRatingChange(s, Amber, t0.Add(16*day)); err != nil {
		t.Errorf("lowering after 14 days refused: %v", err)
	}
	if err := tm.CheckRatingChange(s, "purple", t0); err == nil {
		t.Error("unknown rating allowed")
	}
}

func TestPanelAlignment(t *testing.T) {
	tm := testTiming()
	tm.PanelSchedule = "0 10 * * WED" // Wednesdays 10:00 London
	// t0 is Monday 5 January 2026 09:00 UTC (GMT); +7 days is Monday 12th.
	got := tm.ReviewDueFrom(t0, Red)
	want := time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)
	if !got.Equal(want) {
		t.Errorf("aligned to %v, want %v", got, want)
	}
	// A due date exactly on a slot stays there (BST: 10:00 London is 09:00 UTC).
	slot := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	if got := tm.AlignToPanel(slot); !got.Equal(slot) {
		t.Errorf("slot moved to %v", got)
	}
}

func TestUpcoming(t *testing.T) {
	tm := testTiming()
	s := activeRed()
	s.AddAction("a", t0.Add(2*day))
	up := tm.Upcoming(s)
	if !eq(kinds(up), []string{"action-due", "review-due"}) {
		t.Fatalf("upcoming %v", kinds(up))
	}
}

// FuzzPlan checks the planner never schedules into the past, never sends a
// rung twice and always makes progress.
func FuzzPlan(f *testing.F) {
	f.Add(int64(0), int64(3600), uint8(0), int64(86400), int64(100))
	f.Add(int64(-86400*30), int64(1), uint8(3), int64(7), int64(1e6))
	f.Add(int64(3600), int64(5*86400), uint8(0x81), int64(600), int64(400))
	f.Fuzz(func(t *testing.T, accept, actionDue int64, rating uint8, step, steps int64) {
		tm := testTiming()
		if rating&0x80 != 0 { // with a reminder window
			tm.ReminderWindow = Window{From: 8 * time.Hour, To: 10 * time.Hour}
		}
		if step <= 0 {
			step = 1
		}
		step = step%(30*86400) + 1
		steps = steps%500 + 1
		if steps < 0 {
			steps = -steps
		}
		s := State{PersonID: "p", Status: Referred, ReferredAt: t0}
		tm.Accept(&s, Ratings[int(rating)%len(Ratings)], t0.Add(time.Duration(accept%(365*86400))*time.Second))
		s.AddAction("a", t0.Add(time.Duration(actionDue%(365*86400))*time.Second))
		seen := map[string]bool{}
		now := t0
		for i := int64(0); i < steps; i++ {
			p := tm.PlanAt(s, now)
			for _, n := range append(p.Send, p.Skip...) {
				k := n.Key("p")
				if seen[k] {
					t.Fatalf("notice %s planned twice", k)
				}
				seen[k] = true
				if n.At.After(now) {
					t.Fatalf("notice %s planned before its time", k)
				}
			}
			if !p.Wake.IsZero() && !p.Wake.After(now) {
				t.Fatalf("wake %v not after now %v", p.Wake, now)
			}
			tm.Advance(&s, now)
			now = now.Add(time.Duration(step) * time.Second)
		}
	})
}

func TestRecordReviewRestartsClock(t *testing.T) {
	tm := testTiming()
	s := activeRed()
	s.Review.Done = 3
	tm.RecordReview(&s, Amber, t0.Add(8*day))
	if !s.ReviewDue.Equal(t0.Add(36*day)) || s.Review.Done != 0 || s.Rating != Amber || !s.LastReviewAt.Equal(t0.Add(8*day)) {
		t.Errorf("after review: %+v", s)
	}
	// A review that lands the same due date keeps the ladder's progress.
	s.Review.Done = 1
	tm.RecordReview(&s, Amber, t0.Add(8*day))
	if s.Review.Done != 1 {
		t.Errorf("same due date restarted the ladder: %+v", s.Review)
	}
}

func TestActionLookup(t *testing.T) {
	var s State
	s.AddAction("a", t0)
	if a, ok := s.Action("a"); !ok || !a.Due.Equal(t0) {
		t.Errorf("Action(a) = %+v %v", a, ok)
	}
	if _, ok := s.Action("b"); ok {
		t.Error("Action(b) found")
	}
	if s.CloseAction("b") {
		t.Error("CloseAction(b) closed something")
	}
}

func TestLoweringFromEveryRating(t *testing.T) {
	tm := testTiming()
	tests := []struct {
		from, to Rating
		ok       bool
	}{
		{Red, Amber, true}, {Red, Green, true}, {Amber, Red, true}, {Green, Blue, true},
		{Blue, Amber, false}, {Blue, Green, false}, {Blue, Red, true}, {Amber, Green, true},
	}
	for _, tt := range tests {
		s := State{Status: Active, Rating: tt.from}
		if err := tm.CheckRatingChange(s, tt.to, t0); (err == nil) != tt.ok {
			t.Errorf("%s → %s: %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
	}
}

func TestMalformedPanelScheduleLeavesDateAlone(t *testing.T) {
	tm := testTiming()
	tm.PanelSchedule = "not a schedule"
	if got := tm.ReviewDueFrom(t0, Red); !got.Equal(t0.Add(7 * day)) {
		t.Errorf("due %v", got)
	}
}

func TestReviewDueKeepsTimeOfDayAcrossClockChange(t *testing.T) {
	tm := testTiming()
	// 20 March 2026 10:00 GMT; the clocks go forward on 29 March.
	from := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	got := tm.ReviewDueFrom(from, Red)
	if local := got.In(London); local.Hour() != 10 || local.Day() != 27 {
		t.Errorf("red review due %v, want 27 March 10:00 London", local)
	}
	got = tm.ReviewDueFrom(from, Amber)
	if local := got.In(London); local.Hour() != 10 || local.Day() != 17 || local.Month() != time.April {
		t.Errorf("amber review due %v, want 17 April 10:00 London", local)
	}
	tm.ReviewEvery[Red] = 90 * time.Minute
	if got := tm.ReviewDueFrom(from, Red); !got.Equal(from.Add(90 * time.Minute)) {
		t.Errorf("sub-day interval: %v", got)
	}
}
