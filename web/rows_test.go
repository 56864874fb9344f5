package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// Without JavaScript, "add another" sends the form back with one more row,
// everything typed kept and nothing stored; the form's own button still
// comes first, so Enter in a field sends it.
func TestFormsGrowWithoutJavaScript(t *testing.T) {
	clearOfMidnight(t, 2*time.Minute) // the review is held "today"
	s := newSite(t)
	ctx := context.Background()
	pat := s.as(t, "pat@example.org")
	first := regexp.MustCompile(`(?s)<button[^>]*type="submit"[^>]*>`)

	// Referral: three professionals at first, a fourth on asking.
	p := must(t, pat.get("/referrals/new"), http.StatusOK, `name="rows" value="3"`, "Add another professional")
	if b := first.FindString(p.body[strings.Index(p.body, `action="/referrals/new"`):]); strings.Contains(b, "add_row") {
		t.Errorf("the first submit button adds a row: %s", b)
	}
	f := referralForm("Growing", nhsNumber(900))
	f.Set("rows", "3")
	f.Set("professionals[2].name", "Third Person")
	f.Set("add_row", "1")
	p = must(t, pat.post("/referrals/new", f), http.StatusOK, `name="rows" value="4"`, `id="professionals-3-name"`, `value="Third Person"`, `value="Growing"`)
	if !regexp.MustCompile(`id="professionals-3-name"[^>]*autofocus`).MatchString(p.body) {
		t.Errorf("the focus is not in the new row")
	}
	if p.has("There is a problem") {
		t.Errorf("adding a row validated the form")
	}
	if n, _ := s.store.Pool.Exec(ctx, `SELECT 1 FROM people`); n.RowsAffected() != 0 {
		t.Fatalf("adding a row stored a referral")
	}
	f.Del("add_row")
	f.Set("rows", "4")
	f.Set("professionals[2].email", "third@example.org")
	f.Set("professionals[3].name", "Fourth Person")
	f.Set("professionals[3].email", "fourth@example.org")
	p = pat.post("/referrals/new", f).must(t, http.StatusSeeOther)
	id := strings.TrimPrefix(p.location(), "/referrals/sent/")
	person, err := s.store.GetPerson(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(person.Professionals) != 3 || person.Professionals[2].Email != "fourth@example.org" {
		t.Errorf("professionals stored: %+v", person.Professionals)
	}

	// At the register's limit there is no button, and asking adds nothing.
	f = referralForm("Full", nhsNumber(901))
	f.Set("rows", fmt.Sprint(register.MaxProfessionals))
	f.Set("add_row", "1")
	p = pat.post("/referrals/new", f)
	if p.has("Add another professional") || p.has(fmt.Sprintf(`id="professionals-%d-name"`, register.MaxProfessionals)) {
		t.Errorf("more rows than the register allows (status %d)", p.status)
	}

	// The public form does not grow.
	if pub := s.browser(t).get("/refer"); pub.has("Add another") || pub.has(`name="rows"`) {
		t.Errorf("the self-referral form offers to add rows")
	}

	// Review: two new actions at first; a third on asking, then all three stored.
	s.accept(id, register.Amber)
	p = must(t, pat.get("/people/"+id+"/review"), http.StatusOK, `name="rows" value="2"`, "Add another action")
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	now := time.Now().In(register.London)
	due := now.AddDate(0, 0, 14)
	rf := url.Values{"held_at-day": {fmt.Sprint(now.Day())}, "held_at-month": {fmt.Sprint(int(now.Month()))}, "held_at-year": {fmt.Sprint(now.Year())},
		"rag": {"amber"}, "rows": {"2"}, "add_row": {"1"}, "nonce": {nonce}}
	for i := range 3 {
		pre := fmt.Sprintf("actions[%d].", i)
		rf.Set(pre+"description", fmt.Sprint("Action number ", i+1))
		rf.Set(pre+"owner_email", "pat@example.org")
		rf.Set(pre+"due-day", fmt.Sprint(due.Day()))
		rf.Set(pre+"due-month", fmt.Sprint(int(due.Month())))
		rf.Set(pre+"due-year", fmt.Sprint(due.Year()))
	}
	p = must(t, pat.post("/people/"+id+"/review", rf), http.StatusOK, `name="rows" value="3"`, `id="actions-2-description"`, "Action number 2", `name="nonce" value="`+nonce+`"`)
	if !regexp.MustCompile(`id="actions-2-description"[^>]*autofocus`).MatchString(p.body) {
		t.Errorf("the focus is not in the new action")
	}
	rf.Del("add_row")
	rf.Set("rows", "3")
	pat.post("/people/"+id+"/review", rf).must(t, http.StatusSeeOther)
	person, _ = s.store.GetPerson(ctx, id)
	if len(person.Reviews) != 1 || len(person.Actions) != 3 {
		t.Errorf("after the review: %d reviews, %d actions; want 1 and 3", len(person.Reviews), len(person.Actions))
	}

	// Professionals: everyone named and two more, and another on asking.
	coord := s.as(t, "coord@example.org")
	must(t, coord.get("/people/"+id+"/professionals"), http.StatusOK, `name="rows" value="5"`, "Add another professional")
	must(t, coord.post("/people/"+id+"/professionals", url.Values{"rows": {"5"}, "add_row": {"1"}, "professionals[0].name": {"Kept Name"}}),
		http.StatusOK, `name="rows" value="6"`, `id="professionals-5-name"`, `value="Kept Name"`)
	person, _ = s.store.GetPerson(ctx, id)
	if len(person.Professionals) != 3 {
		t.Errorf("adding a row changed the professionals: %+v", person.Professionals)
	}
}
