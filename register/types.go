// Package register holds the Dynamic Support Register's domain: ratings,
// statuses, consent, the referral data set and its validation, and the
// planner that decides which notices are due. It does no I/O.
package register

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/London must resolve on any machine
)

// London is where people live and work; dates without a time are read here.
var London = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("load %s: %v", name, err))
	}
	return loc
}

// Rating is the RAG rating of admission risk; blue means in hospital.
type Rating string

const (
	Red   Rating = "red"
	Amber Rating = "amber"
	Green Rating = "green"
	Blue  Rating = "blue"
)

// Ratings lists every rating, most urgent first.
var Ratings = []Rating{Red, Amber, Green, Blue}

// Valid reports whether r is one of the four ratings.
func (r Rating) Valid() bool {
	switch r {
	case Red, Amber, Green, Blue:
		return true
	}
	return false
}

// Status is where a person is in the register's life cycle.
type Status string

const (
	Referred   Status = "referred"
	Active     Status = "active"
	Discharged Status = "discharged"
	Declined   Status = "declined"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Referred, Active, Discharged, Declined:
		return true
	}
	return false
}

// Open reports whether a person in this status is on the register (or waiting
// to be) and so has a running workflow.
func (s Status) Open() bool { return s == Referred || s == Active }

// ConsentBasis is the legal basis on which a person is placed on the register.
type ConsentBasis string

const (
	InformedConsent        ConsentBasis = "informed_consent"
	BestInterestDecision   ConsentBasis = "best_interest_decision"
	ParentalResponsibility ConsentBasis = "parental_responsibility"
)

// ActionStatus is where an action plan item is.
type ActionStatus string

const (
	ActionOpen      ActionStatus = "open"
	ActionDone      ActionStatus = "done"
	ActionCancelled ActionStatus = "cancelled"
)

// NoticeKind is the X-DSR-Kind of an email.
type NoticeKind string

const (
	ReferralReceived NoticeKind = "referral-received"
	TriageOverdue    NoticeKind = "triage-overdue"
	ReferralDeclined NoticeKind = "referral-declined"
	ReviewDue        NoticeKind = "review-due"
	ReviewOverdue    NoticeKind = "review-overdue"
	ReviewEscalated  NoticeKind = "review-escalated"
	ActionDue        NoticeKind = "action-due"
	ActionOverdue    NoticeKind = "action-overdue"
	ActionEscalated  NoticeKind = "action-escalated"
	RatingChanged    NoticeKind = "rag-changed"
	// DeliveryFailed tells the coordinators that a mail server refused an
	// address for good; it names the address and the notice's kind only.
	DeliveryFailed NoticeKind = "delivery-failed"
	Digest         NoticeKind = "digest"

	// C(E)TR, keyworker, transition and consent clocks.
	CETRDueNotice    NoticeKind = "cetr-due"
	CETROverdue      NoticeKind = "cetr-overdue"
	CETREscalated    NoticeKind = "cetr-escalated"
	KeyworkerNeeded  NoticeKind = "keyworker-needed"
	TransitionDue    NoticeKind = "transition-due"
	ConsentReviewDue NoticeKind = "consent-review-due"
	// MonthlyReturn tells the commissioners the month's return is ready.
	MonthlyReturn NoticeKind = "monthly-return"
)

// Person is the register's record of one person: what the API returns and
// the database holds. Personal data lives here and in PostgreSQL only, never
// in workflow state.
type Person struct {
	ID            string    `json:"id"`
	Episode       int       `json:"episode"`
	Status        Status    `json:"status"`
	Rating        Rating    `json:"rag,omitempty"`
	ProposedRAG   Rating    `json:"proposed_rag,omitempty"`
	GivenName     string    `json:"given_name"`
	FamilyName    string    `json:"family_name"`
	DateOfBirth   string    `json:"date_of_birth"` // YYYY-MM-DD
	NHSNumber     string    `json:"nhs_number"`    // 10 digits, normalised
	Address       string    `json:"address"`
	Postcode      string    `json:"postcode"`
	Locality      string    `json:"locality"`
	Referrer      Referrer  `json:"referrer"`
	Consent       Consent   `json:"consent"`
	SelfReferral  bool      `json:"self_referral"`
	CurrentIssues string    `json:"current_issues"`
	Tried         string    `json:"tried"`
	CouldHelp     string    `json:"could_help"`
	ReferredAt    time.Time `json:"referred_at"`
	// ImportedAt is when the person came in from the register spreadsheet;
	// nil for a referral made here.
	ImportedAt    *time.Time      `json:"imported_at,omitempty"`
	AcceptedAt    *time.Time      `json:"accepted_at,omitempty"`
	ClosedAt      *time.Time      `json:"closed_at,omitempty"`
	CloseReason   string          `json:"close_reason,omitempty"`
	LastReviewAt  *time.Time      `json:"last_review_at,omitempty"`
	NextReviewDue *time.Time      `json:"next_review_due"`
	Professionals []Professional  `json:"professionals"`
	Actions       []Action        `json:"actions"`
	Reviews       []Review        `json:"reviews"`
	RatingHistory []RatingChange  `json:"rating_history"`
	Notices       []NoticeSummary `json:"notices,omitempty"`
	// C(E)TRs, admissions, the keyworker and consent over time (issue 12).
	CETRs          []CETR          `json:"cetrs"`
	Admissions     []Admission     `json:"admissions"`
	Keyworker      Keyworker       `json:"keyworker"`
	ConsentHistory []ConsentRecord `json:"consent_history"`
	// Computed on read from the area's settings and today: eligible for a
	// keyworker, consent to record afresh (Parental Responsibility at 18),
	// and C(E)TR overdue.
	KeyworkerEligible bool `json:"keyworker_eligible"`
	ConsentNeeded     bool `json:"consent_needed"`
	CETROverdue       bool `json:"cetr_overdue"`
}

// Referrer is who made the referral.
type Referrer struct {
	Name         string `json:"name"`
	Email        string `json:"email"`
	Organisation string `json:"organisation"`
	Phone        string `json:"phone"`
	Relationship string `json:"relationship,omitempty"` // self-referrals: relationship to the person
}

// Consent records the basis on which the person is on the register.
type Consent struct {
	Basis      ConsentBasis `json:"basis"`
	RecordedOn string       `json:"recorded_on"` // YYYY-MM-DD
	RecordedBy string       `json:"recorded_by"`
	Details    string       `json:"details"`
}

// Professional is someone named on a person's record.
type Professional struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Organisation string `json:"organisation"`
	Email        string `json:"email"`
	ManagerEmail string `json:"manager_email,omitempty"`
}

// Action is one item of a person's action plan.
type Action struct {
	ID              string       `json:"id"`
	Description     string       `json:"description"`
	OwnerEmail      string       `json:"owner_email"`
	Due             time.Time    `json:"due"`
	Status          ActionStatus `json:"status"`
	Outcome         string       `json:"outcome,omitempty"`
	CreatedBy       string       `json:"created_by,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	ClosedAt        *time.Time   `json:"closed_at,omitempty"`
	EscalationLevel int          `json:"escalation_level"`
}

// Review is a DSR review held for a person.
type Review struct {
	ID            string    `json:"id"`
	HeldAt        time.Time `json:"held_at"`
	Rating        Rating    `json:"rag"`
	CurrentIssues string    `json:"current_issues"`
	Tried         string    `json:"tried"`
	CouldHelp     string    `json:"could_help"`
	Notes         string    `json:"notes"`
	Needs         []string  `json:"needs,omitempty"` // coded service needs, see Needs
	RecordedBy    string    `json:"recorded_by,omitempty"`
	// Suggested is the risk tool's rating when the review answered it;
	// RatingReason says why the rating chosen differs from it.
	Suggested    Rating `json:"suggested_rating,omitempty"`
	RatingReason string `json:"rating_reason,omitempty"`
}

// RatingChange is one entry of a person's rating history.
type RatingChange struct {
	From      Rating    `json:"from,omitempty"`
	To        Rating    `json:"to"`
	Reason    string    `json:"reason"`
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at"`
}

// NoticeSummary is a notice as the record shows it (no recipients' data).
type NoticeSummary struct {
	Kind     NoticeKind `json:"kind"`
	Occasion string     `json:"occasion"`
	Level    int        `json:"level"`
	Status   string     `json:"status"` // sending, sent, skipped
	DueAt    time.Time  `json:"due_at"`
	SentAt   *time.Time `json:"sent_at,omitempty"`
	// CreatedAt is when the notice was first claimed: a notice still
	// sending long after it is shown as waiting.
	CreatedAt time.Time `json:"created_at"`
	// Undelivered lists the addresses a mail server refused for good. Staff
	// addresses only: the person's own details are never mailed.
	Undelivered []string `json:"undelivered,omitempty"`
}

// Needs is the coded list of service needs ("could help") that reviews may
// tag, used for the anonymised service-gap report.
var Needs = []string{
	"respite", "intensive_support", "housing", "education_placement",
	"crisis_support", "keyworker", "psychiatry", "speech_and_language",
	"positive_behaviour_support", "occupational_therapy", "day_opportunities",
	"care_package", "other",
}
