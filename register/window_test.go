package register

import (
	"fmt"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in       string
		from, to time.Duration
		bad      bool
	}{
		{in: ""},
		{in: "08:00-10:00", from: 8 * time.Hour, to: 10 * time.Hour},
		{in: " 07:30 - 09:15 ", from: 7*time.Hour + 30*time.Minute, to: 9*time.Hour + 15*time.Minute},
		{in: "11:58:30-12:02:30", from: 11*time.Hour + 58*time.Minute + 30*time.Second, to: 12*time.Hour + 2*time.Minute + 30*time.Second},
		{in: "22:00-24:00", from: 22 * time.Hour, to: 24 * time.Hour},
		{in: "10:00-08:00", bad: true},
		{in: "08:00-08:00", bad: true},
		{in: "22:00-02:00", bad: true},
		{in: "08:00", bad: true},
		{in: "8am-10am", bad: true},
		{in: "8:00-10:00", bad: true},
		{in: "08:00-25:00", bad: true},
		{in: "08:60-09:00", bad: true},
	} {
		w, err := ParseWindow(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseWindow(%q) = %v, want an error", tc.in, w)
			}
			continue
		}
		if err != nil || w.From != tc.from || w.To != tc.to {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v-%v", tc.in, w, err, tc.from, tc.to)
		}
		if again, err := ParseWindow(w.String()); err != nil || again != w {
			t.Errorf("ParseWindow(%q.String() = %q) = %v, %v", tc.in, w.String(), again, err)
		}
	}
}

func inLondon(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, London)
}

func TestRemindAt(t *testing.T) {
	off := testTiming()
	on := testTiming()
	on.ReminderWindow = Window{From: 8 * time.Hour, To: 10 * time.Hour}
	for _, tc := range []struct {
		name string
		due  time.Time // the moment due − lead is on the 10th of the month
		// the reminder's London day, for every person
		day int
	}{
		{"lead ends after the window: that morning", inLondon(2026, 6, 13, 14, 0), 10},
		{"lead ends before the window opens: the morning before", inLondon(2026, 6, 13, 7, 0), 9},
		{"lead ends at the window's close: that morning", inLondon(2026, 6, 13, 10, 0), 10},
		{"lead ends in the window: depends on the person, checked below", inLondon(2026, 6, 13, 9, 0), -1},
		// 25 October 2026: the clocks go back; 08:00-10:00 stays on the wall clock.
		{"after the clocks go back", inLondon(2026, 10, 28, 12, 0), 25},
		// 29 March 2026: the clocks go forward.
		{"after the clocks go forward", inLondon(2026, 4, 1, 12, 0), 29},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lead := tc.due.Add(-on.ReminderLead)
			if got := off.RemindAt("p1", tc.due); !got.Equal(lead) {
				t.Errorf("no window: %v, want due − lead %v", got, lead)
			}
			for i := range 200 {
				p := fmt.Sprintf("person-%d", i)
				at := on.RemindAt(p, tc.due)
				if at.After(lead) {
					t.Fatalf("%s reminded at %v, after due − lead %v", p, at, lead)
				}
				if lead.Sub(at) > 24*time.Hour+2*time.Hour {
					t.Fatalf("%s reminded at %v, over a day before due − lead %v", p, at, lead)
				}
				l := at.In(London)
				if clock := time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute; clock < 8*time.Hour || clock >= 10*time.Hour {
					t.Fatalf("%s reminded at %v London time, outside 08:00-10:00", p, l)
				}
				if tc.day > 0 && l.Day() != tc.day {
					t.Fatalf("%s reminded on the %d, want the %d", p, l.Day(), tc.day)
				}
				if again := on.RemindAt(p, tc.due); !again.Equal(at) {
					t.Fatalf("%s: %v then %v: the point is not stable", p, at, again)
				}
				// The same point of the window on another day.
				later := on.RemindAt(p, tc.due.AddDate(0, 0, 14)).In(London)
				if later.Hour() != l.Hour() || later.Minute() != l.Minute() || later.Second() != l.Second() {
					t.Fatalf("%s: %v, and a fortnight on %v: not the same time of day", p, l, later)
				}
			}
		})
	}
}

// Ten thousand people with one due moment are spread evenly over the
// window: no minute of a two-hour window carries more than twice its share.
func TestRemindAtSpreads(t *testing.T) {
	tm := testTiming()
	tm.ReminderWindow = Window{From: 8 * time.Hour, To: 10 * time.Hour}
	due := inLondon(2026, 6, 13, 14, 0)
	perMinute := map[int]int{}
	const n = 10000
	for i := range n {
		at := tm.RemindAt(fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), due).In(London)
		perMinute[at.Hour()*60+at.Minute()]++
	}
	if len(perMinute) != 120 {
		t.Errorf("reminders fell in %d minutes of the window, want all 120", len(perMinute))
	}
	for m, c := range perMinute {
		if c > 2*n/120 {
			t.Errorf("%02d:%02d carries %d reminders, over twice its share of %d", m/60, m%60, c, n/120)
		}
	}
}

func TestFirstQuietDue(t *testing.T) {
	on := testTiming()
	on.ReminderWindow = Window{From: 8 * time.Hour, To: 10 * time.Hour}
	for _, now := range []time.Time{
		inLondon(2026, 6, 10, 7, 0), inLondon(2026, 6, 10, 8, 0), inLondon(2026, 6, 10, 9, 0),
		inLondon(2026, 6, 10, 12, 0), inLondon(2026, 10, 24, 23, 0),
	} {
		q := on.FirstQuietDue(now)
		for i := range 500 {
			p := fmt.Sprintf("p%d", i)
			for _, due := range []time.Time{q, q.Add(time.Minute), q.Add(5 * time.Hour), q.Add(23 * time.Hour)} {
				if at := on.RemindAt(p, due); at.Before(now) {
					t.Fatalf("now %v: %s's reminder for %v is at %v, before now", now, p, due, at)
				}
			}
		}
		if q.Sub(now) > on.ReminderLead+26*time.Hour {
			t.Errorf("now %v: first quiet due %v is over a day past the lead", now, q)
		}
	}
	off := testTiming()
	if now := inLondon(2026, 6, 10, 9, 0); !off.FirstQuietDue(now).Equal(now.Add(off.ReminderLead)) {
		t.Errorf("no window: first quiet due is not now + lead")
	}
}

// With a window, the review ladder's reminder moves to the person's point
// and the rest of the ladder keeps its times; catching up still sends one
// notice per audience.
func TestPlanWithWindow(t *testing.T) {
	tm := testTiming()
	tm.ReminderWindow = Window{From: 8 * time.Hour, To: 10 * time.Hour}
	s := activeRed() // due t0 + 7d, 09:00 UTC
	remind := tm.RemindAt(s.PersonID, s.ReviewDue)
	up := tm.Upcoming(s)
	if len(up) == 0 || up[0].Kind != ReviewDue || !up[0].At.Equal(remind) {
		t.Fatalf("upcoming %+v, want review-due at %v", up, remind)
	}
	if p := tm.PlanPerAudience(s, remind.Add(-time.Second)); len(p.Send) != 0 || !p.Wake.Equal(remind) {
		t.Fatalf("before the point: send %v, wake %v; want nothing, wake %v", kinds(p.Send), p.Wake, remind)
	}
	p := tm.PlanPerAudience(s, remind)
	if !eq(kinds(p.Send), []string{"review-due"}) || !p.Wake.Equal(s.ReviewDue) {
		t.Fatalf("at the point: send %v, wake %v; want review-due, wake at due %v", kinds(p.Send), p.Wake, s.ReviewDue)
	}
	tm.Advance(&s, remind)
	if p := tm.PlanPerAudience(s, s.ReviewDue); !eq(kinds(p.Send), []string{"review-overdue"}) {
		t.Fatalf("at due: send %v, want review-overdue at its own time", kinds(p.Send))
	}
	// An action's reminder moves the same way.
	s.AddAction("a1", s.ReviewDue)
	up = tm.Upcoming(s)
	for _, n := range up {
		if n.Kind == ActionDue && !n.At.Equal(tm.RemindAt(s.PersonID, s.ReviewDue)) {
			t.Errorf("action-due at %v, want the person's point %v", n.At, remind)
		}
	}
}
