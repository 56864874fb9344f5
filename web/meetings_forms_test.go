package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// startValues fills the date and time fields of the extra and move forms.
func startValues(t time.Time, prefix string) url.Values {
	t = t.In(register.London)
	return url.Values{prefix + "-day": {fmt.Sprint(t.Day())}, prefix + "-month": {fmt.Sprint(int(t.Month()))},
		prefix + "-year": {fmt.Sprint(t.Year())}, prefix + "_time": {t.Format("15:04")}}
}

// A coordinator makes and changes a series, adds an extra meeting, moves
// it and cancels another, all through the pages; bad input comes back
// naming the field, with nothing saved.
func TestMeetingSeriesForms(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	b := s.as(t, "coord@example.org")
	must(t, b.get("/meetings"), http.StatusOK, "Add a meeting series", "Get a private calendar link")
	must(t, b.get("/meetings/series/new"), http.StatusOK, "Short name for links", "Standing attendees")

	// A yearly schedule keeps its meeting beyond the agenda lead.
	good := url.Values{"id": {"lyme"}, "name": {"Lyme DSR"}, "schedule": {"0 10 1 1 *"}, "capacity": {"2"},
		"attendees": {"chair@example.org\n\n Admin@Example.org "}, "place": {"https://meet.example.org/lyme"}}
	bad := url.Values{}
	for k, v := range good {
		bad[k] = v
	}
	bad.Set("schedule", "every tuesday")
	bad.Set("attendees", "chair@example.org\nnot-an-email")
	bad.Set("capacity", "two")
	p := must(t, b.post("/meetings/series/new", bad), http.StatusUnprocessableEntity, "There is a problem",
		"People a meeting can discuss must be a whole number", `href="#capacity"`)
	bad.Set("capacity", "2")
	must(t, b.post("/meetings/series/new", bad), http.StatusUnprocessableEntity,
		"Schedule is not a cron schedule", "Standing attendees", `href="#attendees"`, `href="#schedule"`, "not-an-email")
	if _, err := s.store.Series(ctx, "lyme"); register.KindOf(err) != register.KindNotFound {
		t.Fatalf("a refused series was saved: %v", err)
	}
	_ = p
	bad = url.Values{"id": {"Lyme Regis"}, "name": {"Lyme"}, "schedule": {"0 10 1 1 *"}, "capacity": {"2"}}
	must(t, b.post("/meetings/series/new", bad), http.StatusUnprocessableEntity, "Short name for links must be 1 to 40 lower-case")

	if got := b.post("/meetings/series/new", good).must(t, http.StatusSeeOther).location(); got != "/meetings?done=series" {
		t.Fatalf("saved to %s", got)
	}
	sr, err := s.store.Series(ctx, "lyme")
	if err != nil {
		t.Fatal(err)
	}
	if sr.Name != "Lyme DSR" || sr.Capacity != 2 || !slices.Equal(sr.Attendees, []string{"chair@example.org", "admin@example.org"}) {
		t.Errorf("saved %+v", sr)
	}
	must(t, b.get("/meetings?done=series"), http.StatusOK, "Meeting series saved", "Lyme DSR", "Change this series", "Add an extra meeting")
	// The same short name again does not replace the series.
	must(t, b.post("/meetings/series/new", good), http.StatusUnprocessableEntity, "Short name for links is taken")

	must(t, b.get("/meetings/series/lyme"), http.StatusOK, `value="Lyme DSR"`, "admin@example.org")
	edit := url.Values{"name": {"Lyme DSR"}, "schedule": {"0 10 1 1 *"}, "capacity": {"3"}, "attendees": {"chair@example.org"}}
	b.post("/meetings/series/lyme", edit).must(t, http.StatusSeeOther)
	if sr, _ = s.store.Series(ctx, "lyme"); sr.Capacity != 3 || len(sr.Attendees) != 1 {
		t.Errorf("changed to %+v", sr)
	}
	edit.Set("attendees", "chair.example.org")
	must(t, b.post("/meetings/series/lyme", edit), http.StatusUnprocessableEntity, "Standing attendees")
	if sr, _ = s.store.Series(ctx, "lyme"); sr.Attendees[0] != "chair@example.org" {
		t.Errorf("a refused change was saved: %+v", sr)
	}

	// An extra meeting: in the past is refused, naming the date.
	must(t, b.get("/meetings/series/lyme/extra"), http.StatusOK, "Add an extra meeting", "Start time")
	past := startValues(time.Now().Add(-48*time.Hour), "start")
	must(t, b.post("/meetings/series/lyme/extra", past), http.StatusUnprocessableEntity, "Date must be in the future")
	wrong := startValues(time.Now().Add(20*24*time.Hour), "start")
	wrong.Set("start_time", "25:99")
	must(t, b.post("/meetings/series/lyme/extra", wrong), http.StatusUnprocessableEntity, "Start time must be a time on the 24-hour clock")
	at := time.Now().Add(20 * 24 * time.Hour).Truncate(time.Minute)
	loc := b.post("/meetings/series/lyme/extra", startValues(at, "start")).must(t, http.StatusSeeOther).location()
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/meetings/"), "?done=extra")
	m, err := s.store.Meeting(ctx, id)
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	if !m.Extra || !m.Start.Equal(at) || m.Capacity != 3 {
		t.Errorf("extra meeting %+v, want at %s", m.Meeting, at)
	}
	must(t, b.get(loc), http.StatusOK, "Extra meeting added", "Move or cancel the meeting")

	// Moved: the same meeting, a new start, its sequence raised.
	must(t, b.get("/meetings/"+id+"/change"), http.StatusOK, "Move the meeting", "Cancel the meeting")
	must(t, b.post("/meetings/"+id+"/change", url.Values{}), http.StatusUnprocessableEntity, "Enter the meeting's date", "Enter the meeting's start time")
	to := at.Add(26 * time.Hour)
	b.post("/meetings/"+id+"/change", startValues(to, "start")).must(t, http.StatusSeeOther)
	if m, _ = s.store.Meeting(ctx, id); !m.Start.Equal(to) || m.Sequence != 1 || m.Cancelled {
		t.Errorf("moved %+v seq %d, want %s", m.Meeting, m.Sequence, to)
	}
	b.post("/meetings/"+id+"/change", url.Values{"cancel": {"yes"}}).must(t, http.StatusSeeOther)
	if m, _ = s.store.Meeting(ctx, id); !m.Cancelled || m.Sequence != 2 {
		t.Errorf("cancelled %+v seq %d", m.Meeting, m.Sequence)
	}
	// A cancelled meeting is not moved: the refusal is on the form.
	must(t, b.post("/meetings/"+id+"/change", startValues(to, "start")), http.StatusConflict, "The meeting is cancelled")

	// Professionals see none of it.
	pat := s.as(t, "pat@example.org")
	if pat.get("/meetings").has("Add a meeting series") {
		t.Error("a professional is offered a new series")
	}
	pat.post("/meetings/series/new", good).must(t, http.StatusForbidden)
}

// Before the agenda is sent the coordinator adds people, moves them up
// and down and takes them off; the edits are kept as the API keeps them.
func TestAgendaEditsOnMeetingPage(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	var ids []string
	for i, n := range [][2]string{{"Jordan", "Blake"}, {"Priya", "Shah"}, {"Sam", "Okafor"}} {
		id := s.refer(n[0], n[1], nhsNumber(7100+i), "pat@example.org")
		s.accept(id, register.Green)
		ids = append(ids, id)
	}
	sr := register.Series{ID: "lyme", Name: "Lyme DSR", Schedule: "0 10 1 1 *", Capacity: 5}
	if err := s.store.SaveSeries(ctx, sr); err != nil {
		t.Fatal(err)
	}
	m, err := s.store.AddExtraMeeting(ctx, sr.ID, time.Now().Add(20*24*time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	b := s.as(t, "coord@example.org")
	path := "/meetings/" + m.ID
	must(t, b.get(path), http.StatusOK, "Add a person to the agenda", "Jordan Blake", "Sam Okafor")
	order := func() []string {
		t.Helper()
		p := b.get(path)
		var got []string
		for _, id := range ids {
			if i := strings.Index(p.body, `data-person="`+id+`"`); i >= 0 {
				got = append(got, fmt.Sprintf("%d:%s", i, id))
			}
		}
		slices.Sort(got) // by position on the page
		for i, g := range got {
			got[i] = g[strings.IndexByte(g, ':')+1:]
		}
		return got
	}
	for _, id := range ids {
		if got := b.post(path+"/agenda", url.Values{"op": {"add"}, "person": {id}}).must(t, http.StatusSeeOther).location(); got != path+"?done=agenda#agenda" {
			t.Fatalf("after add: %s", got)
		}
	}
	o := order() // the planner's order for the added
	if len(o) != 3 {
		t.Fatalf("after adding: %v", o)
	}
	b.post(path+"/agenda", url.Values{"op": {"up"}, "person": {o[2]}}).must(t, http.StatusSeeOther)
	if got := order(); !slices.Equal(got, []string{o[0], o[2], o[1]}) {
		t.Errorf("after moving the last up: %v", got)
	}
	b.post(path+"/agenda", url.Values{"op": {"down"}, "person": {o[0]}}).must(t, http.StatusSeeOther)
	b.post(path+"/agenda", url.Values{"op": {"remove"}, "person": {o[1]}}).must(t, http.StatusSeeOther)
	if got := order(); !slices.Equal(got, []string{o[2], o[0]}) {
		t.Errorf("after moving the first down and taking one off: %v", got)
	}
	// Two rows: the first cannot go up, nor the last down.
	if p := b.get(path); strings.Count(p.body, ">Move up<") != 1 || strings.Count(p.body, ">Move down<") != 1 {
		t.Errorf("up/down buttons: %d up, %d down for two rows", strings.Count(p.body, ">Move up<"), strings.Count(p.body, ">Move down<"))
	}
	ids[0], ids[1], ids[2] = o[0], o[1], o[2]
	if m, _ = s.store.Meeting(ctx, m.ID); !slices.Equal(m.Edits.Remove, []string{ids[1]}) || slices.Contains(m.Edits.Add, ids[1]) {
		t.Errorf("edits kept %+v", m.Edits)
	}
	// Bad input changes nothing.
	before := m.Edits
	must(t, b.post(path+"/agenda", url.Values{"op": {"add"}, "person": {"not-a-person"}}), http.StatusUnprocessableEntity,
		"There is a problem", "Person is not a person on the register", `href="#person"`)
	must(t, b.post(path+"/agenda", url.Values{"op": {"add"}, "person": {o[0]}}), http.StatusUnprocessableEntity, "Person is on the agenda already")
	must(t, b.post(path+"/agenda", url.Values{"op": {"sideways"}, "person": {ids[0]}}), http.StatusUnprocessableEntity, "Change must be add, remove, up or down")
	if m, _ = s.store.Meeting(ctx, m.ID); !slices.Equal(m.Edits.Order, before.Order) || !slices.Equal(m.Edits.Add, before.Add) {
		t.Errorf("a refused edit changed %+v", m.Edits)
	}
	// Once the agenda is planned and sent it is not edited here.
	cands, err := s.store.Candidates(ctx, "", 5*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.SaveAgenda(ctx, m, register.PlanAgenda(m.Meeting, nil, cands, m.Edits)); err != nil {
		t.Fatal(err)
	}
	if p := must(t, b.get(path), http.StatusOK, "Sam Okafor"); p.has("Add a person to the agenda") || p.has("Move up") {
		t.Error("a planned agenda still offers edits")
	}
	b.post(path+"/agenda", url.Values{"op": {"remove"}, "person": {ids[0]}}).must(t, http.StatusConflict)
}

// Everyone on staff gets a private calendar link here and turns it off.
func TestCalendarLinkPage(t *testing.T) {
	s := newSite(t)
	pat := s.as(t, "pat@example.org")
	must(t, pat.get("/calendar"), http.StatusOK, "Get a new calendar link", "Turn off my calendar link")
	p := must(t, pat.post("/calendar", nil), http.StatusOK, "Your new calendar link is below")
	i := strings.Index(p.body, s.srv.URL+"/calendar.ics?token=")
	if i < 0 {
		t.Fatalf("no link on the page: %s", clip(p.body))
	}
	link := p.body[i:]
	link = link[:strings.IndexByte(link, '"')]
	link = strings.ReplaceAll(link, "&amp;", "&")
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if got := pat.post("/calendar/revoke", nil).must(t, http.StatusSeeOther).location(); got != "/calendar?done=revoked" {
		t.Errorf("after revoking: %s", got)
	}
	res, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Error("a revoked link still serves the calendar")
	}
	s.as(t, "comm@example.org").get("/calendar").must(t, http.StatusForbidden)
}
