package web

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
)

// The coordinator's meeting forms: a series made or changed, an extra
// meeting, a meeting moved or cancelled, the agenda edited before it is
// sent, and everyone's private calendar link. Each calls the starter
// function the JSON API calls, so the rules are the same.

// seriesIDPattern is the shape the database accepts for a series id;
// checked before the id goes into a link.
var seriesIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)

func seriesSpecs() []spec {
	return []spec{
		{Name: "id", Label: "Short name for links", Required: "Enter a short name for links"},
		{Name: "name", Label: "Name", Required: "Enter the series' name"},
		{Name: "locality", Label: "Area (locality)"},
		{Name: "schedule", Label: "Schedule", Required: "Enter the schedule"},
		{Name: "capacity", Label: "People a meeting can discuss"},
		{Name: "length", Label: "Length in minutes"},
		{Name: "attendees", Label: "Standing attendees"},
		{Name: "place", Label: "Place or video link"},
	}
}

// seriesPaths maps the register's paths onto the form: every attendee's
// problem is the attendees box's.
func seriesPaths(path string) string {
	if strings.HasPrefix(path, "attendees[") {
		return "attendees"
	}
	return path
}

type seriesPage struct {
	New bool
	ID  string
}

func (s *server) showSeries(w http.ResponseWriter, r *http.Request, status int, f *form, p seriesPage) {
	title := "Change the meeting series"
	if p.New {
		title = "Add a meeting series"
	}
	s.showForm(w, r, status, "series", title, f, p)
}

// showForm draws one of the meeting forms, with its problems if any.
func (s *server) showForm(w http.ResponseWriter, r *http.Request, status int, tmpl, title string, f *form, page any) {
	v := s.newView(r, title, "meetings", page)
	v.Form = f
	s.render(w, r, status, tmpl, v)
}

func (s *server) seriesNewForm(w http.ResponseWriter, r *http.Request) {
	s.showSeries(w, r, http.StatusOK, newForm(seriesSpecs(), nil), seriesPage{New: true})
}

func (s *server) seriesEditForm(w http.ResponseWriter, r *http.Request) {
	sr, err := s.d.Store.Series(r.Context(), chi.URLParam(r, "series"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	f := newForm(seriesSpecs(), nil)
	f.Values.Set("name", sr.Name)
	f.Values.Set("locality", sr.Locality)
	f.Values.Set("schedule", sr.Schedule)
	if sr.Capacity > 0 {
		f.Values.Set("capacity", strconv.Itoa(sr.Capacity))
	}
	if sr.Length > 0 {
		f.Values.Set("length", strconv.Itoa(int(sr.Length/time.Minute)))
	}
	f.Values.Set("attendees", strings.Join(sr.Attendees, "\n"))
	f.Values.Set("place", sr.Place)
	s.showSeries(w, r, http.StatusOK, f, seriesPage{ID: sr.ID})
}

// whole reads a whole number field; empty is 0.
func (f *form) whole(name string) int {
	v := f.get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.fail(name, "must be a whole number")
		return 0
	}
	return n
}

func (s *server) seriesPost(w http.ResponseWriter, r *http.Request) {
	if !s.parse(w, r) {
		return
	}
	id := chi.URLParam(r, "series")
	p := seriesPage{ID: id, New: id == ""}
	if p.New {
		if _, err := s.d.Store.Series(r.Context(), r.PostForm.Get("id")); err == nil {
			// A new series never replaces one: that is the change form's job.
			f := newForm(seriesSpecs(), r.PostForm)
			f.fail("id", "is taken by another series: choose another")
			f.ok()
			s.showSeries(w, r, http.StatusUnprocessableEntity, f, p)
			return
		}
	} else if _, err := s.d.Store.Series(r.Context(), id); err != nil {
		s.renderError(w, r, err)
		return
	}
	f := newForm(seriesSpecs(), r.PostForm)
	if p.New {
		id = f.get("id")
		if id == "" {
			f.fail("id", "is required")
		} else if !seriesIDPattern.MatchString(id) {
			f.fail("id", "must be 1 to 40 lower-case letters, digits or hyphens")
		}
	}
	var attendees []string
	for _, a := range strings.Split(f.raw("attendees"), "\n") {
		if a = strings.TrimSpace(a); a != "" {
			attendees = append(attendees, strings.ToLower(a))
		}
	}
	sr := register.Series{ID: id, Name: f.get("name"), Locality: f.get("locality"), Schedule: f.get("schedule"),
		Capacity: f.whole("capacity"), Length: time.Duration(f.whole("length")) * time.Minute, Attendees: attendees, Place: f.get("place")}
	if len(f.Errors) == 0 {
		if e := register.CheckSeries(sr); e != nil {
			f.failAll(e.Fields, seriesPaths)
		}
	}
	if !f.ok() {
		s.showSeries(w, r, http.StatusUnprocessableEntity, f, p)
		return
	}
	if err := starter.SaveSeries(r.Context(), s.d.Store, s.d.Temporal, sr); err != nil {
		if st := f.changeFailed(err, seriesPaths); st != 0 {
			s.showSeries(w, r, st, f, p)
			return
		}
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, "/meetings?done=series")
}

// ---- A meeting's time: extra meetings and moves ----

// startAt reads a date field and a time field ("14:30") as a time in
// London; it records the problems it finds.
func (f *form) startAt(dateName, timeName string) time.Time {
	day := f.date(dateName)
	if day == "" {
		if _, bad := f.Errors[dateName]; !bad {
			f.fail(dateName, "is required")
		}
	}
	clock, err := time.Parse("15:04", f.get(timeName))
	if f.get(timeName) == "" {
		f.fail(timeName, "is required")
	} else if err != nil {
		f.fail(timeName, "must be a time on the 24-hour clock, like 14:30")
	}
	if day == "" || err != nil {
		return time.Time{}
	}
	d, _ := time.Parse(time.DateOnly, day)
	return time.Date(d.Year(), d.Month(), d.Day(), clock.Hour(), clock.Minute(), 0, 0, register.London)
}

func startSpecs() []spec {
	return []spec{
		{Name: "start", Label: "Date", Kind: dateField, Required: "Enter the meeting's date"},
		{Name: "start_time", Label: "Start time", Required: "Enter the meeting's start time"},
		{Name: "capacity", Label: "People it can discuss"},
		{Name: "cancel", Label: "Cancel the meeting", Kind: checkField},
	}
}

type extraPage struct {
	Series register.Series
}

func (s *server) showExtra(w http.ResponseWriter, r *http.Request, status int, f *form, sr register.Series) {
	s.showForm(w, r, status, "extra", "Add an extra meeting", f, extraPage{Series: sr})
}

func (s *server) extraForm(w http.ResponseWriter, r *http.Request) {
	sr, err := s.d.Store.Series(r.Context(), chi.URLParam(r, "series"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.showExtra(w, r, http.StatusOK, newForm(startSpecs(), nil), sr)
}

func (s *server) extraPost(w http.ResponseWriter, r *http.Request) {
	sr, err := s.d.Store.Series(r.Context(), chi.URLParam(r, "series"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !s.parse(w, r) {
		return
	}
	f := newForm(startSpecs(), r.PostForm)
	start := f.startAt("start", "start_time")
	capacity := f.whole("capacity")
	if !f.ok() {
		s.showExtra(w, r, http.StatusUnprocessableEntity, f, sr)
		return
	}
	m, err := starter.AddExtraMeeting(r.Context(), s.d.Store, s.d.Temporal, s.now(), sr.ID, start, capacity)
	if err != nil {
		if st := f.changeFailed(err, nil); st != 0 {
			s.showExtra(w, r, st, f, sr)
			return
		}
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, meetingLink(m.ID)+"?done=extra")
}

type changeMeetingPage struct {
	M store.MeetingState
}

func (s *server) showMeetingChange(w http.ResponseWriter, r *http.Request, status int, f *form, m store.MeetingState) {
	s.showForm(w, r, status, "meeting_change", "Move or cancel the meeting", f, changeMeetingPage{M: m})
}

// changeableMeeting is the meeting the path names, when it may still be
// moved or cancelled.
func (s *server) changeableMeeting(w http.ResponseWriter, r *http.Request) (store.MeetingState, bool) {
	id := chi.URLParam(r, "meeting")
	if meetingLink(id) == "" {
		s.renderError(w, r, register.NotFound("meeting"))
		return store.MeetingState{}, false
	}
	m, err := s.d.Store.Meeting(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return m, false
	}
	return m, true
}

func (s *server) meetingChangeForm(w http.ResponseWriter, r *http.Request) {
	m, ok := s.changeableMeeting(w, r)
	if !ok {
		return
	}
	f := newForm(startSpecs(), nil)
	f.setDate("start", m.Start)
	f.Values.Set("start_time", m.Start.In(register.London).Format("15:04"))
	s.showMeetingChange(w, r, http.StatusOK, f, m)
}

func (s *server) meetingChangePost(w http.ResponseWriter, r *http.Request) {
	m, ok := s.changeableMeeting(w, r)
	if !ok || !s.parse(w, r) {
		return
	}
	f := newForm(startSpecs(), r.PostForm)
	cancel := f.get("cancel") == "yes"
	var start time.Time
	if !cancel {
		start = f.startAt("start", "start_time")
	}
	if !f.ok() {
		s.showMeetingChange(w, r, http.StatusUnprocessableEntity, f, m)
		return
	}
	if _, err := starter.ChangeMeeting(r.Context(), s.d.Store, s.d.Temporal, s.now(), m.ID, start, cancel); err != nil {
		if st := f.changeFailed(err, nil); st != 0 {
			s.showMeetingChange(w, r, st, f, m)
			return
		}
		s.renderError(w, r, err)
		return
	}
	done := "moved"
	if cancel {
		done = "cancelled"
	}
	seeOther(w, r, meetingLink(m.ID)+"?done="+done)
}

// ---- The agenda, edited before it is sent ----

func agendaSpecs() []spec {
	return []spec{{Name: "person", Label: "Person", Required: "Choose a person"}, {Name: "op", Label: "Change"}}
}

// agendaEdited is the coordinator's edits after one more: add, remove, or
// move a person up or down the order now shown (which becomes the order).
func agendaEdited(ed register.Edits, shown []string, op, pid string) (register.Edits, error) {
	without := func(list []string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == pid })
	}
	if _, err := uuid.Parse(pid); err != nil {
		return ed, register.Invalidf("person", "is not a person on the register")
	}
	switch op {
	case "add":
		if slices.Contains(shown, pid) {
			return ed, register.Invalidf("person", "is on the agenda already")
		}
		ed.Remove = without(ed.Remove)
		ed.Add = append(without(ed.Add), pid)
	case "remove":
		ed.Add, ed.Order = without(ed.Add), without(ed.Order)
		ed.Remove = append(without(ed.Remove), pid)
	case "up", "down":
		i := slices.Index(shown, pid)
		if i < 0 {
			return ed, register.Invalidf("person", "is not on the agenda")
		}
		j := i - 1
		if op == "down" {
			j = i + 1
		}
		order := slices.Clone(shown)
		if j >= 0 && j < len(order) {
			order[i], order[j] = order[j], order[i]
		}
		ed.Order = order
	default:
		return ed, register.Invalidf("op", "must be add, remove, up or down")
	}
	return ed, nil
}

func (s *server) agendaEditPost(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "meeting")
	if meetingLink(id) == "" {
		s.renderError(w, r, register.NotFound("meeting"))
		return
	}
	if !s.parse(w, r) {
		return
	}
	a := s.actor(r)
	m, items, err := starter.MeetingView(r.Context(), s.d.Store, a, id, s.d.Config.Timing.TriageWithin)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if m.AgendaSentAt != nil || m.PlannedAt != nil {
		s.renderError(w, r, register.Conflict("the agenda has been sent: it can no longer be changed", id))
		return
	}
	pid := strings.TrimSpace(r.PostForm.Get("person"))
	var shown []string
	for _, it := range items {
		if it.Outcome != "overflow" {
			shown = append(shown, it.PersonID)
		}
	}
	ed, err := agendaEdited(m.Edits, shown, r.PostForm.Get("op"), pid)
	if err == nil {
		err = starter.EditAgenda(r.Context(), s.d.Store, id, ed)
	}
	if err != nil {
		// A refused edit: the page again, the problem named, nothing kept.
		f := newForm(agendaSpecs(), nil)
		if st := f.changeFailed(err, nil); st != 0 {
			s.showMeeting(w, r, st, f)
			return
		}
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, meetingLink(id)+"?done=agenda#agenda")
}

// ---- The private calendar feed ----

type calendarPage struct {
	URL string // shown once, when made
}

func (s *server) calendarForm(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Your calendar link", "meetings", calendarPage{})
	if r.URL.Query().Get("done") == "revoked" {
		v.Banner = "Your calendar link is turned off. Calendars using it get nothing more."
	}
	s.render(w, r, http.StatusOK, "calendar", v)
}

// calendarNew makes a new private link (the old one stops working) and
// shows it this once: only its hash is kept.
func (s *server) calendarNew(w http.ResponseWriter, r *http.Request) {
	tok, err := s.d.Store.NewCalendarFeed(r.Context(), s.actor(r).UserID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := s.newView(r, "Your calendar link", "meetings", calendarPage{URL: strings.TrimRight(s.d.Config.BaseURL, "/") + "/calendar.ics?token=" + tok})
	v.Banner = "Your new calendar link is below. Any link you had before has stopped working."
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "calendar", v)
}

func (s *server) calendarRevoke(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Store.RevokeCalendarFeed(r.Context(), s.actor(r).UserID); err != nil {
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, "/calendar?done=revoked")
}

// candidateOptions are the people a coordinator may add to an agenda: the
// open people in the series' area not on it already, by name.
type personOption struct{ ID, Name string }

func (s *server) candidateOptions(r *http.Request, m store.MeetingState, shown []string) ([]personOption, error) {
	cands, err := s.d.Store.Candidates(r.Context(), m.Series.Locality, s.d.Config.Timing.TriageWithin)
	if err != nil {
		return nil, fmt.Errorf("web: agenda candidates: %w", err)
	}
	var ids []string
	for _, c := range cands {
		if !slices.Contains(shown, c.PersonID) {
			ids = append(ids, c.PersonID)
		}
	}
	names, err := s.d.Store.Names(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	var out []personOption
	for _, id := range ids {
		out = append(out, personOption{ID: id, Name: names[id]})
	}
	slices.SortFunc(out, func(a, b personOption) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
