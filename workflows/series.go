package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// The meeting series workflow: one long-lived workflow per series drives
// its meetings. Before each meeting (by the agenda lead) it plans the
// agenda, carries the overflow to the next meeting (their review dates
// move to it, through each person's workflow), and sends the agenda with
// the invitation; a change to the meeting (moved, cancelled, agenda
// edited) sends the invitation again with a higher sequence.
const (
	SeriesWorkflowName = "MeetingSeriesWorkflow"
	// SignalSeriesChanged tells the workflow that a meeting or the series
	// changed: it looks again.
	SignalSeriesChanged = "series-changed"

	ActivityNextMeeting     = "NextMeeting"
	ActivityPlanAgenda      = "PlanMeetingAgenda"
	ActivityCarryOver       = "CarryOver"
	ActivitySendInvitations = "SendMeetingInvitations"
	ActivityMeetingsChanged = "MeetingsChanged"
)

// SeriesWorkflowID is the workflow id of a series: its id only.
func SeriesWorkflowID(seriesID string) string { return "meeting-series-" + seriesID }

// SeriesInput starts or continues a series' workflow.
type SeriesInput struct {
	SeriesID string `json:"series_id"`
	// After is where the workflow has got to: meetings starting after it
	// are still to be handled.
	After time.Time `json:"after"`
	// ContinueAfter continues as new after this many meetings (0: 50).
	ContinueAfter int `json:"continue_after,omitempty"`
}

// MeetingRef is a meeting as the workflow sees it: ids and times only.
type MeetingRef struct {
	ID         string    `json:"id"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Cancelled  bool      `json:"cancelled,omitempty"`
	Sequence   int       `json:"sequence"`
	AgendaSent bool      `json:"agenda_sent,omitempty"`
	Closed     bool      `json:"closed,omitempty"`
}

// Series is the workflow type; Lead is DSR_AGENDA_LEAD.
type Series struct {
	Lead time.Duration
}

// Run is the workflow function.
func (s *Series) Run(ctx workflow.Context, in SeriesInput) error {
	changed := false
	sig := workflow.GetSignalChannel(ctx, SignalSeriesChanged)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sig.Receive(ctx, nil)
			changed = true
		}
	})
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	limit := in.ContinueAfter
	if limit <= 0 {
		limit = 50
	}
	after := in.After
	if after.IsZero() {
		after = workflow.Now(ctx)
	}
	for handled := 0; handled < limit; {
		var m MeetingRef
		if err := workflow.ExecuteActivity(actx, ActivityNextMeeting, in.SeriesID, after).Get(ctx, &m); err != nil {
			return fmt.Errorf("next meeting: %w", err)
		}
		// Wait for the agenda's time (daily when there is no meeting in
		// sight); a change (a meeting moved or cancelled, an extra one
		// added) makes the workflow send what changed and look again.
		// changed is consumed only when acted on, so a signal that came
		// while an activity ran is not lost.
		wait := 24 * time.Hour
		if m.ID != "" {
			wait = m.Start.Add(-s.Lead).Sub(workflow.Now(ctx))
		}
		if wait > 0 {
			fired, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return changed })
			if err != nil {
				return err
			}
			if fired {
				changed = false
				if err := s.changes(ctx, actx, in.SeriesID); err != nil {
					return err
				}
			}
			if fired || m.ID == "" {
				continue
			}
		}
		if !m.AgendaSent && !m.Closed {
			var carried []register.Carry
			if err := workflow.ExecuteActivity(actx, ActivityPlanAgenda, m.ID).Get(ctx, &carried); err != nil {
				return fmt.Errorf("plan agenda: %w", err)
			}
			carryOver(ctx, actx, m.ID, carried)
		}
		// The invitation for the meeting's current sequence: once per
		// sequence, whatever the retries.
		if err := workflow.ExecuteActivity(actx, ActivitySendInvitations, m.ID).Get(ctx, nil); err != nil {
			return fmt.Errorf("send invitations: %w", err)
		}
		after = m.Start.Add(time.Second)
		handled++
	}
	// A change not yet acted on would be lost with this run: act on it.
	if changed {
		if err := s.changes(ctx, actx, in.SeriesID); err != nil {
			return err
		}
	}
	return workflow.NewContinueAsNewError(ctx, SeriesWorkflowName, SeriesInput{SeriesID: in.SeriesID, After: after, ContinueAfter: in.ContinueAfter})
}

// changes sends what changed in meetings whose agenda went out: the
// invitation again with its new sequence, or the cancellation, carrying
// a cancelled meeting's people to the next one.
func (s *Series) changes(ctx, actx workflow.Context, seriesID string) error {
	var jobs []ChangedMeeting
	if err := workflow.ExecuteActivity(actx, ActivityMeetingsChanged, seriesID).Get(ctx, &jobs); err != nil {
		return fmt.Errorf("meetings changed: %w", err)
	}
	for _, j := range jobs {
		carryOver(ctx, actx, j.MeetingID, j.Carried)
	}
	return nil
}

// ChangedMeeting is a sent meeting the change activity dealt with, and
// whom its cancellation carries.
type ChangedMeeting struct {
	MeetingID string           `json:"meeting_id"`
	Carried   []register.Carry `json:"carried,omitempty"`
}

func carryOver(ctx, actx workflow.Context, meetingID string, carried []register.Carry) {
	for _, c := range carried {
		if c.Due.IsZero() {
			continue // no next meeting known: the review date stays
		}
		if err := workflow.ExecuteActivity(actx, ActivityCarryOver, c, meetingID).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("carrying a person over failed", "meeting", meetingID, "error", err)
		}
	}
}

// MeetingClosedWorkflowName sends, once a meeting is closed, each action
// owner one mail listing their new actions (links only).
const (
	MeetingClosedWorkflowName = "MeetingClosedWorkflow"
	ActivitySendActionMails   = "SendMeetingActionMails"
)

// MeetingClosedWorkflowID is one per meeting: closing twice starts nothing
// new.
func MeetingClosedWorkflowID(meetingID string) string { return "meeting-closed-" + meetingID }

// MeetingClosed is the workflow function: the activity retries until every
// owner's mail has gone, each once (the outbox keys them by meeting and
// owner).
func MeetingClosed(ctx workflow.Context, meetingID string) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	return workflow.ExecuteActivity(actx, ActivitySendActionMails, meetingID).Get(ctx, nil)
}
