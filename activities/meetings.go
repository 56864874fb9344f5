package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/bsw-dsr/dsr/calendar"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// Meetings are the meeting series workflow's activities.
type Meetings struct {
	*Activities
	Temporal     client.Client
	TriageWithin time.Duration
	From         string // the sending address: the invitations' organiser
	// Horizon is how far ahead a series' next meeting is looked for.
	Horizon time.Duration
}

// System is the actor for changes the register makes itself.
var System = register.Actor{Role: "system", Email: "dsr"}

func (m *Meetings) horizon() time.Duration {
	if m.Horizon > 0 {
		return m.Horizon
	}
	return 400 * 24 * time.Hour
}

// NextMeeting finds the first meeting of the series starting at or after
// after; an empty id when there is none within the horizon.
func (m *Meetings) NextMeeting(ctx context.Context, seriesID string, after time.Time) (workflows.MeetingRef, error) {
	ms, err := m.Store.Meetings(ctx, seriesID, after, after.Add(m.horizon()))
	if register.KindOf(err) == register.KindNotFound {
		return workflows.MeetingRef{}, temporal.NewNonRetryableApplicationError("no such series", "not-found", err)
	}
	if err != nil {
		return workflows.MeetingRef{}, err
	}
	if len(ms) == 0 {
		return workflows.MeetingRef{}, nil
	}
	return refOf(ms[0]), nil
}

func refOf(s store.MeetingState) workflows.MeetingRef {
	return workflows.MeetingRef{ID: s.ID, Start: s.Start, End: s.End, Cancelled: s.Cancelled, Sequence: s.Sequence,
		AgendaSent: s.AgendaSentAt != nil, Closed: s.ClosedAt != nil}
}

// next is the meeting the overflow of ms goes to.
func (m *Meetings) next(ctx context.Context, ms store.MeetingState) (*register.Meeting, error) {
	all, err := m.Store.Meetings(ctx, ms.SeriesID, ms.Start, ms.Start.Add(m.horizon()))
	if err != nil {
		return nil, err
	}
	var occ []register.Meeting
	for _, o := range all {
		occ = append(occ, o.Meeting)
	}
	if n, ok := register.NextRegular(occ, ms.Meeting); ok {
		return &n, nil
	}
	return nil, nil
}

// PlanMeetingAgenda plans a meeting's agenda with register.PlanAgenda and
// records it, returning whom to carry to the next meeting. A cancelled
// meeting carries everyone on it, even after its agenda went out.
func (m *Meetings) PlanMeetingAgenda(ctx context.Context, meetingID string) ([]register.Carry, error) {
	ms, err := m.Store.Meeting(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	next, err := m.next(ctx, ms)
	if err != nil {
		return nil, err
	}
	if ms.AgendaSentAt != nil {
		if !ms.Cancelled {
			return nil, nil
		}
		return m.Store.CarryAll(ctx, ms.ID, next)
	}
	cands, err := m.Store.Candidates(ctx, ms.Series.Locality, m.TriageWithin)
	if err != nil {
		return nil, err
	}
	ag := register.PlanAgenda(ms.Meeting, next, cands, ms.Edits)
	if err := m.Store.SaveAgenda(ctx, ms, ag); err != nil {
		return nil, err
	}
	m.Logger.Info("agenda planned", "meeting", ms.ID, "people", len(ag.Items), "carried", len(ag.Carried))
	return ag.Carried, nil
}

// CarryOver moves a carried person's review date to the next meeting
// through their workflow (so reminders name that date), and tells the
// coordinators once when it is the second carry in a row. A person who
// has left the register meanwhile is passed over.
func (m *Meetings) CarryOver(ctx context.Context, c register.Carry, fromMeeting string) error {
	req := workflows.MoveReviewRequest{Actor: System, Due: c.Due, MeetingID: c.To}
	updateID := "carry/" + fromMeeting + "/" + c.PersonID
	err := workflows.Update(ctx, m.Temporal, c.PersonID, workflows.UpdateMoveReview, updateID, req, nil)
	switch register.KindOf(err) {
	case register.KindInvalid, register.KindConflict:
		m.Logger.Info("carry-over passed over", "person", c.PersonID, "meeting", fromMeeting, "reason", "not on the register or refused")
		return nil
	case register.KindUnavailable:
		return err // retried
	}
	if err != nil {
		return err
	}
	if c.TellCoordinator {
		n := register.Notice{Kind: register.CarriedAgain, Occasion: fromMeeting, DueAt: c.Due, At: time.Now()}
		return m.deliver(ctx, c.PersonID, n)
	}
	return nil
}

// SendMeetingInvitations sends the meeting's agenda mail with its
// invitation (or the cancellation) to the standing attendees and to each
// professional named for someone on the agenda, once per invitation
// sequence: a retry, or a second run, sends nothing twice.
func (m *Meetings) SendMeetingInvitations(ctx context.Context, meetingID string) error {
	ms, err := m.Store.Meeting(ctx, meetingID)
	if err != nil {
		return err
	}
	if ms.Cancelled && ms.AgendaSentAt == nil {
		return nil // nobody was invited: nobody to tell
	}
	items, err := m.Store.Agenda(ctx, meetingID, register.Actor{Role: "coordinator", Email: "dsr"})
	if err != nil {
		return err
	}
	ag := register.Agenda{MeetingID: meetingID}
	for _, it := range items {
		if it.Outcome != "overflow" {
			ag.Items = append(ag.Items, it.AgendaItem)
		}
	}
	cands, err := m.Store.Candidates(ctx, ms.Series.Locality, m.TriageWithin)
	if err != nil {
		return err
	}
	to := register.Recipients(ms.Series, ag, cands)
	kind := "meeting-agenda"
	if ms.Cancelled {
		kind = "meeting-cancelled"
	}
	n := register.Notice{Kind: register.NoticeKind(kind), Occasion: meetingID + "/" + strconv.Itoa(ms.Sequence), DueAt: ms.Start}
	link := mail.MeetingLink(m.BaseURL, meetingID)
	build := func() (mail.Message, error) {
		invite, err := calendar.Invitation(calendar.Invite{
			UID: calendar.UID(meetingID, calendar.Domain(m.From)), Sequence: ms.Sequence, Cancelled: ms.Cancelled,
			Start: ms.Start, End: ms.End, Summary: "DSR meeting", Location: ms.Series.Place, URL: link,
			Organizer: m.From, Attendees: to, Stamp: time.Now(),
		})
		if err != nil {
			return mail.Message{}, err
		}
		subject, text, html, err := mail.Render(kind, mail.NoticeData{MeetingID: meetingID, Link: link, DueAt: ms.Start, Count: len(ag.Items)})
		if err != nil {
			return mail.Message{}, err
		}
		method := "REQUEST"
		if ms.Cancelled {
			method = "CANCEL"
		}
		return mail.Message{Kind: kind, Subject: subject, Text: text, HTML: html, Calendar: invite, CalendarMethod: method,
			Headers: map[string]string{"X-DSR-Meeting": meetingID}}, nil
	}
	if err := m.once(ctx, n, to, build); err != nil {
		return err
	}
	return m.Store.MarkAgendaSent(ctx, meetingID)
}

// once sends the message build makes to every address of to not yet sent
// under the notice's key (personless), claiming the notice first, as the
// person notices do.
func (m *Meetings) once(ctx context.Context, n register.Notice, to []string, build func() (mail.Message, error)) (err error) {
	key := n.Key("")
	owner, lease := claimant(ctx)
	claim, err := m.Store.ClaimNotice(ctx, "", n, owner, lease)
	if err != nil {
		return err
	}
	switch claim {
	case store.AlreadySent, store.AlreadySkipped:
		return nil
	case store.ClaimedElsewhere:
		return errClaimedElsewhere
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = m.Store.ReleaseNotice(rctx, key, owner)
		}
	}()
	if len(to) == 0 {
		return m.Store.MarkNoticeSent(ctx, key, []string{})
	}
	pending, err := m.Store.PendingDeliveries(ctx, key, to)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		msg, err := build()
		if err != nil {
			return temporal.NewNonRetryableApplicationError("build meeting notice", "render", err)
		}
		sum := sha256.Sum256([]byte(key))
		msg.To, msg.MessageID = pending, hex.EncodeToString(sum[:16])
		if err := m.sendEach(ctx, key, msg); err != nil {
			return err
		}
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := m.Store.FinishNotice(mctx, key); err != nil {
		return fmt.Errorf("finish meeting notice: %w", err)
	}
	return nil
}

// SendMeetingActionMails sends each owner of an action the meeting gave
// one mail listing the records of their new actions, once; and tells the
// coordinators of anyone not discussed for the second meeting in a row.
func (m *Meetings) SendMeetingActionMails(ctx context.Context, meetingID string) error {
	ms, err := m.Store.Meeting(ctx, meetingID)
	if err != nil {
		return err
	}
	acts, err := m.Store.MeetingActions(ctx, meetingID)
	if err != nil {
		return err
	}
	byOwner := map[string][]string{}
	var owners []string
	for _, a := range acts {
		if _, ok := byOwner[a.Owner]; !ok {
			owners = append(owners, a.Owner)
		}
		byOwner[a.Owner] = append(byOwner[a.Owner], mail.PersonLink(m.BaseURL, a.PersonID))
	}
	// Someone not discussed for the second meeting in a row: the
	// coordinators are told, once per meeting.
	items, err := m.Store.Agenda(ctx, meetingID, register.Actor{Role: "coordinator", Email: "dsr"})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Outcome != "not-discussed" || it.Carried < 1 {
			continue
		}
		due := ms.Start
		if next, err := m.Store.Meeting(ctx, it.CarriedTo); err == nil {
			due = next.Start
		}
		if err := m.deliver(ctx, it.PersonID, register.Notice{Kind: register.CarriedAgain, Occasion: meetingID, DueAt: due, At: time.Now()}); err != nil {
			return err
		}
	}
	link := mail.MeetingLink(m.BaseURL, meetingID)
	for _, owner := range owners {
		links := byOwner[owner]
		// The occasion names the owner by a hash: no address in the key.
		sum := sha256.Sum256([]byte(owner))
		n := register.Notice{Kind: "meeting-actions", Occasion: meetingID + "/" + hex.EncodeToString(sum[:8]), DueAt: ms.Start}
		build := func() (mail.Message, error) {
			subject, text, html, err := mail.Render("meeting-actions", mail.NoticeData{MeetingID: meetingID, Link: link, DueAt: ms.Start,
				Count: len(links), Links: links})
			return mail.Message{Kind: "meeting-actions", Subject: subject, Text: text, HTML: html,
				Headers: map[string]string{"X-DSR-Meeting": meetingID}}, err
		}
		if err := m.once(ctx, n, []string{owner}, build); err != nil {
			return err
		}
	}
	return nil
}

// MeetingsChanged deals with the series' meetings whose agenda went out
// and that have not ended: each gets its invitation for its current
// sequence (nothing when that one went already), and a cancelled one
// carries its people to the next meeting.
func (m *Meetings) MeetingsChanged(ctx context.Context, seriesID string) ([]workflows.ChangedMeeting, error) {
	now := time.Now()
	ms, err := m.Store.Meetings(ctx, seriesID, now.Add(-24*time.Hour), now.Add(m.horizon()))
	if err != nil {
		return nil, err
	}
	var out []workflows.ChangedMeeting
	for _, s := range ms {
		if s.AgendaSentAt == nil || s.ClosedAt != nil || !s.End.After(now) {
			continue
		}
		j := workflows.ChangedMeeting{MeetingID: s.ID}
		if s.Cancelled {
			if j.Carried, err = m.PlanMeetingAgenda(ctx, s.ID); err != nil {
				return nil, err
			}
		}
		if err := m.SendMeetingInvitations(ctx, s.ID); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}
