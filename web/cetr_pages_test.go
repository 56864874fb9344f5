package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

func nonceOf(t *testing.T, p page) string {
	t.Helper()
	m := nonceIn.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no nonce on the page")
	}
	return m[1]
}

// openCETRs counts a record's C(E)TRs due or booked.
func openCETRs(p register.Person) (n int, first register.CETR) {
	for _, c := range p.CETRs {
		if c.Status == register.CETRDueStatus || c.Status == register.CETRBooked {
			if n == 0 {
				first = c
			}
			n++
		}
	}
	return n, first
}

// TestCETRRecordedWithRecommendationsAsActions records a due community
// C(E)TR as held through the page with its recommendations as action rows:
// bad rows come back naming the row's field with nothing changed, and the
// good ones become actions on the ladder, as the API's recommendations do.
func TestCETRRecordedWithRecommendationsAsActions(t *testing.T) {
	clearOfMidnight(t, 2*time.Minute) // held "today"
	s := newSite(t)
	ctx := context.Background()
	id := s.refer("Rec", "Ommend", nhsNumber(7200), "pat@example.org")
	s.accept(id, register.Red)
	person, _ := s.store.GetPerson(ctx, id)
	n, c := openCETRs(person)
	if n != 1 || c.Kind != register.CETRCommunity {
		t.Fatalf("a red record has %d open C(E)TRs (%+v), want one community", n, c)
	}
	pat := s.as(t, "pat@example.org")
	path := "/people/" + id + "/cetrs/" + c.ID + "/record"
	p := must(t, pat.get(path), http.StatusOK, "Record a C(E)TR as held", "Recommendations", "Recommendation 2", "Named on the record: pat@example.org")

	today := time.Now().In(register.London)
	due := today.AddDate(0, 0, 14)
	f := url.Values{
		"held_at-day": {fmt.Sprint(today.Day())}, "held_at-month": {fmt.Sprint(int(today.Month()))}, "held_at-year": {fmt.Sprint(today.Year())},
		"chair":                  {"Dr Ada Chair"},
		"actions[0].description": {"Refer for intensive support"}, "actions[0].owner_email": {"not an email"},
		"actions[0].due-day": {fmt.Sprint(due.Day())}, "actions[0].due-month": {fmt.Sprint(int(due.Month()))}, "actions[0].due-year": {fmt.Sprint(due.Year())},
		"actions[1].description": {"Half-filled recommendation"},
		"nonce":                  {nonceOf(t, p)},
	}
	// Asking for another row keeps what was typed and adds a third.
	more := url.Values{"add_row": {"1"}}
	for k, v := range f {
		more[k] = v
	}
	must(t, pat.post(path, more), http.StatusOK, "Recommendation 3", `Refer for intensive support`)

	// The half-filled row is refused by the page, naming its fields.
	p = must(t, pat.post(path, f), http.StatusUnprocessableEntity,
		"Enter the email address of the person who will do it (new action 2)", "Enter the date it is due (new action 2)", "Refer for intensive support")
	// The bad email is refused by the workflow's check, shown on its row.
	f.Del("actions[1].description")
	f.Set("nonce", nonceOf(t, p))
	p = must(t, pat.post(path, f), http.StatusUnprocessableEntity, "not an email address")
	if !p.has(`id="actions-0-owner_email-error"`) {
		t.Errorf("the email's error is not on the first row's field")
	}
	person, _ = s.store.GetPerson(ctx, id)
	if n, _ := openCETRs(person); n != 1 || len(person.Actions) != 0 {
		t.Fatalf("refused forms changed the record: %d open C(E)TRs, %d actions", n, len(person.Actions))
	}

	// A good row and a blank one: held, and the recommendation is an action.
	f.Set("actions[0].owner_email", "Pat@Example.org")
	f.Set("nonce", nonceOf(t, p))
	p = pat.post(path, f).must(t, http.StatusSeeOther)
	pat.post(path, f).must(t, http.StatusNotFound) // sent again: no longer open, nothing twice
	must(t, pat.get(p.location()), http.StatusOK, "C(E)TR recorded as held", "Refer for intensive support", "Dr Ada Chair")
	person, _ = s.store.GetPerson(ctx, id)
	if len(person.Actions) != 1 {
		t.Fatalf("%d actions after recording, want 1", len(person.Actions))
	}
	a := person.Actions[0]
	if a.Description != "Refer for intensive support" || a.OwnerEmail != "pat@example.org" || a.Status != register.ActionOpen {
		t.Errorf("action %+v", a)
	}
	if got := a.Due.In(register.London); got.Hour() != 17 || got.Day() != due.Day() {
		t.Errorf("due %v, want 17:00 on day %d", got, due.Day())
	}
	held := false
	for _, x := range person.CETRs {
		held = held || (x.ID == c.ID && x.Status == register.CETRHeld && x.Chair == "Dr Ada Chair")
	}
	if !held {
		t.Errorf("C(E)TR not held: %+v", person.CETRs)
	}
}

// TestInpatientNewsPage records a secure setting and a hospital move
// through the coordinator's page, linked from the record's admission.
func TestInpatientNewsPage(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	id := s.refer("In", "Patient", nhsNumber(7300), "pat@example.org")
	s.accept(id, register.Blue)
	other := s.refer("Not", "Admitted", nhsNumber(7301), "pat@example.org")
	s.accept(other, register.Amber)

	pat := s.as(t, "pat@example.org")
	pat.get("/people/"+id+"/inpatient").must(t, http.StatusForbidden)
	if pat.get("/people/" + id).has("Record inpatient news") {
		t.Errorf("a professional is offered the coordinator's form")
	}
	coord := s.as(t, "coord@example.org")
	must(t, coord.get("/people/"+id), http.StatusOK, `href="/people/`+id+`/inpatient"`)
	coord.get("/people/"+other+"/inpatient").must(t, http.StatusConflict)
	if coord.get("/people/" + other).has("/inpatient") {
		t.Errorf("inpatient news offered for a person not in hospital")
	}

	p := must(t, coord.get("/people/"+id+"/inpatient"), http.StatusOK, "Inpatient news", "Moved to another hospital")
	before, _ := s.store.GetPerson(ctx, id)
	nBefore, _ := openCETRs(before)
	must(t, coord.post("/people/"+id+"/inpatient", url.Values{"nonce": {nonceOf(t, p)}}), http.StatusUnprocessableEntity, "Choose what has happened")
	must(t, coord.post("/people/"+id+"/inpatient", url.Values{"news": {"moved"}, "nonce": {nonceOf(t, p)}}), http.StatusUnprocessableEntity, "Choose what has happened")

	p = coord.post("/people/"+id+"/inpatient", url.Values{"news": {"secure"}, "nonce": {nonceOf(t, p)}}).must(t, http.StatusSeeOther)
	must(t, coord.get(p.location()), http.StatusOK, "Inpatient news recorded", "(secure)")
	person, _ := s.store.GetPerson(ctx, id)
	if len(person.Admissions) != 1 || !person.Admissions[0].Secure {
		t.Fatalf("admissions after secure: %+v", person.Admissions)
	}

	p = must(t, coord.get("/people/"+id+"/inpatient"), http.StatusOK, "to a secure setting")
	coord.post("/people/"+id+"/inpatient", url.Values{"news": {register.EventHospitalMove}, "nonce": {nonceOf(t, p)}}).must(t, http.StatusSeeOther)
	person, _ = s.store.GetPerson(ctx, id)
	n, _ := openCETRs(person)
	changes := 0
	for _, c := range person.CETRs {
		if c.CreatedAt.After(before.CETRs[0].CreatedAt) {
			changes++
		}
	}
	if n == 0 || (n <= nBefore && changes == 0) {
		t.Errorf("a hospital move made no new review due: %d open before, %d after, %+v", nBefore, n, person.CETRs)
	}
}
