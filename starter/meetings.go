package starter

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// The DSR meeting's changes, one way for the JSON API and the web pages.

// SaveSeries validates and saves a series and tells its workflow: one
// way for the API and the web pages.
func SaveSeries(ctx context.Context, st *store.Store, c client.Client, s register.Series) error {
	for i, a := range s.Attendees {
		s.Attendees[i] = strings.TrimSpace(a)
	}
	if e := register.CheckSeries(s); e != nil {
		return e
	}
	if err := st.SaveSeries(ctx, s); err != nil {
		return err
	}
	return NotifySeries(ctx, c, s.ID)
}

// NotifySeries tells a series workflow of a change; saved changes stand
// when it cannot be told (the worker looks again when it reconciles).
func NotifySeries(ctx context.Context, c client.Client, seriesID string) error {
	if c == nil {
		return nil
	}
	if err := SeriesChanged(ctx, c, seriesID); err != nil {
		return register.Unavailable("Saved, but the meeting workflow could not be told: it looks again within ten minutes.")
	}
	return nil
}

// MeetingView is a meeting with the agenda the viewer may see: the
// recorded one, or before it is planned a preview (coordinators only).
func MeetingView(ctx context.Context, st *store.Store, viewer register.Actor, id string, triageWithin time.Duration) (store.MeetingState, []store.AgendaEntry, error) {
	s, err := st.Meeting(ctx, id)
	if err != nil {
		return s, nil, err
	}
	if s.PlannedAt != nil {
		items, err := st.Agenda(ctx, id, viewer)
		return s, items, err
	}
	if viewer.Role != "coordinator" {
		return s, nil, nil
	}
	cands, err := st.Candidates(ctx, s.Series.Locality, triageWithin)
	if err != nil {
		return s, nil, err
	}
	ag := register.PlanAgenda(s.Meeting, nil, cands, s.Edits)
	var items []store.AgendaEntry
	for _, it := range ag.Items {
		items = append(items, store.AgendaEntry{AgendaItem: it})
	}
	for _, c := range ag.Carried {
		items = append(items, store.AgendaEntry{AgendaItem: register.AgendaItem{PersonID: c.PersonID, Carried: c.Times - 1}, Outcome: "overflow"})
	}
	return s, items, nil
}

// Outcome records what became of a person at a meeting: "reviewed" (the
// review, recorded through the person's record-review, must be held since
// the meeting's day began) or "not-discussed", which carries them to the
// next meeting: their review date moves to it. One rule for the API and
// the meeting page.
func Outcome(ctx context.Context, st *store.Store, c client.Client, actor register.Actor, meetingID, personID, outcome string) error {
	ms, err := st.Meeting(ctx, meetingID)
	if err != nil {
		return err
	}
	if ms.ClosedAt != nil {
		return register.Conflict("the meeting has been closed", meetingID)
	}
	switch outcome {
	case "reviewed":
		y, mo, d := ms.Start.In(register.London).Date()
		rid, err := st.ReviewSince(ctx, personID, time.Date(y, mo, d, 0, 0, 0, 0, register.London))
		if register.KindOf(err) == register.KindNotFound {
			return register.Invalidf("outcome", "record the person's review first")
		}
		if err != nil {
			return err
		}
		return st.SetOutcome(ctx, meetingID, personID, "reviewed", rid, "")
	case "not-discussed":
		ms2, err := st.Meetings(ctx, ms.SeriesID, ms.Start, ms.Start.AddDate(1, 0, 0))
		if err != nil {
			return err
		}
		var occ []register.Meeting
		for _, o := range ms2 {
			occ = append(occ, o.Meeting)
		}
		next, ok := register.NextRegular(occ, ms.Meeting)
		to := ""
		if ok {
			to = next.ID
			req := workflows.MoveReviewRequest{Actor: actor, Due: next.Start, MeetingID: next.ID}
			if err := workflows.Update(ctx, c, personID, workflows.UpdateMoveReview, "carry/"+meetingID+"/"+personID, req, nil); err != nil &&
				register.KindOf(err) != register.KindInvalid {
				return err
			}
		}
		return st.SetOutcome(ctx, meetingID, personID, "not-discussed", "", to)
	}
	return register.Invalidf("outcome", "must be reviewed or not-discussed")
}

// CloseMeeting closes a meeting (the minutes are kept) and starts the
// owners' action mails, once.
func CloseMeeting(ctx context.Context, st *store.Store, c client.Client, meetingID string) error {
	ms, err := st.Meeting(ctx, meetingID)
	if err != nil {
		return err
	}
	if ms.PlannedAt == nil {
		return register.Conflict("the meeting has no agenda yet", meetingID)
	}
	if ms.ClosedAt == nil {
		// Anyone whose outcome is not recorded: reviewed when a review was
		// recorded since the meeting's day began, else not discussed
		// (carried to the next meeting).
		items, err := st.Agenda(ctx, meetingID, register.Actor{Role: "coordinator", Email: "dsr"})
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.Outcome != "" {
				continue
			}
			outcome := "not-discussed"
			y, mo, d := ms.Start.In(register.London).Date()
			if _, err := st.ReviewSince(ctx, it.PersonID, time.Date(y, mo, d, 0, 0, 0, 0, register.London)); err == nil {
				outcome = "reviewed"
			}
			if err := Outcome(ctx, st, c, register.Actor{Role: "system", Email: "dsr"}, meetingID, it.PersonID, outcome); err != nil {
				return err
			}
		}
	}
	if _, err := st.CloseMeeting(ctx, meetingID); err != nil {
		return err
	}
	if err := MeetingClosed(ctx, c, meetingID); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if !errors.As(err, &started) {
			return register.Unavailable("The meeting is closed, but its action mails could not be started: close it again shortly.")
		}
	}
	return nil
}

// AddExtraMeeting adds an extra (urgent) meeting to a series: it must
// start after now; capacity 0 takes the series' own. One way for the API
// and the web pages.
func AddExtraMeeting(ctx context.Context, st *store.Store, c client.Client, now time.Time, seriesID string, start time.Time, capacity int) (store.MeetingState, error) {
	if !start.After(now) {
		return store.MeetingState{}, register.Invalidf("start", "must be in the future")
	}
	if capacity < 0 || capacity > 200 {
		return store.MeetingState{}, register.Invalidf("capacity", "must be between 1 and 200 people")
	}
	s, err := st.AddExtraMeeting(ctx, seriesID, start, capacity)
	if err != nil {
		return s, err
	}
	return s, NotifySeries(ctx, c, s.SeriesID)
}

// ChangeMeeting moves a meeting to a new start (after now) or cancels it
// (a zero start with cancel). One way for the API and the web pages.
func ChangeMeeting(ctx context.Context, st *store.Store, c client.Client, now time.Time, id string, start time.Time, cancel bool) (store.MeetingState, error) {
	if !start.IsZero() && !start.After(now) {
		return store.MeetingState{}, register.Invalidf("start", "must be in the future")
	}
	if start.IsZero() && !cancel {
		return store.MeetingState{}, register.Invalidf("start", "give a new start, or cancelled: true")
	}
	s, err := st.ChangeMeeting(ctx, id, start, cancel)
	if err != nil {
		return s, err
	}
	return s, NotifySeries(ctx, c, s.SeriesID)
}

// EditAgenda keeps a coordinator's edits to an agenda not yet sent; every
// id must be a person's id.
func EditAgenda(ctx context.Context, st *store.Store, id string, ed register.Edits) error {
	for _, list := range [][]string{ed.Add, ed.Remove, ed.Order} {
		for _, pid := range list {
			if _, err := uuid.Parse(pid); err != nil {
				return register.Invalidf("people", "%q is not a person's id", pid)
			}
		}
	}
	return st.SetAgendaEdits(ctx, id, ed)
}
