package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

type auditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	Next    string             `json:"next"`
}

func (s *stack) audit(email string, q url.Values) auditPage {
	s.t.Helper()
	var page auditPage
	s.must(http.StatusOK, email, "GET", "/audit?"+q.Encode(), nil, &page)
	return page
}

func findEntry(es []store.AuditEntry, action, email string) *store.AuditEntry {
	for i := range es {
		if es[i].Action == action && es[i].User.Email == email {
			return &es[i]
		}
	}
	return nil
}

// From outside: the auditor sees the named professional's read of a record
// and an unnamed professional's refused attempt, with who, when and from
// where; filters narrow; reading the audit log is itself audited; and the
// log cannot be changed, even by the database owner.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	id := s.referAndAccept(nhsNumber(202))
	before := time.Now().Add(-time.Second)

	s.must(http.StatusOK, "sw@example.org", "GET", "/people/"+id, nil, nil)
	s.must(http.StatusNotFound, "other@example.org", "GET", "/people/"+id, nil, nil)

	page := s.audit("audit@example.org", url.Values{"person": {id}})
	read := findEntry(page.Entries, "read", "sw@example.org")
	if read == nil {
		t.Fatalf("no read by sw@ in %+v", page.Entries)
	}
	if read.User.Role != "professional" || read.User.ID == "" || read.PersonID != id || read.ClientAddr != "127.0.0.1" ||
		read.At.Before(before) || read.At.After(time.Now()) {
		t.Errorf("read entry: %+v", *read)
	}
	refused := findEntry(page.Entries, "refused", "other@example.org")
	if refused == nil || refused.PersonID != id || !strings.Contains(refused.Detail, "GET") {
		t.Errorf("refused entry: %+v", refused)
	}
	// The referral and the triage are there as changes, with their fields.
	if c := findEntry(page.Entries, "create", "sw@example.org"); c == nil {
		t.Errorf("no create entry for the referral")
	}
	if c := findEntry(page.Entries, "change", "coord@example.org"); c == nil || len(c.Fields) == 0 {
		t.Errorf("triage change entry: %+v", c)
	}
	// Newest first.
	for i := 1; i < len(page.Entries); i++ {
		if page.Entries[i].ID > page.Entries[i-1].ID {
			t.Fatalf("entries not newest first")
		}
	}

	// The auditor's own search is in the log, naming the person.
	mine := s.audit("coord@example.org", url.Values{"user": {"audit@example.org"}})
	own := findEntry(mine.Entries, "audit", "audit@example.org")
	if own == nil || own.PersonID != id || !strings.Contains(own.Detail, "person="+id) {
		t.Errorf("the auditor's search is not audited: %+v", mine.Entries)
	}

	// Filters: by user (email or id), and by time.
	byOther := s.audit("audit@example.org", url.Values{"user": {"other@example.org"}})
	if len(byOther.Entries) != 1 || byOther.Entries[0].Action != "refused" {
		t.Errorf("by other@: %+v", byOther.Entries)
	}
	byID := s.audit("audit@example.org", url.Values{"user": {read.User.ID}, "person": {id}})
	for _, e := range byID.Entries {
		if e.User.ID != read.User.ID {
			t.Errorf("user filter by id let through %+v", e)
		}
	}
	if len(byID.Entries) < 2 { // the referral and the read
		t.Errorf("by sw@'s id: %d entries", len(byID.Entries))
	}
	future := s.audit("audit@example.org", url.Values{"from": {time.Now().Add(time.Hour).Format(time.RFC3339)}})
	if len(future.Entries) != 0 {
		t.Errorf("from an hour ahead: %d entries", len(future.Entries))
	}
	past := s.audit("audit@example.org", url.Values{"to": {before.Add(-time.Hour).Format(time.RFC3339)}})
	if len(past.Entries) != 0 {
		t.Errorf("to an hour ago: %d entries", len(past.Entries))
	}

	// Pages: limit and cursor walk the whole log once.
	seen := map[int64]bool{}
	q := url.Values{"limit": {"2"}, "person": {id}}
	for pages := 0; ; pages++ {
		p := s.audit("audit@example.org", q)
		for _, e := range p.Entries {
			if seen[e.ID] {
				t.Fatalf("entry %d on two pages", e.ID)
			}
			seen[e.ID] = true
		}
		if p.Next == "" {
			if pages == 0 {
				t.Errorf("one page of at most 2 entries; want several")
			}
			break
		}
		q.Set("cursor", p.Next)
	}

	// Bad filters are named.
	var bad struct{ Fields map[string]string }
	s.must(http.StatusUnprocessableEntity, "audit@example.org", "GET", "/audit?person=x&user=y&from=yesterday&limit=0", nil, &bad)
	for _, f := range []string{"person", "user", "from", "limit"} {
		if bad.Fields[f] == "" {
			t.Errorf("bad %s not named: %v", f, bad.Fields)
		}
	}

	// Append-only, from the application's own connection.
	for _, stmt := range []string{`UPDATE audit_log SET user_email = 'someone@else'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		_, err := s.store.Pool.Exec(context.Background(), stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: %v, want refused", stmt, err)
		}
	}
	if again := s.audit("audit@example.org", url.Values{"person": {id}}); findEntry(again.Entries, "read", "sw@example.org") == nil {
		t.Error("the read is gone after the refused statements")
	}
}

// The anonymised summary, from outside, as the commissioner sees it.
func TestReportSummary(t *testing.T) {
	t.Parallel()
	clearOfMidnight(t, 2*time.Minute) // the changes are moved to yesterday
	s := newStack(t, defaultTiming(t))
	nhs := nhsNumbers(3000, 11)
	// Six adults rated amber; five people over 65 rated red.
	var reds []string
	for i, n := range nhs {
		body := referral(n, fmt.Sprintf("Report%c", 'A'+i))
		rag := "amber"
		if i >= 6 {
			body["person"].(map[string]any)["date_of_birth"] = "1950-06-15"
			rag = "red"
		}
		var created struct{ ID string }
		s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", body, &created)
		s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+created.ID+"/triage", map[string]any{"decision": "accept", "rag": rag}, nil)
		if rag == "red" {
			reds = append(reds, created.ID)
		}
	}
	// Each red is reviewed and rated green, with respite as a need; one
	// also needs housing (a count of 1: hidden).
	for i, id := range reds {
		needs := []string{"respite"}
		if i == 0 {
			needs = append(needs, "housing")
		}
		s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/reviews",
			map[string]any{"rag": "green", "needs": needs, "could_help": "a week of respite at Oak House"}, nil)
	}

	// Reports count whole days up to the start of today: move all of it
	// a day back, as if it happened yesterday.
	for _, q := range []string{
		`UPDATE people SET referred_at = referred_at - interval '1 day', accepted_at = accepted_at - interval '1 day'`,
		`UPDATE rating_history SET changed_at = changed_at - interval '1 day'`,
		`UPDATE reviews SET held_at = held_at - interval '1 day'`,
	} {
		if _, err := s.store.Pool.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}

	var raw json.RawMessage
	s.must(http.StatusOK, "comm@example.org", "GET", "/reports/summary", nil, &raw)
	var sum struct {
		OnRegister struct {
			Total      *int         `json:"total"`
			ByRating   []reportCell `json:"by_rating"`
			ByAgeBand  []reportCell `json:"by_age_band"`
			ByLocality []reportCell `json:"by_locality"`
		} `json:"on_register"`
		ByStatus      []reportCell `json:"by_status"`
		RatingChanges []struct {
			Month string
			Total *int
			To    []reportCell
		} `json:"rating_changes"`
		ServiceGaps struct {
			PeopleReviewed *int `json:"people_reviewed"`
			Needs          []reportCell
		} `json:"service_gaps"`
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got *int, want int) {
		t.Helper()
		switch {
		case want < 0 && got != nil:
			t.Errorf("%s = %d, want hidden", what, *got)
		case want >= 0 && (got == nil || *got != want):
			t.Errorf("%s = %v, want %d", what, showCount(got), want)
		}
	}
	const hidden = -1
	check("total", sum.OnRegister.Total, 11)
	check("amber", cellOf(sum.OnRegister.ByRating, "amber"), 6)
	check("green", cellOf(sum.OnRegister.ByRating, "green"), hidden) // 5, hidden beside red and blue's zeros
	check("26-64", cellOf(sum.OnRegister.ByAgeBand, "26-64"), 6)
	check("65+", cellOf(sum.OnRegister.ByAgeBand, "65+"), hidden)
	check("Swindon", cellOf(sum.OnRegister.ByLocality, "Swindon"), 11)
	check("active", cellOf(sum.ByStatus, "active"), 11)
	check("referred", cellOf(sum.ByStatus, "referred"), hidden)
	check("respite", cellOf(sum.ServiceGaps.Needs, "respite"), 5)
	check("housing", cellOf(sum.ServiceGaps.Needs, "housing"), hidden)
	check("people reviewed", sum.ServiceGaps.PeopleReviewed, 5)
	last := sum.RatingChanges[len(sum.RatingChanges)-1]
	if month := time.Now().In(register.London).AddDate(0, 0, -1).Format("2006-01"); last.Month != month {
		t.Errorf("last month %q, want yesterday's, %q", last.Month, month)
	}
	check("rating changes this month", last.Total, 5)
	if len(sum.RatingChanges) != 12 && len(sum.RatingChanges) != 13 {
		t.Errorf("%d months in the default period", len(sum.RatingChanges))
	}

	// No count from 1 to DSR_SUPPRESS_BELOW-1 anywhere, nor a zero.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case float64:
			if !strings.HasSuffix(path, "suppress_below") && x < float64(s.cfg.SuppressBelow) {
				t.Errorf("%s = %v is published", path, x)
			}
		}
	}
	var tree any
	json.Unmarshal(raw, &tree)
	walk("", tree)

	// No identifiers in the JSON or the CSV.
	csvStatus, hdr, csv, err := s.raw("comm@example.org", "GET", "/api/v1/reports/summary.csv", nil)
	if err != nil || csvStatus != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s %v", csvStatus, hdr.Get("Content-Type"), err)
	}
	if !strings.Contains(string(csv), "on_register,") || !strings.Contains(string(csv), ",total,11") {
		t.Errorf("CSV:\n%s", csv)
	}
	ids := append([]string{}, reds...)
	for _, out := range []string{string(raw), string(csv)} {
		for _, secret := range append(append(ids, nhs...), "ReportA", "Testperson", "1990-04-01", "1950-06-15", "SN1 1AA", "1 High Street", "Oak House", "sw@example.org") {
			if strings.Contains(out, secret) {
				t.Errorf("the report holds %q", secret)
			}
		}
	}

	// A period is taken from the query; a bad one is named.
	var empty struct {
		OnRegister struct{ Total *int } `json:"on_register"`
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/reports/summary?from=2020-01-01&to=2020-12-31", nil, &empty)
	if empty.OnRegister.Total != nil {
		t.Errorf("2020: total %d", *empty.OnRegister.Total)
	}
	var bad struct{ Fields map[string]string }
	s.must(http.StatusUnprocessableEntity, "comm@example.org", "GET", "/reports/summary?from=2026-02-01&to=2026-01-01", nil, &bad)
	if bad.Fields["from"] == "" {
		t.Errorf("reversed period: %v", bad.Fields)
	}
}

type reportCell struct {
	Key   string
	Count *int
}

func cellOf(cs []reportCell, key string) *int {
	for _, c := range cs {
		if c.Key == key {
			return c.Count
		}
	}
	return nil
}

func showCount(p *int) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// clearOfMidnight waits, when London's next midnight is less than need
// away, until it has passed, so that what a test does and then counts "this
// month" (or "today") falls on one day. (web's harness has the same, tested.)
func clearOfMidnight(t *testing.T, need time.Duration) {
	t.Helper()
	now := time.Now().In(register.London)
	y, m, d := now.Date()
	if left := time.Date(y, m, d+1, 0, 0, 0, 0, register.London).Sub(now); left < need {
		t.Logf("London's midnight is %v away: waiting for it to pass", left.Round(time.Millisecond))
		time.Sleep(left + time.Second)
	}
}
