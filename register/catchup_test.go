package register

import (
	"strings"
	"testing"
	"time"
)

// Catching up per audience: of the rungs that fell due while the workflow
// slept, the latest for each audience goes, once; the rest are skipped.
func TestPlanPerAudience(t *testing.T) {
	tm := testTiming()
	due := activeRed().ReviewDue
	action := func(s *State) { s.AddAction("a1", due) }
	tests := []struct {
		name   string
		done   int
		now    time.Time
		extra  func(*State)
		send   []string
		skip   []string
		legacy []string // what PlanAt (one rung per ladder) sends
	}{
		{"on time: the reminder alone", 0, due.Add(-3 * day), nil, []string{"review-due"}, nil, []string{"review-due"}},
		{"woke after due: the professionals hear it is overdue", 0, due.Add(time.Hour), nil,
			[]string{"review-overdue"}, []string{"review-due"}, []string{"review-overdue"}},
		{"woke at the second escalation: overdue to the professionals, escalation 2 to the managers", 0, due.Add(5 * day), nil,
			[]string{"review-overdue", "review-escalated#2"}, []string{"review-due", "review-escalated#1"}, []string{"review-escalated#2"}},
		{"overdue already sent: the managers' latest only", 2, due.Add(7 * day), nil,
			[]string{"review-escalated#3"}, []string{"review-escalated#1", "review-escalated#2"}, []string{"review-escalated#3"}},
		{"the reminder was sent: overdue and the escalation", 1, due.Add(3 * day), nil,
			[]string{"review-overdue", "review-escalated#1"}, nil, []string{"review-escalated#1"}},
		{"an action's ladder too: its owner and the manager", 0, due.Add(5 * day), func(s *State) {
			action(s)
			s.Review.Done = 5
		}, []string{"action-overdue", "action-escalated#2"}, []string{"action-due", "action-escalated#1"}, []string{"action-escalated#2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := activeRed()
			s.Review.Done = tt.done
			if tt.extra != nil {
				tt.extra(&s)
			}
			p := tm.PlanPerAudience(s, tt.now)
			if !eq(kinds(p.Send), tt.send) || !eq(kinds(p.Skip), tt.skip) {
				t.Errorf("send %v skip %v, want %v %v", kinds(p.Send), kinds(p.Skip), tt.send, tt.skip)
			}
			if got := kinds(tm.PlanAt(s, tt.now).Send); !eq(got, tt.legacy) {
				t.Errorf("legacy plan sends %v, want %v", got, tt.legacy)
			}
			// Each due rung is either sent or skipped, never both, never lost.
			if n := len(p.Send) + len(p.Skip); n != len(tm.PlanAt(s, tt.now).Send)+len(tm.PlanAt(s, tt.now).Skip) {
				t.Errorf("%d rungs decided, the legacy plan decides %d", n, len(tm.PlanAt(s, tt.now).Send)+len(tm.PlanAt(s, tt.now).Skip))
			}
			seen := map[Audience]int{}
			for _, n := range p.Send {
				seen[AudienceOf(n.Kind)]++
			}
			for a, c := range seen {
				if c > 1 && !strings.Contains(tt.name, "action") {
					t.Errorf("audience %s told %d times", a, c)
				}
			}
			tm.Advance(&s, tt.now)
			if again := tm.PlanPerAudience(s, tt.now); len(again.Send)+len(again.Skip) != 0 {
				t.Errorf("after Advance, plan still sends %v", kinds(again.Send))
			}
		})
	}
}

// A change computed from a copy of the state keeps the progress the loop
// made meanwhile, and only where it is about the same occasion.
func TestKeepProgress(t *testing.T) {
	tm := testTiming()
	cur := activeRed()
	cur.AddAction("a1", t0.Add(10*day))
	next := cur
	next.Actions = append([]ActionState(nil), cur.Actions...)
	// Meanwhile the loop sent the review reminder and the action's.
	cur.Review.Done, cur.Actions[0].Ladder.Done, cur.Announced = 1, 2, true
	next.AddAction("a2", t0.Add(20*day))
	KeepProgress(&next, cur)
	if next.Review.Done != 1 || next.Actions[0].Ladder.Done != 2 || next.Actions[1].Ladder.Done != 0 || !next.Announced {
		t.Errorf("progress lost: review %d, a1 %d, a2 %d, announced %v", next.Review.Done, next.Actions[0].Ladder.Done, next.Actions[1].Ladder.Done, next.Announced)
	}
	// A review recorded: a new occasion starts from nothing.
	next = cur
	tm.RecordReview(&next, Red, t0.Add(6*day))
	KeepProgress(&next, cur)
	if next.Review.Done != 0 {
		t.Errorf("a new review date inherited %d rungs of the old one", next.Review.Done)
	}
	// Progress never goes back.
	next = cur
	next.Review.Done = 3
	KeepProgress(&next, cur)
	if next.Review.Done != 3 {
		t.Errorf("progress went back to %d", next.Review.Done)
	}
}

func TestCheckTextAndEmail(t *testing.T) {
	tests := []struct {
		name, value string
		required    bool
		email       bool
		want        string
	}{
		{"plain", "settled at home", true, false, ""},
		{"blank but required", " \t\n", true, false, "is required"},
		{"blank, optional", "", false, false, ""},
		{"NUL", "moved\x00away", false, false, "NUL"},
		{"too long", strings.Repeat("é", MaxTextLen+1), false, false, "at most 10000"},
		{"just long enough", strings.Repeat("é", MaxTextLen), false, false, ""},
		{"email", "sw@example.org", true, true, ""},
		{"email with a name", "Sam <sw@example.org>", true, true, "alone"},
		{"not an email", "sw at example", true, true, "not an email"},
		{"email missing", "", true, true, "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := map[string]string{}
			if tt.email {
				CheckEmail(f, "x", tt.value, tt.required)
			} else {
				CheckText(f, "x", tt.value, MaxTextLen, tt.required)
			}
			if got := f["x"]; (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("problem %q, want %q", got, tt.want)
			}
		})
	}
}
