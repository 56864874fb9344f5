package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Issue 16 (security hardening), from outside.

// TestUnknownLocalityRefused: a referral (API, self-referral) or an
// imported row naming a locality not on the area's list (DSR_LOCALITIES;
// the default here) is refused with 422 naming person.locality, and
// nothing is written; one on the list, in any case, is stored in the
// list's spelling.
func TestUnknownLocalityRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	before := s.rowCounts()

	body := referral(nhsNumber(1601), "Lou")
	body["person"].(map[string]any)["locality"] = "12 Acacia Avenue, Bristol"
	var refused struct {
		Error  string
		Fields map[string]string
	}
	s.must(http.StatusUnprocessableEntity, "sw@example.org", "POST", "/referrals", body, &refused)
	if !strings.Contains(refused.Fields["person.locality"], "Swindon") {
		t.Errorf("fields %v: want person.locality naming the list", refused.Fields)
	}

	self := referral(nhsNumber(1602), "Lou")
	self["person"].(map[string]any)["locality"] = "Narnia"
	self["referrer"] = map[string]any{"name": "Lou's mum", "relationship": "mother", "email": "mum@example.org"}
	st, _, raw, err := s.raw("", "POST", "/api/v1/self-referrals", mustJSON(t, self))
	if err != nil || st != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "person.locality") {
		t.Errorf("self-referral: %d %s %v; want 422 naming person.locality", st, raw, err)
	}

	f := newCSVFile(t, false, false, register.CSVColumns)
	f.row(with(goodRow(nhsNumber(1603), "Ida", "green", ""), "locality", "Flat 2, 3 Mill Lane"))
	sum, err := starter.Import(context.Background(), s.starterDeps(), bytes.NewReader(f.bytes()), starter.ImportOptions{})
	if err != nil || sum.Imported != 0 || len(sum.Refused) != 1 || !strings.Contains(strings.Join(sum.Refused[0].Problems, "; "), "locality: ") {
		t.Errorf("import: %+v, %v; want the row refused by its locality", sum, err)
	}
	if after := s.rowCounts(); after.people != before.people {
		t.Fatalf("people %d → %d: a refused referral wrote a record", before.people, after.people)
	}

	good := referral(nhsNumber(1604), "Lou")
	good["person"].(map[string]any)["locality"] = " wiltshire "
	var created struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", good, &created)
	var rec struct{ Locality string }
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+created.ID, nil, &rec)
	if rec.Locality != "Wiltshire" {
		t.Errorf("locality stored as %q, want Wiltshire", rec.Locality)
	}
}

// TestDuplicateReferralFromOutsider: a professional with no part in a
// record who refers the same person gets 409 without the record's id; the
// attempt is audited against the record and the coordinators get one
// referral-duplicate notice that names no one. A referrer who can see the
// record gets its id, as does `dsr start`.
func TestDuplicateReferralFromOutsider(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	nhs := nhsNumber(1611)
	var first struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs, "Dee"), &first)

	var dup struct {
		Error string
		ID    string `json:"id"`
	}
	s.must(http.StatusConflict, "other@example.org", "POST", "/referrals", referral(nhs, "Dee"), &dup)
	if dup.ID != "" || !strings.Contains(dup.Error, "coordinator has been told") {
		t.Fatalf("outsider's 409: %+v; want no id, and that the coordinator has been told", dup)
	}
	entries := s.audit("audit@example.org", url.Values{"person": {first.ID}, "user": {"other@example.org"}}).Entries
	if e := findEntry(entries, "refused", "other@example.org"); e == nil || e.PersonID != first.ID {
		t.Fatalf("audit of the attempt against the record: %+v", entries)
	}
	m := s.waitMail("referral-duplicate", first.ID, 30*time.Second)
	if got := s.recipients(m); got != "coord@example.org" {
		t.Errorf("referral-duplicate to %s, want the coordinators", got)
	}
	for _, leak := range []string{"Dee", "Testperson", nhs, nhs[:3] + " " + nhs[3:6], "other@example.org"} {
		if bytes.Contains(m.Raw, []byte(leak)) {
			t.Errorf("referral-duplicate mail holds %q", leak)
		}
	}

	// Named on the record: the id, as before.
	s.must(http.StatusConflict, "nurse@example.org", "POST", "/referrals", referral(nhs, "Dee"), &dup)
	if dup.ID != first.ID {
		t.Errorf("named professional's 409 id %q, want %q", dup.ID, first.ID)
	}
	s.must(http.StatusConflict, "coord@example.org", "POST", "/referrals", referral(nhs, "Dee"), &dup)
	if dup.ID != first.ID {
		t.Errorf("coordinator's 409 id %q, want %q", dup.ID, first.ID)
	}
	// A stranger's self-referral: 202 as always, audited, and the
	// coordinators told.
	self := referral(nhs, "Dee")
	self["referrer"] = map[string]any{"name": "Dee's dad", "relationship": "father", "phone": "01793 000001"}
	if st, _, raw, err := s.raw("", "POST", "/api/v1/self-referrals", mustJSON(t, self)); err != nil || st != http.StatusAccepted {
		t.Fatalf("self-referral: %d %s %v", st, raw, err)
	}
	s.waitNth("referral-duplicate", first.ID, 2, 30*time.Second)

	// The operator's dsr start gets the id (and succeeds), as the README says.
	dir := t.TempDir()
	file := dir + "/referral.json"
	if err := os.WriteFile(file, mustJSON(t, referral(nhs, "Dee")), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := starter.Command(context.Background(), []string{"--file", file}, &out, &errOut, s.starterDeps()); err != nil {
		t.Fatalf("dsr start: %v: %s", err, errOut.String())
	}
	if strings.TrimSpace(out.String()) != first.ID {
		t.Errorf("dsr start printed %q, want %s", out.String(), first.ID)
	}

	time.Sleep(2 * time.Second) // nothing more comes: one notice per outsider's attempt
	if n := len(s.mails("referral-duplicate", first.ID)); n != 2 {
		t.Errorf("%d referral-duplicate notices, want 2 (one per outsider's attempt)", n)
	}
}

// TestReportsCannotBeDifferenced: two summary requests a second apart,
// around one acceptance, give the same counts: reports count whole London
// days up to the start of today, whatever time `to` names.
func TestReportsCannotBeDifferenced(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	// Five on the register already, so a sixth would show past suppression.
	nhs := nhsNumbers(1620, 6)
	for i := range 5 {
		var c struct{ ID string }
		s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs[i], "Pat"), &c)
		s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+c.ID+"/triage", map[string]any{"decision": "accept", "rag": "amber"}, nil)
	}
	var c struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs[5], "Pat"), &c)

	summary := func(query string) string {
		var raw json.RawMessage
		s.must(http.StatusOK, "comm@example.org", "GET", "/reports/summary"+query, nil, &raw)
		return string(raw)
	}
	before := time.Now().UTC().Truncate(time.Second)
	defaultBefore, explicitBefore := summary(""), summary("?to="+before.Format(time.RFC3339))
	time.Sleep(time.Second)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+c.ID+"/triage", map[string]any{"decision": "accept", "rag": "red"}, nil)
	time.Sleep(time.Second)
	after := time.Now().UTC().Truncate(time.Second)
	defaultAfter, explicitAfter := summary(""), summary("?to="+after.Format(time.RFC3339))
	if defaultBefore != defaultAfter {
		t.Errorf("default period: before the acceptance\n%s\nafter it\n%s", defaultBefore, defaultAfter)
	}
	if explicitBefore != explicitAfter {
		t.Errorf("to=%s and to=%s around the acceptance differ:\n%s\n%s", before.Format(time.RFC3339), after.Format(time.RFC3339), explicitBefore, explicitAfter)
	}
	var sum struct{ To time.Time }
	if err := json.Unmarshal([]byte(explicitAfter), &sum); err != nil {
		t.Fatal(err)
	}
	if l := sum.To.In(register.London); l.Hour() != 0 || l.Minute() != 0 || l.Second() != 0 || sum.To.After(time.Now()) {
		t.Errorf("to = %v (%v in London), want a London midnight no later than now", sum.To, l)
	}
	// A date names a whole day; today's is cut at its start.
	var bad struct{ Fields map[string]string }
	today := time.Now().In(register.London).Format(time.DateOnly)
	s.must(http.StatusUnprocessableEntity, "comm@example.org", "GET", "/reports/summary?from="+today, nil, &bad)
	if bad.Fields["from"] == "" {
		t.Errorf("from=today: %v, want from refused (the day is under way)", bad.Fields)
	}
}
