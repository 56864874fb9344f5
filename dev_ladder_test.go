package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevKillMidCycle runs `dsr dev` with second-scale intervals, takes a
// referral to red, kills the process with SIGKILL after the review reminder
// and starts it again before the review falls due: every notice of the
// ladder then arrives, once, in .dsr/mail, and the record shows the rating
// and the next review due.
func TestDevKillMidCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	addr := freeAddr(t)
	base := "http://" + addr
	fast := []string{"DSR_REVIEW_EVERY_RED=40s", "DSR_REMINDER_LEAD=20s", "DSR_ESCALATE_AFTER=15s"}
	d := startDev(t, bin, dir, addr, fast...)
	d.waitReady(t, base)
	coordinator := d.token(t, "coordinator@example.org")

	person := startReferral(t, bin, dir, addr)
	accepted := time.Now()
	if code := post(t, base+"/api/v1/people/"+person+"/triage", coordinator, `{"decision":"accept","rag":"red"}`); code != http.StatusOK {
		t.Fatalf("triage: %d", code)
	}
	acceptedBy := time.Now() // the acceptance happened between the two
	mail := filepath.Join(dir, ".dsr", "mail")
	waitMailFile(t, mail, "review-due", person) // at 20 s
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	time.Sleep(time.Until(accepted.Add(25 * time.Second)))
	d = startDev(t, bin, dir, addr, fast...)
	d.waitReady(t, base)

	// Due at 40 s; escalations at 55, 70 and 85 s. This only waits for the
	// third: the counts below are what is checked, so the wait is generous
	// for a second start of the stack on a busy machine.
	deadline := accepted.Add(160 * time.Second)
	for time.Now().Before(deadline) && copiesOf(t, mail, "review-escalated", person)["coordinator@example.org"] < 3 {
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	// Each recipient has a copy of their own: count per recipient.
	for kind, want := range map[string]int{"referral-received": 1, "review-due": 1, "review-overdue": 1, "review-escalated": 3} {
		got := copiesOf(t, mail, kind, person)
		if got["coordinator@example.org"] != want {
			t.Errorf("the coordinator got %d %s mails, want %d", got["coordinator@example.org"], kind, want)
		}
		for to, n := range got {
			if n != want {
				t.Errorf("%s got %d %s mails, want %d", to, n, kind, want)
			}
		}
	}

	req, _ := http.NewRequest("GET", base+"/api/v1/people/"+person, nil)
	req.Header.Set("Authorization", "Bearer "+coordinator)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rec struct {
		Rating        string     `json:"rag"`
		NextReviewDue *time.Time `json:"next_review_due"`
	}
	if err := json.NewDecoder(res.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	// 40 s after the acceptance (a millisecond either side for the
	// database's microseconds), however long the request took.
	if rec.Rating != "red" || rec.NextReviewDue == nil || rec.NextReviewDue.Before(accepted.Add(40*time.Second-time.Millisecond)) ||
		rec.NextReviewDue.After(acceptedBy.Add(40*time.Second+time.Millisecond)) {
		t.Errorf("record: rating %q, next review due %v (accepted between %v and %v)", rec.Rating, rec.NextReviewDue, accepted, acceptedBy)
	}
	d.interrupt(t)
}

func post(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
