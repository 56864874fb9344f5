package main

import (
	"bytes"
	"io"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevNoticeGuarantee holds dsr dev, from outside and with second-scale
// intervals, to the notice guarantee: an address refused with 550 stops
// nobody else and the coordinators are told; PostgreSQL crashing for 15 s
// gives 503 (never 500) on reads and /readyz, and the ladder goes on after;
// deleting Temporal's state between runs rebuilds the workflow from
// PostgreSQL and only the rungs not yet sent arrive; nothing arrives twice.
func TestDevNoticeGuarantee(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	addr := freeAddr(t)
	base := "http://" + addr
	fast := []string{"DSR_REVIEW_EVERY_RED=45s", "DSR_REMINDER_LEAD=25s", "DSR_ESCALATE_AFTER=15s"}
	d := startDev(t, bin, dir, addr, fast...)
	d.waitReady(t, base)
	coordinator := d.token(t, "coordinator@example.org")
	mailDir := filepath.Join(dir, ".dsr", "mail")

	// The dev mail server refuses every address in .invalid with 550.
	body := strings.Replace(referralJSON, `"email": "sw@example.org", "manager_email": ""}]`,
		`"email": "sam.social@example.org", "manager_email": "manager@example.org"},
		{"name": "Typo Person", "role": "Nurse", "organisation": "CTPLD", "email": "typo@example.invalid"}]`, 1)
	person := postReferral(t, base, coordinator, body)
	accepted := time.Now()
	if code := post(t, base+"/api/v1/people/"+person+"/triage", coordinator, `{"decision":"accept","rag":"red"}`); code != http.StatusOK {
		t.Fatalf("triage: %d", code)
	}
	// review-due at 20 s; delivery-failed right after it.
	waitFor(t, 60*time.Second, func() bool { return copiesOf(t, mailDir, "delivery-failed", person)["coordinator@example.org"] >= 1 })
	failed := mailText(t, mailDir, "delivery-failed", person)
	if !strings.Contains(failed, "typo@example.invalid") || strings.Contains(failed, "Testperson") {
		t.Errorf("delivery-failed should name the refused address and not the person:\n%s", failed)
	}

	// PostgreSQL crashes, and keeps crashing, for 15 s (before the review
	// falls due at 45 s); dsr dev restarts it each time.
	pidFile := filepath.Join(dir, ".dsr", "pg", "postmaster.pid")
	crashUntil := time.Now().Add(15 * time.Second)
	saw := map[string]map[int]bool{"read": {}, "readyz": {}}
	client := &http.Client{Timeout: 20 * time.Second}
	for time.Now().Before(crashUntil) {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown: a crash, with recovery at the next start
			}
		}
		saw["read"][get(t, client, base+"/api/v1/people/"+person, coordinator)] = true
		saw["readyz"][get(t, client, base+"/readyz", "")] = true
		time.Sleep(300 * time.Millisecond)
	}
	for what, codes := range saw {
		if codes[http.StatusInternalServerError] || !codes[http.StatusServiceUnavailable] {
			t.Errorf("%s while PostgreSQL crashed answered %v; want 503 and never 500", what, codes)
		}
	}
	d.waitReady(t, base)

	// review-overdue at 45 s; then stop, lose Temporal's state, start again.
	waitFor(t, 90*time.Second, func() bool { return copiesOf(t, mailDir, "review-overdue", person)["coordinator@example.org"] >= 1 })
	time.Sleep(2 * time.Second)
	d.interrupt(t)
	for _, f := range []string{"temporal.db", "temporal.db-wal", "temporal.db-shm"} {
		if err := os.Remove(filepath.Join(dir, ".dsr", f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	d = startDev(t, bin, dir, addr, fast...)
	d.waitReady(t, base)
	// Escalations at 60, 75 and 90 s, whatever the restart took.
	waitFor(t, accepted.Add(3*time.Minute).Sub(time.Now()), func() bool {
		return copiesOf(t, mailDir, "review-escalated", person)["manager@example.org"] >= 3
	})
	time.Sleep(3 * time.Second)
	named := map[string]int{"sam.social@example.org": 1, "coordinator@example.org": 1}
	for kind, want := range map[string]map[string]int{
		"referral-received": {"coordinator@example.org": 1},
		"review-due":        named,
		"review-overdue":    named,
		"review-escalated":  {"manager@example.org": 3, "coordinator@example.org": 3},
		"delivery-failed":   {"coordinator@example.org": 2},
	} {
		got := copiesOf(t, mailDir, kind, person)
		for to, n := range want {
			if got[to] != n {
				t.Errorf("%s reached %s %d times, want %d", kind, to, got[to], n)
			}
		}
		for to := range got {
			if _, ok := want[to]; !ok {
				t.Errorf("%s reached %s, who should not get it", kind, to)
			}
		}
	}
	d.interrupt(t)
}

func postReferral(t *testing.T, base, token, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/referrals", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("referral: %d %s", res.StatusCode, raw)
	}
	i := bytes.Index(raw, []byte(`"id":"`))
	if i < 0 {
		t.Fatalf("no id in %s", raw)
	}
	return string(raw[i+6 : i+6+36])
}

func get(t *testing.T, c *http.Client, url, token string) int {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func waitFor(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("not within %s", within)
}

// copiesOf counts, by recipient, the captured copies of a kind of notice
// about a person.
func copiesOf(t *testing.T, dir, kind, person string) map[string]int {
	t.Helper()
	n := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	for _, f := range files {
		m := readMail(t, f)
		if m == nil || m.Header.Get("X-DSR-Kind") != kind || m.Header.Get("X-DSR-Person") != person {
			continue
		}
		to, _ := m.Header.AddressList("To")
		for _, a := range to {
			n[strings.ToLower(a.Address)]++
		}
	}
	return n
}

func readMail(t *testing.T, file string) *mail.Message {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return m
}

// mailText is the raw text of the first captured notice of a kind.
func mailText(t *testing.T, dir, kind, person string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("X-DSR-Kind: "+kind+"\r\n")) && bytes.Contains(b, []byte("X-DSR-Person: "+person)) {
			return string(b)
		}
	}
	t.Fatalf("no %s mail", kind)
	return ""
}
