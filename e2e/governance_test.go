package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestSubjectAccessExport: a person discharged and referred again has two
// episodes; the export, asked for either, holds both, with the reviews,
// rating history, actions, professionals, notices (kind, when, to whom) and
// the audit of who read the record; the export itself is audited, for
// every episode, as JSON and as the printable page.
func TestSubjectAccessExport(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	nhs := nhsNumbers(4401, 1)[0]
	first := s.referAndAccept(nhs)
	s.must(http.StatusOK, "sw@example.org", "GET", "/people/"+first, nil, nil) // a read, to be in the export
	s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+first+"/actions",
		map[string]any{"description": "Arrange respite", "owner_email": "sw@example.org", "due": time.Now().Add(72 * time.Hour).Format(time.RFC3339)}, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+first+"/discharge", map[string]any{"reason": "moved away"}, nil)
	var second struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs, "Alex"), &second)
	s.waitMail("referral-received", second.ID, 20*time.Second)

	// The mail is out; wait for the outbox to record it as sent.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var sent bool
		s.store.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM notices WHERE person_id = $1 AND kind = 'referral-received' AND status = 'sent')`, second.ID).Scan(&sent)
		if sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("referral-received never recorded as sent")
		}
	}

	var sa store.SubjectAccess
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+second.ID+"/export", nil, &sa)
	var ids []string
	for _, e := range sa.Episodes {
		ids = append(ids, e.ID)
	}
	if len(sa.Episodes) != 2 || !slices.Contains(ids, first) || !slices.Contains(ids, second.ID) {
		t.Fatalf("export episodes %v, want %s and %s", ids, first, second.ID)
	}
	ep1 := sa.Episodes[slices.Index(ids, first)]
	if ep1.Status != "discharged" || len(ep1.Actions) != 1 || len(ep1.RatingHistory) == 0 || len(ep1.Professionals) != 2 || ep1.GivenName != "Alex" {
		t.Errorf("first episode incomplete: %+v", ep1)
	}
	var receivedTo []string
	for _, n := range sa.Notices {
		if n.Kind == "referral-received" && n.PersonID == second.ID && n.SentAt != nil {
			receivedTo = n.Recipients
			if len(n.Deliveries) != len(n.Recipients) || n.Deliveries[0].Status != "sent" {
				t.Errorf("deliveries of referral-received: %+v", n.Deliveries)
			}
		}
	}
	if !slices.Contains(receivedTo, "coord@example.org") {
		t.Errorf("the export does not say to whom referral-received went: %+v", sa.Notices)
	}
	var sawRead, sawOwnExport bool
	for _, e := range sa.Audit {
		sawRead = sawRead || (e.Action == "read" && e.PersonID == first && e.User.Email == "sw@example.org")
		sawOwnExport = sawOwnExport || (e.Action == "export" && e.User.Email == "coord@example.org")
	}
	if !sawRead || !sawOwnExport {
		t.Errorf("export's audit section: read by sw@ %v, the export itself %v", sawRead, sawOwnExport)
	}
	exports := func() map[string]int {
		rows, _ := s.store.Pool.Query(context.Background(), `SELECT person_id::text FROM audit_log
			WHERE action = 'export' AND user_email = 'coord@example.org' AND detail = 'subject access export'`)
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			m[id]++
		}
		return m
	}
	if got := exports(); got[first] != 1 || got[second.ID] != 1 {
		t.Errorf("export audited %v, want one entry for each episode", got)
	}
	// Only coordinators: a named professional is refused (and audited as such).
	s.must(http.StatusForbidden, "sw@example.org", "GET", "/people/"+first+"/export", nil, nil)

	// The printable page: the same export, audited again.
	c, _ := s.browserFor("coord@example.org")
	resp, err := c.Get(s.api.URL + "/people/" + first + "/export")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Count(string(page), `data-testid="episode"`) != 2 || !strings.Contains(string(page), "moved away") {
		t.Fatalf("export page: %d, %d episodes", resp.StatusCode, strings.Count(string(page), `data-testid="episode"`))
	}
	if got := exports(); got[first] != 2 || got[second.ID] != 2 {
		t.Errorf("after the page, export audited %v, want two entries for each episode", got)
	}
	// The record page offers it to coordinators.
	resp, err = c.Get(s.api.URL + "/people/" + second.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `href="/people/`+second.ID+`/export"`) {
		t.Error("the record page has no subject access export button")
	}
}

// TestCorrectionEndToEnd: a coordinator corrects a name through the API
// and a family name through the page; the record holds the new values, the
// history the old ones, the audit log each correction with its reason; an
// NHS number another open record holds is 409; no mail and no Temporal
// history (read without the codec) carries either name.
func TestCorrectionEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, defaultTiming(t))
	ctx := context.Background()
	body := referral(nhsNumbers(4402, 1)[0], "Bartholomew")
	body["person"].(map[string]any)["family_name"] = "Quennell"
	var created struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", body, &created)
	id := created.ID
	s.waitMail("referral-received", id, 20*time.Second)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/triage", map[string]any{"decision": "accept", "rag": "red"}, nil)

	// Refused: no reason; a bad NHS number; a field that is not a detail.
	var refused struct{ Fields map[string]string }
	s.must(http.StatusUnprocessableEntity, "coord@example.org", "PATCH", "/people/"+id, map[string]any{"given_name": "Bartholomeus"}, &refused)
	if refused.Fields["reason"] == "" {
		t.Errorf("no reason: fields %v", refused.Fields)
	}
	s.must(http.StatusUnprocessableEntity, "coord@example.org", "PATCH", "/people/"+id, map[string]any{"nhs_number": "9434765918", "reason": "x"}, &refused)
	if refused.Fields["nhs_number"] == "" {
		t.Errorf("bad NHS number: fields %v", refused.Fields)
	}
	s.must(http.StatusUnprocessableEntity, "coord@example.org", "PATCH", "/people/"+id, map[string]any{"rag": "green", "reason": "x"}, nil)
	s.must(http.StatusForbidden, "sw@example.org", "PATCH", "/people/"+id, map[string]any{"given_name": "Bartholomeus", "reason": "x"}, nil)

	// Corrected.
	s.must(http.StatusOK, "coord@example.org", "PATCH", "/people/"+id, map[string]any{"given_name": "Bartholomeus", "reason": "misspelt at referral"}, nil)
	var rec struct {
		GivenName  string `json:"given_name"`
		FamilyName string `json:"family_name"`
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &rec)
	if rec.GivenName != "Bartholomeus" {
		t.Fatalf("given name after correction: %q", rec.GivenName)
	}
	var old, nw, reason string
	if err := s.store.Pool.QueryRow(ctx, `SELECT old_value, new_value, reason FROM person_corrections WHERE person_id = $1 AND field = 'given_name'`, id).
		Scan(&old, &nw, &reason); err != nil || old != "Bartholomew" || nw != "Bartholomeus" || reason != "misspelt at referral" {
		t.Errorf("history: %q → %q (%q), %v", old, nw, reason, err)
	}
	var audited int
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE person_id = $1 AND action = 'change' AND user_email = 'coord@example.org'
		AND fields = '{given_name}' AND detail = 'correction: misspelt at referral'`, id).Scan(&audited)
	if audited != 1 {
		t.Errorf("%d audit entries for the correction, want 1", audited)
	}

	// Sent twice with one Idempotency-Key: one correction, the first answer.
	keyed := func() int {
		req, _ := http.NewRequest("PATCH", s.api.URL+"/api/v1/people/"+id, strings.NewReader(`{"address": "3 Mill Lane", "reason": "moved"}`))
		req.Header.Set("Authorization", "Bearer "+s.tokens["coord@example.org"])
		req.Header.Set("Idempotency-Key", "move-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := keyed(), keyed(); a != http.StatusOK || b != http.StatusOK {
		t.Errorf("keyed correction twice: %d, %d", a, b)
	}
	var moves int
	s.store.Pool.QueryRow(ctx, `SELECT count(*) FROM person_corrections WHERE person_id = $1 AND field = 'address'`, id).Scan(&moves)
	if moves != 1 {
		t.Errorf("a keyed correction sent twice wrote %d history rows, want 1", moves)
	}

	// Another open record's NHS number: 409 naming it; nothing written.
	otherNHS := nhsNumbers(4440, 1)[0]
	var other struct{ ID string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(otherNHS, "Other"), &other)
	var clash struct{ ID string }
	s.must(http.StatusConflict, "coord@example.org", "PATCH", "/people/"+id, map[string]any{"nhs_number": otherNHS, "reason": "typo"}, &clash)
	if clash.ID != other.ID {
		t.Errorf("409 names %q, want %q", clash.ID, other.ID)
	}

	// The page: correct the family name.
	c, token := s.browserFor("coord@example.org")
	resp, err := c.Get(s.api.URL + "/people/" + id + "/correct")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(form), `value="Bartholomeus"`) {
		t.Fatalf("correction form: %d", resp.StatusCode)
	}
	// The form posts the consent as it was referred: unchanged.
	consent, err := time.Parse(time.DateOnly, consentDay())
	if err != nil {
		t.Fatal(err)
	}
	values := url.Values{"csrf_token": {token}, "given_name": {"Bartholomeus"}, "family_name": {"Quennel"},
		"date_of_birth-day": {"1"}, "date_of_birth-month": {"4"}, "date_of_birth-year": {"1990"},
		"nhs_number": {nhsNumbers(4402, 1)[0]}, "address": {"3 Mill Lane"}, "postcode": {"SN1 1AA"}, "locality": {"Swindon"},
		"consent.basis": {"informed_consent"}, "consent.recorded_on-day": {strconv.Itoa(consent.Day())}, "consent.recorded_on-month": {strconv.Itoa(int(consent.Month()))},
		"consent.recorded_on-year": {strconv.Itoa(consent.Year())}, "consent.recorded_by": {"Sam Worker"}, "consent.details": {""}}
	resp, err = c.PostForm(s.api.URL+"/people/"+id+"/correct", values)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("correction without a reason from the page: %d, want 422", resp.StatusCode)
	}
	values.Set("reason", "family name checked with the GP record")
	resp, err = c.PostForm(s.api.URL+"/people/"+id+"/correct", values)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("correction from the page: %d, want 303", resp.StatusCode)
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &rec)
	var fields []string
	s.store.Pool.QueryRow(ctx, `SELECT array_agg(field ORDER BY id) FROM person_corrections WHERE person_id = $1`, id).Scan(&fields)
	if rec.FamilyName != "Quennel" || !slices.Equal(fields, []string{"given_name", "address", "family_name"}) {
		t.Errorf("after the page: family name %q, history %v (only the changed field is written)", rec.FamilyName, fields)
	}

	// Nothing was mailed about it, and no mail carries a name.
	s.stopWorkerNow()
	names := []string{"Bartholomew", "Bartholomeus", "Quennell", "Quennel"}
	for _, m := range s.smtp.Messages() {
		for _, n := range names {
			if strings.Contains(string(m.Raw), n) {
				t.Errorf("a %s mail carries %q", m.Header.Get("X-DSR-Kind"), n)
			}
		}
	}
	// Temporal, read without the codec, holds neither name.
	raw, err := client.Dial(client.Options{HostPort: s.temporal.Address(), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	found := scanHistory(ctx, t, raw, workflows.WorkflowID(id), names)
	if len(found["events"]) == 0 {
		t.Fatal("no history events scanned")
	}
	for _, n := range names {
		if len(found[n]) > 0 {
			t.Errorf("the workflow's history holds %q in the clear (events %v)", n, found[n])
		}
	}
}
