package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
)

// TestActionLadderEndToEnd: an action due in 14 s brings action-due to its
// owner, action-overdue to its owner, and three action-escalated to the
// owner's manager and the coordinators, once each; an action whose owner
// has no known manager escalates to the coordinators and says so; a
// completed action sends nothing more.
func TestActionLadderEndToEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	id := s.referAndAcceptAs("792 125 1331", "amber")
	due := time.Now().Add(14 * time.Second).UTC().Truncate(time.Second)
	add := func(owner, desc string) string {
		var a struct{ ID, Status string }
		s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/actions",
			map[string]any{"description": desc, "owner_email": owner, "due": due.Format(time.RFC3339)}, &a)
		return a.ID
	}
	owned := add("sw@example.org", "book a community CETR")
	unknown := add("agency.worker@example.net", "arrange extra staffing")
	done := add("nurse@example.org", "refer to intensive support")

	// Invalid actions are refused with the field named and change nothing.
	var e struct{ Fields map[string]string }
	if st := s.do("sw@example.org", "POST", "/people/"+id+"/actions", map[string]any{"description": "x", "owner_email": "nope", "due": time.Now().Add(-time.Hour).Format(time.RFC3339)}, &e); st != http.StatusUnprocessableEntity || e.Fields["owner_email"] == "" || e.Fields["due"] == "" {
		t.Errorf("bad action: %d %v", st, e.Fields)
	}

	m := s.waitActionMail("action-due", owned, 1, 20*time.Second)
	if got := s.recipients(m); got != "sw@example.org" {
		t.Errorf("action-due to %s", got)
	}
	s.must(http.StatusOK, "nurse@example.org", "POST", "/people/"+id+"/actions/"+done+"/complete", map[string]any{"outcome": "referral accepted"}, nil)
	// Only the owner or a coordinator may complete an action.
	if st := s.do("sw@example.org", "POST", "/people/"+id+"/actions/"+unknown+"/complete", map[string]any{"outcome": "x"}, nil); st != http.StatusForbidden {
		t.Errorf("non-owner completing: %d, want 403", st)
	}

	over := s.waitActionMail("action-overdue", owned, 1, 20*time.Second)
	if late := over.Received.Sub(due); late < -time.Second || late > 4*time.Second {
		t.Errorf("action-overdue %v after due", late)
	}
	for n := 1; n <= 3; n++ {
		m := s.waitActionMail("action-escalated", owned, n, 30*time.Second)
		if got := s.recipients(m); got != escalation {
			t.Errorf("escalation %d to %s, want %s", n, got, escalation)
		}
		u := s.waitActionMail("action-escalated", unknown, n, 10*time.Second)
		if got := s.recipients(u); got != "coord@example.org" {
			t.Errorf("unknown owner's escalation %d to %s", n, got)
		}
		if !strings.Contains(strings.ToLower(u.Text()), "manager") {
			t.Errorf("escalation without a known manager does not say so:\n%s", u.Text())
		}
	}
	time.Sleep(5 * time.Second)
	for _, c := range []struct {
		action, kind string
		want         int
	}{
		{owned, "action-due", 1}, {owned, "action-overdue", 1}, {owned, "action-escalated", 3},
		{unknown, "action-escalated", 3}, {done, "action-due", 1}, {done, "action-overdue", 0}, {done, "action-escalated", 0},
	} {
		if got := len(s.actionMails(c.kind, c.action)); got != c.want {
			t.Errorf("%s for %s: %d mails, want %d", c.kind, c.action, got, c.want)
		}
	}

	var p personView
	s.must(http.StatusOK, "coord@example.org", "GET", "/people/"+id, nil, &p)
	byID := map[string]register.Action{}
	for _, a := range p.Actions {
		byID[a.ID] = a
	}
	if a := byID[owned]; a.Status != register.ActionOpen || a.EscalationLevel != 3 || !a.Due.Equal(due) {
		t.Errorf("owned action on the record: %+v", a)
	}
	if a := byID[done]; a.Status != register.ActionDone || a.Outcome != "referral accepted" {
		t.Errorf("completed action on the record: %+v", a)
	}
	var list struct{ People []struct{ ID string } }
	s.must(http.StatusOK, "coord@example.org", "GET", "/people?overdue=true", nil, &list)
	if len(list.People) != 1 || list.People[0].ID != id {
		t.Errorf("overdue list %+v", list.People)
	}
}

// actionMails returns the messages of a kind about one action, by the
// opaque X-DSR-Action header (notices carry no action text).
func (s *stack) actionMails(kind, actionID string) []devstack.Captured {
	return notices(s.smtp.Messages(), func(m devstack.Captured) bool {
		return m.Header.Get("X-DSR-Kind") == kind && m.Header.Get("X-DSR-Action") == actionID
	})
}

func (s *stack) waitActionMail(kind, actionID string, n int, within time.Duration) devstack.Captured {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ms := s.actionMails(kind, actionID); len(ms) >= n {
			return ms[n-1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("fewer than %d %s mails for action %s within %s", n, kind, actionID, within)
	return devstack.Captured{}
}
