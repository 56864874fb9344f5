package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// TestWeeklyDigest triggers the digest Schedule: the coordinator and the
// manager of a professional with an overdue action get one digest each,
// with counts and no identifiers; a manager with nothing to act on gets
// nothing; triggering again for the same run sends nothing twice.
func TestWeeklyDigest(t *testing.T) {
	t.Parallel()
	s := newStack(t, fast())
	ctx := context.Background()
	if _, err := s.store.UpsertUser(ctx, store.User{Email: "idle.manager@example.org", Name: "Ida Idle", Role: "manager"}); err != nil {
		t.Fatal(err)
	}
	id := s.referAndAcceptAs("003 944 2926", "amber")
	// Due soon enough to be overdue when the digest runs, late enough to be
	// in the future when the workflow, on a busy machine, checks it.
	due := time.Now().Add(5 * time.Second)
	s.must(http.StatusCreated, "sw@example.org", "POST", "/people/"+id+"/actions", map[string]any{
		"description": "housing referral", "owner_email": "sw@example.org", "due": due.UTC().Format(time.RFC3339Nano)}, nil)
	time.Sleep(time.Until(due.Add(time.Second)))

	h := s.client.ScheduleClient().GetHandle(ctx, workflows.DigestScheduleID)
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	digest := func(to string) []devstack.Captured {
		var out []devstack.Captured
		for _, m := range s.smtp.Messages() {
			if m.Header.Get("X-DSR-Kind") == "digest" && recipientList(m.To) == to {
				out = append(out, m)
			}
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (len(digest("coord@example.org")) == 0 || len(digest("mgr@example.org")) == 0) {
		time.Sleep(200 * time.Millisecond)
	}
	for _, to := range []string{"coord@example.org", "mgr@example.org"} {
		ms := digest(to)
		if len(ms) != 1 {
			t.Fatalf("%d digests to %s, want 1", len(ms), to)
		}
		text := ms[0].Text()
		if !strings.Contains(text, "1") || strings.Contains(text, id) || strings.Contains(text, "Testperson") {
			t.Errorf("digest to %s:\n%s", to, text)
		}
	}
	time.Sleep(2 * time.Second)
	if n := len(digest("idle.manager@example.org")); n != 0 {
		t.Errorf("%d digests to a manager with nothing to act on", n)
	}
}
