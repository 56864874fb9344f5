package register

import "time"

// CETR is one C(E)TR on a person's record.
type CETR struct {
	ID   string   `json:"id"`
	Kind CETRKind `json:"kind"`
	// Name is CTR or CETR: by the person's age on the day it was held, or
	// is booked or due.
	Name      string     `json:"name"`
	Status    CETRStatus `json:"status"`
	Due       *time.Time `json:"due,omitempty"`
	BookedFor *time.Time `json:"booked_for,omitempty"`
	HeldAt    *time.Time `json:"held_at,omitempty"`
	Chair     string     `json:"chair,omitempty"`
	Notes     string     `json:"notes,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
	// Overdue: due or booked, and past its due date.
	Overdue bool `json:"overdue"`
}

// Keyworker is a person's keyworker, or the date of the keyworker referral.
type Keyworker struct {
	Name       string `json:"name,omitempty"`
	Email      string `json:"email,omitempty"`
	ReferredOn string `json:"referred_on,omitempty"` // YYYY-MM-DD
}

// Named reports whether a keyworker is named or referred for.
func (k Keyworker) Named() bool { return k.Name != "" || k.ReferredOn != "" }

// Admission is one move to blue.
type Admission struct {
	AdmittedAt time.Time `json:"admitted_at"`
	// Preceded: a community C(E)TR or LAEP meeting was held in the
	// look-back before it. When not, a root-cause review is needed.
	Preceded         bool       `json:"preceded"`
	Secure           bool       `json:"secure"`
	RootCauseOutcome string     `json:"root_cause_outcome,omitempty"`
	RootCauseAt      *time.Time `json:"root_cause_at,omitempty"`
	LeftAt           *time.Time `json:"left_at,omitempty"`
}

// RootCauseNeeded reports whether this admission still waits for its
// root-cause review's outcome.
func (a Admission) RootCauseNeeded() bool { return !a.Preceded && a.RootCauseOutcome == "" }

// ConsentRecord is one renewal or withdrawal of consent.
type ConsentRecord struct {
	Event      string       `json:"event"` // renewed or withdrawn
	Basis      ConsentBasis `json:"basis,omitempty"`
	RecordedOn string       `json:"recorded_on"`
	RecordedBy string       `json:"recorded_by"`
	Details    string       `json:"details,omitempty"`
	RecordedAt time.Time    `json:"recorded_at"`
}

// CETRInput books, records or cancels a C(E)TR. ID names a due C(E)TR, or
// a new one (with its Kind).
type CETRInput struct {
	ID        string      `json:"id"`
	Kind      CETRKind    `json:"kind,omitempty"`
	BookedFor time.Time   `json:"booked_for,omitzero"`
	HeldAt    time.Time   `json:"held_at,omitzero"`
	Chair     string      `json:"chair,omitempty"`
	Notes     string      `json:"notes,omitempty"`
	Reason    string      `json:"reason,omitempty"`
	Actions   []NewAction `json:"actions,omitempty"` // recommendations
}

// ConsentInput renews or withdraws consent.
type ConsentInput struct {
	Withdraw   bool         `json:"withdraw,omitempty"`
	Basis      ConsentBasis `json:"basis,omitempty"`
	RecordedOn string       `json:"recorded_on"`
	RecordedBy string       `json:"recorded_by"`
	Details    string       `json:"details,omitempty"` // the reason, for a withdrawal
}

// InpatientInput is news of a person in hospital: the admission is secure
// (or not), they moved hospital, or a diagnosis was removed.
type InpatientInput struct {
	Secure *bool  `json:"secure,omitempty"`
	Event  string `json:"event,omitempty"` // hospital-move, diagnosis-removed
}

// Inpatient events that make a new review due.
const (
	EventHospitalMove     = "hospital-move"
	EventDiagnosisRemoved = "diagnosis-removed"
)

// RootCauseInput is the outcome of an admission's root-cause review.
type RootCauseInput struct {
	AdmittedAt time.Time `json:"admitted_at"`
	Outcome    string    `json:"outcome"`
}

// CETRDueRow is a C(E)TR the clock has due, as the store keeps it.
type CETRDueRow struct {
	ID   string    `json:"id"`
	Kind CETRKind  `json:"kind"`
	Due  time.Time `json:"due"`
}

// DueRows lists the state's due C(E)TRs for the store.
func (s State) DueRows() []CETRDueRow {
	out := make([]CETRDueRow, 0, len(s.CETRs))
	for _, d := range s.CETRs {
		out = append(out, CETRDueRow{ID: d.ID, Kind: d.Kind, Due: d.Due})
	}
	return out
}

// Annotate fills in what a record shows computed from the area's settings
// and the day: each C(E)TR's name (CTR or CETR by age on its day) and
// whether it is overdue, keyworker eligibility, and whether consent must
// be recorded afresh.
func (t Timing) Annotate(p *Person, now time.Time) {
	dob, err := ParseDOB(p.DateOfBirth)
	if err != nil {
		return // an unreadable date of birth is shown as it is
	}
	p.CETROverdue = false
	for i := range p.CETRs {
		c := &p.CETRs[i]
		day := c.CreatedAt
		for _, d := range []*time.Time{c.Due, c.BookedFor, c.HeldAt} {
			if d != nil {
				day = *d
			}
		}
		c.Name = CETRName(day.Before(TransitionOn(dob)))
		open := c.Status == CETRDueStatus || c.Status == CETRBooked
		c.Overdue = open && c.Due != nil && c.Due.Before(now) && p.Status == Active
		p.CETROverdue = p.CETROverdue || c.Overdue
	}
	s := State{Status: p.Status, Rating: p.Rating, TransitionOn: TransitionOn(dob)}
	p.KeyworkerEligible = t.KeyworkerEligible(s, now)
	p.ConsentNeeded = p.Status.Open() && ConsentNeeded(p.Consent.Basis, dob, now)
}
