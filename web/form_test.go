package web

import (
	"net/url"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func TestIDFor(t *testing.T) {
	for in, want := range map[string]string{
		"person.given_name":         "person-given_name",
		"professionals[0].email":    "professionals-0-email",
		"professionals[12].name":    "professionals-12-name",
		"professionals":             "professionals",
		"actions[1].due":            "actions-1-due",
		"consent.recorded_on":       "consent-recorded_on",
		"weird..path[]":             "weird-path",
		"proposed_rag":              "proposed_rag",
		"a b":                       "a-b",
		"[0]":                       "0",
		"":                          "",
		"person.date_of_birth-day":  "person-date_of_birth-day",
		"professionals[0].role ":    "professionals-0-role",
		"professionals[0]..x[1][2]": "professionals-0-x-1-2",
	} {
		if got := idFor(in); got != want {
			t.Errorf("idFor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMessages(t *testing.T) {
	cases := []struct {
		sp      spec
		problem string
		want    string
	}{
		{spec{Name: "x", Label: "Your name"}, "is required", "Enter your name"},
		{spec{Name: "x", Label: "NHS number"}, "required", "Enter NHS number"},
		{spec{Name: "x", Label: "First name", Required: "Enter the person's first name"}, "is required", "Enter the person's first name"},
		{spec{Name: "x", Label: "a rating", Kind: radioField}, "required", "Select a rating"},
		{spec{Name: "x", Label: "Date of birth", Kind: dateField}, "must be a real date, YYYY-MM-DD", "Date of birth must be a real date"},
		{spec{Name: "x", Label: "Date of birth", Kind: dateField}, "must not be in the future", "Date of birth must not be in the future"},
		{spec{Name: "x", Label: "Email address"}, "not an email address", "Email address is not an email address"},
		{spec{Name: "x", Label: "Email address"}, "is not an email address", "Email address is not an email address"},
		{spec{Name: "x", Label: "Notes"}, "at most 10000 characters", "Notes: at most 10000 characters"},
		{spec{Name: "x", Label: "Rating"}, "the rating is already red", "Rating: the rating is already red"},
		{spec{Name: "x", Label: "NHS number"}, "The NHS number is not right", "The NHS number is not right"},
		{spec{Name: "professionals[1].email"}, "is required", "Enter email"},
	}
	for _, c := range cases {
		if got := c.sp.message(c.problem); got != c.want {
			t.Errorf("%+v %q: got %q, want %q", c.sp, c.problem, got, c.want)
		}
	}
}

func TestFormSummaryFollowsThePage(t *testing.T) {
	f := newForm([]spec{{Name: "a", Label: "A"}, {Name: "when", Label: "When", Kind: dateField}, {Name: "c", Label: "C", Kind: radioField}}, url.Values{})
	nonce := f.Nonce
	f.fail("c", "required")
	f.fail("zzz", "unknown field")
	f.fail("when", "must not be in the future")
	f.fail("when", "a second problem is not shown")
	f.Errors[""] = "The whole form failed"
	if f.ok() {
		t.Fatal("ok with errors")
	}
	want := []summaryItem{{"", "The whole form failed"}, {"#when-day", "When must not be in the future"}, {"#c", "Select c"}, {"#zzz", "Zzz: unknown field"}}
	if len(f.Summary) != len(want) {
		t.Fatalf("summary %+v", f.Summary)
	}
	for i := range want {
		if f.Summary[i] != want[i] {
			t.Errorf("summary[%d] = %+v, want %+v", i, f.Summary[i], want[i])
		}
	}
	if f.Nonce == nonce {
		t.Errorf("a refused form keeps its nonce: the next submission would repeat a refused update id")
	}
}

func TestFormDate(t *testing.T) {
	for _, c := range []struct {
		d, m, y string
		want    string
		bad     bool
	}{
		{"1", "4", "1990", "1990-04-01", false},
		{"01", "04", "1990", "1990-04-01", false},
		{" 9 ", "12", "2025", "2025-12-09", false},
		{"", "", "", "", false},
		{"31", "2", "2024", "", true},
		{"29", "2", "2024", "2024-02-29", false},
		{"29", "2", "2023", "", true},
		{"1", "13", "2024", "", true},
		{"x", "1", "2024", "", true},
		{"1", "1", "24", "", true},
		{"1", "", "2024", "", true},
	} {
		f := newForm(nil, url.Values{"d-day": {c.d}, "d-month": {c.m}, "d-year": {c.y}})
		got := f.date("d")
		if got != c.want || (f.Errors["d"] != "") != c.bad {
			t.Errorf("%q/%q/%q: %q (error %q), want %q bad=%v", c.d, c.m, c.y, got, f.Errors["d"], c.want, c.bad)
		}
	}
}

func TestRowPath(t *testing.T) {
	to := rowPath("professionals", []int{1, 2})
	for in, want := range map[string]string{
		"professionals[0].email": "professionals[1].email",
		"professionals[1].name":  "professionals[2].name",
		"professionals[2].name":  "professionals[2].name", // no such row sent: left alone
		"professionals":          "professionals",
		"person.nhs_number":      "person.nhs_number",
		"professionals[x].name":  "professionals[x].name",
	} {
		if got := to(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestDueAndHeldAt(t *testing.T) {
	due := dueAt("2026-03-29") // the day the clocks go forward
	if got := due.In(register.London); got.Hour() != 17 || got.Day() != 29 {
		t.Errorf("due %v", got)
	}
	now := time.Date(2026, 6, 10, 23, 30, 0, 0, time.UTC) // 00:30 on the 11th in London
	london := func(day, hour, minute int) time.Time {
		return time.Date(2026, 6, day, hour, minute, 0, 0, register.London).UTC()
	}
	for _, tc := range []struct {
		name     string
		day      string
		previous time.Time
		want     time.Time // zero: now
	}{
		{"today in London means now", "2026-06-11", time.Time{}, time.Time{}},
		{"an earlier day means midday", "2026-06-10", time.Time{}, london(10, 12, 0)},
		{"previous review days before", "2026-06-10", london(1, 15, 0), london(10, 12, 0)},
		{"accepted that morning", "2026-06-10", london(10, 9, 0), london(10, 12, 0)},
		// A form opened before midnight, sent after it, keeping the date it offered.
		{"accepted that evening", "2026-06-10", london(10, 23, 50), london(10, 23, 51)},
		{"accepted a second before midnight", "2026-06-10", london(10, 23, 59).Add(59 * time.Second), london(11, 0, 0).Add(59 * time.Second)},
		// A date before the previous review is the workflow's to refuse.
		{"before the previous review's day", "2026-06-09", london(10, 23, 50), london(9, 12, 0)},
	} {
		got := heldAt(tc.day, now, tc.previous)
		if !got.Equal(tc.want) {
			t.Errorf("%s: held %v, want %v", tc.name, got.In(register.London), tc.want.In(register.London))
		}
	}
	// Never after now.
	if got := heldAt("2026-06-10", london(11, 0, 0), london(10, 23, 59).Add(30*time.Second)); !got.Equal(london(11, 0, 0)) {
		t.Errorf("held %v after now", got.In(register.London))
	}
}

func TestGroupPeople(t *testing.T) {
	at := func(d int) *time.Time { t := time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC); return &t }
	list := []store.PersonSummary{
		{ID: "a", Status: register.Active, Rating: register.Red, NextReviewDue: at(9)},
		{ID: "b", Status: register.Active, Rating: register.Red, NextReviewDue: at(5)},
		{ID: "c", Status: register.Active, Rating: register.Red, NextReviewDue: at(20), OverdueActions: 1},
		{ID: "d", Status: register.Referred},
		{ID: "e", Status: register.Active, Rating: register.Green, NextReviewDue: at(1), ReviewOverdue: true},
		{ID: "f", Status: register.Active, Rating: register.Green},
		{ID: "g", Status: register.Discharged, Rating: register.Amber},
	}
	var got []string
	for _, g := range groupPeople(list) {
		got = append(got, "|"+string(g.Rating))
		for _, p := range g.People {
			got = append(got, p.ID)
		}
	}
	want := []string{"|red", "c", "b", "a", "|amber", "g", "|green", "e", "f", "|", "d"}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("groups %v, want %v", got, want)
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"home", "referral", "sent", "triage", "triage_form", "record", "review", "rating", "action", "complete", "professionals", "discharge", "reports", "mail", "error"} {
		if _, ok := p.sets[name]; !ok {
			t.Errorf("no page %s", name)
		}
	}
}

func TestReadRows(t *testing.T) {
	for _, tc := range []struct {
		name                string
		q                   string
		least, def, most    int
		wantRows, wantAdded int
		wantAdd             bool
	}{
		{"not said", "", 2, 3, 10, 3, -1, false},
		{"as sent", "rows=5", 2, 3, 10, 5, -1, false},
		{"add one", "rows=5&add_row=1", 2, 3, 10, 6, 5, true},
		{"add at the limit", "rows=10&add_row=1", 2, 3, 10, 10, -1, false},
		{"too many", "rows=999", 2, 3, 10, 10, -1, false},
		{"too few", "rows=0", 2, 3, 10, 2, -1, false},
		{"negative, add", "rows=-5&add_row=1", 2, 3, 10, 3, 2, true},
		{"not a number", "rows=lots", 2, 3, 10, 3, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.q)
			g, add := readRows(q, tc.least, tc.def, tc.most)
			if len(g.Rows) != tc.wantRows || g.Added != tc.wantAdded || add != tc.wantAdd || g.Max != tc.most {
				t.Errorf("rows %d added %d add %v max %d; want %d %d %v %d", len(g.Rows), g.Added, add, g.Max, tc.wantRows, tc.wantAdded, tc.wantAdd, tc.most)
			}
			if g.CanAdd() != (len(g.Rows) < tc.most) {
				t.Errorf("CanAdd %v with %d of %d rows", g.CanAdd(), len(g.Rows), tc.most)
			}
		})
	}
}
