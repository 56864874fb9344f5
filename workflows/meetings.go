package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// UpdateMoveReview sets a person's review date to a DSR meeting's date,
// when the meeting series carries them over.
const UpdateMoveReview = "move-review"

// Meeting agenda logic is gated under its own change id: workflows that
// started before it keep replaying.
const (
	meetingChangeID                       = "meeting-agenda"
	versionMeetingAgenda workflow.Version = 1
)

// MoveReviewRequest moves the review date to a meeting's start.
type MoveReviewRequest struct {
	Keyed
	Actor     register.Actor `json:"actor"`
	Due       time.Time      `json:"due"`
	MeetingID string         `json:"meeting_id"`
}

func validateMoveReview(s register.State, req MoveReviewRequest, now time.Time) *register.Error {
	return register.CheckMoveReview(s, req.Due, now)
}

func (r *run) applyMoveReview(ctx workflow.Context, st *register.State, req MoveReviewRequest, _ time.Time) (register.Change, []register.Notice) {
	// Marks the histories that use it; a new update, so no older history
	// holds one to replay.
	_ = versionOf(ctx, r.in.Generation, meetingChangeID, versionMeetingAgenda)
	st.MoveReview(req.Due)
	return register.Change{Kind: register.ChangeMoveReview, Actor: req.Actor, Reason: "carried to meeting " + req.MeetingID}, nil
}
