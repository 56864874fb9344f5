package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// TestDevReminderWindow runs `dsr dev` with a reminder window that closes
// before due − lead: review-due must reach the mail server at the person's
// own point in the window (register.Timing.RemindAt), once, and not at
// due − lead, which is at least 30 s after every point of the window.
func TestDevReminderWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	addr := freeAddr(t)
	base := "http://" + addr
	s := time.Now().In(register.London).Truncate(time.Second)
	from, to := s.Add(60*time.Second), s.Add(100*time.Second)
	if from.YearDay() != s.YearDay() || to.YearDay() != s.YearDay() {
		t.Skip("the window would cross midnight in London: run again in two minutes")
	}
	w, err := register.ParseWindow(from.Format(time.TimeOnly) + "-" + to.Format(time.TimeOnly))
	if err != nil {
		t.Fatal(err)
	}
	// Accepted between s+25 s and s+55 s, red is due 120 s later and the
	// lead ends 80 s later: at or after s+105 s, after the window closes.
	tm := register.Timing{ReminderLead: 40 * time.Second, ReminderWindow: w}
	d := startDev(t, bin, dir, addr, "DSR_REVIEW_EVERY_RED=120s", "DSR_REMINDER_LEAD=40s", "DSR_ESCALATE_AFTER=1d",
		"DSR_REMINDER_WINDOW="+w.String())
	d.waitReady(t, base)
	coordinator := d.token(t, "coordinator@example.org")
	person := startReferral(t, bin, dir, addr)
	time.Sleep(time.Until(s.Add(25 * time.Second)))
	if time.Since(s) > 55*time.Second {
		t.Fatalf("dsr dev took %s to take a referral: the window has begun", time.Since(s).Round(time.Second))
	}
	if code := post(t, base+"/api/v1/people/"+person+"/triage", coordinator, `{"decision":"accept","rag":"red"}`); code != http.StatusOK {
		t.Fatalf("triage: %d", code)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/people/"+person, nil)
	req.Header.Set("Authorization", "Bearer "+coordinator)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		NextReviewDue *time.Time `json:"next_review_due"`
	}
	err = json.NewDecoder(res.Body).Decode(&rec)
	res.Body.Close()
	if err != nil || rec.NextReviewDue == nil {
		t.Fatalf("record: %v, next review due %v", err, rec.NextReviewDue)
	}
	point := tm.RemindAt(person, *rec.NextReviewDue)
	if point.Before(from) || !point.Before(to) {
		t.Fatalf("the person's point %v is outside the window %s", point, w)
	}

	mail := filepath.Join(dir, ".dsr", "mail")
	var arrived time.Time
	waitFor(t, 3*time.Minute, func() bool {
		files, _ := filepath.Glob(filepath.Join(mail, "*.eml"))
		for _, f := range files {
			m := readMail(t, f)
			if m == nil || m.Header.Get("X-DSR-Kind") != "review-due" || m.Header.Get("X-DSR-Person") != person {
				continue
			}
			if fi, err := os.Stat(f); err == nil && (arrived.IsZero() || fi.ModTime().Before(arrived)) {
				arrived = fi.ModTime()
			}
		}
		return !arrived.IsZero()
	})
	lead := rec.NextReviewDue.Add(-tm.ReminderLead)
	if arrived.Before(point.Add(-time.Second)) || arrived.After(point.Add(20*time.Second)) {
		t.Errorf("review-due arrived at %s, want at the person's point %s (due − lead is %s)",
			arrived.Format(time.StampMilli), point.Format(time.StampMilli), lead.Format(time.StampMilli))
	}
	time.Sleep(2 * time.Second)
	for to, n := range copiesOf(t, mail, "review-due", person) {
		if n != 1 {
			t.Errorf("%s got %d review-due mails, want 1", to, n)
		}
	}
	d.interrupt(t)
}
