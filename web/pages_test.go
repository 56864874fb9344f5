package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/api"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/report"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// nhsNumber makes a valid NHS number from a seed (Modulus 11); different
// seeds give different numbers.
func nhsNumber(seed int) string {
	for n := seed * 10; ; n++ {
		nine := fmt.Sprintf("%09d", 400000000+n%500000000)
		sum := 0
		for i := range 9 {
			sum += int(nine[i]-'0') * (10 - i)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check == 10 {
			continue
		}
		return nine + fmt.Sprint(check)
	}
}

// referralForm is a complete, valid referral as the form sends it.
func referralForm(given, nhs string) url.Values {
	return url.Values{
		"person.given_name":          {given},
		"person.family_name":         {"Testperson"},
		"person.date_of_birth-day":   {"1"},
		"person.date_of_birth-month": {"4"},
		"person.date_of_birth-year":  {"1990"},
		"person.nhs_number":          {nhs},
		"person.address":             {"1 High Street\r\nSwindon"},
		"person.postcode":            {"sn1 1aa"},
		"person.locality":            {"Swindon"},
		"referrer.name":              {"Pat Nurse"},
		"referrer.email":             {"pat@example.org"},
		"referrer.organisation":      {"Wiltshire CTPLD"},
		"consent.capacity":           {"yes"},
		"consent.informed":           {"yes"},
		"consent.recorded_on-day":    {"2"},
		"consent.recorded_on-month":  {"1"},
		"consent.recorded_on-year":   {"2026"},
		"consent.recorded_by":        {"Pat Nurse"},
		"proposed_rag":               {"red"},
		"current_issues":             {"Placement under strain"},
		"tried":                      {"Extra support hours"},
		"could_help":                 {"Respite"},
		"professionals[0].name":      {"Pat Nurse"},
		"professionals[0].email":     {"pat@example.org"},
		"professionals[0].role":      {"LD nurse"},
	}
}

func TestStaticAssetsAreVersionedAndCached(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	p := must(t, b.get("/refer"), http.StatusOK)
	m := regexp.MustCompile(`href="(/static/([0-9a-f]{12})/nhsuk-frontend\.min\.css)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no versioned stylesheet link in the page")
	}
	css := b.get(m[1]).must(t, http.StatusOK)
	if cc := css.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("Cache-Control %q", cc)
	}
	if ct := css.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if strings.Contains(css.body, "assets.nhs.uk") || strings.Contains(css.body, "url(/assets/") {
		t.Errorf("stylesheet loads from elsewhere or the site root")
	}
	js := b.get("/static/"+m[2]+"/app.js").must(t, http.StatusOK)
	if ct := js.header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("app.js Content-Type %q: a module script needs a JavaScript type", ct)
	}
	b.get("/static/"+m[2]+"/assets/images/nhsuk-icon-arrow-right.svg").must(t, http.StatusOK)
	b.get("/static/000000000000/app.js").must(t, http.StatusNotFound)
	b.get("/static/"+m[2]+"/no-such-file.js").must(t, http.StatusNotFound)
	b.get("/static/"+m[2]+"/").must(t, http.StatusNotFound)
	// The page itself: no inline script or style (the CSP forbids them).
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|\sstyle="|<style`).MatchString(p.body) {
		t.Errorf("page has inline script or style")
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	s := newSite(t)
	b := s.as(t, "pat@example.org")
	// A browser gets the page, with the header; the API keeps JSON.
	must(t, b.get("/no/such/page"), http.StatusNotFound, "Page not found", "Pat Nurse")
	p := b.get("/api/v1/no-such-thing")
	if p.status != http.StatusUnauthorized && p.status != http.StatusNotFound || strings.Contains(p.body, "<html") {
		t.Errorf("API path: %d %s", p.status, clip(p.body))
	}
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/no/such/page", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("non-browser client: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestSignedOutUsersAreSentToSignIn(t *testing.T) {
	s := newSite(t)
	b := s.browser(t)
	for _, path := range []string{"/", "/triage", "/referrals/new", "/people/" + "00000000-0000-0000-0000-000000000000", "/reports", "/dev/mail"} {
		p := b.get(path).must(t, http.StatusSeeOther)
		if !strings.HasPrefix(p.location(), "/signin?next=") {
			t.Errorf("%s redirects to %q", path, p.location())
		}
	}
}

func TestHeaderShowsUserAndSignsOut(t *testing.T) {
	s := newSite(t)
	b := s.as(t, "pat@example.org")
	p := must(t, b.get("/"), http.StatusOK, "Pat Nurse", "Professional, Wiltshire CTPLD", "Sign out", "My register", "Refer someone")
	if p.has("Referrals to decide") {
		t.Errorf("a professional sees the triage link")
	}
	must(t, b.post("/signout", nil), http.StatusSeeOther)
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("after sign-out / is %d, want a redirect to sign in", p.status)
	}
}

func TestReferralFormShowsErrorsAndKeepsEverything(t *testing.T) {
	s := newSite(t)
	b := s.as(t, "pat@example.org")
	p := must(t, b.get("/referrals/new"), http.StatusOK, "Refer someone to the register",
		"Does the person have the capacity to consent to being on the register?",
		"They are under 18 and a person with parental responsibility decides for them")
	// The form starts with the referrer filled in.
	if !p.has(`value="pat@example.org"`) {
		t.Errorf("the referrer's email is not filled in")
	}

	hostile := `<script>alert("x")</script>`
	f := referralForm(hostile, "943 476 5918") // wrong check digit
	f.Set("consent.capacity", "under18")       // and 35 years old
	f.Set("consent.parental", "yes")
	f.Set("professionals[1].name", "No Email Person") // a second professional without an email
	f.Set("tried", "line one\r\nline <b>two</b>")
	p = b.post("/referrals/new", f)
	must(t, p, http.StatusUnprocessableEntity, "There is a problem", "Error: Refer someone to the register")
	summary := regexp.MustCompile(`(?s)<div class="nhsuk-error-summary".*?</ul>`).FindString(p.body)
	for _, want := range []string{`href="#person-nhs_number"`, `href="#consent-capacity"`, `href="#professionals-1-email"`,
		"NHS number", "parental responsibility does not apply", "Enter professional 2"} {
		if !strings.Contains(summary, want) {
			t.Errorf("error summary lacks %q:\n%s", want, summary)
		}
	}
	// Inline errors sit by their fields.
	for _, id := range []string{"person-nhs_number-error", "consent-capacity-error", "professionals-1-email-error"} {
		if !strings.Contains(p.body, `id="`+id+`"`) {
			t.Errorf("no inline error %s", id)
		}
	}
	// Every value comes back, escaped.
	if strings.Contains(p.body, hostile) {
		t.Fatalf("hostile name reflected unescaped")
	}
	for _, want := range []string{`value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`, `value="943 476 5918"`, `value="No Email Person"`,
		"line one\r\nline &lt;b&gt;two&lt;/b&gt;", `value="under18" data-reveals="conditional-consent-under18" aria-controls="conditional-consent-under18" checked`, `value="1990"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("form lost %q", want)
		}
	}
	// Nothing was stored.
	list, _, err := s.store.ListPeople(context.Background(), s.actor("coord@example.org"), store.ListFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("people after a refused referral: %d, %v", len(list), err)
	}

	// Fixed, it goes through, and the confirmation says what happens next.
	f.Set("person.nhs_number", "943 476 5919")
	f.Set("consent.capacity", "yes")
	f.Set("consent.informed", "yes")
	f.Del("professionals[1].name")
	p = b.post("/referrals/new", f).must(t, http.StatusSeeOther)
	if !strings.HasPrefix(p.location(), "/referrals/sent/") {
		t.Fatalf("redirect to %q", p.location())
	}
	id := strings.TrimPrefix(p.location(), "/referrals/sent/")
	must(t, b.get(p.location()), http.StatusOK, "Referral sent", "What happens next", "within 5 days", "red every 7 days", "Open the record")
	rec := must(t, b.get("/people/"+id), http.StatusOK, "943 476 5919", "waiting for a decision", "Swindon")
	if strings.Contains(rec.body, hostile) || !rec.has(hostile) {
		t.Errorf("record does not show the name escaped")
	}
	person, err := s.store.GetPerson(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if person.NHSNumber != "9434765919" || person.Postcode != "SN1 1AA" || person.Tried != "line one\nline <b>two</b>" ||
		person.Consent.Basis != register.InformedConsent || person.Consent.RecordedOn != "2026-01-02" || person.SelfReferral {
		t.Errorf("stored %+v", person)
	}

	// The same person again: refused, with a way to the record.
	p = b.post("/referrals/new", f)
	must(t, p, http.StatusUnprocessableEntity, "already been referred", "/people/"+id)
}

func TestReferralConsentQuestions(t *testing.T) {
	s := newSite(t)
	b := s.as(t, "pat@example.org")
	b.get("/referrals/new")
	cases := []struct {
		name   string
		change func(url.Values)
		field  string
		text   string
	}{
		{"no answer", func(f url.Values) { f.Del("consent.capacity"); f.Del("consent.informed") }, "consent-capacity", "Select whether the person has the capacity to consent"},
		{"capacity without consent", func(f url.Values) { f.Del("consent.informed") }, "consent-informed", "Confirm that the person has given their informed consent"},
		{"no capacity without a decision", func(f url.Values) { f.Set("consent.capacity", "no") }, "consent-best_interest", "best-interest decision has been made"},
		{"a child without parental consent", func(f url.Values) {
			f.Set("consent.capacity", "under18")
			f.Set("person.date_of_birth-year", "2015")
		}, "consent-parental", "person with parental responsibility has given consent"},
		{"a date that is not a date", func(f url.Values) { f.Set("person.date_of_birth-day", "31"); f.Set("person.date_of_birth-month", "2") }, "person-date_of_birth-day", "Date of birth must be a real date"},
		{"consent recorded in the future", func(f url.Values) { f.Set("consent.recorded_on-year", "2999") }, "consent-recorded_on-day", "must not be in the future"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := referralForm("Case", nhsNumber(1000+i))
			c.change(f)
			p := must(t, b.post("/referrals/new", f), http.StatusUnprocessableEntity, c.text)
			if !strings.Contains(p.body, `href="#`+c.field+`"`) {
				t.Errorf("no summary link to #%s", c.field)
			}
		})
	}
	// A child with parental consent is accepted.
	f := referralForm("Child", nhsNumber(2000))
	f.Set("consent.capacity", "under18")
	f.Set("consent.parental", "yes")
	f.Set("person.date_of_birth-year", "2015")
	b.post("/referrals/new", f).must(t, http.StatusSeeOther)
}

func TestSelfReferral(t *testing.T) {
	s := newSite(t)
	b := s.browser(t) // signed out
	p := must(t, b.get("/refer"), http.StatusOK, "Refer yourself or someone you care for", "How urgent is it?", "Sign in")
	if !strings.Contains(p.body, `name="website"`) {
		t.Fatalf("no trap field")
	}
	f := referralForm("Selfie", "943 476 5919")
	for _, k := range []string{"referrer.organisation", "consent.recorded_by", "consent.recorded_on-day", "consent.recorded_on-month", "consent.recorded_on-year"} {
		f.Del(k)
	}
	f.Set("referrer.name", "Sam Parent")
	f.Set("referrer.email", "")
	f.Set("referrer.phone", "")
	p = b.post("/refer", f)
	must(t, p, http.StatusUnprocessableEntity, "Say how you know the person", "Enter an email address or a phone number")

	f.Set("referrer.relationship", "parent")
	f.Set("referrer.phone", "01793 000000")
	p = b.post("/refer", f).must(t, http.StatusSeeOther)
	if p.location() != "/refer/sent" {
		t.Fatalf("redirect to %q", p.location())
	}
	must(t, b.get("/refer/sent"), http.StatusOK, "Referral sent", "They will contact you either way")
	list, _, _ := s.store.ListPeople(context.Background(), s.actor("coord@example.org"), store.ListFilter{})
	if len(list) != 1 {
		t.Fatalf("%d people after a self-referral", len(list))
	}
	person, _ := s.store.GetPerson(context.Background(), list[0].ID)
	if !person.SelfReferral || person.Referrer.Relationship != "parent" || person.Consent.RecordedBy != "Sam Parent" {
		t.Errorf("stored %+v", person)
	}

	// The same person again, and a bot: both told the same, nothing stored.
	b.post("/refer", f).must(t, http.StatusSeeOther)
	f2 := referralForm("Bot", nhsNumber(3000))
	f2.Set("website", "http://spam.example")
	if p := b.post("/refer", f2).must(t, http.StatusSeeOther); p.location() != "/refer/sent" {
		t.Errorf("trap redirect %q", p.location())
	}
	list, _, _ = s.store.ListPeople(context.Background(), s.actor("coord@example.org"), store.ListFilter{})
	if len(list) != 1 {
		t.Errorf("%d people after a duplicate and a bot", len(list))
	}
}

func TestFormsRefuseWithoutCSRFToken(t *testing.T) {
	s := newSite(t)
	id := s.refer("Ada", "Csrf", nhsNumber(10), "pat@example.org")
	s.accept(id, register.Amber)
	coord := s.as(t, "coord@example.org")
	for _, path := range []string{"/referrals/new", "/people/" + id + "/rating", "/people/" + id + "/discharge", "/signout"} {
		p := coord.postRaw(path, url.Values{"rag": {"red"}, "reason": {"x"}})
		if p.status != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d, want 403", path, p.status)
		}
		p = coord.postRaw(path, url.Values{"rag": {"red"}, "reason": {"x"}, "csrf_token": {"forged"}})
		if p.status != http.StatusForbidden {
			t.Errorf("POST %s with a forged token: %d, want 403", path, p.status)
		}
	}
	if p := s.browser(t).postRaw("/refer", referralForm("Anon", nhsNumber(11))); p.status != http.StatusForbidden {
		t.Errorf("self-referral without a token: %d", p.status)
	}
	person, _ := s.store.GetPerson(context.Background(), id)
	if person.Status != register.Active || person.Rating != register.Amber {
		t.Errorf("a refused request changed the record: %s %s", person.Status, person.Rating)
	}
}

func TestRecordIsNotFoundForThoseNotInvolved(t *testing.T) {
	s := newSite(t)
	id := s.refer(`<img src=x onerror=alert(1)>`, "Hidden", nhsNumber(20), "pat@example.org")
	s.accept(id, register.Red)
	for _, c := range []struct {
		email  string
		status int
	}{
		{"pat@example.org", http.StatusOK},
		{"coord@example.org", http.StatusOK},
		{"mgr@example.org", http.StatusOK}, // Pat's manager
		{"other@example.org", http.StatusNotFound},
		{"comm@example.org", http.StatusForbidden},
		{"audit@example.org", http.StatusForbidden},
	} {
		b := s.as(t, c.email)
		p := b.get("/people/" + id)
		if p.status != c.status {
			t.Errorf("%s: %d, want %d", c.email, p.status, c.status)
		}
		if p.status == http.StatusOK && (strings.Contains(p.body, "<img src=x") || !p.has("<img src=x onerror=alert(1)>")) {
			t.Errorf("%s: name not escaped", c.email)
		}
		if p.status == http.StatusNotFound && (p.has("Hidden") || !p.has("Page not found")) {
			t.Errorf("%s: the 404 page reveals the record", c.email)
		}
	}
	other := s.as(t, "other@example.org")
	for _, path := range []string{"/people/" + id + "/review", "/people/" + id + "/rating", "/people/00000000-0000-0000-0000-000000000001", "/people/not-an-id"} {
		other.get(path).must(t, http.StatusNotFound)
	}
	p := other.post("/people/"+id+"/rating", url.Values{"rag": {"green"}, "reason": {"x"}})
	p.must(t, http.StatusNotFound)
	// Home lists only what the user may see.
	if p := other.get("/"); p.has("Hidden") {
		t.Errorf("home lists a record the user may not see")
	}
	if p := s.as(t, "pat@example.org").get("/"); !p.has("Hidden") {
		t.Errorf("home does not list the user's person")
	}
}

func TestHomeGroupsByRatingWithOverdueFirst(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	ids := map[string]string{}
	for i, c := range []struct {
		name   string
		rating register.Rating
	}{{"Rhea", register.Red}, {"Amos", register.Amber}, {"Gwen", register.Green}, {"Bea", register.Blue}, {"Rory", register.Red}} {
		ids[c.name] = s.refer(c.name, "Person", nhsNumber(100+i), "pat@example.org")
		s.accept(ids[c.name], c.rating)
	}
	ids["Walt"] = s.refer("Walt", "Waiting", nhsNumber(200), "pat@example.org")
	// Rory's review is overdue: move the due date back in the record.
	if _, err := s.store.Pool.Exec(ctx, `UPDATE people SET next_review_due = now() - interval '2 days' WHERE id = $1`, ids["Rory"]); err != nil {
		t.Fatal(err)
	}
	b := s.as(t, "pat@example.org")
	p := must(t, b.get("/"), http.StatusOK, "Review overdue", "Waiting for a decision")
	order := []string{`id="group-red"`, "Rory", "Rhea", `id="group-amber"`, "Amos", `id="group-green"`, "Gwen", `id="group-blue"`, "Bea", `id="group-unrated"`, "Walt"}
	last := -1
	for _, s := range order {
		i := strings.Index(p.body, s)
		if i < 0 || i < last {
			t.Fatalf("%q out of order (at %d, after %d)", s, i, last)
		}
		last = i
	}
	counts := regexp.MustCompile(`(?s)data-testid="counts".*?</ul>`).FindString(p.body)
	for _, want := range []string{`<span class="app-counts__number">2</span> Red`, `<span class="app-counts__number">1</span> Amber`,
		`<span class="app-counts__number">1</span> Waiting for a decision`} {
		if !strings.Contains(counts, want) {
			t.Errorf("counts lack %q:\n%s", want, counts)
		}
	}
	// Filters.
	p = must(t, b.get("/?rag=red"), http.StatusOK, "Rory", "Rhea")
	if p.has("Amos") || p.has("Walt") {
		t.Errorf("rating filter lets others through")
	}
	p = must(t, b.get("/?status=referred"), http.StatusOK, "Walt")
	if p.has("Rory") {
		t.Errorf("status filter lets others through")
	}
	p = must(t, b.get("/?locality=Wiltshire"), http.StatusOK, "No one matches these filters")
	// The list shown is audited, one entry per person shown.
	var n int
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'list' AND person_id = $1 AND user_email = 'pat@example.org'`, ids["Gwen"]).Scan(&n)
	if n != 1 { // the first, unfiltered page only
		t.Errorf("Gwen listed %d times in the audit log, want 1", n)
	}
}

func TestTriageQueueAndDecision(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	older := s.refer("Olive", "Older", nhsNumber(300), "pat@example.org")
	newer := s.refer("Nina", "Newer", nhsNumber(301), "pat@example.org")
	if _, err := s.store.Pool.Exec(ctx, `UPDATE people SET referred_at = now() - interval '144 hours' WHERE id = $1`, older); err != nil {
		t.Fatal(err)
	}
	s.as(t, "pat@example.org").get("/triage").must(t, http.StatusForbidden)
	s.as(t, "pat@example.org").get("/people/"+newer+"/triage").must(t, http.StatusForbidden)

	b := s.as(t, "coord@example.org")
	p := must(t, b.get("/triage"), http.StatusOK, "Referrals to decide", "6 days", "Overdue", "0 days")
	if strings.Index(p.body, "Olive") > strings.Index(p.body, "Nina") {
		t.Errorf("the older referral is not first")
	}
	must(t, b.get("/people/"+newer+"/triage"), http.StatusOK, "Decide on the referral", "placement under strain")
	p = must(t, b.post("/people/"+newer+"/triage", url.Values{}), http.StatusUnprocessableEntity, "Select whether to accept or decline")
	p = must(t, b.post("/people/"+newer+"/triage", url.Values{"decision": {"decline"}}), http.StatusUnprocessableEntity, "Enter why the referral is declined")
	p = b.post("/people/"+newer+"/triage", url.Values{"decision": {"accept"}, "rag": {"red"}}).must(t, http.StatusSeeOther)
	if p.location() != "/people/"+newer+"?done=accepted" {
		t.Fatalf("redirect %q", p.location())
	}
	must(t, b.get(p.location()), http.StatusOK, "Referral accepted", "On the register", "Red")
	p = b.post("/people/"+older+"/triage", url.Values{"decision": {"decline"}, "reason": {"Not eligible: no learning disability or autism"}}).must(t, http.StatusSeeOther)
	must(t, b.get(p.location()), http.StatusOK, "Referral declined", "No referrals are waiting")
	person, _ := s.store.GetPerson(ctx, older)
	if person.Status != register.Declined || person.CloseReason != "Not eligible: no learning disability or autism" {
		t.Errorf("declined person: %s %q", person.Status, person.CloseReason)
	}
	// Deciding twice is refused.
	b.get("/people/"+newer+"/triage").must(t, http.StatusConflict)
}

func TestReviewWithActionsAndCompletingThem(t *testing.T) {
	clearOfMidnight(t, 2*time.Minute) // the review is held "today"
	s := newSite(t)
	ctx := context.Background()
	id := s.refer("Rev", "Iewed", nhsNumber(400), "pat@example.org")
	s.accept(id, register.Amber)
	b := s.as(t, "pat@example.org")
	p := must(t, b.get("/people/"+id+"/review"), http.StatusOK, "Record a review", "The rating now is Amber", "Named on the record: pat@example.org")
	today := time.Now().In(register.London) // one reading: three could straddle a month's end
	due := today.AddDate(0, 0, 14)
	f := url.Values{
		"held_at-day": {fmt.Sprint(today.Day())}, "held_at-month": {fmt.Sprint(int(today.Month()))}, "held_at-year": {fmt.Sprint(today.Year())},
		"rag": {"red"}, "current_issues": {"Crisis at home"}, "tried": {"Respite"}, "could_help": {"Intensive support"},
		"notes": {"<script>bad()</script>"}, "needs": {"respite", "intensive_support"},
		"actions[0].description": {"Arrange a community CTR"}, "actions[0].owner_email": {"pat@example.org"},
		"actions[0].due-day": {fmt.Sprint(due.Day())}, "actions[0].due-month": {fmt.Sprint(int(due.Month()))}, "actions[0].due-year": {fmt.Sprint(due.Year())},
		"actions[1].description": {"Half-filled action"},
		"nonce":                  {regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(p.body)[1]},
	}
	p = must(t, b.post("/people/"+id+"/review", f), http.StatusUnprocessableEntity,
		"Enter the email address of the person who will do it (new action 2)", "Enter the date it is due (new action 2)")
	if !strings.Contains(p.body, `value="Arrange a community CTR"`) && !strings.Contains(p.body, ">\nArrange a community CTR</textarea>") {
		t.Errorf("the first action was lost")
	}
	f.Del("actions[1].description")
	f.Set("nonce", regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(p.body)[1])
	p = b.post("/people/"+id+"/review", f).must(t, http.StatusSeeOther)
	// The same form sent again (a double click) changes nothing more.
	b.post("/people/"+id+"/review", f).must(t, http.StatusSeeOther)
	rec := must(t, b.get(p.location()), http.StatusOK, "Review recorded", "Crisis at home", "Arrange a community CTR", "Respite, Intensive support",
		"Amber to Red", "Pat Nurse", "<script>bad()</script>")
	if strings.Contains(rec.body, "<script>bad()") {
		t.Errorf("notes unescaped")
	}
	person, _ := s.store.GetPerson(ctx, id)
	if len(person.Reviews) != 1 || len(person.Actions) != 1 || person.Rating != register.Red {
		t.Fatalf("after the review: %d reviews, %d actions, rating %s", len(person.Reviews), len(person.Actions), person.Rating)
	}
	a := person.Actions[0]
	if got := a.Due.In(register.London); got.Hour() != 17 || got.Day() != due.Day() {
		t.Errorf("due %v, want 17:00 on day %d", got, due.Day())
	}

	// Someone else named cannot complete Pat's action; Pat can.
	s.update(id, workflows.UpdateProfessionals, workflows.ProfessionalsRequest{Actor: s.actor("coord@example.org"), Professionals: []register.Professional{
		{Name: "Pat Nurse", Email: "pat@example.org"}, {Name: "Olu Other", Email: "other@example.org"}}})
	other := s.as(t, "other@example.org")
	if p := other.get("/people/" + id); p.has("Mark as done") {
		t.Errorf("non-owner offered to complete the action")
	}
	other.get("/people/"+id+"/actions/"+a.ID+"/complete").must(t, http.StatusForbidden)
	must(t, b.get("/people/"+id+"/actions/"+a.ID+"/complete"), http.StatusOK, "Arrange a community CTR")
	must(t, b.post("/people/"+id+"/actions/"+a.ID+"/complete", url.Values{}), http.StatusUnprocessableEntity, "Enter what was done")
	p = b.post("/people/"+id+"/actions/"+a.ID+"/complete", url.Values{"outcome": {"CTR booked"}}).must(t, http.StatusSeeOther)
	must(t, b.get(p.location()), http.StatusOK, "Action marked as done", "No open actions", "CTR booked")
	b.get("/people/"+id+"/actions/"+a.ID+"/complete").must(t, http.StatusConflict)
}

func TestRatingActionProfessionalsAndDischargeForms(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	id := s.refer("Fay", "Forms", nhsNumber(500), "pat@example.org")
	s.accept(id, register.Green)
	pat := s.as(t, "pat@example.org")

	must(t, pat.get("/people/"+id+"/rating"), http.StatusOK, "Change the rating")
	must(t, pat.post("/people/"+id+"/rating", url.Values{"rag": {"green"}, "reason": {"same"}}), http.StatusUnprocessableEntity, "already green")
	p := pat.post("/people/"+id+"/rating", url.Values{"rag": {"amber"}, "reason": {"Carer unwell"}}).must(t, http.StatusSeeOther)
	must(t, pat.get(p.location()), http.StatusOK, "Rating changed", "Green to Amber", "Carer unwell")

	must(t, pat.get("/people/"+id+"/actions/new"), http.StatusOK, "Add an action")
	must(t, pat.post("/people/"+id+"/actions/new", url.Values{"description": {"Call"}, "owner_email": {"not an email"},
		"due-day": {"1"}, "due-month": {"1"}, "due-year": {"2020"}}), http.StatusUnprocessableEntity,
		"Owner's email address is not an email address", "Due date must be in the future")
	next := time.Now().In(register.London).AddDate(0, 0, 30)
	p = pat.post("/people/"+id+"/actions/new", url.Values{"description": {"Call the GP"}, "owner_email": {"PAT@example.org"},
		"due-day": {fmt.Sprint(next.Day())}, "due-month": {fmt.Sprint(int(next.Month()))}, "due-year": {fmt.Sprint(next.Year())}}).must(t, http.StatusSeeOther)
	must(t, pat.get(p.location()), http.StatusOK, "Action added", "Call the GP")

	// Coordinator-only forms.
	pat.get("/people/"+id+"/professionals").must(t, http.StatusForbidden)
	pat.get("/people/"+id+"/discharge").must(t, http.StatusForbidden)
	coord := s.as(t, "coord@example.org")
	must(t, coord.get("/people/"+id+"/professionals"), http.StatusOK, `value="pat@example.org"`)
	must(t, coord.post("/people/"+id+"/professionals", url.Values{"rows": {"3"}, "professionals[1].name": {"Nameless Email"}}),
		http.StatusUnprocessableEntity, "Enter professional 2's email address")
	p = coord.post("/people/"+id+"/professionals", url.Values{"rows": {"3"},
		"professionals[0].name": {"Pat Nurse"}, "professionals[0].email": {"pat@example.org"},
		"professionals[2].name": {"Olu Other"}, "professionals[2].email": {"Other@Example.org"}, "professionals[2].manager_email": {"mgr@example.org"}}).must(t, http.StatusSeeOther)
	must(t, coord.get(p.location()), http.StatusOK, "Professionals replaced", "other@example.org")
	s.as(t, "other@example.org").get("/people/"+id).must(t, http.StatusOK)

	must(t, coord.post("/people/"+id+"/discharge", url.Values{}), http.StatusUnprocessableEntity, "Enter why the person is discharged")
	p = coord.post("/people/"+id+"/discharge", url.Values{"reason": {"Stable for a year"}}).must(t, http.StatusSeeOther)
	must(t, coord.get(p.location()), http.StatusOK, "has been discharged", "Discharged from the register", "Stable for a year")
	person, _ := s.store.GetPerson(ctx, id)
	if person.Status != register.Discharged {
		t.Errorf("status %s", person.Status)
	}
	// A discharged person's forms are closed.
	coord.get("/people/"+id+"/review").must(t, http.StatusConflict)
}

func TestRecordShowsScheduleAndNotices(t *testing.T) {
	s := newSite(t)
	id := s.refer("Sched", "Ule", nhsNumber(600), "pat@example.org")
	s.accept(id, register.Red)
	b := s.as(t, "coord@example.org")
	// The referral-received notice is sent by the worker; wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := b.get("/people/" + id)
		if p.has("Referral received, to coordinators") && p.has("Sent ") {
			must(t, p, http.StatusOK, "Review due reminder", "Upcoming", "Next review due", "Red")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record never showed the sent notice:\n%s", clip(p.body))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestReportsForCoordinatorsAndCommissioners(t *testing.T) {
	clearOfMidnight(t, 2*time.Minute) // the page's period ends at the start of this day
	s := newSite(t)
	for i := range 6 {
		id := s.refer(fmt.Sprint("Quentinname", i), "Reportperson", nhsNumber(700+i), "pat@example.org")
		s.accept(id, register.Red)
	}
	// Reports count whole days up to the start of today: move the six to
	// two days ago, as if accepted then.
	if _, err := s.store.Pool.Exec(context.Background(), `UPDATE people SET referred_at = referred_at - interval '2 days',
		accepted_at = accepted_at - interval '2 days'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Pool.Exec(context.Background(), `UPDATE rating_history SET changed_at = changed_at - interval '2 days'`); err != nil {
		t.Fatal(err)
	}
	coord := s.as(t, "coord@example.org")
	p := must(t, coord.get("/reports"), http.StatusOK, "On the register at the end of ", "Download the counts as a CSV file")
	// The page shows the JSON API's summary, cell for cell.
	to := report.Latest(time.Now())
	sum, err := api.Summary(context.Background(), s.store, s.cfg, report.YearTo(to), to)
	if err != nil {
		t.Fatal(err)
	}
	if sum.OnRegister.Total == nil || *sum.OnRegister.Total != 6 || !strings.Contains(p.body, `data-testid="report-total">6<`) {
		t.Errorf("total: summary %v; page does not show 6", sum.OnRegister.Total)
	}
	for _, c := range sum.OnRegister.ByRating {
		want := "not shown"
		if c.Count != nil {
			want = fmt.Sprint(*c.Count)
		}
		re := regexp.MustCompile(`(?s)data-testid="report-on_register_by_rating".*?>` + ratingTitle(c.Key) + `</th>\s*<td[^>]*>` + want + `</td>`)
		if !re.MatchString(p.body) {
			t.Errorf("rating %s: page does not show %q", c.Key, want)
		}
	}
	// The risk tool's two counts, suppressed like every count.
	for testid, c := range map[string]report.Count{"report-risk-reviews": sum.RiskTool.Reviews, "report-risk-differs": sum.RiskTool.Differs} {
		want := "not shown"
		if c != nil {
			want = fmt.Sprint(*c)
		}
		if !strings.Contains(p.body, `data-testid="`+testid+`">`+want+`<`) {
			t.Errorf("%s: page does not show %q", testid, want)
		}
	}
	if !strings.Contains(p.body, "<svg class=\"app-chart\"") || !strings.Contains(p.body, `<rect class="app-chart__bar"`) {
		t.Errorf("no bar chart")
	}
	if p.has("Quentinname") || p.has("Reportperson") || p.has(nhsNumber(700)) || p.has(register.FormatNHS(nhsNumber(700))) {
		t.Errorf("report shows personal data")
	}
	csv := coord.get("/reports.csv").must(t, http.StatusOK)
	if !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !strings.Contains(csv.body, "on_register_by_rating,") {
		t.Errorf("csv: %s %q", csv.header.Get("Content-Type"), clip(csv.body))
	}
	if cd := csv.header.Get("Content-Disposition"); !strings.Contains(cd, "dsr-summary-") || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("csv file name: %q", cd)
	}

	// A period of one's own: the page says which, and its CSV link keeps it.
	q := "period=custom&from-day=1&from-month=4&from-year=2025&to-day=31&to-month=3&to-year=2026"
	custom := must(t, coord.get("/reports?"+q), http.StatusOK, "The counts cover 1 Apr 2025 to 31 Mar 2026",
		"On the register at the end of 31 Mar 2026, by rating", "On the register at the end of 31 Mar 2026:")
	if !custom.has(`href="/reports.csv?from-day=1&from-month=4&from-year=2025&period=custom&to-day=31&to-month=3&to-year=2026"`) {
		t.Errorf("the CSV link does not keep the period")
	}
	// Changes of rating are counted by month of the period chosen.
	if !custom.has(">April 2025<") || !custom.has(">March 2026<") || custom.has(">April 2026<") || !p.has(">"+to.Add(-time.Nanosecond).In(register.London).Format("January 2006")+"<") {
		t.Errorf("the months counted are not the period's")
	}
	csv = coord.get("/reports.csv?"+q).must(t, http.StatusOK)
	if cd := csv.header.Get("Content-Disposition"); !strings.Contains(cd, `filename="dsr-summary-2025-04-01-to-2026-03-31.csv"`) {
		t.Errorf("custom period csv file name: %q", cd)
	}
	if !strings.Contains(csv.body, "rating_changes,2025-04,total") || strings.Contains(csv.body, "rating_changes,2026-04,") {
		t.Errorf("custom period csv does not give its period: %q", clip(csv.body))
	}
	// A period that does not read: the problem is named, and the last 12
	// months are shown meanwhile, with no CSV link for the bad period.
	bad := "period=custom&from-day=31&from-month=2&from-year=2026&to-day=&to-month=&to-year="
	p = must(t, coord.get("/reports?"+bad), http.StatusUnprocessableEntity, "There is a problem", "The first day must be a real date", "Enter the last day of the period", `data-testid="report-total">6<`)
	if !p.has(`href="/reports.csv"`) {
		t.Errorf("a bad period's page links the CSV of something other than the default period")
	}
	coord.get("/reports.csv?"+bad).must(t, http.StatusUnprocessableEntity)
	for _, period := range []string{"3m", "fy", "lastfy", "lastq"} {
		coord.get("/reports?period="+period).must(t, http.StatusOK)
	}

	comm := s.as(t, "comm@example.org")
	if p := comm.get("/").must(t, http.StatusSeeOther); p.location() != "/reports" {
		t.Errorf("commissioner's home goes to %q", p.location())
	}
	comm.get("/reports").must(t, http.StatusOK)
	s.as(t, "pat@example.org").get("/reports").must(t, http.StatusForbidden)
	s.as(t, "audit@example.org").get("/reports").must(t, http.StatusForbidden)
}

func TestDevMailPages(t *testing.T) {
	s := newSite(t)
	id := s.refer("Mail", "Person", nhsNumber(800), "pat@example.org")
	b := s.as(t, "coord@example.org")
	deadline := time.Now().Add(20 * time.Second)
	for !b.get("/dev/mail").has("referral-received") {
		if time.Now().After(deadline) {
			t.Fatal("no referral-received mail listed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	p := must(t, b.get("/dev/mail/1"), http.StatusOK, "referral-received", "/people/"+id, "coord@example.org")
	if p.has("Mail Person") || p.has(nhsNumber(800)) {
		t.Errorf("mail shows personal data")
	}
	b.get("/dev/mail/99").must(t, http.StatusNotFound)
}

func ratingTitle(k string) string { return strings.ToUpper(k[:1]) + k[1:] }

// A referral imported from the spreadsheet after three weeks waiting there
// shows that wait in the triage queue, and its record says it was imported.
func TestImportedReferralShowsItsRealWait(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	referred := time.Now().In(register.London).AddDate(0, 0, -21)
	file := strings.Join([]string{
		strings.Join(register.CSVHeader(1), ","),
		strings.Join([]string{"Ivy", "Imported", "1990-04-01", nhsNumber(950), "", "", "Swindon",
			"informed_consent", "2026-01-02", "Pat Nurse", "", "amber", "referred", referred.Format(time.DateOnly), "",
			"placement under strain", "", "", "Rhi Referrer", "", "", "", "",
			"Pat Nurse", "", "", "pat@example.org", ""}, ","),
	}, "\n") + "\n"
	sum, err := starter.Import(ctx, starter.Deps{Store: s.store, Temporal: s.client, Timing: s.cfg.Timing, Logger: slog.New(slog.DiscardHandler)},
		strings.NewReader(file), starter.ImportOptions{})
	if err != nil || sum.Imported != 1 {
		t.Fatalf("import: %+v, %v", sum, err)
	}
	b := s.as(t, "coord@example.org")
	// 21 calendar days, less an hour if the clocks went forward since.
	midnight := time.Date(referred.Year(), referred.Month(), referred.Day(), 0, 0, 0, 0, register.London)
	days := int(time.Since(midnight) / (24 * time.Hour))
	p := must(t, b.get("/triage"), http.StatusOK, "Ivy", fmt.Sprintf("%d days", days), "Overdue")
	id := regexp.MustCompile(`/people/([0-9a-f-]{36})/triage`).FindStringSubmatch(p.body)
	if id == nil {
		t.Fatalf("no triage link:\n%s", clip(p.body))
	}
	must(t, b.get("/people/"+id[1]), http.StatusOK, referred.Format("2 Jan 2006")+" by Rhi Referrer", "Imported from the register spreadsheet on")
}

// The record shows an address the mail server refused, and a notice that
// has waited longer than DSR_NOTICE_STUCK_AFTER to be sent.
func TestRecordShowsUndeliveredAndWaiting(t *testing.T) {
	s := newSite(t)
	id := s.refer("Deli", "Very", nhsNumber(610), "pat@example.org")
	ctx := context.Background()
	_, err := s.store.Pool.Exec(ctx, `
		INSERT INTO notices (key, person_id, kind, occasion, level, status, created_at, sent_at, due_at)
		VALUES ($1 || '/review-due/x/0', $1::uuid, 'review-due', 'x', 0, 'sent', now(), now(), now()),
		       ($1 || '/review-overdue/x/0', $1::uuid, 'review-overdue', 'x', 0, 'sending', now() - interval '2 hours', NULL, now())`, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.store.Pool.Exec(ctx, `INSERT INTO notice_deliveries (key, address, status, last_error)
		VALUES ($1 || '/review-due/x/0', 'typo@example.invalid', 'refused', '550 5.1.1 No such user')`, id)
	if err != nil {
		t.Fatal(err)
	}
	p := s.as(t, "coord@example.org").get("/people/" + id)
	must(t, p, http.StatusOK, "Email to typo@example.invalid could not be delivered", "Waiting to be sent since")
}

// A form's nonce names one change to one person: the same nonce sent to
// another person's record (a reused tab, a crafted post) changes that
// person too, and is written there; it is never taken as already applied.
func TestFormNonceScopedToPerson(t *testing.T) {
	s := newSite(t)
	a := s.refer("Nonce", "One", nhsNumber(620), "pat@example.org")
	b := s.refer("Nonce", "Two", nhsNumber(621), "pat@example.org")
	s.accept(a, register.Amber)
	s.accept(b, register.Amber)
	coord := s.as(t, "coord@example.org")
	p := must(t, coord.get("/people/"+a+"/rating"), http.StatusOK)
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	f := url.Values{"rag": {"red"}, "reason": {"crisis"}, "nonce": {nonce}}
	coord.post("/people/"+a+"/rating", f).must(t, http.StatusSeeOther)
	coord.post("/people/"+b+"/rating", f).must(t, http.StatusSeeOther)
	for _, id := range []string{a, b} {
		person, err := s.store.GetPerson(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if person.Rating != register.Red || len(person.RatingHistory) != 2 {
			t.Errorf("%s: rating %s with %d changes written, want red with 2", id, person.Rating, len(person.RatingHistory))
		}
	}
}

// TestCrossSiteReadsAreNotAudited: a record opened from another site's link
// (Sec-Fetch-Site: cross-site) is still shown, but writes no audit entry in
// the user's name; opened from the register (same-origin) or from a mail
// program or bookmark (none), it is audited. Refusals likewise.
func TestCrossSiteReadsAreNotAudited(t *testing.T) {
	s := newSite(t)
	id := s.refer("Cross", "Site", nhsNumber(21), "pat@example.org")
	s.accept(id, register.Red)
	count := func(email, action string) int {
		var n int
		if err := s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE person_id = $1 AND user_email = $2 AND action = $3`,
			id, email, action).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	get := func(b *browser, path, fetchSite string) page {
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", fetchSite)
		return b.do(req)
	}
	pat := s.as(t, "pat@example.org")
	before := count("pat@example.org", "read")
	for _, path := range []string{"/people/" + id, "/people/" + id + "/review"} {
		if p := get(pat, path, "cross-site"); p.status != http.StatusOK || !p.has("Cross") {
			t.Errorf("cross-site %s: %d, want the page", path, p.status)
		}
	}
	if n := count("pat@example.org", "read"); n != before {
		t.Errorf("cross-site navigations wrote %d read entries, want none", n-before)
	}
	for _, site := range []string{"same-origin", "none"} {
		get(pat, "/people/"+id, site).must(t, http.StatusOK)
	}
	if n := count("pat@example.org", "read"); n != before+2 {
		t.Errorf("same-origin and none navigations wrote %d read entries, want 2", n-before)
	}

	other := s.as(t, "other@example.org")
	get(other, "/people/"+id, "cross-site").must(t, http.StatusNotFound)
	if n := count("other@example.org", "refused"); n != 0 {
		t.Errorf("a cross-site refusal wrote %d entries, want none", n)
	}
	get(other, "/people/"+id, "same-origin").must(t, http.StatusNotFound)
	if n := count("other@example.org", "refused"); n != 1 {
		t.Errorf("a same-origin refusal wrote %d entries, want 1", n)
	}
}

// TestPageRefusalsAreAudited: a page a user's role does not allow is
// refused and the refusal audited, against the record it names, as the
// API's refusals are.
func TestPageRefusalsAreAudited(t *testing.T) {
	s := newSite(t)
	id := s.refer("Role", "Refused", nhsNumber(22), "pat@example.org")
	s.accept(id, register.Red)
	comm := s.as(t, "comm@example.org")
	comm.get("/people/"+id).must(t, http.StatusForbidden)
	pat := s.as(t, "pat@example.org")
	pat.get("/people/"+id+"/discharge").must(t, http.StatusForbidden)
	for _, c := range []struct{ email, person string }{{"comm@example.org", id}, {"pat@example.org", id}} {
		var n int
		if err := s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'refused' AND user_email = $1 AND person_id = $2`,
			c.email, c.person).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s: %d refusals audited, want 1", c.email, n)
		}
	}
}

// TestReferralFormLocalityAndDuplicate: the form refuses an area not on the
// list (422, the area named); someone not on an existing record who refers
// the same person is told only that the person is known, with no way to
// the record.
func TestReferralFormLocalityAndDuplicate(t *testing.T) {
	s := newSite(t)
	pat := s.as(t, "pat@example.org")
	pat.get("/referrals/new")
	f := referralForm("Area", nhsNumber(23))
	f.Set("person.locality", "Narnia")
	p := pat.post("/referrals/new", f)
	must(t, p, http.StatusUnprocessableEntity, "one of the area's localities")
	f.Set("person.locality", "Wiltshire")
	pat.post("/referrals/new", f).must(t, http.StatusSeeOther)

	other := s.as(t, "other@example.org")
	other.get("/referrals/new")
	f.Set("professionals[0].email", "other@example.org")
	p = other.post("/referrals/new", f)
	must(t, p, http.StatusUnprocessableEntity, "already known to the register", "The coordinator has been told")
	if strings.Contains(p.body, "/people/") {
		t.Errorf("the outsider's page links a record")
	}
}

// A period reaching back before the retention horizon says its counts are
// incomplete (closed records deleted before then are not counted); one
// within it says nothing of the kind.
func TestReportsSayWhenRetentionMadeThemIncomplete(t *testing.T) {
	s := newSite(t)
	coord := s.as(t, "coord@example.org")
	p := must(t, coord.get("/reports"), http.StatusOK, "The counts cover")
	if p.has(`data-testid="report-incomplete"`) {
		t.Error("the last 12 months are within six years' retention, yet called incomplete")
	}
	now := time.Now().In(register.London)
	from := now.AddDate(-7, 0, 0)
	q := url.Values{"period": {"custom"},
		"from-day": {fmt.Sprint(from.Day())}, "from-month": {fmt.Sprint(int(from.Month()))}, "from-year": {fmt.Sprint(from.Year())},
		"to-day": {fmt.Sprint(now.Day())}, "to-month": {fmt.Sprint(int(now.Month()))}, "to-year": {fmt.Sprint(now.Year())}}
	must(t, coord.get("/reports?"+q.Encode()), http.StatusOK, `data-testid="report-incomplete"`, "These counts are incomplete before")
}
