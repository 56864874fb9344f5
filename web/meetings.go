package web

import (
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
)

// meetingIDPattern is the shape of a meeting id: a series id and a slot,
// or an extra meeting's suffix. Checked before a redirect uses one.
var meetingIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,40}-(\d{8}T\d{6}Z|x[0-9a-f]{12})$`)

// meetingLink is the meeting page's path, or "" for a bad id.
func meetingLink(id string) string {
	if !meetingIDPattern.MatchString(id) {
		return ""
	}
	return "/meetings/" + url.PathEscape(id)
}

type meetingsRow struct {
	Series   register.Series
	Meetings []store.MeetingState
}

type meetingsPage struct {
	Series []meetingsRow
}

// meetingsList shows each series and its coming meetings.
func (s *server) meetingsList(w http.ResponseWriter, r *http.Request) {
	series, err := s.d.Store.ListSeries(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var p meetingsPage
	now := s.now()
	for _, sr := range series {
		ms, err := s.d.Store.Meetings(r.Context(), sr.ID, now.Add(-12*time.Hour), now.AddDate(0, 2, 0))
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if len(ms) > 6 {
			ms = ms[:6]
		}
		p.Series = append(p.Series, meetingsRow{Series: sr, Meetings: ms})
	}
	s.render(w, r, http.StatusOK, "meetings", s.newView(r, "DSR meetings", "meetings", p))
}

type agendaRow struct {
	store.AgendaEntry
	Name     string
	Reviewed bool // a review has been recorded since the meeting's day began
}

type meetingPage struct {
	M        store.MeetingState
	Rows     []agendaRow
	Overflow []agendaRow
	Coord    bool
	Preview  bool // not planned yet: what the planner would put on now
}

// meeting is the meeting page: the coordinator walks the agenda, records
// each person's review (the review form, back here after), marks anyone
// not discussed (carried to the next meeting) and closes the meeting.
// Others see the people on it they are named for.
func (s *server) meeting(w http.ResponseWriter, r *http.Request) {
	a := s.actor(r)
	m, items, err := starter.MeetingView(r.Context(), s.d.Store, a, chi.URLParam(r, "meeting"), s.d.Config.Timing.TriageWithin)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.PersonID)
	}
	names, err := s.d.Store.Names(r.Context(), ids)
	if err == nil {
		err = s.d.Store.Audit(r.Context(), a, "list", "", nil, "meeting agenda "+m.ID)
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p := meetingPage{M: m, Coord: a.Role == "coordinator", Preview: m.PlannedAt == nil}
	y, mo, d := m.Start.In(register.London).Date()
	dayStart := time.Date(y, mo, d, 0, 0, 0, 0, register.London)
	for _, it := range items {
		row := agendaRow{AgendaEntry: it, Name: names[it.PersonID], Reviewed: it.Outcome == "reviewed"}
		if !row.Reviewed && it.Outcome == "" && p.Coord && !p.Preview {
			_, rerr := s.d.Store.ReviewSince(r.Context(), it.PersonID, dayStart)
			row.Reviewed = rerr == nil
		}
		if it.Outcome == "overflow" {
			p.Overflow = append(p.Overflow, row)
		} else {
			p.Rows = append(p.Rows, row)
		}
	}
	v := s.newView(r, "DSR meeting", "meetings", p)
	switch r.URL.Query().Get("done") {
	case "review":
		v.Banner = "Review recorded."
	case "not-discussed":
		v.Banner = "Marked not discussed: the person moves to the next meeting."
	case "closed":
		v.Banner = "Meeting closed. Each action owner gets one email listing their new actions."
	}
	s.render(w, r, http.StatusOK, "meeting", v)
}

func (s *server) meetingNotDiscussed(w http.ResponseWriter, r *http.Request) {
	id, pid := chi.URLParam(r, "meeting"), chi.URLParam(r, "person")
	if _, err := uuid.Parse(pid); err != nil || meetingLink(id) == "" {
		s.renderError(w, r, register.NotFound("agenda item"))
		return
	}
	if err := starter.Outcome(r.Context(), s.d.Store, s.d.Temporal, s.actor(r), id, pid, "not-discussed"); err != nil {
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, meetingLink(id)+"?done=not-discussed")
}

func (s *server) meetingClose(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "meeting")
	if meetingLink(id) == "" {
		s.renderError(w, r, register.NotFound("meeting"))
		return
	}
	if err := starter.CloseMeeting(r.Context(), s.d.Store, s.d.Temporal, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	seeOther(w, r, meetingLink(id)+"?done=closed")
}
