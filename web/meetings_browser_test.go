package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// meetingOfThree puts three people on the register and on the agenda of
// an extra meeting today, planned as the series workflow plans it.
func meetingOfThree(t *testing.T, s *site) (store.MeetingState, []string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i, n := range [][2]string{{"Jordan", "Blake"}, {"Priya", "Shah"}, {"Sam", "Okafor"}} {
		id := s.refer(n[0], n[1], nhsNumber(7000+i), "pat@example.org")
		s.accept(id, []register.Rating{register.Red, register.Amber, register.Green}[i])
		ids = append(ids, id)
	}
	sr := register.Series{ID: "swindon", Name: "Swindon DSR", Schedule: "0 10 * * TUE", Capacity: 12,
		Attendees: []string{"chair@example.org"}, Place: "https://meet.example.org/swindon-dsr"}
	if err := s.store.SaveSeries(ctx, sr); err != nil {
		t.Fatal(err)
	}
	m, err := s.store.AddExtraMeeting(ctx, sr.ID, time.Now().Add(time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	cands, err := s.store.Candidates(ctx, "", 5*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ag := register.PlanAgenda(m.Meeting, nil, cands, register.Edits{Add: ids})
	if len(ag.Items) != 3 {
		t.Fatalf("agenda %+v", ag)
	}
	if err := s.store.SaveAgenda(ctx, m, ag); err != nil {
		t.Fatal(err)
	}
	return m, ids
}

// TestBrowserMeetingOfThree: the coordinator runs a meeting of three on
// the meeting page, recording each review from it and closing it; every
// page is axe-clean, and the action owner gets one mail.
func TestBrowserMeetingOfThree(t *testing.T) {
	clearOfMidnight(t, 10*time.Minute)
	s := newSite(t)
	m, ids := meetingOfThree(t, s)
	c := newChrome(t, s.srv.URL)
	signInAs(c, "Cora Ordinator")
	c.open("/meetings")
	c.check("meetings")
	// A series made through its form: refused first, naming the fields,
	// then saved; the extra-meeting, move and calendar pages are clean too.
	c.open("/meetings/series/new")
	c.check("series-form")
	c.typeIn("id", "lyme")
	c.typeIn("name", "Lyme DSR")
	c.typeIn("schedule", "every tuesday")
	c.typeIn("capacity", "2")
	c.typeIn("attendees", "chair@example.org\nnot-an-email")
	if st := c.submit(`main button[type="submit"]`); st != http.StatusUnprocessableEntity {
		t.Fatalf("bad series: status %d", st)
	}
	if sum := c.text(`[data-testid="error-summary"]`); !strings.Contains(sum, "Schedule is not a cron schedule") || !strings.Contains(sum, "Standing attendees") {
		t.Fatalf("error summary: %q", sum)
	}
	c.check("series-form-errors")
	c.typeIn("schedule", "0 10 1 1 *")
	c.typeIn("attendees", "chair@example.org")
	if st := c.submit(`main button[type="submit"]`); st != http.StatusOK || !strings.Contains(c.text("main"), "Lyme DSR") {
		t.Fatalf("series: status %d: %s", st, c.text("main"))
	}
	if sr, err := s.store.Series(context.Background(), "lyme"); err != nil || sr.Capacity != 2 {
		t.Fatalf("series saved: %+v %v", sr, err)
	}
	c.open("/meetings/series/lyme/extra")
	c.check("extra-meeting-form")
	c.open("/meetings/" + m.ID + "/change")
	c.check("meeting-change-form")
	c.open("/calendar")
	if st := c.submit(`main form[action="/calendar"] button[type="submit"]`); st != http.StatusOK {
		t.Fatalf("calendar link: %d", st)
	}
	c.check("calendar-link")
	c.open("/meetings/" + m.ID)
	if n := c.eval(`String(document.querySelectorAll('[data-testid="agenda-row"]').length)`); n != "3" {
		t.Fatalf("%s people on the agenda page, want 3", n)
	}
	c.check("meeting-agenda")
	for i, id := range ids {
		c.submit(`tr[data-person="` + id + `"] a[data-testid="record-review"]`)
		if i == 0 {
			c.check("meeting-review-form")
		}
		c.do(chromedp.Click(chromedp.ID("rag")))
		c.typeIn("current_issues", "Discussed at the DSR meeting")
		if i == 0 {
			c.typeIn("actions-0-description", "Arrange a community C(E)TR")
			c.typeIn("actions-0-owner_email", "pat@example.org")
			due := time.Now().AddDate(0, 0, 14).In(register.London)
			c.typeIn("actions-0-due-day", due.Format("2"))
			c.typeIn("actions-0-due-month", due.Format("1"))
			c.typeIn("actions-0-due-year", due.Format("2006"))
		}
		if st := c.submit(`main button[type="submit"]`); st != 200 {
			t.Fatalf("review %d: status %d: %s", i, st, c.text("main"))
		}
		if !strings.Contains(c.eval(`location.pathname`), "/meetings/") {
			t.Fatalf("after the review the browser is at %s, not the meeting", c.eval(`location.pathname`))
		}
		if got := c.text(`tr[data-person="` + id + `"] [data-testid="reviewed"]`); got != "Reviewed" {
			t.Fatalf("row %d shows %q", i, got)
		}
	}
	c.check("meeting-reviewed")
	if st := c.submit(`main form[action$="/close"] button[type="submit"]`); st != 200 {
		t.Fatalf("close: %d", st)
	}
	c.check("meeting-closed")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.smtp.WaitFor(ctx, func(m devstack.Captured) bool { return m.Header.Get("X-DSR-Kind") == "meeting-actions" }); err != nil {
		t.Fatal("no action mail after closing")
	}
	entries, err := s.store.Agenda(context.Background(), m.ID, register.Actor{Role: "coordinator", Email: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Outcome != "reviewed" || e.ReviewID == "" {
			t.Errorf("minutes: %+v", e)
		}
	}
}
