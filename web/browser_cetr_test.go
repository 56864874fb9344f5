package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestBrowserCETRTimeline books and records a community C(E)TR on a red
// record through the pages, names a keyworker referral, then admits the
// person without another one: the record's C(E)TR timeline shows the one
// held, the post-admission review due and the admission flagged.
func TestBrowserCETRTimeline(t *testing.T) {
	s := newSite(t)
	c := newChrome(t, s.srv.URL)
	req := validReferral("Jess", "Example", nhsNumber(7100), "pat@example.org")
	req.Person.DateOfBirth = time.Now().In(register.London).AddDate(-17, 0, 0).Format(time.DateOnly) // 17: CETRs
	req.Consent.Basis = register.ParentalResponsibility
	id := s.referRequest(req)
	s.accept(id, register.Red)

	signInAs(c, "Cora Ordinator")
	c.open("/people/" + id)
	if got := c.text(`[data-testid="cetr-timeline"]`); !strings.Contains(got, "Community CETR") || !strings.Contains(got, "Due") {
		t.Fatalf("timeline on a red record: %q", got)
	}
	c.submit(`a[href$="/book"]`)
	c.check("cetr-book-form")
	on := time.Now().In(register.London).AddDate(0, 0, 3)
	c.typeIn("booked_for-day", fmt.Sprint(on.Day()))
	c.typeIn("booked_for-month", fmt.Sprint(int(on.Month())))
	c.typeIn("booked_for-year", fmt.Sprint(on.Year()))
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("book: %d", st)
	}
	if got := c.text(`[data-testid="banner"]`); !strings.Contains(got, "C(E)TR booked") {
		t.Fatalf("banner %q", got)
	}
	c.submit(`a[href$="/record"]`)
	if st := c.submit(`main button[type="submit"]`); st != 422 {
		t.Errorf("record without a chair: %d", st)
	}
	c.check("cetr-record-form-errors")
	c.typeIn("chair", "Dr Ada Chair")
	c.typeIn("notes", "Recommendations: intensive support; a keyworker referral.")
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("record: %d", st)
	}
	c.open("/people/" + id + "/keyworker")
	c.check("keyworker-form")
	today := time.Now().In(register.London)
	c.typeIn("referred_on-day", fmt.Sprint(today.Day()))
	c.typeIn("referred_on-month", fmt.Sprint(int(today.Month())))
	c.typeIn("referred_on-year", fmt.Sprint(today.Year()))
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("keyworker: %d", st)
	}
	c.open("/people/" + id + "/consent")
	if st := c.submit(`main button[type="submit"]`); st != 422 {
		t.Errorf("consent without a basis: %d", st)
	}
	c.do(chromedp.Click(chromedp.ID("basis-2")))
	c.check("consent-renew-form")
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("consent: %d", st)
	}
	if got := c.text(`[data-testid="consent-history"]`); !strings.Contains(got, "Renewed") {
		t.Errorf("consent history: %q", got)
	}
	c.open("/people/" + id + "/consent/withdraw")
	c.check("consent-withdraw-form")
	// Admitted after the C(E)TR: preceded; a post-admission and an interim review due.
	s.update(id, workflows.UpdateChangeRating, workflows.RatingRequest{Actor: s.actor("coord@example.org"), Rating: register.Blue, Reason: "admitted"})
	c.open("/people/" + id + "#cetrs")
	got := c.text(`[data-testid="cetr-timeline"]`)
	for _, want := range []string{"Community CETR", "Held", "Dr Ada Chair", "Post-admission CETR", "Interim CETR review"} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline has no %q: %q", want, got)
		}
	}
	if got := c.text(`[data-testid="admissions"]`); !strings.Contains(got, "came before it") {
		t.Errorf("admissions: %q", got)
	}
	if got := c.text(`[data-testid="keyworker"]`); !strings.Contains(got, "referred on") {
		t.Errorf("keyworker: %q", got)
	}
	c.do(chromedp.ScrollIntoView(`#cetrs`))
	c.check("record-cetr-timeline")

	// Admitted with no C(E)TR before it: flagged; the coordinator records
	// the root-cause review's outcome.
	other := s.refer("Rob", "Example", nhsNumber(7101), "pat@example.org")
	s.accept(other, register.Amber)
	s.update(other, workflows.UpdateChangeRating, workflows.RatingRequest{Actor: s.actor("coord@example.org"), Rating: register.Blue, Reason: "admitted"})
	c.open("/people/" + other)
	if got := c.text(`[data-testid="admissions"]`); !strings.Contains(got, "Root-cause review needed") {
		t.Fatalf("admission not flagged: %q", got)
	}
	c.submit(`a[href$="/root-cause"]`)
	c.check("root-cause-form")
	c.typeIn("outcome", "No crisis bed in the area; community C(E)TR not called in time.")
	if st := c.submit(`main button[type="submit"]`); st != 200 {
		t.Fatalf("root cause: %d", st)
	}
	if got := c.text(`[data-testid="admissions"]`); !strings.Contains(got, "root-cause review: No crisis bed") {
		t.Errorf("outcome not shown: %q", got)
	}
}
