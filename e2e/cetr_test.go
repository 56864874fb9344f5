package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/activities"
	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// fastClocks is fast() with the C(E)TR clocks at second scale: a community
// C(E)TR within 12 s of red.
func fastClocks() register.Timing {
	t := fast()
	t.CETR = register.DefaultCETRTiming()
	t.CETR.CommunityWithin = 12 * time.Second
	return t
}

// addLead adds a user flagged C(E)TR lead.
func (s *stack) addLead(email string) {
	s.t.Helper()
	if _, err := s.store.UpsertUser(context.Background(), store.User{Email: email, Name: "Lee Lead", Role: "manager", CETRLead: true}); err != nil {
		s.t.Fatal(err)
	}
}

// referAs submits a referral with a date of birth and accepts it at rag.
func (s *stack) referBornAs(nhs, dob, rag string) string {
	s.t.Helper()
	body := referral(nhs, "Alex")
	body["person"].(map[string]any)["date_of_birth"] = dob
	if dob > time.Now().AddDate(-18, 0, 0).Format(time.DateOnly) {
		body["consent"].(map[string]any)["basis"] = "parental_responsibility"
	}
	var created struct{ ID, Status string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", body, &created)
	s.waitMail("referral-received", created.ID, 20*time.Second)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+created.ID+"/triage", map[string]any{"decision": "accept", "rag": rag}, nil)
	return created.ID
}

// Red → cetr-due to the named professionals → cetr-overdue → escalated to
// the C(E)TR lead, each once, on time; the record shows it overdue and the
// list filters on it.
func TestCETRLadderEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, fastClocks())
	s.addLead("lead@example.org")
	id := s.referBornAs(nhsNumber(1201), "1990-04-01", "green")
	red := time.Now()
	s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/rag", map[string]any{"rag": "red", "reason": "crisis at home"}, nil)
	steps := []struct {
		kind string
		at   time.Duration
		to   string
	}{
		{"cetr-due", 7 * time.Second, professionals},
		{"cetr-overdue", 12 * time.Second, professionals},
		{"cetr-escalated", 16 * time.Second, "coord@example.org,lead@example.org"},
	}
	for _, st := range steps {
		m := s.waitMail(st.kind, id, 40*time.Second)
		if late := m.Received.Sub(red) - st.at; late < -time.Second || late > 4*time.Second {
			t.Errorf("%s arrived %v after red, want about %v", st.kind, m.Received.Sub(red), st.at)
		}
		if got := s.recipients(m); got != st.to {
			t.Errorf("%s went to %s, want %s", st.kind, got, st.to)
		}
		checkMessage(t, m, id)
		if got := m.Header.Get("Subject"); got == "" || got == "DSR: C(E)TR due" {
			t.Errorf("subject %q does not name the review", got)
		}
	}
	var p struct {
		CETROverdue bool            `json:"cetr_overdue"`
		CETRs       []register.CETR `json:"cetrs"`
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	if !p.CETROverdue || len(p.CETRs) != 1 || p.CETRs[0].Name != "CTR" || !p.CETRs[0].Overdue {
		t.Errorf("record: %+v", p)
	}
	var list struct{ People []struct{ ID string } }
	s.must(http.StatusOK, "coord@example.org", "GET", "/people?cetr_overdue=true", nil, &list)
	if len(list.People) != 1 || list.People[0].ID != id {
		t.Errorf("cetr_overdue list: %+v", list)
	}
	// Held: the ladder stops.
	s.must(http.StatusOK, "sw@example.org", "POST", "/people/"+id+"/cetrs/"+p.CETRs[0].ID+"/record",
		map[string]any{"held_at": time.Now().UTC().Format(time.RFC3339), "chair": "Dr Chair",
			"recommendations": []map[string]any{{"description": "Intensive support referral", "owner_email": "sw@example.org", "due": time.Now().Add(time.Hour).Format(time.RFC3339)}}}, nil)
	n := len(s.mails("cetr-escalated", id))
	time.Sleep(9 * time.Second)
	if got := len(s.mails("cetr-escalated", id)); got != n {
		t.Errorf("escalations after it was held: %d, then %d", n, got)
	}
	for kind, want := range map[string]int{"cetr-due": 1, "cetr-overdue": 1} {
		if got := len(s.mails(kind, id)); got != want {
			t.Errorf("%d %s, want %d", got, kind, want)
		}
	}
}

// Blue without a community C(E)TR: the admission is flagged, its outcome
// recorded, and the report counts it.
func TestAdmissionWithoutCETRFlagged(t *testing.T) {
	t.Parallel()
	s := newStack(t, fastClocks())
	id := s.referBornAs(nhsNumber(1202), "1990-04-01", "amber")
	s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/rag", map[string]any{"rag": "blue", "reason": "admitted"}, nil)
	var p struct {
		Admissions []register.Admission `json:"admissions"`
		CETRs      []register.CETR      `json:"cetrs"`
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	if len(p.Admissions) != 1 || p.Admissions[0].Preceded || !p.Admissions[0].RootCauseNeeded() {
		t.Fatalf("admission not flagged: %+v", p.Admissions)
	}
	if len(p.CETRs) != 1 || p.CETRs[0].Kind != register.CETRPostAdmission || p.CETRs[0].Status != register.CETRDueStatus {
		t.Errorf("post-admission review due: %+v", p.CETRs)
	}
	s.must(http.StatusUnprocessableEntity, "coord@example.org", "POST", "/people/"+id+"/root-cause",
		map[string]any{"admitted_at": p.Admissions[0].AdmittedAt, "outcome": ""}, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/root-cause",
		map[string]any{"admitted_at": p.Admissions[0].AdmittedAt, "outcome": "no crisis bed in the area"}, nil)
	c, err := s.store.CETRCounts(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 25, []register.Rating{register.Red})
	if err != nil {
		t.Fatal(err)
	}
	if c.Admissions != 1 || c.Preceded != 0 {
		t.Errorf("counted: %+v", c)
	}
	// The summary hides one admission.
	var sum struct {
		CETR struct {
			Admissions *int `json:"admissions"`
			Share      *int `json:"preceded_percent"`
		} `json:"cetr"`
	}
	s.must(http.StatusOK, "comm@example.org", "GET", "/reports/summary", nil, &sum)
	if sum.CETR.Admissions != nil || sum.CETR.Share != nil {
		t.Errorf("one admission shown: %+v", sum.CETR)
	}
}

// A 17-year-old: transition-due to the coordinators at once (the 18th
// birthday is within 90 days), keyworker-needed once, and the list finds
// them eligible without a keyworker until one is referred for.
func TestTransitionAndKeyworkerEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, fastClocks())
	dob := time.Now().In(register.London).AddDate(-18, 0, 30).Format(time.DateOnly)
	id := s.referBornAs(nhsNumber(1203), dob, "amber")
	m := s.waitMail("transition-due", id, 20*time.Second)
	if got := s.recipients(m); got != "coord@example.org" {
		t.Errorf("transition-due to %s", got)
	}
	checkMessage(t, m, id)
	s.waitMail("keyworker-needed", id, 20*time.Second)
	var list struct{ People []struct{ ID string } }
	s.must(http.StatusOK, "coord@example.org", "GET", "/people?no_keyworker=true", nil, &list)
	if len(list.People) != 1 || list.People[0].ID != id {
		t.Errorf("no_keyworker list: %+v", list)
	}
	// Green, then red again: eligible again in the same episode, no second notice.
	s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/rag", map[string]any{"rag": "green", "reason": "settled"}, nil)
	s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/rag", map[string]any{"rag": "amber", "reason": "worse"}, nil)
	s.must(http.StatusOK, "coord@example.org", "PUT", "/people/"+id+"/keyworker", map[string]any{"referred_on": time.Now().Format(time.DateOnly)}, nil)
	s.must(http.StatusOK, "coord@example.org", "GET", "/people?no_keyworker=true", nil, &list)
	if len(list.People) != 0 {
		t.Errorf("referred for a keyworker, still listed: %+v", list)
	}
	time.Sleep(3 * time.Second)
	for kind, want := range map[string]int{"keyworker-needed": 1, "transition-due": 1} {
		if got := len(s.mails(kind, id)); got != want {
			t.Errorf("%d %s, want %d", got, kind, want)
		}
	}
}

// Consent withdrawn: off the register, the reason and the record kept, and
// no mail after.
func TestConsentWithdrawnNoMailAfter(t *testing.T) {
	t.Parallel()
	s := newStack(t, fastClocks())
	id := s.referBornAs(nhsNumber(1204), "1990-04-01", "red")
	s.must(http.StatusUnprocessableEntity, "coord@example.org", "POST", "/people/"+id+"/consent/withdraw", map[string]any{"reason": ""}, nil)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/consent/withdraw", map[string]any{"reason": "no longer wishes to be on the register"}, nil)
	withdrawn := time.Now()
	var p struct {
		Status         string                   `json:"status"`
		CloseReason    string                   `json:"close_reason"`
		ConsentHistory []register.ConsentRecord `json:"consent_history"`
		CETRs          []register.CETR          `json:"cetrs"`
	}
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	if p.Status != "discharged" || p.CloseReason != "consent withdrawn: no longer wishes to be on the register" || len(p.ConsentHistory) != 1 {
		t.Errorf("record: %+v", p)
	}
	for _, c := range p.CETRs {
		if c.Status != register.CETRCancelled {
			t.Errorf("C(E)TR still open: %+v", c)
		}
	}
	time.Sleep(16 * time.Second) // past the red review's and the C(E)TR's reminders and overdue notices
	for _, m := range s.smtp.Messages() {
		if m.Header.Get("X-DSR-Person") == id && m.Received.After(withdrawn.Add(time.Second)) {
			t.Errorf("%s sent %v after withdrawal", m.Header.Get("X-DSR-Kind"), m.Received.Sub(withdrawn))
		}
	}
}

// The monthly return: its Schedule exists (days 1 to 7, London); the
// mail goes once to each commissioner and DSR_MONTHLY_RETURN_TO address,
// links to the month's return, and carries no counts.
func TestMonthlyReturnMail(t *testing.T) {
	t.Parallel()
	s := newStackEdit(t, fastClocks(), codec.GenerateKey(), func(c *config.Config) { c.MonthlyReturnTo = "at.team@example.org" })
	ctx := context.Background()
	var desc *client.ScheduleDescription
	waitUntil(t, 20*time.Second, func() bool {
		var err error
		desc, err = s.client.ScheduleClient().GetHandle(ctx, workflows.MonthlyReturnScheduleID).Describe(ctx)
		return err == nil
	})
	if spec := desc.Schedule.Spec; spec.TimeZoneName != "Europe/London" || len(spec.CronExpressions) == 0 && len(spec.Calendars) == 0 {
		t.Errorf("schedule spec: %+v", spec)
	}
	mailer, err := mail.NewSMTP(s.cfg.SMTP, s.cfg.MailFrom, s.logger)
	if err != nil {
		t.Fatal(err)
	}
	m := &activities.MonthlyReturns{Activities: &activities.Activities{Store: s.store, Mailer: mailer, BaseURL: s.cfg.BaseURL, Logger: s.logger},
		ExtraTo: s.cfg.MonthlyReturnTo}
	for range 2 { // a retried run sends nothing twice
		if err := m.SendMonthlyReturn(ctx, "2026-11"); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	for _, c := range s.smtp.Messages() {
		if c.Header.Get("X-DSR-Kind") != "monthly-return" {
			continue
		}
		for _, to := range c.To {
			got[strings.ToLower(to)]++
		}
		text := c.Text()
		if !strings.Contains(text, s.cfg.BaseURL+"/reports/returns/2026-11") {
			t.Errorf("no link to the return:\n%s", text)
		}
		rest := strings.NewReplacer(s.cfg.BaseURL, "", "2026-11", "", "90%", "").Replace(text)
		if strings.ContainsAny(rest, "0123456789") {
			t.Errorf("the mail carries a number:\n%s", text)
		}
	}
	if got["comm@example.org"] != 1 || got["at.team@example.org"] != 1 || len(got) != 2 {
		t.Errorf("monthly return mail to %v, want once each to the commissioner and DSR_MONTHLY_RETURN_TO", got)
	}
	// The link opens that month's reports page for a commissioner.
	b, _ := s.browserFor("comm@example.org")
	resp, err := b.Get(s.api.URL + "/reports/returns/2026-11")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "from-month=11") || !strings.Contains(loc, "to-day=30") {
		t.Errorf("return link: %d %s", resp.StatusCode, loc)
	}
}

func waitUntil(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s", within)
		}
	}
}
