package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

var nonceIn = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// The review form answers the risk tool: all four key questions yes
// suggests red; agreeing amber needs a reason, which is kept beside the
// suggestion. From a meeting, the form goes back to the meeting page.
func TestReviewRiskToolAndMeetingReturn(t *testing.T) {
	clearOfMidnight(t, 2*time.Minute)
	s := newSite(t)
	m, ids := meetingOfThree(t, s)
	id := ids[1]
	b := s.as(t, "coord@example.org")
	p := must(t, b.get("/people/"+id+"/review?meeting="+m.ID), http.StatusOK, "Risk tool (optional)",
		"Crisis presentation at A&E in the last month", `name="meeting" value="`+m.ID+`"`)
	today := time.Now().In(register.London)
	f := url.Values{
		"held_at-day": {fmt.Sprint(today.Day())}, "held_at-month": {fmt.Sprint(int(today.Month()))}, "held_at-year": {fmt.Sprint(today.Year())},
		"rag": {"amber"}, "risk": {"mental_health", "behaviour", "environment", "crisis"}, "meeting": {m.ID},
		"nonce": {nonceIn.FindStringSubmatch(p.body)[1]},
	}
	p = must(t, b.post("/people/"+id+"/review", f), http.StatusUnprocessableEntity, "The risk tool suggests red: say why the rating agreed differs")
	f.Set("risk_reason", "The crisis has passed since Monday")
	f.Set("nonce", nonceIn.FindStringSubmatch(p.body)[1])
	p = b.post("/people/"+id+"/review", f).must(t, http.StatusSeeOther)
	if got := p.location(); got != "/meetings/"+m.ID+"?done=review" {
		t.Errorf("after the review: %s", got)
	}
	var suggested, rating, reason string
	if err := s.store.Pool.QueryRow(context.Background(), `SELECT suggested_rating, rating, rating_reason FROM reviews WHERE person_id = $1`, id).
		Scan(&suggested, &rating, &reason); err != nil {
		t.Fatal(err)
	}
	if suggested != "red" || rating != "amber" || reason != "The crisis has passed since Monday" {
		t.Errorf("kept %s / %s / %q", suggested, rating, reason)
	}
	// The record shows the suggestion beside the rating agreed, and why
	// they differ.
	rec := must(t, b.get("/people/"+id), http.StatusOK, "Risk tool suggested", "(the rating agreed differs)",
		"Why the rating differs from the risk tool", "The crisis has passed since Monday")
	if !regexp.MustCompile(`(?s)data-testid="risk-suggestion">.*?nhsuk-tag--red`).MatchString(rec.body) {
		t.Error("the record does not show the red suggestion")
	}
	must(t, b.get("/meetings/"+m.ID), http.StatusOK, "Reviewed", "Record the review")
	// A meeting id that is not one is not followed.
	f.Set("meeting", "//evil.example.org")
	f.Set("nonce", "")
	if got := b.post("/people/"+id+"/review", f).location(); got != "/people/"+id+"?done=review" {
		t.Errorf("redirect to %s", got)
	}
	// A professional sees the meeting's people they are named for only,
	// and no buttons.
	pat := s.as(t, "pat@example.org")
	page := must(t, pat.get("/meetings/"+m.ID), http.StatusOK, "Jordan Blake")
	if page.has("Close the meeting") || page.has("Not discussed") {
		t.Error("a professional sees the coordinator's buttons")
	}
	other := must(t, s.as(t, "other@example.org").get("/meetings/"+m.ID), http.StatusOK, "Nobody is on this agenda whose record names you")
	if other.has("Jordan") {
		t.Error("an unnamed professional sees a name")
	}
}
