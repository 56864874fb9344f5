package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
)

type personView struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	Rating        string     `json:"rag"`
	NextReviewDue *time.Time `json:"next_review_due"`
	Professionals []register.Professional
	Actions       []register.Action
	Reviews       []register.Review
}

// referAndAccept submits a referral as the social worker and accepts it as
// red.
func (s *stack) referAndAccept(nhs string) string {
	s.t.Helper()
	return s.referAndAcceptAs(nhs, "red")
}

// referAndAcceptAs submits a referral and accepts it at a rating.
func (s *stack) referAndAcceptAs(nhs, rag string) string {
	s.t.Helper()
	var created struct{ ID, Status string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral(nhs, "Alex"), &created)
	if created.Status != "referred" || created.ID == "" {
		s.t.Fatalf("created %+v", created)
	}
	s.waitMail("referral-received", created.ID, 20*time.Second)
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+created.ID+"/triage", map[string]any{"decision": "accept", "rag": rag}, nil)
	return created.ID
}

const (
	professionals = "coord@example.org,nurse@example.org,sw@example.org"
	escalation    = "coord@example.org,mgr@example.org"
)

// TestReviewLadderEndToEnd: referral → triage red → review-due,
// review-overdue and three review-escalated notices arrive once each, to the
// right people, on time.
func TestReviewLadderEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	// The clock starts at the acceptance, which happens between these two
	// readings; the referral and its notice before it take what they take.
	var created struct{ ID, Status string }
	s.must(http.StatusCreated, "sw@example.org", "POST", "/referrals", referral("943 476 5919", "Alex"), &created)
	if created.Status != "referred" || created.ID == "" {
		t.Fatalf("created %+v", created)
	}
	id := created.ID
	s.waitMail("referral-received", id, 20*time.Second)
	accepted := time.Now()
	s.must(http.StatusOK, "coord@example.org", "POST", "/people/"+id+"/triage", map[string]any{"decision": "accept", "rag": "red"}, nil)
	acceptedBy := time.Now()

	var p personView
	s.must(http.StatusOK, "sw@example.org", "GET", "/people/"+id, nil, &p)
	if p.Status != "active" || p.Rating != "red" || p.NextReviewDue == nil {
		t.Fatalf("record after triage: %+v", p)
	}
	// (A millisecond either side for the database's microseconds.)
	if due := *p.NextReviewDue; due.Before(accepted.Add(12*time.Second-time.Millisecond)) || due.After(acceptedBy.Add(12*time.Second+time.Millisecond)) {
		t.Errorf("next review due %v after the triage request began (it took %v), want 12s after the acceptance",
			due.Sub(accepted), acceptedBy.Sub(accepted))
	}

	steps := []struct {
		kind string
		at   time.Duration
		to   string
	}{
		{"review-due", 7 * time.Second, professionals},
		{"review-overdue", 12 * time.Second, professionals},
		{"review-escalated", 16 * time.Second, escalation},
		{"review-escalated", 20 * time.Second, escalation},
		{"review-escalated", 24 * time.Second, escalation},
	}
	for i, st := range steps {
		var m = s.waitNth(st.kind, id, countKind(steps[:i+1], st.kind), 40*time.Second)
		late := m.Received.Sub(accepted) - st.at
		if late < -time.Second || late > 4*time.Second {
			t.Errorf("%s #%d arrived %v after acceptance, want about %v", st.kind, i, m.Received.Sub(accepted), st.at)
		}
		if got := s.recipients(m); got != st.to {
			t.Errorf("%s went to %s, want %s", st.kind, got, st.to)
		}
		checkMessage(t, m, id)
	}
	time.Sleep(6 * time.Second) // long enough for a fourth escalation, were there one
	for kind, want := range map[string]int{"review-due": 1, "review-overdue": 1, "review-escalated": 3, "referral-received": 1} {
		if got := len(s.mails(kind, id)); got != want {
			t.Errorf("%d %s mails, want %d", got, kind, want)
		}
	}
}

func countKind(steps []struct {
	kind string
	at   time.Duration
	to   string
}, kind string) int {
	n := 0
	for _, s := range steps {
		if s.kind == kind {
			n++
		}
	}
	return n
}

// waitNth waits until n messages of a kind have arrived and returns the nth.
func (s *stack) waitNth(kind, id string, n int, within time.Duration) devstack.Captured {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ms := s.mails(kind, id); len(ms) >= n {
			return ms[n-1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("fewer than %d %s mails within %s", n, kind, within)
	return devstack.Captured{}
}

// checkMessage checks what every notice must carry and must not.
func checkMessage(t *testing.T, m devstack.Captured, id string) {
	t.Helper()
	raw := string(m.Raw)
	for _, banned := range []string{"9434765919", "943 476 5919", "1990-04-01", "1 High Street", "Testperson", "Alex"} {
		if strings.Contains(raw, banned) {
			t.Errorf("%s mail contains personal data %q", m.Header.Get("X-DSR-Kind"), banned)
		}
	}
	if m.Header.Get("X-DSR-Person") != id {
		t.Errorf("X-DSR-Person %q", m.Header.Get("X-DSR-Person"))
	}
	if !strings.Contains(m.Text(), "/people/"+id) {
		t.Errorf("no link to the record in the text part:\n%s", m.Text())
	}
}

// TestWorkerRestartLosesNothing stops the worker after the reminder, keeps
// it down past the due date, and starts a new one: the overdue notice comes
// once, late, and the ladder goes on with nothing twice.
func TestWorkerRestartLosesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	id := s.referAndAccept("401 023 2137")
	s.waitMail("review-due", id, 20*time.Second)
	s.stopWorkerNow()
	time.Sleep(5500 * time.Millisecond) // past review-overdue at 12 s, before the first escalation at 16 s
	s.startWorker()
	s.waitNth("review-escalated", id, 3, 40*time.Second)
	time.Sleep(2 * time.Second)
	for kind, want := range map[string]int{"review-due": 1, "review-overdue": 1, "review-escalated": 3} {
		if got := len(s.mails(kind, id)); got != want {
			t.Errorf("%d %s mails, want %d", got, kind, want)
		}
	}
}

// TestMailServerDown: the SMTP server refuses everything for a while; the
// notices arrive once it is back, once each.
func TestMailServerDown(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	id := s.referAndAccept("450 557 7104")
	s.smtp.SetRefuse(true)
	time.Sleep(9 * time.Second) // review-due falls due at 7 s and is refused
	if n := len(s.mails("review-due", id)); n != 0 {
		t.Fatalf("%d review-due mails while the server refused", n)
	}
	s.smtp.SetRefuse(false)
	s.waitMail("review-due", id, 20*time.Second)
	s.waitMail("review-overdue", id, 20*time.Second)
	time.Sleep(time.Second)
	if n := len(s.mails("review-due", id)); n != 1 {
		t.Errorf("%d review-due mails, want 1", n)
	}
}
