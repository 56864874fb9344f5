package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/bsw-dsr/dsr/devstack"
)

// TestDevMeeting runs `dsr dev` from outside with a meeting series of
// capacity 2 meeting every minute and three people due: two come onto the
// agenda and one onto the next meeting; the agenda mail reaches the
// standing attendee with a text/calendar invitation that parses, whose UID
// stays the same and whose SEQUENCE rises when the meeting moves; the
// meeting records both reviews and closes.
func TestDevMeeting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	addr := freeAddr(t)
	base := "http://" + addr
	d := startDev(t, bin, dir, addr, "DSR_REVIEW_EVERY_RED=20s", "DSR_REMINDER_LEAD=10s", "DSR_ESCALATE_AFTER=1h", "DSR_AGENDA_LEAD=30s")
	d.waitReady(t, base)
	coordinator := d.token(t, "coordinator@example.org")
	mailDir := filepath.Join(dir, ".dsr", "mail")

	var people []string
	for _, nhs := range []string{"999 000 0018", "999 000 0026", "999 000 0034"} {
		id := postReferral(t, base, coordinator, strings.Replace(referralJSON, `"943 476 5919"`, `"`+nhs+`"`, 1))
		if code := post(t, base+"/api/v1/people/"+id+"/triage", coordinator, `{"decision":"accept","rag":"red"}`); code != http.StatusOK {
			t.Fatalf("triage: %d", code)
		}
		people = append(people, id)
	}
	// Early in a minute, so the first meeting (the next whole minute) is
	// planned 30 s before it, after the series exists, with all three due.
	for sec := time.Now().Second(); sec < 1 || sec > 15; sec = time.Now().Second() {
		time.Sleep(200 * time.Millisecond)
	}
	series := `{"name":"Dev DSR","schedule":"* * * * *","capacity":2,"length_minutes":1,"attendees":["chair@example.org"],"place":"https://meet.example.org/dsr"}`
	if code := send(t, "PUT", base+"/api/v1/meeting-series/dev", coordinator, series, nil); code != http.StatusOK {
		t.Fatalf("series: %d", code)
	}
	type entry struct {
		PersonID string `json:"person_id"`
		Outcome  string `json:"outcome"`
	}
	type meeting struct {
		ID         string    `json:"id"`
		Start      time.Time `json:"start"`
		AgendaSent bool      `json:"agenda_sent"`
		Agenda     []entry   `json:"agenda"`
	}
	var list struct{ Meetings []meeting }
	send(t, "GET", base+"/api/v1/meeting-series/dev/meetings", coordinator, "", &list)
	if len(list.Meetings) < 2 {
		t.Fatalf("meetings: %+v", list)
	}
	m1, m2 := list.Meetings[0], list.Meetings[1]

	first := waitInvitation(t, mailDir, m1.ID, 0)
	var got meeting
	waitFor(t, 20*time.Second, func() bool {
		send(t, "GET", base+"/api/v1/meetings/"+m1.ID, coordinator, "", &got)
		return got.AgendaSent
	})
	var on, over []string
	for _, e := range got.Agenda {
		if e.Outcome == "overflow" {
			over = append(over, e.PersonID)
		} else {
			on = append(on, e.PersonID)
		}
	}
	if len(on) != 2 || len(over) != 1 {
		t.Fatalf("agenda of a meeting for 2 with 3 due: on %v, carried %v", on, over)
	}
	// The carried person's review is now the next meeting's.
	waitFor(t, 20*time.Second, func() bool {
		var p struct {
			NextReviewDue *time.Time `json:"next_review_due"`
		}
		send(t, "GET", base+"/api/v1/people/"+over[0], coordinator, "", &p)
		return p.NextReviewDue != nil && p.NextReviewDue.Equal(m2.Start)
	})

	// Moved: the same UID, a higher SEQUENCE.
	moved := `{"start":"` + m1.Start.Add(20*time.Second).Format(time.RFC3339) + `"}`
	if code := send(t, "PATCH", base+"/api/v1/meetings/"+m1.ID, coordinator, moved, nil); code != http.StatusOK {
		t.Fatalf("move: %d", code)
	}
	again := waitInvitation(t, mailDir, m1.ID, 1)
	if again.uid != first.uid || again.method != "REQUEST" {
		t.Errorf("moved invitation %+v after %+v: want the same UID", again, first)
	}

	// The meeting records both reviews, then closes.
	for _, id := range on {
		body := `{"rag":"amber","current_issues":"settled","tried":"respite","could_help":"keyworker"}`
		if code := send(t, "POST", base+"/api/v1/people/"+id+"/reviews", coordinator, body, nil); code != http.StatusCreated {
			t.Fatalf("review: %d", code)
		}
		if code := send(t, "POST", base+"/api/v1/meetings/"+m1.ID+"/people/"+id+"/outcome", coordinator, `{"outcome":"reviewed"}`, nil); code != http.StatusOK {
			t.Fatalf("outcome: %d", code)
		}
	}
	if code := send(t, "POST", base+"/api/v1/meetings/"+m1.ID+"/close", coordinator, "", nil); code != http.StatusOK {
		t.Fatalf("close: %d", code)
	}
	send(t, "GET", base+"/api/v1/meetings/"+m1.ID, coordinator, "", &got)
	for _, e := range got.Agenda {
		if (e.PersonID == on[0] || e.PersonID == on[1]) && e.Outcome != "reviewed" {
			t.Errorf("minutes: %+v", e)
		}
	}
}

type invite struct {
	method, uid string
	seq         int
	to          string
}

// waitInvitation waits for a meeting's agenda mail with an invitation of
// that SEQUENCE to the standing attendee, and reads it back with
// golang-ical.
func waitInvitation(t *testing.T, dir, meetingID string, seq int) invite {
	t.Helper()
	deadline := time.Now().Add(100 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		for _, f := range files {
			raw, _ := os.ReadFile(f)
			if !bytes.Contains(raw, []byte("X-DSR-Kind: meeting-agenda")) || !bytes.Contains(raw, []byte("X-DSR-Meeting: "+meetingID)) ||
				!bytes.Contains(raw, []byte("chair@example.org")) {
				continue
			}
			if bytes.Contains(raw, []byte("Testperson")) || bytes.Contains(raw, []byte("999 000")) {
				t.Fatalf("an agenda mail names someone: %s", f)
			}
			part := devstack.Captured{Raw: raw}.Calendar()
			cal, err := ics.ParseCalendar(strings.NewReader(part))
			if err != nil || len(cal.Events()) != 1 {
				t.Fatalf("the invitation in %s does not parse: %v\n%s", f, err, part)
			}
			var in invite
			for _, p := range cal.CalendarProperties {
				if p.IANAToken == string(ics.PropertyMethod) {
					in.method = p.Value
				}
			}
			ev := cal.Events()[0]
			in.uid = ev.Id()
			in.seq, _ = strconv.Atoi(ev.GetProperty(ics.ComponentPropertySequence).Value)
			if in.seq == seq {
				return in
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no agenda mail with an invitation of sequence %d for %s to the standing attendee", seq, meetingID)
	return invite{}
}
