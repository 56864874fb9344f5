package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevCETR runs `dsr dev` from outside with second-scale C(E)TR
// settings: red sends cetr-due to the named professional; an admission
// without a community C(E)TR is flagged on the record; a young person
// eligible for a keyworker with none gets keyworker-needed once; the
// summary carries the C(E)TR section, suppressed below the threshold.
func TestDevCETR(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	addr := freeAddr(t)
	base := "http://" + addr
	d := startDev(t, bin, dir, addr, "DSR_CETR_COMMUNITY_WITHIN=20s", "DSR_REMINDER_LEAD=10s", "DSR_ESCALATE_AFTER=10s")
	d.waitReady(t, base)
	coordinator := d.token(t, "coordinator@example.org")
	mail := filepath.Join(dir, ".dsr", "mail")

	person := startReferral(t, bin, dir, addr)
	if code := post(t, base+"/api/v1/people/"+person+"/triage", coordinator, `{"decision":"accept","rag":"red"}`); code != http.StatusOK {
		t.Fatalf("triage: %d", code)
	}
	waitMailFile(t, mail, "cetr-due", person) // at 10 s
	if got := copiesOf(t, mail, "cetr-due", person); got["sw@example.org"] != 1 {
		t.Errorf("cetr-due went to %v, want the named professional", got)
	}
	if code := send(t, "PUT", base+"/api/v1/people/"+person+"/rag", coordinator, `{"rag":"blue","reason":"admitted"}`, nil); code != http.StatusOK {
		t.Fatalf("blue: %d", code)
	}
	var p struct {
		Admissions []struct {
			Preceded bool `json:"preceded"`
		} `json:"admissions"`
	}
	send(t, "GET", base+"/api/v1/people/"+person, coordinator, "", &p)
	if len(p.Admissions) != 1 || p.Admissions[0].Preceded {
		t.Errorf("admission without a community C(E)TR not flagged: %+v", p)
	}

	young := strings.NewReplacer(`"1990-04-01"`, `"`+time.Now().AddDate(-20, 0, 0).Format(time.DateOnly)+`"`,
		`"943 476 5919"`, `"401 023 2137"`).Replace(referralJSON)
	kid := postReferral(t, base, coordinator, young)
	if code := post(t, base+"/api/v1/people/"+kid+"/triage", coordinator, `{"decision":"accept","rag":"amber"}`); code != http.StatusOK {
		t.Fatalf("triage: %d", code)
	}
	waitMailFile(t, mail, "keyworker-needed", kid)
	send(t, "PUT", base+"/api/v1/people/"+kid+"/rag", coordinator, `{"rag":"green","reason":"settled"}`, nil)
	send(t, "PUT", base+"/api/v1/people/"+kid+"/rag", coordinator, `{"rag":"red","reason":"worse"}`, nil)
	time.Sleep(3 * time.Second)
	if got := copiesOf(t, mail, "keyworker-needed", kid); got["coordinator@example.org"] != 1 {
		t.Errorf("keyworker-needed copies %v, want one to the coordinator", got)
	}

	var sum struct {
		CETR map[string]any `json:"cetr"`
	}
	if code := send(t, "GET", base+"/api/v1/reports/summary", coordinator, "", &sum); code != http.StatusOK {
		t.Fatalf("summary: %d", code)
	}
	if sum.CETR["standard_percent"] != float64(90) || sum.CETR["preceded_percent"] != nil || sum.CETR["keyworker_coverage_percent"] != nil {
		t.Errorf("summary's C(E)TR section: %v", sum.CETR)
	}
}

// send makes a request with a bearer token and decodes a JSON answer.
func send(t *testing.T, method, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}
