package calendar

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/bsw-dsr/dsr/register"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, register.London)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func invite(t *testing.T, start string, seq int, cancelled bool) Invite {
	s := at(t, start)
	return Invite{UID: UID("wilts-20260331T090000Z", "dsr.example.org"), Sequence: seq, Cancelled: cancelled,
		Start: s, End: s.Add(90 * time.Minute), Summary: "Wiltshire DSR meeting", Location: "https://meet.example.org/dsr",
		URL: "https://dsr.example.org/meetings/wilts-20260331T090000Z", Organizer: "dsr@example.org",
		Attendees: []string{"chair@example.org", "sw@example.org"}, Stamp: time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)}
}

type parsed struct {
	method, uid, status, dtstart, tzid string
	seq                                int
	start                              time.Time
}

func parse(t *testing.T, s string) parsed {
	t.Helper()
	cal, err := ics.ParseCalendar(strings.NewReader(s))
	if err != nil {
		t.Fatalf("golang-ical cannot read it back: %v\n%s", err, s)
	}
	var p parsed
	for _, prop := range cal.CalendarProperties {
		if prop.IANAToken == string(ics.PropertyMethod) {
			p.method = prop.Value
		}
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	p.uid = ev.Id()
	p.seq, _ = strconv.Atoi(ev.GetProperty(ics.ComponentPropertySequence).Value)
	p.status = ev.GetProperty(ics.ComponentPropertyStatus).Value
	ds := ev.GetProperty(ics.ComponentPropertyDtStart)
	p.dtstart = ds.Value
	if v := ds.ICalParameters["TZID"]; len(v) > 0 {
		p.tzid = v[0]
	}
	p.start, err = ev.GetStartAt()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if len(cal.Timezones()) != 1 {
		t.Errorf("want one VTIMEZONE, got %d", len(cal.Timezones()))
	}
	return p
}

func TestInvitationRoundTrip(t *testing.T) {
	// 31 March 2026 is in BST: 10:00 London is 09:00 UTC.
	s, err := Invitation(invite(t, "2026-03-31 10:00", 0, false))
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, s)
	if p.method != "REQUEST" || p.seq != 0 || p.status != "CONFIRMED" || p.tzid != TZID || p.dtstart != "20260331T100000" {
		t.Errorf("parsed = %+v", p)
	}
	if !p.start.Equal(at(t, "2026-03-31 10:00")) {
		t.Errorf("start read back as %v", p.start)
	}
	unfolded := strings.ReplaceAll(strings.ReplaceAll(s, "\r\n ", ""), "\n ", "")
	for _, want := range []string{"BEGIN:VTIMEZONE", "TZID:Europe/London", "BEGIN:DAYLIGHT", "TZOFFSETTO:+0100", "BEGIN:STANDARD",
		"ORGANIZER:mailto:dsr@example.org", "ATTENDEE;", "mailto:chair@example.org", "RSVP=true"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("invitation lacks %q:\n%s", want, s)
		}
	}
	checkWithPython(t, s, "REQUEST", 0)
}

// Moving the meeting raises SEQUENCE and keeps the UID; cancelling raises
// it again with METHOD:CANCEL.
func TestChangedMeetingKeepsUIDRaisesSequence(t *testing.T) {
	first, _ := Invitation(invite(t, "2026-03-24 10:00", 0, false)) // GMT
	moved, _ := Invitation(invite(t, "2026-03-31 14:00", 1, false)) // BST
	cancelled, _ := Invitation(invite(t, "2026-03-31 14:00", 2, true))
	a, b, c := parse(t, first), parse(t, moved), parse(t, cancelled)
	if a.uid != b.uid || b.uid != c.uid {
		t.Errorf("UIDs %q %q %q", a.uid, b.uid, c.uid)
	}
	if !(a.seq < b.seq && b.seq < c.seq) {
		t.Errorf("sequences %d %d %d", a.seq, b.seq, c.seq)
	}
	if c.method != "CANCEL" || c.status != "CANCELLED" {
		t.Errorf("cancel = %+v", c)
	}
	if a.start.UTC().Hour() != 10 || b.start.UTC().Hour() != 13 {
		t.Errorf("UTC hours %d, %d: the VTIMEZONE or TZID is wrong", a.start.UTC().Hour(), b.start.UTC().Hour())
	}
	checkWithPython(t, cancelled, "CANCEL", 2)
}

func TestInvitationNamesNoOne(t *testing.T) {
	inv := invite(t, "2026-03-24 10:00", 0, false)
	s, _ := Invitation(inv)
	// Only the fields given: summary, place, link, addresses. A person's
	// details are never among the inputs, so check the shape: no
	// DESCRIPTION beyond the link.
	for _, line := range strings.Split(s, "\r\n") {
		if strings.HasPrefix(line, "DESCRIPTION:") && !strings.Contains(line, inv.URL[:20]) {
			t.Errorf("description holds more than the link: %q", line)
		}
	}
	if _, err := Invitation(Invite{UID: "x"}); err == nil {
		t.Error("an invitation without times was written")
	}
}

func TestFeed(t *testing.T) {
	s := Feed("DSR dates", []Event{
		{UID: "review-p1@x", Summary: "Review date", Start: at(t, "2026-10-25 09:00"), URL: "https://x/people/p1"},
		{UID: "meeting-m1@x", Summary: "DSR meeting", Start: at(t, "2026-10-27 10:00"), End: at(t, "2026-10-27 11:30")},
	}, time.Now())
	cal, err := ics.ParseCalendar(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cal.Events()); n != 2 {
		t.Fatalf("%d events", n)
	}
	if strings.Contains(s, "METHOD:") {
		t.Error("a feed carries no METHOD")
	}
	// 25 October 2026 is the day the clocks go back: 09:00 is GMT.
	st, _ := cal.Events()[0].GetStartAt()
	if st.UTC().Hour() != 9 {
		t.Errorf("feed start %v", st.UTC())
	}
}

// checkWithPython reads the invitation with a second, independent parser
// (python3's icalendar) when it is installed.
func checkWithPython(t *testing.T, s, method string, seq int) {
	t.Helper()
	py := ""
	for _, c := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(c, "-c", "import icalendar").Run() == nil {
			py = c
			break
		}
	}
	if py == "" {
		t.Log("python3 icalendar is not installed: the second parser's check is skipped (apt-get install python3-icalendar)")
		return
	}
	f := filepath.Join(t.TempDir(), "invite.ics")
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
ev = [c for c in cal.walk('VEVENT')][0]
tz = [c for c in cal.walk('VTIMEZONE')][0]
print(cal['METHOD'], int(ev['SEQUENCE']), ev['UID'], ev.decoded('DTSTART').tzinfo is not None, tz['TZID'])
`
	out, err := exec.Command(py, "-c", script, f).CombinedOutput()
	if err != nil {
		t.Fatalf("python icalendar refused it: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 5 || fields[0] != method || fields[1] != strconv.Itoa(seq) || fields[3] != "True" || fields[4] != TZID {
		t.Errorf("python icalendar read %q", out)
	}
}
