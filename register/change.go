package register

import "time"

// Actor is who asked for a change or a read, for the audit log.
type Actor struct {
	UserID     string `json:"user_id,omitempty"`
	Email      string `json:"email,omitempty"`
	Role       string `json:"role,omitempty"`
	ClientAddr string `json:"client_addr,omitempty"`
}

// ChangeKind names a change to a person's record.
type ChangeKind string

const (
	ChangeAccept         ChangeKind = "accept"
	ChangeDecline        ChangeKind = "decline"
	ChangeReview         ChangeKind = "review"
	ChangeRating         ChangeKind = "rating"
	ChangeAddActions     ChangeKind = "add-actions"
	ChangeCompleteAction ChangeKind = "complete-action"
	ChangeCancelAction   ChangeKind = "cancel-action"
	ChangeProfessionals  ChangeKind = "professionals"
	ChangeDischarge      ChangeKind = "discharge"
	ChangeBookCETR       ChangeKind = "book-cetr"
	ChangeRecordCETR     ChangeKind = "record-cetr"
	ChangeCancelCETR     ChangeKind = "cancel-cetr"
	ChangeKeyworker      ChangeKind = "keyworker"
	ChangeConsent        ChangeKind = "consent"
	ChangeWithdrawn      ChangeKind = "consent-withdrawn"
	ChangeInpatient      ChangeKind = "inpatient"
	ChangeRootCause      ChangeKind = "root-cause"
)

// IdempotencyKey is a client's Idempotency-Key as the register keeps it:
// Scope is a hash of the caller, the person, the operation and the key, so
// a key means one thing only; BodyHash binds it to the request's body, so
// the same key with another body is refused rather than answered as if it
// had been applied. Hashes only: the key itself is the client's.
type IdempotencyKey struct {
	Scope    string `json:"scope,omitempty"`
	BodyHash string `json:"body_hash,omitempty"`
}

// NewAction is an action plan item being added.
type NewAction struct {
	ID          string    `json:"id"`
	Description string    `json:"description"`
	OwnerEmail  string    `json:"owner_email"`
	Due         time.Time `json:"due"`
}

// ReviewInput is a review being recorded.
type ReviewInput struct {
	ID            string      `json:"id"`
	HeldAt        time.Time   `json:"held_at"`
	Rating        Rating      `json:"rag"`
	CurrentIssues string      `json:"current_issues"`
	Tried         string      `json:"tried"`
	CouldHelp     string      `json:"could_help"`
	Notes         string      `json:"notes"`
	Needs         []string    `json:"needs,omitempty"`
	Actions       []NewAction `json:"actions,omitempty"`
	// Risk is the risk tool's answers, when the review used it (checked
	// with RiskTool.CheckRisk by the API and the pages).
	Risk *RiskAnswers `json:"risk,omitempty"`
}

// Change is one change to a person as the workflow persists it: what was
// asked, and what the workflow decided (status, next review due).
type Change struct {
	UpdateID string `json:"update_id"`
	// Key is the caller's Idempotency-Key, scoped and bound to the body;
	// empty when none was given.
	Key IdempotencyKey `json:"key,omitzero"`
	// Result is the answer the change was given (JSON), kept with the key
	// so that a retried request gets the same one.
	Result []byte `json:"result,omitempty"`

	PersonID string     `json:"person_id"`
	Kind     ChangeKind `json:"kind"`
	Actor    Actor      `json:"actor"`
	At       time.Time  `json:"at"`

	Rating        Rating          `json:"rating,omitempty"`
	FromRating    Rating          `json:"from_rating,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	Review        *ReviewInput    `json:"review,omitempty"`
	Actions       []NewAction     `json:"actions,omitempty"`
	ActionID      string          `json:"action_id,omitempty"`
	Outcome       string          `json:"outcome,omitempty"`
	Professionals []Professional  `json:"professionals,omitempty"`
	Correction    *Correction     `json:"correction,omitempty"`
	CETR          *CETRInput      `json:"cetr,omitempty"`
	Keyworker     *Keyworker      `json:"keyworker,omitempty"`
	Consent       *ConsentInput   `json:"consent,omitempty"`
	Inpatient     *InpatientInput `json:"inpatient,omitempty"`
	RootCause     *RootCauseInput `json:"root_cause,omitempty"`

	// Decided by the workflow.
	Status        Status    `json:"status"`
	NextReviewDue time.Time `json:"next_review_due"`
	// Clocks: the workflow's C(E)TR clock is on, and CETRDue is the whole
	// list of C(E)TRs due after the change (the store keeps its rows in
	// step). Admitted is set on a move to blue, Preceded saying whether a
	// community C(E)TR or LAEP came before it; LeftHospital on a move
	// from blue.
	Clocks       bool         `json:"clocks,omitempty"`
	CETRDue      []CETRDueRow `json:"cetr_due,omitempty"`
	Admitted     bool         `json:"admitted,omitempty"`
	Preceded     bool         `json:"preceded,omitempty"`
	LeftHospital bool         `json:"left_hospital,omitempty"`
}

// RungIndex is the position of a notice in its ladder, used to restore a
// ladder's progress from the outbox.
func RungIndex(kind NoticeKind, level int) int {
	switch kind {
	case ReviewDue, ActionDue, TriageOverdue, CETRDueNotice, KeyworkerNeeded, TransitionDue, ConsentReviewDue:
		return 0
	case ReviewOverdue, ActionOverdue, CETROverdue:
		return 1
	case ReviewEscalated, ActionEscalated, CETREscalated:
		return 1 + level
	}
	return -1
}
