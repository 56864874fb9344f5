package e2e

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

type meetingJSON struct {
	ID         string              `json:"id"`
	Start      time.Time           `json:"start"`
	Sequence   int                 `json:"sequence"`
	AgendaSent bool                `json:"agenda_sent"`
	Closed     bool                `json:"closed"`
	Agenda     []store.AgendaEntry `json:"agenda"`
}

// invitation reads the text/calendar part of an agenda mail back with
// golang-ical: method, UID and sequence.
func invitation(t *testing.T, m devstack.Captured) (method, uid string, seq int) {
	t.Helper()
	part := m.Calendar()
	if part == "" {
		t.Fatalf("the agenda mail has no text/calendar part:\n%s", m.Raw)
	}
	cal, err := ics.ParseCalendar(strings.NewReader(part))
	if err != nil {
		t.Fatalf("the invitation does not parse: %v\n%s", err, part)
	}
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == string(ics.PropertyMethod) {
			method = p.Value
		}
	}
	ev := cal.Events()[0]
	seq, _ = strconv.Atoi(ev.GetProperty(ics.ComponentPropertySequence).Value)
	return method, ev.Id(), seq
}

func (s *stack) waitMeetingMail(kind, meetingID string, match func(devstack.Captured) bool, within time.Duration) devstack.Captured {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	m, err := s.smtp.WaitFor(ctx, func(c devstack.Captured) bool {
		return c.Header.Get("X-DSR-Kind") == kind && c.Header.Get("X-DSR-Meeting") == meetingID && (match == nil || match(c))
	})
	if err != nil {
		s.t.Fatalf("no %s mail for meeting %s within %s", kind, meetingID, within)
	}
	return m
}

// TestMeetingEndToEnd: a series with capacity 2 meeting every minute and
// three people due. The agenda (two people, one carried to the next
// meeting) goes out with its invitation; moving the meeting sends it again
// with the same UID and a higher SEQUENCE; the meeting records both
// reviews with actions, and closing it sends the actions' owner one mail;
// the carried person's reminders name the next meeting, on whose agenda
// they come first.
func TestMeetingEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStackEdit(t, fast(), codec.GenerateKey(), func(c *config.Config) { c.AgendaLead = 30 * time.Second })
	var people []string
	for i := range 3 {
		people = append(people, s.referAndAccept(nhsNumber(1300+i)))
	}
	// Start the series early in a minute, so the first meeting (the next
	// whole minute) is planned 30 s before it, after this.
	for sec := time.Now().Second(); sec < 1 || sec > 20; sec = time.Now().Second() {
		time.Sleep(200 * time.Millisecond)
	}
	s.must(http.StatusUnprocessableEntity, "coord@example.org", "PUT", "/meeting-series/e2e",
		map[string]any{"name": "E2E DSR", "schedule": "* * * * *", "capacity": 2, "attendees": []string{"Chair <chair@example.org>"}}, nil)
	s.must(http.StatusOK, "coord@example.org", "PUT", "/meeting-series/e2e",
		map[string]any{"name": "E2E DSR", "schedule": "* * * * *", "capacity": 2, "length_minutes": 1,
			"attendees": []string{"chair@example.org"}, "place": "https://meet.example.org/dsr"}, nil)
	var list struct{ Meetings []meetingJSON }
	s.must(http.StatusOK, "coord@example.org", "GET", "/meeting-series/e2e/meetings", nil, &list)
	m1, m2 := list.Meetings[0], list.Meetings[1]

	agenda := s.waitMeetingMail("meeting-agenda", m1.ID, nil, 75*time.Second)
	method, uid, seq := invitation(t, agenda)
	if method != "REQUEST" || seq != 0 || !strings.HasPrefix(uid, m1.ID+"@") {
		t.Errorf("invitation: %s %s %d", method, uid, seq)
	}
	if !hasAny(agenda.To, []string{"chair@example.org"}) && len(notices(s.smtp.Messages(), func(c devstack.Captured) bool {
		return c.Header.Get("X-DSR-Meeting") == m1.ID && hasAny(c.To, []string{"chair@example.org"})
	})) == 0 {
		t.Error("the standing attendee got no agenda")
	}
	if raw := string(agenda.Raw); strings.Contains(raw, "Alex") || strings.Contains(raw, "Testperson") || strings.Contains(raw, nhsNumber(1300)) {
		t.Error("the agenda mail names someone")
	}

	var got meetingJSON
	waitFor(t, 10*time.Second, "the agenda is marked sent", func() bool {
		s.must(http.StatusOK, "coord@example.org", "GET", "/meetings/"+m1.ID, nil, &got)
		return got.AgendaSent
	})
	var on, over []string
	for _, e := range got.Agenda {
		if e.Outcome == "overflow" {
			over = append(over, e.PersonID)
		} else {
			on = append(on, e.PersonID)
		}
	}
	if len(on) != 2 || len(over) != 1 {
		t.Fatalf("agenda: on %v, carried %v", on, over)
	}
	carried := over[0]
	// The carried person's review date is now the next meeting's.
	waitFor(t, 20*time.Second, "the carried person's review date moves to the next meeting", func() bool {
		var p register.Person
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+carried, nil, &p)
		return p.NextReviewDue != nil && p.NextReviewDue.Equal(m2.Start)
	})

	// Moved: the same UID, a higher SEQUENCE.
	s.must(http.StatusOK, "coord@example.org", "PATCH", "/meetings/"+m1.ID, map[string]any{"start": m1.Start.Add(15 * time.Second)}, nil)
	moved := s.waitMeetingMail("meeting-agenda", m1.ID, func(c devstack.Captured) bool {
		_, _, sq := invitation(t, c)
		return sq == 1
	}, 30*time.Second)
	if _, uid2, _ := invitation(t, moved); uid2 != uid {
		t.Errorf("UID changed when the meeting moved: %s -> %s", uid, uid2)
	}

	// The meeting: both reviews recorded with an action each, then closed.
	due := time.Now().Add(72 * time.Hour).Format(time.RFC3339)
	for _, id := range on {
		s.must(http.StatusUnprocessableEntity, "coord@example.org", "POST", "/meetings/"+m1.ID+"/people/"+id+"/outcome", map[string]any{"outcome": "reviewed"}, nil)
		s.must(http.StatusCreated, "coord@example.org", "POST", "/people/"+id+"/reviews", map[string]any{
			"rag": "amber", "current_issues": "settled", "tried": "respite", "could_help": "keyworker",
			"actions": []map[string]any{{"description": "Book a C(E)TR", "owner_email": "sw@example.org", "due": due}},
		}, nil)
		s.must(http.StatusOK, "coord@example.org", "POST", "/meetings/"+m1.ID+"/people/"+id+"/outcome", map[string]any{"outcome": "reviewed"}, nil)
	}
	s.must(http.StatusOK, "coord@example.org", "POST", "/meetings/"+m1.ID+"/close", nil, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/meetings/"+m1.ID+"/close", nil, nil) // again: nothing new
	actions := s.waitMeetingMail("meeting-actions", m1.ID, nil, 30*time.Second)
	if !hasAny(actions.To, []string{"sw@example.org"}) || strings.Count(actions.Text(), "/people/") != 2 || strings.Contains(actions.Text(), "C(E)TR") {
		t.Errorf("action mail to %v:\n%s", actions.To, actions.Text())
	}
	time.Sleep(2 * time.Second)
	if n := len(notices(s.smtp.Messages(), func(c devstack.Captured) bool { return c.Header.Get("X-DSR-Kind") == "meeting-actions" })); n != 1 {
		t.Errorf("%d action mails, want one", n)
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/meetings/"+m1.ID, nil, &got)
	for _, e := range got.Agenda {
		if slices.Contains(on, e.PersonID) && (e.Outcome != "reviewed" || e.ReviewID == "") {
			t.Errorf("minutes: %+v", e)
		}
	}

	// The carried person's reminder names the next meeting's time.
	want := m2.Start.In(register.London).Format("2 January 2006 at 15:04")
	rctx, rcancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer rcancel()
	if _, err := s.smtp.WaitFor(rctx, func(c devstack.Captured) bool {
		return c.Header.Get("X-DSR-Kind") == "review-due" && c.Header.Get("X-DSR-Person") == carried && strings.Contains(c.Text(), want)
	}); err != nil {
		t.Errorf("no review-due for the carried person naming the meeting's time %s", want)
	}
	// And they come first on the next meeting's agenda.
	s.waitMeetingMail("meeting-agenda", m2.ID, nil, 60*time.Second)
	var next meetingJSON
	s.must(http.StatusOK, "coord@example.org", "GET", "/meetings/"+m2.ID, nil, &next)
	if len(next.Agenda) == 0 || next.Agenda[0].PersonID != carried || next.Agenda[0].Carried != 1 {
		t.Errorf("next agenda: %+v", next.Agenda)
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
