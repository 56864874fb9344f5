package register

import (
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
)

// Timing is the configuration the planner needs. Workflows carry it, so it
// holds plain values only.
type Timing struct {
	ReviewEvery  map[Rating]time.Duration `json:"review_every"`
	ReminderLead time.Duration            `json:"reminder_lead"`
	// ReminderWindow, when set, spreads advance reminders over a daily
	// window (see Window); they are never later than ReminderLead allows.
	ReminderWindow Window        `json:"reminder_window,omitzero"`
	EscalateAfter  time.Duration `json:"escalate_after"`
	MaxEscalations int           `json:"max_escalations"`
	TriageWithin   time.Duration `json:"triage_within"`
	// RedAfterHospital is how long a person stays red after leaving hospital
	// (blue) before the rating may be lowered. Local practice; 0 means no rule.
	RedAfterHospital time.Duration `json:"red_after_hospital"`
	// PanelSchedule is a robfig/cron spec of DSR meeting slots (Europe/London);
	// when set, each review date moves to the first slot on or after it.
	PanelSchedule string `json:"panel_schedule,omitempty"`
	// CETR is the C(E)TR, keyworker, transition and consent clocks'
	// configuration; it applies to workflows whose clocks are on.
	CETR CETRTiming `json:"cetr,omitzero"`
	// Localities is the area's list, which a corrected locality must be on
	// (carried here so a workflow's validators read it deterministically).
	Localities Localities `json:"localities,omitempty"`
}

// ParseCron parses a robfig/cron expression: five fields, or a descriptor
// such as @every 1h or @weekly.
func ParseCron(spec string) (cron.Schedule, error) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("malformed cron expression %q: %w", spec, err)
	}
	return s, nil
}

// Interval is the time between reviews at rating r.
func (t Timing) Interval(r Rating) time.Duration { return t.ReviewEvery[r] }

// ReviewDueFrom is the review date for a review interval starting at from,
// moved to the next panel slot when a panel schedule is set.
func (t Timing) ReviewDueFrom(from time.Time, r Rating) time.Time {
	return t.AlignToPanel(addInterval(from, t.Interval(r)))
}

// addInterval adds whole days as calendar days in London, so a review set
// before the clocks change keeps its time of day; other durations as they are.
func addInterval(from time.Time, d time.Duration) time.Time {
	const day = 24 * time.Hour
	if d%day != 0 {
		return from.Add(d)
	}
	return from.In(London).AddDate(0, 0, int(d/day)).UTC()
}

// AlignToPanel moves a review date to the first DSR meeting slot on or
// after it, when a panel schedule is set.
func (t Timing) AlignToPanel(due time.Time) time.Time {
	if t.PanelSchedule == "" {
		return due
	}
	s, err := ParseCron(t.PanelSchedule)
	if err != nil {
		return due // validated at start; never reached in practice
	}
	// cron's Next is strictly after its argument (to the second), so step back
	// a nanosecond to let a slot exactly at due count.
	next := s.Next(due.In(London).Add(-time.Nanosecond))
	if next.IsZero() {
		return due
	}
	return next.UTC()
}

// Ladder is the progress through one series of notices about one occasion:
// Done rungs have been sent or skipped.
type Ladder struct {
	Occasion string `json:"occasion"`
	Done     int    `json:"done"`
}

// ActionState is an open action as the workflow tracks it: id and due only.
type ActionState struct {
	ID     string    `json:"id"`
	Due    time.Time `json:"due"`
	Ladder Ladder    `json:"ladder"`
}

// State is what a person's workflow carries: ids, times and ratings, never
// personal data.
type State struct {
	PersonID   string    `json:"person_id"`
	Status     Status    `json:"status"`
	Rating     Rating    `json:"rating,omitempty"`
	ReferredAt time.Time `json:"referred_at"`
	// TriageFrom, when later than ReferredAt, starts the triage deadline's
	// clock instead: a referral imported from the spreadsheet, which may
	// have waited there for weeks, gets the full time from its import.
	TriageFrom time.Time `json:"triage_from,omitzero"`
	// LastReviewAt anchors the review clock: the last review held, or the
	// acceptance onto the register.
	LastReviewAt time.Time `json:"last_review_at"`
	// HospitalLeftAt is when the rating last moved from blue to red.
	HospitalLeftAt time.Time     `json:"hospital_left_at"`
	ReviewDue      time.Time     `json:"review_due"`
	Review         Ladder        `json:"review"`
	Triage         Ladder        `json:"triage"`
	Actions        []ActionState `json:"actions,omitempty"`
	// Announced is set once referral-received has been sent.
	Announced bool `json:"announced"`
	// RecentUpdates are the ids of the last changes applied (ids only,
	// never their content), carried across continue-as-new: Temporal
	// recognises a repeated update id only within one run, and a client
	// retrying a change that landed just before the run continued must be
	// answered, not have it applied again.
	RecentUpdates []string `json:"recent_updates,omitempty"`

	// Clocks turns on the C(E)TR, keyworker, transition and consent
	// clocks (workflow version cetr-clocks); the fields below are theirs.
	Clocks bool `json:"clocks,omitempty"`
	// TransitionOn is the 18th birthday: the only date derived from the
	// date of birth that the workflow holds.
	TransitionOn time.Time `json:"transition_on,omitzero"`
	Transition   Ladder    `json:"transition,omitzero"`
	// CETRs are the C(E)TRs due, each with its ladder.
	CETRs []CETRDue `json:"cetrs,omitempty"`
	// AdmittedAt is when the rating last moved to blue; Secure marks a
	// secure admission.
	AdmittedAt time.Time `json:"admitted_at,omitzero"`
	Secure     bool      `json:"secure,omitempty"`
	// LastCommunityHeld is the last community C(E)TR or LAEP meeting held.
	LastCommunityHeld time.Time `json:"last_community_held,omitzero"`
	// Keyworker is set when a keyworker is named or a referral made.
	Keyworker bool `json:"keyworker,omitempty"`
	// EligibleSince is when the rating last became one that makes a young
	// person eligible for a keyworker; zero when it is not.
	EligibleSince   time.Time `json:"eligible_since,omitzero"`
	KeyworkerLadder Ladder    `json:"keyworker_ladder,omitzero"`
	// ConsentFrom is when consent was last recorded or renewed.
	ConsentFrom   time.Time `json:"consent_from,omitzero"`
	ConsentLadder Ladder    `json:"consent_ladder,omitzero"`
	// ConsentNotBefore holds back a consent review that was already past
	// when the clocks were restored from the record (an import, a running
	// workflow taking up the clocks): see SpreadConsent.
	ConsentNotBefore time.Time `json:"consent_not_before,omitzero"`
}

// MaxRecentUpdates bounds State.RecentUpdates.
const MaxRecentUpdates = 64

// NoteUpdate records an applied update id, keeping the last
// MaxRecentUpdates; the slice is new, so copies of the state never share it.
func (s *State) NoteUpdate(id string) {
	keep := s.RecentUpdates
	if len(keep) >= MaxRecentUpdates {
		keep = keep[len(keep)-MaxRecentUpdates+1:]
	}
	s.RecentUpdates = append(slices.Clone(keep), id)
}

// Applied reports whether an update id is among the recent ones.
func (s State) Applied(id string) bool { return id != "" && slices.Contains(s.RecentUpdates, id) }

// Notice is one email the planner decided on. Its key (person, kind,
// occasion, level) makes sending it idempotent.
type Notice struct {
	Kind     NoticeKind `json:"kind"`
	Occasion string     `json:"occasion"`
	Level    int        `json:"level"`
	ActionID string     `json:"action_id,omitempty"`
	// DueAt is the due date the notice is about; At when it was to be sent.
	DueAt time.Time `json:"due_at"`
	At    time.Time `json:"at"`
	// FromRating and ToRating describe a rag-changed notice.
	FromRating Rating `json:"from_rating,omitempty"`
	ToRating   Rating `json:"to_rating,omitempty"`
	// CETRKind and Child describe a cetr-* notice: the kind of review, and
	// whether the person is under 18 on its due day (a CETR, not a CTR).
	CETRKind CETRKind `json:"cetr_kind,omitempty"`
	Child    bool     `json:"child,omitempty"`
}

// Key identifies the notice for the outbox.
func (n Notice) Key(personID string) string {
	return fmt.Sprintf("%s/%s/%s/%d", personID, n.Kind, n.Occasion, n.Level)
}

// Plan is the planner's answer: what to send now, what fell due while the
// workflow slept and is superseded by a later rung of the same ladder, and
// when to wake next (zero: nothing is scheduled).
type Plan struct {
	Send []Notice
	Skip []Notice
	Wake time.Time
}

// occasionOf formats a time as a notice occasion.
func occasionOf(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rungs lists the ladder's notices in time order.
func (t Timing) reviewRungs(person string, due time.Time) []Notice {
	occ := occasionOf(due)
	ns := []Notice{
		{Kind: ReviewDue, Occasion: occ, DueAt: due, At: t.RemindAt(person, due)},
		{Kind: ReviewOverdue, Occasion: occ, DueAt: due, At: due},
	}
	for l := 1; l <= t.MaxEscalations; l++ {
		ns = append(ns, Notice{Kind: ReviewEscalated, Occasion: occ, Level: l, DueAt: due,
			At: due.Add(time.Duration(l) * t.EscalateAfter)})
	}
	return ns
}

func (t Timing) actionRungs(person string, a ActionState) []Notice {
	ns := []Notice{
		{Kind: ActionDue, Occasion: a.ID, ActionID: a.ID, DueAt: a.Due, At: t.RemindAt(person, a.Due)},
		{Kind: ActionOverdue, Occasion: a.ID, ActionID: a.ID, DueAt: a.Due, At: a.Due},
	}
	for l := 1; l <= t.MaxEscalations; l++ {
		ns = append(ns, Notice{Kind: ActionEscalated, Occasion: a.ID, ActionID: a.ID, Level: l, DueAt: a.Due,
			At: a.Due.Add(time.Duration(l) * t.EscalateAfter)})
	}
	return ns
}

func (t Timing) triageRungs(referredAt, from time.Time) []Notice {
	due := referredAt.Add(t.TriageWithin)
	if from.After(referredAt) {
		due = from.Add(t.TriageWithin)
	}
	return []Notice{{Kind: TriageOverdue, Occasion: occasionOf(referredAt), DueAt: due, At: due}}
}

// ladderRungs is one live ladder with its rungs.
type ladderRungs struct {
	ladder *Ladder
	rungs  []Notice
}

// ladders returns each live ladder of the state with its rungs.
func (t Timing) ladders(s *State) []ladderRungs {
	type lr = ladderRungs
	var out []lr
	switch s.Status {
	case Referred:
		out = append(out, lr{&s.Triage, t.triageRungs(s.ReferredAt, s.TriageFrom)})
	case Active:
		if !s.ReviewDue.IsZero() {
			out = append(out, lr{&s.Review, t.reviewRungs(s.PersonID, s.ReviewDue)})
		}
		for i := range s.Actions {
			out = append(out, lr{&s.Actions[i].Ladder, t.actionRungs(s.PersonID, s.Actions[i])})
		}
	}
	return append(out, t.clockLadders(s)...)
}

// PlanAt decides, for state s at time now, which notices to send, which to
// skip, and when to wake next. It does not change s; Advance does.
//
// Of several rungs of one ladder that are due, only the latest is sent: a
// worker that was down must not burst out a reminder, an overdue notice and
// three escalations at once. This is the first catch-up rule, kept for the
// workflows that started under it; new runs use PlanPerAudience.
func (t Timing) PlanAt(s State, now time.Time) Plan { return t.plan(s, now, false) }

// PlanPerAudience is PlanAt catching up per audience: of the rungs of one
// ladder that fell due together, the latest for each audience is sent (the
// named people hear the review is overdue, the managers get the escalation
// reached), and the rest are skipped. Nobody is told twice, and nobody who
// should have heard is passed over.
func (t Timing) PlanPerAudience(s State, now time.Time) Plan { return t.plan(s, now, true) }

func (t Timing) plan(s State, now time.Time, perAudience bool) Plan {
	var p Plan
	for _, l := range t.ladders(&s) {
		due := l.ladder.Done
		for due < len(l.rungs) && !l.rungs[due].At.After(now) {
			due++
		}
		if due > l.ladder.Done {
			caught := l.rungs[l.ladder.Done:due]
			for i, n := range caught {
				latest := i == len(caught)-1
				if perAudience {
					latest = !slices.ContainsFunc(caught[i+1:], func(m Notice) bool { return AudienceOf(m.Kind) == AudienceOf(n.Kind) })
				}
				if latest {
					p.Send = append(p.Send, n)
				} else {
					p.Skip = append(p.Skip, n)
				}
			}
		}
		if due < len(l.rungs) {
			p.Wake = earliest(p.Wake, l.rungs[due].At)
		}
	}
	return p
}

// Audience is who a notice goes to, as far as catching up is concerned.
type Audience string

const (
	// AudienceNamed is the named professionals (or the action's owner), with
	// the coordinators.
	AudienceNamed Audience = "named"
	// AudienceManagers is the managers and the coordinators: escalations.
	AudienceManagers Audience = "managers"
	// AudienceCoordinators is the coordinators alone.
	AudienceCoordinators Audience = "coordinators"
	// AudienceLeads is the C(E)TR leads and the coordinators.
	AudienceLeads Audience = "leads"
)

// AudienceOf tells who a notice of this kind is for.
func AudienceOf(k NoticeKind) Audience {
	switch k {
	case ReviewEscalated, ActionEscalated:
		return AudienceManagers
	case TriageOverdue, ReferralReceived, DeliveryFailed, KeyworkerNeeded, TransitionDue, ConsentReviewDue, CarriedAgain:
		return AudienceCoordinators
	case CETREscalated:
		return AudienceLeads
	}
	return AudienceNamed
}

// KeepProgress carries the ladder progress of cur into next wherever both
// track the same occasion: a change computed from a copy of the state must
// never undo a rung the workflow sent while the change was being written,
// or that rung would be planned, and sent, again.
func KeepProgress(next *State, cur State) {
	keep := func(n *Ladder, c Ladder) {
		if n.Occasion == c.Occasion && c.Done > n.Done {
			n.Done = c.Done
		}
	}
	keep(&next.Review, cur.Review)
	keep(&next.Triage, cur.Triage)
	for i := range next.Actions {
		if a, ok := cur.Action(next.Actions[i].ID); ok {
			keep(&next.Actions[i].Ladder, a.Ladder)
		}
	}
	for i := range next.CETRs {
		if d, ok := cur.OpenCETR(next.CETRs[i].ID); ok {
			keep(&next.CETRs[i].Ladder, d.Ladder)
		}
	}
	keep(&next.KeyworkerLadder, cur.KeyworkerLadder)
	keep(&next.Transition, cur.Transition)
	keep(&next.ConsentLadder, cur.ConsentLadder)
	next.Announced = next.Announced || cur.Announced
}

// Advance marks every rung that PlanAt(s, now) sent or skipped as done.
func (t Timing) Advance(s *State, now time.Time) {
	for _, l := range t.ladders(s) {
		for l.ladder.Done < len(l.rungs) && !l.rungs[l.ladder.Done].At.After(now) {
			l.ladder.Done++
		}
	}
}

// Upcoming lists the next notice of each live ladder, soonest first: what the
// schedule query and the record show as pending.
func (t Timing) Upcoming(s State) []Notice {
	var out []Notice
	for _, l := range t.ladders(&s) {
		if l.ladder.Done < len(l.rungs) {
			out = append(out, l.rungs[l.ladder.Done])
		}
	}
	slices.SortFunc(out, func(a, b Notice) int { return a.At.Compare(b.At) })
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// setReviewDue moves the review clock, restarting its ladder when the date
// changes.
func (s *State) setReviewDue(due time.Time) {
	if due.Equal(s.ReviewDue) {
		return
	}
	s.ReviewDue = due
	s.Review = Ladder{Occasion: occasionOf(due)}
}

// Accept puts a referred person on the register at rating r.
func (t Timing) Accept(s *State, r Rating, at time.Time) {
	s.Status = Active
	s.Rating = r
	s.LastReviewAt = at
	s.setReviewDue(t.ReviewDueFrom(at, r))
}

// Close ends the person's schedule (declined or discharged).
func (s *State) Close(st Status) {
	s.Status = st
	s.ReviewDue = time.Time{}
	s.Actions = nil
	s.CETRs = nil
}

// RecordReview restarts the review clock from a review held at heldAt.
func (t Timing) RecordReview(s *State, r Rating, heldAt time.Time) {
	t.noteHospital(s, r, heldAt)
	s.Rating = r
	s.LastReviewAt = heldAt
	s.setReviewDue(t.ReviewDueFrom(heldAt, r))
}

// ChangeRating changes the rating between reviews and re-plans at once: the
// next review falls one new interval after the last review, or after the
// change when that date has already passed.
func (t Timing) ChangeRating(s *State, r Rating, at time.Time) {
	t.noteHospital(s, r, at)
	s.Rating = r
	from := s.LastReviewAt
	if from.Add(t.Interval(r)).Before(at) {
		from = at
	}
	s.setReviewDue(t.ReviewDueFrom(from, r))
}

func (t Timing) noteHospital(s *State, r Rating, at time.Time) {
	if s.Rating == Blue && r == Red {
		s.HospitalLeftAt = at
	}
}

// AddAction starts an action's ladder.
func (s *State) AddAction(id string, due time.Time) {
	s.Actions = append(s.Actions, ActionState{ID: id, Due: due, Ladder: Ladder{Occasion: id}})
}

// CloseAction stops an action's ladder (done or cancelled).
func (s *State) CloseAction(id string) bool {
	i := slices.IndexFunc(s.Actions, func(a ActionState) bool { return a.ID == id })
	if i < 0 {
		return false
	}
	s.Actions = slices.Delete(s.Actions, i, i+1)
	return true
}

// Action returns the open action with this id.
func (s *State) Action(id string) (ActionState, bool) {
	i := slices.IndexFunc(s.Actions, func(a ActionState) bool { return a.ID == id })
	if i < 0 {
		return ActionState{}, false
	}
	return s.Actions[i], true
}

// urgency orders ratings by how soon they need attention.
func urgency(r Rating) int {
	switch r {
	case Blue:
		return 4
	case Red:
		return 3
	case Amber:
		return 2
	case Green:
		return 1
	}
	return 0
}

// CheckRatingChange applies the local rules on rating changes: from hospital
// (blue) a person returns as red, and stays red for RedAfterHospital before
// the rating may be lowered.
func (t Timing) CheckRatingChange(s State, to Rating, at time.Time) *Error {
	if !to.Valid() {
		return Invalidf("rag", "must be one of red, amber, green, blue")
	}
	if s.Rating == Blue && to != Red && to != Blue {
		return Invalidf("rag", "a person leaving hospital returns to the register as red first")
	}
	if s.Rating == Red && urgency(to) < urgency(Red) && t.RedAfterHospital > 0 && !s.HospitalLeftAt.IsZero() {
		if until := s.HospitalLeftAt.Add(t.RedAfterHospital); at.Before(until) {
			return Invalidf("rag", "after leaving hospital a person stays red until %s", until.In(London).Format("2 January 2006"))
		}
	}
	return nil
}
