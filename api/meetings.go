package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/calendar"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
)

// meetings serves the DSR meetings: series, meetings, agendas, outcomes
// and the calendar feed.
type meetings struct {
	store    *store.Store
	temporal client.Client
	baseURL  string
	from     string
	now      func() time.Time
}

func (m *meetings) routes(r chi.Router) {
	coord := requireRole("coordinator")
	staff := requireRole("coordinator", "professional", "manager")
	r.With(coord).Get("/meeting-series", m.listSeries)
	r.With(coord).Put("/meeting-series/{series}", m.putSeries)
	r.With(staff).Get("/meeting-series/{series}/meetings", m.listMeetings)
	r.With(coord).Post("/meeting-series/{series}/meetings", m.addExtra)
	r.With(staff).Get("/meetings/{meeting}", m.getMeeting)
	r.With(coord).Patch("/meetings/{meeting}", m.changeMeeting)
	r.With(coord).Put("/meetings/{meeting}/agenda", m.editAgenda)
	r.With(coord).Post("/meetings/{meeting}/people/{id}/outcome", m.outcome)
	r.With(coord).Post("/meetings/{meeting}/close", m.close)
	r.With(staff).Post("/me/calendar", m.newFeed)
	r.With(staff).Delete("/me/calendar", m.revokeFeed)
}

// seriesBody is a series as the API takes and gives it.
type seriesBody struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Locality      string   `json:"locality"`
	Schedule      string   `json:"schedule"`
	Capacity      int      `json:"capacity"`
	LengthMinutes int      `json:"length_minutes"`
	Attendees     []string `json:"attendees"`
	Place         string   `json:"place"`
}

func bodyOf(s register.Series) seriesBody {
	return seriesBody{ID: s.ID, Name: s.Name, Locality: s.Locality, Schedule: s.Schedule, Capacity: s.Capacity,
		LengthMinutes: int(s.Length / time.Minute), Attendees: s.Attendees, Place: s.Place}
}

func (m *meetings) listSeries(w http.ResponseWriter, r *http.Request) {
	ss, err := m.store.ListSeries(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]seriesBody, 0, len(ss))
	for _, s := range ss {
		out = append(out, bodyOf(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": out})
}

func (m *meetings) putSeries(w http.ResponseWriter, r *http.Request) {
	var b seriesBody
	if err := decode(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	s := register.Series{ID: chi.URLParam(r, "series"), Name: b.Name, Locality: b.Locality, Schedule: b.Schedule,
		Capacity: b.Capacity, Length: time.Duration(b.LengthMinutes) * time.Minute, Attendees: b.Attendees, Place: b.Place}
	if err := starter.SaveSeries(r.Context(), m.store, m.temporal, s); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, bodyOf(s))
}

// meetingBody is a meeting with its agenda as the viewer may see it.
type meetingBody struct {
	ID         string              `json:"id"`
	SeriesID   string              `json:"series_id"`
	Start      time.Time           `json:"start"`
	End        time.Time           `json:"end"`
	Capacity   int                 `json:"capacity"`
	Extra      bool                `json:"extra"`
	Cancelled  bool                `json:"cancelled"`
	Sequence   int                 `json:"sequence"`
	AgendaSent bool                `json:"agenda_sent"`
	Closed     bool                `json:"closed"`
	Planned    bool                `json:"planned"`
	Agenda     []store.AgendaEntry `json:"agenda,omitempty"`
}

func meetingOf(s store.MeetingState) meetingBody {
	return meetingBody{ID: s.ID, SeriesID: s.SeriesID, Start: s.Start, End: s.End, Capacity: s.Capacity, Extra: s.Extra,
		Cancelled: s.Cancelled, Sequence: s.Sequence, AgendaSent: s.AgendaSentAt != nil, Closed: s.ClosedAt != nil, Planned: s.PlannedAt != nil}
}

func (m *meetings) listMeetings(w http.ResponseWriter, r *http.Request) {
	from := m.now()
	ms, err := m.store.Meetings(r.Context(), chi.URLParam(r, "series"), from, from.AddDate(0, 3, 0))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]meetingBody, 0, len(ms))
	for _, s := range ms {
		out = append(out, meetingOf(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"meetings": out})
}

func (m *meetings) addExtra(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Start    time.Time `json:"start"`
		Capacity int       `json:"capacity"`
	}
	if err := decode(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	s, err := starter.AddExtraMeeting(r.Context(), m.store, m.temporal, m.now(), chi.URLParam(r, "series"), b.Start, b.Capacity)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, meetingOf(s))
}

func (m *meetings) getMeeting(w http.ResponseWriter, r *http.Request) {
	s, items, err := starter.MeetingView(r.Context(), m.store, actorFrom(r), chi.URLParam(r, "meeting"), 5*24*time.Hour)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := m.store.Audit(r.Context(), actorFrom(r), "list", "", nil, "meeting agenda "+s.ID); err != nil {
		writeError(w, r, err)
		return
	}
	b := meetingOf(s)
	b.Agenda = items
	writeJSON(w, http.StatusOK, b)
}

func (m *meetings) changeMeeting(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Start     *time.Time `json:"start"`
		Cancelled bool       `json:"cancelled"`
	}
	if err := decode(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	var start time.Time
	if b.Start != nil {
		start = *b.Start
	}
	s, err := starter.ChangeMeeting(r.Context(), m.store, m.temporal, m.now(), chi.URLParam(r, "meeting"), start, b.Cancelled)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meetingOf(s))
}

func (m *meetings) editAgenda(w http.ResponseWriter, r *http.Request) {
	var ed register.Edits
	if err := decode(r, &ed); err != nil {
		writeError(w, r, err)
		return
	}
	if err := starter.EditAgenda(r.Context(), m.store, chi.URLParam(r, "meeting"), ed); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ed)
}

func (m *meetings) outcome(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Outcome string `json:"outcome"`
	}
	if err := decode(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		writeError(w, r, register.NotFound("person"))
		return
	}
	if err := starter.Outcome(r.Context(), m.store, m.temporal, actorFrom(r), chi.URLParam(r, "meeting"), id, b.Outcome); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"outcome": b.Outcome})
}

func (m *meetings) close(w http.ResponseWriter, r *http.Request) {
	if err := starter.CloseMeeting(r.Context(), m.store, m.temporal, chi.URLParam(r, "meeting")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"closed": true})
}

func (m *meetings) newFeed(w http.ResponseWriter, r *http.Request) {
	tok, err := m.store.NewCalendarFeed(r.Context(), actorFrom(r).UserID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"url": strings.TrimRight(m.baseURL, "/") + "/calendar.ics?token=" + tok})
}

func (m *meetings) revokeFeed(w http.ResponseWriter, r *http.Request) {
	if err := m.store.RevokeCalendarFeed(r.Context(), actorFrom(r).UserID); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// feed serves a user's private calendar: the meetings of every series
// (the coming three months) and the review and action dates they are
// named on, with links only. The token is the credential: in the query,
// which the request log leaves out.
func (m *meetings) feed(w http.ResponseWriter, r *http.Request) {
	u, err := m.store.FeedUser(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	now := m.now()
	domain := calendar.Domain(m.from)
	var events []calendar.Event
	series, err := m.store.ListSeries(ctx)
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, s := range series {
		ms, err := m.store.Meetings(ctx, s.ID, now.AddDate(0, 0, -7), now.AddDate(0, 3, 0))
		if err != nil {
			writeError(w, r, err)
			return
		}
		for _, mt := range ms {
			if mt.Cancelled {
				continue
			}
			events = append(events, calendar.Event{UID: calendar.UID(mt.ID, domain), Summary: "DSR meeting", Start: mt.Start, End: mt.End,
				URL: mail.MeetingLink(m.baseURL, mt.ID), Location: s.Place})
		}
	}
	dates, err := m.store.FeedDates(ctx, u.Email)
	if err == nil {
		err = m.store.Audit(ctx, register.Actor{UserID: u.ID, Email: u.Email, Role: u.Role, ClientAddr: clientAddr(r)}, "list", "", nil, "calendar feed")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, d := range dates {
		summary := "DSR review due"
		if d.Kind == "action" {
			summary = "DSR action due"
		}
		events = append(events, calendar.Event{UID: calendar.UID(d.Kind+"-"+d.ItemID, domain), Summary: summary, Start: d.At,
			URL: mail.PersonLink(m.baseURL, d.PersonID)})
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write([]byte(calendar.Feed("DSR", events, now)))
}
