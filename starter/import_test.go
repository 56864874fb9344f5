package starter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func timing() register.Timing {
	return register.Timing{
		ReviewEvery:  map[register.Rating]time.Duration{register.Red: days(7), register.Amber: days(28), register.Green: days(91), register.Blue: days(28)},
		ReminderLead: days(3),
	}
}

func londonMidnight(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, register.London)
}

func TestFirstReview(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	ptr := func(t time.Time) *time.Time { return &t }
	cases := []struct {
		name       string
		rating     register.Rating
		last       *time.Time
		spread     bool
		due        time.Time // when not spread
		start, end time.Time // the window [start, end) when spread
	}{
		{name: "due after the lead keeps its date", rating: register.Amber, last: ptr(londonMidnight(2026, 11, 20)),
			due: londonMidnight(2026, 11, 20).Add(days(28))},
		{name: "due exactly when the lead has passed keeps its date", rating: register.Red, last: ptr(now.Add(days(-4))),
			due: now.Add(days(3))},
		{name: "overdue is spread over the next red week", rating: register.Red, last: ptr(londonMidnight(2026, 9, 1)), spread: true,
			start: londonMidnight(2026, 12, 1), end: londonMidnight(2026, 12, 8)},
		{name: "due within the lead is spread", rating: register.Red, last: ptr(londonMidnight(2026, 11, 21)), spread: true,
			start: londonMidnight(2026, 12, 1), end: londonMidnight(2026, 12, 8)},
		{name: "no last review is spread over the amber interval", rating: register.Amber, spread: true,
			start: londonMidnight(2026, 12, 1), end: londonMidnight(2026, 12, 29)},
		{name: "green spreads over 91 days", rating: register.Green, last: ptr(londonMidnight(2025, 1, 1)), spread: true,
			start: londonMidnight(2026, 12, 1), end: londonMidnight(2027, 3, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := map[time.Time]int{}
			for i := 0; i < 2000; i++ {
				nhs := strconv.Itoa(9000000000 + i)
				due, spread := FirstReview(timing(), nhs, c.rating, c.last, now)
				if spread != c.spread {
					t.Fatalf("spread %v, want %v", spread, c.spread)
				}
				if again, _ := FirstReview(timing(), nhs, c.rating, c.last, now); !again.Equal(due) {
					t.Fatalf("not deterministic: %v then %v", due, again)
				}
				if !c.spread {
					if !due.Equal(c.due) {
						t.Fatalf("due %v, want %v", due, c.due)
					}
					return
				}
				if due.Before(c.start) || !due.Before(c.end) {
					t.Fatalf("due %v outside [%v, %v)", due, c.start, c.end)
				}
				if l := due.In(register.London); l.Hour() != 0 || l.Minute() != 0 {
					t.Fatalf("due %v is not a London midnight", l)
				}
				if due.Before(now.Add(timing().ReminderLead)) {
					t.Fatalf("due %v: its reminder would go out at once", due)
				}
				seen[due]++
			}
			// Evenly: every day of the window is used, none by much more
			// than its share.
			windowDays := int(c.end.Sub(c.start).Hours()/24 + 0.5)
			if len(seen) != windowDays {
				t.Errorf("%d distinct days, want all %d", len(seen), windowDays)
			}
			for d, n := range seen {
				if share := 2000 / windowDays; n > 2*share+5 {
					t.Errorf("%v: %d people, share %d", d, n, share)
				}
			}
		})
	}
}

func TestFirstReviewShortIntervalsAndPanels(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	short := register.Timing{ReviewEvery: map[register.Rating]time.Duration{register.Red: 12 * time.Second}, ReminderLead: 5 * time.Second}
	for _, nhs := range []string{"9434765919", "9434765870", "4010232137"} {
		due, spread := FirstReview(short, nhs, register.Red, nil, now)
		if !spread || due.Before(now.Add(5*time.Second)) || !due.Before(now.Add(17*time.Second)) {
			t.Errorf("%s: due %v (spread %v), want within 5s..17s of now", nhs, due.Sub(now), spread)
		}
	}
	panel := timing()
	panel.PanelSchedule = "0 10 * * TUE" // Tuesdays at 10:00
	due, _ := FirstReview(panel, "9434765919", register.Red, nil, now)
	if l := due.In(register.London); l.Weekday() != time.Tuesday || l.Hour() != 10 {
		t.Errorf("with a panel schedule due %v, want a Tuesday 10:00 slot", l)
	}
}

// With a reminder window, a reminder can go up to a day before due − lead:
// an imported review keeps its date only when nobody's reminder for it
// would go out on import day, and a spread one is past that too.
func TestFirstReviewWithReminderWindow(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC) // after the day's window
	tm := timing()
	tm.ReminderWindow = register.Window{From: 8 * time.Hour, To: 10 * time.Hour}
	people := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}
	for _, c := range []struct {
		name   string
		last   time.Time
		rating register.Rating
		spread bool
	}{
		// due 30 Nov 10:30: reminders on the 27th's window, already past.
		{"due just past the lead is spread", now.Add(days(-4)), register.Red, true},
		// due 1 Dec 10:00: everyone's point on the 28th, or later.
		{"due when the next window has closed, past the lead, keeps its date", londonMidnight(2026, 11, 24).Add(10 * time.Hour), register.Red, false},
		{"overdue is spread", londonMidnight(2026, 9, 1), register.Red, true},
		{"due in a month keeps its date", londonMidnight(2026, 11, 20), register.Amber, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i := range 500 {
				nhs := strconv.Itoa(9000000000 + i)
				last := c.last
				due, spread := FirstReview(tm, nhs, c.rating, &last, now)
				if spread != c.spread {
					t.Fatalf("spread %v, want %v (due %v)", spread, c.spread, due)
				}
				for _, p := range people {
					if at := tm.RemindAt(p, due); at.Before(now) {
						t.Fatalf("due %v: %s's reminder at %v, before the import", due, p, at)
					}
				}
			}
		})
	}
}

func TestWriteSummaryShowsNoValues(t *testing.T) {
	s := Summary{Rows: 6, Imported: 2, Started: 2, Spread: 1, Elapsed: 1500 * time.Millisecond,
		Already: []RowOutcome{{Line: 3, ID: "x", Message: "already imported (active)"}, {Line: 4, Message: "already imported (active)"},
			{Line: 5, Message: "already on the register (referred)"}, {Line: 9, Message: "already imported (discharged)"}},
		Refused: []RowOutcome{{Line: 7, Problems: []string{"nhs_number: fails the check digit", "rag: must be one of red, amber, green, blue"}}},
	}
	var b bytes.Buffer
	if err := s.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"read 6 rows in 1.5s: 2 imported, 4 already on the register, 1 refused",
		"(3 by an earlier import): lines 3-5, 9", "  line 7:\n    nhs_number: fails the check digit\n    rag: must be"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestProgressOnATerminal(t *testing.T) {
	var b bytes.Buffer
	im := &importer{}
	im.rows.Store(40)
	im.imported.Store(30)
	im.refused = []RowOutcome{{Line: 2}}
	cr := &countingReader{}
	cr.n.Store(500)
	p := newProgress(ImportOptions{Progress: &b, Terminal: true, Size: 1000}, cr, im, time.Now().Add(-time.Second))
	p.start()
	time.Sleep(3 * terminalRefresh)
	p.stop()
	out := b.String()
	if !strings.HasPrefix(out, "\r\x1b[K[==========          ]  50% 40 rows read: 30 imported, 0 already there, 1 refused") || !strings.HasSuffix(out, "\n") {
		t.Errorf("terminal progress %q", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("the line is not redrawn in place: %q", out)
	}
}

func TestCommandArguments(t *testing.T) {
	for _, args := range [][]string{{}, {"--file", "a", "--csv", "b"}, {"--csv", "b", "extra"}, {"--csv", "b", "--workers", "0"}, {"--bogus"}} {
		var out, errs bytes.Buffer
		err := Command(context.Background(), args, &out, &errs, Deps{})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want a one-line reason", args, err)
		}
	}
	err := Command(context.Background(), []string{"--csv", "/no/such/file.csv"}, &bytes.Buffer{}, &bytes.Buffer{}, Deps{})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("name,number\nAda,9434765919\n"), 0o600)
	var errs bytes.Buffer
	err = Command(context.Background(), []string{"--csv", bad}, &bytes.Buffer{}, &errs, Deps{})
	if err == nil || !strings.Contains(err.Error(), "header row") || strings.Contains(err.Error()+errs.String(), "Ada") {
		t.Errorf("a file without a header: %v / %s", err, errs.String())
	}
}
