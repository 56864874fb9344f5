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
	Coord  bool // may add and change series and meetings
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
	p.Coord = s.actor(r).Role == "coordinator"
	v := s.newView(r, "DSR meetings", "meetings", p)
	if r.URL.Query().Get("done") == "series" {
		v.Banner = "Meeting series saved. Its meetings follow the schedule from now on."
	}
	s.render(w, r, http.StatusOK, "meetings", v)
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
	// Editable: a coordinator may still add, remove and reorder people
	// (the agenda is not planned and sent yet); Options are whom to add.
	Editable bool
	Options  []personOption
}

// meeting is the meeting page: the coordinator walks the agenda, records
// each person's review (the review form, back here after), marks anyone
// not discussed (carried to the next meeting) and closes the meeting.
// Others see the people on it they are named for.
func (s *server) meeting(w http.ResponseWriter, r *http.Request) {
	s.showMeeting(w, r, http.StatusOK, nil)
}

// showMeeting draws the meeting page, with the problems of a refused
// agenda edit when f has them.
func (s *server) showMeeting(w http.ResponseWriter, r *http.Request, status int, f *form) {
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
	p.Editable = p.Coord && p.Preview && m.AgendaSentAt == nil && m.ClosedAt == nil && !m.Cancelled
	if p.Editable {
		var shown []string
		for _, row := range p.Rows {
			shown = append(shown, row.PersonID)
		}
		if p.Options, err = s.candidateOptions(r, m, shown); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	v := s.newView(r, "DSR meeting", "meetings", p)
	v.Form = f
	v.Banner = meetingBanners[r.URL.Query().Get("done")]
	s.render(w, r, status, "meeting", v)
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

// meetingBanners confirm, on the meeting page, the change just made.
var meetingBanners = map[string]string{
	"extra":         "Extra meeting added. Its agenda goes out before it, like any meeting's.",
	"moved":         "Meeting moved. Everyone invited gets the changed invitation.",
	"cancelled":     "Meeting cancelled. Everyone invited is told; its people move to the next meeting.",
	"agenda":        "Agenda changed.",
	"review":        "Review recorded.",
	"not-discussed": "Marked not discussed: the person moves to the next meeting.",
	"closed":        "Meeting closed. Each action owner gets one email listing their new actions.",
}
