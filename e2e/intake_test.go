package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
)

// TestReferralIntake: every bad referral is refused from outside with its
// status and the field named, and writes nothing; odd but valid text is
// stored and returned exactly; twenty identical referrals at once make one
// person; a declined person can be referred again; dsr start --file.
func TestReferralIntake(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))

	t.Run("refusals", func(t *testing.T) {
		nhs := nhsNumber(1001)
		edit := func(f func(m map[string]any)) map[string]any {
			m := referral(nhs, "Bea")
			f(m)
			return m
		}
		person := func(m map[string]any) map[string]any { return m["person"].(map[string]any) }
		consent := func(m map[string]any) map[string]any { return m["consent"].(map[string]any) }
		future := time.Now().In(register.London).AddDate(0, 0, 2).Format(time.DateOnly)
		big := referral(nhs, "Bea")
		big["current_issues"] = strings.Repeat("x", 1<<20+10)

		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"malformed JSON", `{"person": {"given_name": "Bea"`, 400, ""},
			{"not JSON at all", `given_name=Bea`, 400, ""},
			{"over 1 MiB", big, 413, ""},
			{"bad check digit", edit(func(m map[string]any) { person(m)["nhs_number"] = nhs[:9] + string('0'+(nhs[9]-'0'+1)%10) }), 422, "person.nhs_number"},
			{"future date of birth", edit(func(m map[string]any) { person(m)["date_of_birth"] = future }), 422, "person.date_of_birth"},
			{"unparseable date of birth", edit(func(m map[string]any) { person(m)["date_of_birth"] = "31/04/1990" }), 422, "person.date_of_birth"},
			{"missing consent basis", edit(func(m map[string]any) { delete(consent(m), "basis") }), 422, "consent.basis"},
			{"parental responsibility for an adult", edit(func(m map[string]any) { consent(m)["basis"] = "parental_responsibility" }), 422, "consent.basis"},
			{"no professional", edit(func(m map[string]any) { m["professionals"] = []any{} }), 422, "professionals"},
			{"professional without email", edit(func(m map[string]any) {
				m["professionals"] = []map[string]any{{"name": "Sam Worker", "role": "Social worker"}}
			}), 422, "professionals[0].email"},
			{"unparseable email", edit(func(m map[string]any) {
				m["professionals"] = []map[string]any{{"name": "Sam Worker", "email": "sam at example"}}
			}), 422, "professionals[0].email"},
			{"unparseable manager email", edit(func(m map[string]any) {
				m["professionals"] = []map[string]any{{"name": "Sam Worker", "email": "sw@example.org", "manager_email": "Mo <mgr@example.org"}}
			}), 422, "professionals[0].manager_email"},
			{"unknown field", edit(func(m map[string]any) { person(m)["nhs_numbr"] = nhs }), 422, "person.nhs_numbr"},
			{"unknown top-level field", edit(func(m map[string]any) { m["priority"] = "high" }), 422, "priority"},
			{"whitespace-only name", edit(func(m map[string]any) { person(m)["given_name"] = "  \t " }), 422, "person.given_name"},
			{"unknown rating", edit(func(m map[string]any) { m["proposed_rag"] = "purple" }), 422, "proposed_rag"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := s.rowCounts()
				var body struct {
					Error  string            `json:"error"`
					Fields map[string]string `json:"fields"`
				}
				got := s.do("sw@example.org", "POST", "/referrals", c.body, &body)
				if got != c.status {
					t.Fatalf("status %d, want %d (%+v)", got, c.status, body)
				}
				if body.Error == "" {
					t.Errorf("no error message")
				}
				if c.field != "" && body.Fields[c.field] == "" {
					t.Errorf("field %s not named: %+v", c.field, body.Fields)
				}
				if after := s.rowCounts(); after != before {
					t.Errorf("rows changed: %+v → %+v", before, after)
				}
			})
		}
	})

	t.Run("odd text is kept exactly", func(t *testing.T) {
		m := referral(nhsNumber(1002), "Zoë O'Brien-Ní Dhónaill 😀")
		p := m["person"].(map[string]any)
		p["family_name"] = "'; DROP TABLE people; --"
		p["address"] = "Flat 2, \"The Old Mill\"\n<b>Mill Lane</b> & Co."
		m["current_issues"] = "<script>alert(1)</script> ünïcödé \\ back\\slash \u00a0nbsp ☃"
		m["tried"] = "=HYPERLINK(\"http://evil\")"
		m["could_help"] = "  leading and trailing spaces  "
		var created struct{ ID string }
		s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", m, &created)
		var got register.Person
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+created.ID, nil, &got)
		checks := map[string][2]string{
			"given_name":     {got.GivenName, p["given_name"].(string)},
			"family_name":    {got.FamilyName, p["family_name"].(string)},
			"address":        {got.Address, p["address"].(string)},
			"current_issues": {got.CurrentIssues, m["current_issues"].(string)},
			"tried":          {got.Tried, m["tried"].(string)},
			"could_help":     {got.CouldHelp, m["could_help"].(string)},
		}
		for f, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s: got %q, want %q", f, c[0], c[1])
			}
		}
		// The raw body carries the text unescaped as HTML (JSON is not HTML).
		_, _, raw, err := s.raw("coord@example.org", "GET", "/api/v1/people/"+created.ID, nil)
		if err != nil || !bytes.Contains(raw, []byte(`<script>alert(1)</script>`)) {
			t.Errorf("raw record lacks the exact text: %v", err)
		}
		var n int
		if err := s.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM people`).Scan(&n); err != nil || n == 0 {
			t.Errorf("people table: %d, %v", n, err)
		}
	})

	t.Run("twenty at once make one person", func(t *testing.T) {
		body, _ := json.Marshal(referral(nhsNumber(1003), "Cas"))
		before := s.rowCounts()
		type answer struct {
			status int
			id     string
			err    error
		}
		answers := make([]answer, 20)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Go(func() {
				<-start
				st, _, raw, err := s.raw("sw@example.org", "POST", "/api/v1/referrals", body)
				var out struct{ ID string }
				if err == nil {
					err = json.Unmarshal(raw, &out)
				}
				answers[i] = answer{st, out.ID, err}
			})
		}
		close(start)
		wg.Wait()
		created, conflicts := 0, 0
		ids := map[string]bool{}
		for _, a := range answers {
			if a.err != nil {
				t.Fatal(a.err)
			}
			switch a.status {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			default:
				t.Errorf("status %d", a.status)
			}
			ids[a.id] = true
		}
		if created != 1 || conflicts != 19 || len(ids) != 1 || ids[""] {
			t.Fatalf("%d created, %d conflicts, ids %v", created, conflicts, ids)
		}
		after := s.rowCounts()
		if after.people != before.people+1 || after.professionals != before.professionals+2 {
			t.Errorf("rows %+v → %+v, want one person with two professionals", before, after)
		}
	})

	t.Run("a declined person can be referred again", func(t *testing.T) {
		nhs := nhsNumber(1004)
		var first struct{ ID string }
		s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs, "Dee"), &first)
		var dup struct{ ID string }
		s.must(http.StatusConflict, "nurse@example.org", "POST", "/referrals", referral(nhs, "Dee"), &dup)
		if dup.ID != first.ID {
			t.Fatalf("409 id %q, want %q", dup.ID, first.ID)
		}
		s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+first.ID+"/triage", map[string]any{"decision": "decline", "reason": "criteria not met"}, nil)
		var second struct{ ID, Status string }
		s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs, "Dee"), &second)
		if second.ID == first.ID || second.Status != "referred" {
			t.Fatalf("second referral %+v", second)
		}
		var old, now register.Person
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+first.ID, nil, &old)
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+second.ID, nil, &now)
		if old.Status != register.Declined || old.CloseReason != "criteria not met" || old.Episode != 1 {
			t.Errorf("earlier record: status %s, reason %q, episode %d", old.Status, old.CloseReason, old.Episode)
		}
		if now.Status != register.Referred || now.Episode != 2 || now.NHSNumber != nhs {
			t.Errorf("new episode: status %s, episode %d", now.Status, now.Episode)
		}
	})

	t.Run("dsr start --file", func(t *testing.T) {
		dir := t.TempDir()
		good := filepath.Join(dir, "referral.json")
		b, _ := json.Marshal(referral(nhsNumber(1005), "Eve"))
		os.WriteFile(good, b, 0o600)
		var out1, out2, errs bytes.Buffer
		if err := starter.Command(context.Background(), []string{"--file", good}, &out1, &errs, s.starterDeps()); err != nil {
			t.Fatalf("first run: %v\n%s", err, errs.String())
		}
		id := strings.TrimSpace(out1.String())
		var p register.Person
		s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
		if p.GivenName != "Eve" || p.Status != register.Referred {
			t.Fatalf("record %+v", p)
		}
		errs.Reset()
		if err := starter.Command(context.Background(), []string{"--file", good}, &out2, &errs, s.starterDeps()); err != nil {
			t.Fatalf("re-run: %v", err)
		}
		if strings.TrimSpace(out2.String()) != id || !strings.Contains(errs.String(), "already") {
			t.Errorf("re-run printed %q / %q, want the same id and 'already'", out2.String(), errs.String())
		}

		bad := filepath.Join(dir, "bad.json")
		m := referral("943 476 5910", "Eve")
		m["person"].(map[string]any)["date_of_birth"] = "2990-01-01"
		b, _ = json.Marshal(m)
		os.WriteFile(bad, b, 0o600)
		before := s.rowCounts()
		errs.Reset()
		err := starter.Command(context.Background(), []string{"--file", bad}, &bytes.Buffer{}, &errs, s.starterDeps())
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("bad file: error %v, want a one-line reason", err)
		}
		for _, f := range []string{"person.nhs_number", "person.date_of_birth"} {
			if !strings.Contains(errs.String(), f) {
				t.Errorf("stderr does not name %s: %s", f, errs.String())
			}
		}
		if s.rowCounts() != before {
			t.Errorf("a refused file wrote rows")
		}
		if err := starter.Command(context.Background(), []string{"--file", good, "--csv", good}, &out2, &errs, s.starterDeps()); err == nil {
			t.Errorf("--file with --csv accepted")
		}
	})
}
