package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDevDemo runs `dsr dev --demo` from an empty directory: the register
// fills with 30 fictitious people across statuses and ratings, some with
// actions overdue a minute later, all with NHS numbers from the range reserved
// for testing; /metrics shows them without a name or NHS number; and a
// second start leaves the register as it is.
func TestDevDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	base := "http://" + addr
	d := startDevArgs(t, bin, dir, addr, []string{"--demo"}, "DSR_METRICS_ADDR="+metricsAddr)
	d.waitReady(t, base)
	d.waitOutput(t, "Demo register: 30 fictitious people loaded", 3*time.Minute)
	coordinator := d.token(t, "coordinator@example.org")

	var status, rating map[string]int
	var overdue int
	var names []string
	read := func() {
		status, rating, overdue, names = map[string]int{}, map[string]int{}, 0, nil
		for _, st := range []string{"referred", "active", "discharged", "declined"} {
			var list struct {
				People []struct {
					Status         string
					Rag            string
					NHSNumber      string `json:"nhs_number"`
					GivenName      string `json:"given_name"`
					ReviewOverdue  bool   `json:"review_overdue"`
					OverdueActions int    `json:"overdue_actions"`
				}
			}
			getJSON(t, base+"/api/v1/people?limit=100&status="+st, coordinator, &list)
			for _, p := range list.People {
				status[st]++
				if p.Status == "active" {
					rating[p.Rag]++
				}
				if p.ReviewOverdue || p.OverdueActions > 0 {
					overdue++
				}
				if !strings.HasPrefix(p.NHSNumber, "999") {
					t.Errorf("%s has NHS number %s, outside the range reserved for testing", p.GivenName, p.NHSNumber)
				}
				names = append(names, p.GivenName, p.NHSNumber)
			}
		}
	}
	// Some actions fall due a minute after loading.
	waitFor(t, 3*time.Minute, func() bool { read(); return overdue > 0 })
	total := 0
	for _, n := range status {
		total += n
	}
	t.Logf("demo register: %v, active by rating %v, %d overdue", status, rating, overdue)
	if total != 30 || status["referred"] < 2 || status["active"] < 10 || status["discharged"] < 2 || status["declined"] < 1 {
		t.Errorf("statuses %v: want 30 people across all four", status)
	}
	for _, r := range []string{"red", "amber", "green", "blue"} {
		if rating[r] == 0 {
			t.Errorf("no active person rated %s: %v", r, rating)
		}
	}

	// The metrics show the register and hold nobody's name or number.
	var text string
	waitFor(t, time.Minute, func() bool {
		res, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		text = string(b)
		return strings.Contains(text, `dsr_people{rating="red",status="active"}`) && strings.Contains(text, `dsr_people{rating="none",status="referred"}`)
	})
	for _, want := range []string{"dsr_http_request_duration_seconds_count", `dsr_update_duration_seconds_count{update="triage"}`, "temporal_num_pollers", "dsr_db_pool_total_conns"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, secret := range append(names, "Demo Street", "@example.org") {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}

	// A restart does not load it twice.
	d.interrupt(t)
	d = startDevArgs(t, bin, dir, addr, []string{"--demo"}, "DSR_METRICS_ADDR="+metricsAddr)
	d.waitReady(t, base)
	d.waitOutput(t, "Demo register: not loaded: the register has people already", time.Minute)
	d.interrupt(t)
}

// waitOutput waits for text on dsr dev's stdout.
func (d *devProc) waitOutput(t *testing.T, text string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		d.mu.Lock()
		out := d.stdout.String()
		d.mu.Unlock()
		if strings.Contains(out, text) {
			return
		}
	}
	t.Fatalf("dsr dev did not print %q within %s", text, within)
}

func getJSON(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
