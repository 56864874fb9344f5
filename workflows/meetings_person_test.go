package workflows

import (
	"time"

	"testing"

	"github.com/bsw-dsr/dsr/register"
)

// Carried over to a meeting: the review date becomes the meeting's start,
// so the reminders name it, and the old date's reminders are not sent.
func TestMoveReviewToMeeting(t *testing.T) {
	h := newHarness(t, referred())
	h.update(0, UpdateTriage, accept(register.Red), "") // review due at 7d
	meeting := t0.Add(14 * day)
	h.update(2*day, UpdateMoveReview, MoveReviewRequest{Actor: admin, Due: meeting, MeetingID: "m2"}, "")
	h.update(3*day, UpdateMoveReview, MoveReviewRequest{Actor: admin, Due: t0.Add(day), MeetingID: "past"}, "must be a future meeting's date")
	h.run(Input{PersonID: "p1"}, 15*day)
	h.wantSent("referral-received@0d", "review-due@11d", "review-overdue@14d")
	var moved *register.Change
	for i := range h.rec.changes {
		if h.rec.changes[i].Kind == register.ChangeMoveReview {
			moved = &h.rec.changes[i]
		}
	}
	if moved == nil || !moved.NextReviewDue.Equal(meeting) {
		t.Fatalf("move-review change = %+v", moved)
	}
}

func TestMoveReviewRefusedForAReferral(t *testing.T) {
	h := newHarness(t, referred())
	h.update(time.Hour, UpdateMoveReview, MoveReviewRequest{Actor: admin, Due: t0.Add(3 * day), MeetingID: "m"}, "only a person on the register")
	h.run(Input{PersonID: "p1"}, day)
}
