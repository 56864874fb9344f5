package register

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/gb"
)

// CETRKind is a kind of Care (Education) and Treatment Review.
type CETRKind string

const (
	// CETRCommunity is a community CTR (adult) or CETR (under 18), held
	// before a possible admission.
	CETRCommunity CETRKind = "community"
	// CETRLAEP is a Local Area Emergency Protocol meeting, which stands in
	// for a community C(E)TR in an emergency.
	CETRLAEP CETRKind = "laep"
	// CETRPostAdmission is the review after an admission.
	CETRPostAdmission CETRKind = "post-admission"
	// CETRInterim is a child's interim review within working days of an
	// admission.
	CETRInterim CETRKind = "interim"
	// CETRInpatient is a repeat review while in hospital.
	CETRInpatient CETRKind = "inpatient"
)

// CETRKinds lists every kind.
var CETRKinds = []CETRKind{CETRCommunity, CETRLAEP, CETRPostAdmission, CETRInterim, CETRInpatient}

// Valid reports whether k is a known kind.
func (k CETRKind) Valid() bool { return slices.Contains(CETRKinds, k) }

// PreAdmission reports whether a review of this kind, held, counts as a
// community C(E)TR before an admission.
func (k CETRKind) PreAdmission() bool { return k == CETRCommunity || k == CETRLAEP }

// CETRStatus is where a C(E)TR is.
type CETRStatus string

const (
	CETRDueStatus CETRStatus = "due"
	CETRBooked    CETRStatus = "booked"
	CETRHeld      CETRStatus = "held"
	CETRCancelled CETRStatus = "cancelled"
)

// CETRName is "CETR" for a child or young person under 18 on the day and
// "CTR" for an adult.
func CETRName(child bool) string {
	if child {
		return "CETR"
	}
	return "CTR"
}

// CETRTiming is the configuration of the C(E)TR, keyworker, transition and
// consent clocks. Every figure is a default an area may change.
type CETRTiming struct {
	// CommunityWithin is how soon a community C(E)TR is due after a rating
	// in CommunityRatings (DSR_CETR_COMMUNITY_WITHIN).
	CommunityWithin  time.Duration `json:"community_within"`
	CommunityRatings []Rating      `json:"community_ratings"`
	// PostAdmissionAdult and PostAdmissionChild: the post-admission review
	// after an admission (policy: 4 weeks adults, 2 weeks children).
	PostAdmissionAdult time.Duration `json:"post_admission_adult"`
	PostAdmissionChild time.Duration `json:"post_admission_child"`
	// InterimWorkdays is the child's interim review, in working days in
	// England after the admission (policy: 5).
	InterimWorkdays int `json:"interim_workdays"`
	// Inpatient repeats, in months (policy: 6 adults non-secure, 12
	// secure, 3 children).
	InpatientAdultMonths  int `json:"inpatient_adult_months"`
	InpatientSecureMonths int `json:"inpatient_secure_months"`
	InpatientChildMonths  int `json:"inpatient_child_months"`
	// LookBackMonths: an admission with no community C(E)TR or LAEP held in
	// this many months before it is flagged for a root-cause review.
	LookBackMonths int `json:"look_back_months"`
	// KeyworkerMaxAge and KeyworkerRatings make a person eligible for a
	// keyworker (aged 25 or under; red, amber or blue).
	KeyworkerMaxAge  int      `json:"keyworker_max_age"`
	KeyworkerRatings []Rating `json:"keyworker_ratings"`
	// TransitionLead is how long before the 18th birthday transition-due
	// is sent.
	TransitionLead time.Duration `json:"transition_lead"`
	// ConsentReviewEvery is how long after consent was recorded it is
	// revisited.
	ConsentReviewEvery time.Duration `json:"consent_review_every"`
}

// DefaultCETRTiming is the national policy's figures with the local
// defaults documented in the README.
func DefaultCETRTiming() CETRTiming {
	const day = 24 * time.Hour
	return CETRTiming{
		CommunityWithin:       14 * day,
		CommunityRatings:      []Rating{Red},
		PostAdmissionAdult:    28 * day,
		PostAdmissionChild:    14 * day,
		InterimWorkdays:       5,
		InpatientAdultMonths:  6,
		InpatientSecureMonths: 12,
		InpatientChildMonths:  3,
		LookBackMonths:        6,
		KeyworkerMaxAge:       25,
		KeyworkerRatings:      []Rating{Red, Amber, Blue},
		TransitionLead:        90 * day,
		ConsentReviewEvery:    365 * day,
	}
}

// On reports whether the clocks are configured: a timing recorded before
// them (in an older workflow history) has none, and plans none of their
// notices.
func (c CETRTiming) On() bool { return c.KeyworkerMaxAge > 0 }

// CETRDue is a C(E)TR the clock says is due, as the workflow tracks it.
type CETRDue struct {
	ID     string    `json:"id"`
	Kind   CETRKind  `json:"kind"`
	Due    time.Time `json:"due"`
	Ladder Ladder    `json:"ladder"`
}

// Birthday is the date (midnight in London) on which someone born on dob
// turns years old. Someone born on 29 February has their birthday on
// 1 March in a year that is not a leap year, as the law of England reads
// it.
func Birthday(dob time.Time, years int) time.Time {
	y, m, d := dob.In(London).Date()
	ty := y + years
	if m == time.February && d == 29 && !isLeap(ty) {
		m, d = time.March, 1
	}
	return time.Date(ty, m, d, 0, 0, 0, 0, London)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// ParseDOB reads a date of birth written YYYY-MM-DD, in London.
func ParseDOB(s string) (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", s, London)
	if err != nil {
		return time.Time{}, fmt.Errorf("date of birth %q is not YYYY-MM-DD", s)
	}
	return d, nil
}

// TransitionOn is the 18th birthday: the move to the adult register. It is
// the only date derived from the date of birth that a workflow carries.
func TransitionOn(dob time.Time) time.Time { return Birthday(dob, 18).UTC() }

// ChildOn reports whether the person is under 18 at at (so their reviews
// are CETRs). Without a transition date the person is taken as an adult.
func (s State) ChildOn(at time.Time) bool {
	return !s.TransitionOn.IsZero() && at.Before(s.TransitionOn)
}

// KeyworkerUntil is when the person stops being young enough for a
// keyworker: the birthday after KeyworkerMaxAge, counted from the 18th
// birthday. (For someone born on 29 February whose 18th birthday is on
// 1 March, a configured age whose next birthday falls in a leap year would
// end a day late; with the default 25 the 26th birthday is never in a leap
// year for them.)
func (t Timing) KeyworkerUntil(s State) time.Time {
	if s.TransitionOn.IsZero() {
		return time.Time{}
	}
	return s.TransitionOn.In(London).AddDate(t.CETR.KeyworkerMaxAge+1-18, 0, 0).UTC()
}

// KeyworkerEligible reports whether the person is eligible for a keyworker
// at at: on the register, at or under the age, at one of the ratings.
func (t Timing) KeyworkerEligible(s State, at time.Time) bool {
	return s.Status == Active && slices.Contains(t.CETR.KeyworkerRatings, s.Rating) &&
		!s.TransitionOn.IsZero() && at.Before(t.KeyworkerUntil(s))
}

// englandCalendar is England and Wales's working days: Monday to Friday
// less the bank holidays (rickar/cal's gb list, which is maintained).
func englandCalendar() *cal.BusinessCalendar {
	c := cal.NewBusinessCalendar()
	c.AddHoliday(gb.Holidays...)
	return c
}

// IsWorkday reports whether the day at falls on in London is a working day
// in England.
func IsWorkday(at time.Time) bool { return englandCalendar().IsWorkday(at.In(London)) }

// AddWorkdays is the time n working days in England after from, at the
// same time of day in London.
func AddWorkdays(from time.Time, n int) time.Time {
	return englandCalendar().WorkdaysFrom(from.In(London), n).UTC()
}

// FirstWorkday is the first working day of the month of at (midnight, in
// London): when the monthly return is sent.
func FirstWorkday(year int, month time.Month) time.Time {
	d := time.Date(year, month, 1, 0, 0, 0, 0, London)
	c := englandCalendar()
	for !c.IsWorkday(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func addMonths(at time.Time, n int) time.Time { return at.In(London).AddDate(0, n, 0).UTC() }

// ConsentNeeded reports whether a record whose consent rests on basis, for
// someone born on dob, needs consent recorded afresh on the day at:
// Parental Responsibility ends at 18.
func ConsentNeeded(basis ConsentBasis, dob, at time.Time) bool {
	return basis == ParentalResponsibility && !at.Before(Birthday(dob, 18))
}

func cetrID(k CETRKind, due time.Time) string {
	return fmt.Sprintf("%s-%s", k, due.UTC().Format("20060102T150405Z"))
}

func (s *State) addCETR(k CETRKind, due time.Time) {
	id := cetrID(k, due)
	if slices.ContainsFunc(s.CETRs, func(c CETRDue) bool { return c.ID == id }) {
		return
	}
	s.CETRs = append(s.CETRs, CETRDue{ID: id, Kind: k, Due: due.UTC(), Ladder: Ladder{Occasion: id}})
}

func (s *State) dropCETRs(keep func(CETRDue) bool) {
	s.CETRs = slices.DeleteFunc(s.CETRs, func(c CETRDue) bool { return !keep(c) })
}

// OpenCETR returns the due C(E)TR with this id.
func (s State) OpenCETR(id string) (CETRDue, bool) {
	i := slices.IndexFunc(s.CETRs, func(c CETRDue) bool { return c.ID == id })
	if i < 0 {
		return CETRDue{}, false
	}
	return s.CETRs[i], true
}

// StartClocks turns the C(E)TR, keyworker, transition and consent clocks
// on for a person, as of at: what is due for their rating now, consent from
// when it was recorded (or at), and the keyworker ladder of this episode.
// It reports, for someone accepted as blue, whether that admission had no
// community C(E)TR before it (see OnRating).
func (t Timing) StartClocks(s *State, transitionOn, consentFrom, at time.Time) (rootCause bool) {
	s.Clocks = true
	s.TransitionOn = transitionOn.UTC()
	s.Transition = Ladder{Occasion: occasionOf(s.TransitionOn)}
	s.KeyworkerLadder = Ladder{Occasion: occasionOf(s.ReferredAt)}
	if s.Status == Active {
		if consentFrom.IsZero() {
			consentFrom = at
		}
		s.setConsentFrom(consentFrom)
		return t.OnRating(s, "", s.Rating, at)
	}
	return false
}

func (s *State) setConsentFrom(at time.Time) {
	s.ConsentFrom, s.ConsentNotBefore = at.UTC(), time.Time{}
	s.ConsentLadder = Ladder{Occasion: occasionOf(s.ConsentFrom)}
}

// ConsentFrom is when a person's consent clock runs from: the later of the
// day consent was recorded (the referral's or import's consent.recorded_on,
// YYYY-MM-DD, from the start of that day in London) and the last renewal
// recorded. A consent taken long before acceptance is due for review a
// year after it was taken, not a year after acceptance. Zero when neither
// is known (the clock then starts when the clocks do).
func ConsentFrom(recordedOn string, renewed time.Time) time.Time {
	from := renewed.UTC()
	if d, err := time.ParseInLocation(time.DateOnly, recordedOn, London); err == nil && d.After(from) {
		from = d.UTC()
	}
	return from
}

// consentSpreadDays is how many days restored clocks' consent reviews
// already past are spread over, as an import spreads lapsed amber reviews.
const consentSpreadDays = 28

// SpreadConsent holds back a consent review already past at at, when the
// clocks were restored from the record (an imported register, workflows
// taking up the clocks): sent on one of the consentSpreadDays days after
// at, chosen by a hash of the person's id, never all on the day. One
// person accepted with an old consent is not a herd: acceptance does not
// call this, and their review is due at once.
func (t Timing) SpreadConsent(s *State, at time.Time) {
	if s.ConsentFrom.IsZero() || t.CETR.ConsentReviewEvery <= 0 || addInterval(s.ConsentFrom, t.CETR.ConsentReviewEvery).After(at) {
		return
	}
	h := fnv.New32a()
	h.Write([]byte(s.PersonID))
	s.ConsentNotBefore = at.Add(time.Duration(1+h.Sum32()%consentSpreadDays) * 24 * time.Hour).UTC()
}

// RenewConsent restarts the consent clock from at.
func (s *State) RenewConsent(at time.Time) { s.setConsentFrom(at) }

// OnRating moves the C(E)TR and keyworker clocks for a rating change from
// `from` to `to` at at. It reports whether the change is an admission with
// no community C(E)TR or LAEP held in the look-back: one for a root-cause
// review.
func (t Timing) OnRating(s *State, from, to Rating, at time.Time) (rootCause bool) {
	if !s.Clocks {
		return false
	}
	at = at.UTC()
	c := t.CETR
	if from == Blue && to != Blue {
		// Discharged from hospital: the inpatient clocks stop.
		s.dropCETRs(func(d CETRDue) bool { return d.Kind.PreAdmission() })
		s.AdmittedAt, s.Secure = time.Time{}, false
	}
	if to == Blue && from != Blue {
		since := addMonths(at, -c.LookBackMonths)
		rootCause = s.LastCommunityHeld.IsZero() || s.LastCommunityHeld.Before(since)
		s.dropCETRs(func(d CETRDue) bool { return !d.Kind.PreAdmission() })
		s.AdmittedAt = at
		within := c.PostAdmissionAdult
		if s.ChildOn(at) {
			within = c.PostAdmissionChild
			if c.InterimWorkdays > 0 {
				s.addCETR(CETRInterim, AddWorkdays(at, c.InterimWorkdays))
			}
		}
		s.addCETR(CETRPostAdmission, at.Add(within))
	}
	inSet := slices.Contains(c.CommunityRatings, to)
	hasCommunity := slices.ContainsFunc(s.CETRs, func(d CETRDue) bool { return d.Kind.PreAdmission() })
	switch {
	case inSet && !hasCommunity && to != Blue:
		s.addCETR(CETRCommunity, at.Add(c.CommunityWithin))
	case !inSet && to != Blue:
		s.dropCETRs(func(d CETRDue) bool { return !d.Kind.PreAdmission() })
	}
	if slices.Contains(c.KeyworkerRatings, to) {
		if s.EligibleSince.IsZero() {
			s.EligibleSince = at
		}
	} else {
		s.EligibleSince = time.Time{}
	}
	return rootCause
}

// HeldCETR closes a due C(E)TR (id may be empty: one held without a due
// date, such as an LAEP meeting) and starts what follows it: a community
// C(E)TR or LAEP counts before a later admission; a post-admission or
// inpatient review held in hospital starts the inpatient repeat.
func (t Timing) HeldCETR(s *State, id string, k CETRKind, heldAt time.Time) {
	heldAt = heldAt.UTC()
	if id != "" {
		s.dropCETRs(func(d CETRDue) bool { return d.ID != id })
	}
	switch {
	case k.PreAdmission():
		if heldAt.After(s.LastCommunityHeld) {
			s.LastCommunityHeld = heldAt
		}
		s.dropCETRs(func(d CETRDue) bool { return !d.Kind.PreAdmission() })
	case (k == CETRPostAdmission || k == CETRInpatient) && s.Rating == Blue:
		s.dropCETRs(func(d CETRDue) bool { return d.Kind != CETRInpatient && d.Kind != CETRPostAdmission })
		s.addCETR(CETRInpatient, addMonths(heldAt, t.InpatientMonths(*s, heldAt)))
	}
}

// InpatientMonths is the inpatient repeat interval at at: children's,
// secure, or adults' non-secure.
func (t Timing) InpatientMonths(s State, at time.Time) int {
	switch {
	case s.ChildOn(at):
		return t.CETR.InpatientChildMonths
	case s.Secure:
		return t.CETR.InpatientSecureMonths
	}
	return t.CETR.InpatientAdultMonths
}

// CancelCETR stops the clock of a due C(E)TR.
func (s *State) CancelCETR(id string) bool {
	n := len(s.CETRs)
	s.dropCETRs(func(d CETRDue) bool { return d.ID != id })
	return len(s.CETRs) < n
}

// InpatientEvent is a hospital move or a removed diagnosis while in
// hospital: a new review is due within the post-admission window.
func (t Timing) InpatientEvent(s *State, at time.Time) {
	within := t.CETR.PostAdmissionAdult
	if s.ChildOn(at) {
		within = t.CETR.PostAdmissionChild
	}
	s.addCETR(CETRInpatient, at.UTC().Add(within))
}

func (t Timing) cetrRungs(person string, d CETRDue, child bool) []Notice {
	ns := []Notice{
		{Kind: CETRDueNotice, At: t.RemindAt(person, d.Due)},
		{Kind: CETROverdue, At: d.Due},
	}
	for l := 1; l <= t.MaxEscalations; l++ {
		ns = append(ns, Notice{Kind: CETREscalated, Level: l, At: d.Due.Add(time.Duration(l) * t.EscalateAfter)})
	}
	for i := range ns {
		ns[i].Occasion, ns[i].DueAt, ns[i].CETRKind, ns[i].Child = d.ID, d.Due, d.Kind, child
	}
	return ns
}

// clockLadders are the ladders of the C(E)TR, keyworker, transition and
// consent clocks, live only for an active person whose clocks are on.
func (t Timing) clockLadders(s *State) []ladderRungs {
	if !s.Clocks || s.Status != Active || !t.CETR.On() {
		return nil
	}
	var out []ladderRungs
	for i := range s.CETRs {
		out = append(out, ladderRungs{&s.CETRs[i].Ladder, t.cetrRungs(s.PersonID, s.CETRs[i], s.ChildOn(s.CETRs[i].Due))})
	}
	if !s.Keyworker && !s.EligibleSince.IsZero() && s.EligibleSince.Before(t.KeyworkerUntil(*s)) {
		out = append(out, ladderRungs{&s.KeyworkerLadder, []Notice{{Kind: KeyworkerNeeded,
			Occasion: s.KeyworkerLadder.Occasion, DueAt: s.EligibleSince, At: s.EligibleSince}}})
	}
	if !s.TransitionOn.IsZero() && s.TransitionOn.After(s.ReferredAt) && t.CETR.TransitionLead > 0 {
		out = append(out, ladderRungs{&s.Transition, []Notice{{Kind: TransitionDue,
			Occasion: s.Transition.Occasion, DueAt: s.TransitionOn, At: s.TransitionOn.Add(-t.CETR.TransitionLead)}}})
	}
	if !s.ConsentFrom.IsZero() && t.CETR.ConsentReviewEvery > 0 {
		due := addInterval(s.ConsentFrom, t.CETR.ConsentReviewEvery)
		send := due
		if s.ConsentNotBefore.After(send) {
			send = s.ConsentNotBefore
		}
		out = append(out, ladderRungs{&s.ConsentLadder, []Notice{{Kind: ConsentReviewDue,
			Occasion: s.ConsentLadder.Occasion, DueAt: due, At: send}}})
	}
	return out
}

// SentRung is a notice of the clocks already sent or skipped, from the
// outbox.
type SentRung struct {
	Kind     NoticeKind
	Occasion string
	Level    int
}

// ClockFacts is what the record says about a person's clocks, for a
// workflow starting them: the 18th birthday (never the date of birth), the
// open C(E)TRs due, the last community C(E)TR or LAEP held, the open
// admission, whether a keyworker is named, when consent was last renewed,
// and the clocks' notices already sent.
type ClockFacts struct {
	TransitionOn      time.Time  `json:"transition_on"`
	CETRs             []CETRDue  `json:"cetrs,omitempty"`
	LastCommunityHeld time.Time  `json:"last_community_held,omitzero"`
	AdmittedAt        time.Time  `json:"admitted_at,omitzero"`
	Secure            bool       `json:"secure,omitempty"`
	Keyworker         bool       `json:"keyworker,omitempty"`
	ConsentFrom       time.Time  `json:"consent_from,omitzero"`
	Sent              []SentRung `json:"sent,omitempty"`
}

// RestoreClocks turns on the clocks of a person already on the register
// (a workflow that ran before them, or one rebuilt from the record) from
// what the record says, as of at: the C(E)TRs due stay due; a rating that
// calls for a community C(E)TR with none due starts one; consent runs from
// its last renewal, or from at; the ladders keep the progress the outbox
// shows. A referred person gets only the transition date; the rest starts
// on acceptance.
func (t Timing) RestoreClocks(s *State, f ClockFacts, at time.Time) {
	s.TransitionOn = f.TransitionOn.UTC()
	if s.Status != Active {
		// Kept for acceptance to start the consent clock from (no ladder
		// runs before then: clockLadders is for active people only).
		s.ConsentFrom = f.ConsentFrom.UTC()
		return
	}
	s.LastCommunityHeld, s.AdmittedAt, s.Secure, s.Keyworker = f.LastCommunityHeld, f.AdmittedAt, f.Secure, f.Keyworker
	s.CETRs = append([]CETRDue(nil), f.CETRs...)
	t.StartClocks(s, s.TransitionOn, f.ConsentFrom, at)
	if s.Rating == Blue {
		// StartClocks planned a post-admission review as if just admitted;
		// an admission from before the clocks keeps what the record has.
		s.CETRs = append([]CETRDue(nil), f.CETRs...)
		s.AdmittedAt = f.AdmittedAt
		if s.AdmittedAt.IsZero() {
			s.AdmittedAt = at
		}
	}
	for _, r := range f.Sent {
		idx := RungIndex(r.Kind, r.Level)
		var l *Ladder
		switch r.Kind {
		case KeyworkerNeeded:
			l = &s.KeyworkerLadder
		case TransitionDue:
			l = &s.Transition
		case ConsentReviewDue:
			l = &s.ConsentLadder
		default:
			for i := range s.CETRs {
				if s.CETRs[i].ID == r.Occasion {
					l = &s.CETRs[i].Ladder
				}
			}
		}
		if l != nil && l.Occasion == r.Occasion && idx+1 > l.Done {
			l.Done = idx + 1
		}
	}
}
