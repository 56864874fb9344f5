package register

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultPanelCapacity is how many people a DSR meeting can discuss when
// the series says nothing else (DSR_PANEL_CAPACITY).
const DefaultPanelCapacity = 12

// DefaultMinutesPerPerson turns a meeting's length into a capacity when the
// series gives a length instead of a number of people. Local practice.
const DefaultMinutesPerPerson = 15

// Series is a meeting series: one area's rhythm of DSR meetings. Plain
// values only, so a workflow may carry it.
type Series struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Locality string `json:"locality,omitempty"`
	// Schedule is a robfig/cron spec read in Europe/London.
	Schedule string `json:"schedule"`
	// Capacity is how many people a meeting can discuss; 0 means work it
	// out from Length.
	Capacity int `json:"capacity,omitempty"`
	// Length is how long a meeting lasts; it also sets the end time of
	// the invitation (default one hour).
	Length    time.Duration `json:"length,omitempty"`
	Attendees []string      `json:"attendees,omitempty"`
	Place     string        `json:"place,omitempty"`
}

// EffectiveCapacity is the number of people one meeting of s can discuss.
func (s Series) EffectiveCapacity() int {
	if s.Capacity > 0 {
		return s.Capacity
	}
	if s.Length > 0 {
		return max(1, int(s.Length/(DefaultMinutesPerPerson*time.Minute)))
	}
	return DefaultPanelCapacity
}

// MeetingLength is how long each meeting lasts.
func (s Series) MeetingLength() time.Duration {
	if s.Length > 0 {
		return s.Length
	}
	return time.Hour
}

// CheckSeries validates a series as a coordinator gave it, naming each bad
// field.
func CheckSeries(s Series) *Error {
	fields := map[string]string{}
	CheckText(fields, "name", s.Name, 200, true)
	if strings.TrimSpace(s.Schedule) == "" {
		fields["schedule"] = "is required"
	} else if _, err := ParseCron(s.Schedule); err != nil {
		fields["schedule"] = "is not a cron schedule (five fields, or @weekly and the like)"
	}
	if s.Capacity < 0 || s.Capacity > 200 {
		fields["capacity"] = "must be between 1 and 200 people"
	}
	if s.Length < 0 || s.Length > 12*time.Hour {
		fields["length"] = "must be at most 12 hours"
	}
	if s.Capacity == 0 && s.Length == 0 {
		fields["capacity"] = "give a number of people or a length"
	}
	for i, a := range s.Attendees {
		CheckEmail(fields, fmt.Sprintf("attendees[%d]", i), a, true)
	}
	CheckText(fields, "place", s.Place, 500, false)
	CheckText(fields, "locality", s.Locality, 100, false)
	if len(fields) > 0 {
		return &Error{Kind: KindInvalid, Message: "the meeting series is not valid", Fields: fields}
	}
	return nil
}

// Meeting is one occurrence of a series: a scheduled slot, or an extra
// (urgent) meeting a coordinator added.
type Meeting struct {
	// ID is stable for the occurrence: the series and the slot's original
	// start, so the invitation's UID survives the meeting being moved.
	ID        string    `json:"id"`
	SeriesID  string    `json:"series_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Capacity  int       `json:"capacity"`
	Extra     bool      `json:"extra,omitempty"`
	Cancelled bool      `json:"cancelled,omitempty"`
}

// MeetingID is the stable id of the slot of series at start.
func MeetingID(seriesID string, start time.Time) string {
	return seriesID + "-" + start.UTC().Format("20060102T150405Z")
}

// SlotChange is a coordinator's change to one slot: cancelled, or moved to
// another start (or both).
type SlotChange struct {
	Slot      time.Time `json:"slot"` // the slot's scheduled start
	Start     time.Time `json:"start,omitzero"`
	Cancelled bool      `json:"cancelled,omitempty"`
}

// MaxOccurrences bounds one listing of a series' meetings: a schedule of
// every minute (a test's) must not list a year of them.
const MaxOccurrences = 1000

// Occurrences lists the meetings of s that start in [from, to): the cron
// slots (read in London, so a 10:00 meeting stays at 10:00 when the clocks
// change), with the coordinator's changes applied and the extra meetings
// merged in, in order of start; at most MaxOccurrences slots.
func (s Series) Occurrences(from, to time.Time, changes []SlotChange, extras []Meeting) ([]Meeting, error) {
	sched, err := ParseCron(s.Schedule)
	if err != nil {
		return nil, err
	}
	length, capacity := s.MeetingLength(), s.EffectiveCapacity()
	var out []Meeting
	// cron's Next is strictly after its argument.
	for t := sched.Next(from.In(London).Add(-time.Nanosecond)); !t.IsZero() && t.Before(to); t = sched.Next(t) {
		m := Meeting{ID: MeetingID(s.ID, t), SeriesID: s.ID, Start: t.UTC(), Capacity: capacity}
		for _, c := range changes {
			if c.Slot.Equal(t) {
				m.Cancelled = c.Cancelled
				if !c.Start.IsZero() {
					m.Start = c.Start.UTC()
				}
			}
		}
		m.End = m.Start.Add(length)
		out = append(out, m)
		if len(out) >= MaxOccurrences {
			to = m.Start // the extras too stop here, so the list has no gap
			break
		}
	}
	for _, e := range extras {
		if !e.Start.Before(from) && e.Start.Before(to) {
			e.Extra = true
			if e.End.IsZero() {
				e.End = e.Start.Add(length)
			}
			if e.Capacity == 0 {
				e.Capacity = capacity
			}
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Meeting) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// NextRegular is the first meeting after m in ms (sorted) that is held and
// is not an extra one: where the overflow of m goes. ok is false when the
// list holds none.
func NextRegular(ms []Meeting, m Meeting) (Meeting, bool) {
	for _, n := range ms {
		if n.Start.After(m.Start) && !n.Cancelled && !n.Extra && n.ID != m.ID {
			return n, true
		}
	}
	return Meeting{}, false
}

// Candidate is a person the agenda planner considers: ids, dates and the
// rating only, nothing personal.
type Candidate struct {
	PersonID string    `json:"person_id"`
	Status   Status    `json:"status"`
	Rating   Rating    `json:"rating,omitempty"`
	Due      time.Time `json:"due"` // review due; for a referral, its triage deadline
	// Escalated is set when a C(E)TR or an action of the person's has been
	// escalated: they come onto the agenda whatever their review date.
	Escalated bool `json:"escalated,omitempty"`
	// Carried is how many meetings in a row the person has been carried
	// over from, up to now (0: discussed at the last one they were on).
	Carried int `json:"carried,omitempty"`
	// Professionals are the emails of the professionals named for the
	// person: each sees only their own people behind the agenda's link.
	Professionals []string `json:"professionals,omitempty"`
}

// Reason says why a person is on an agenda.
type Reason string

const (
	ReasonReviewDue Reason = "review-due"
	ReasonTriage    Reason = "triage"
	ReasonEscalated Reason = "escalated"
	ReasonAdded     Reason = "added" // by the coordinator
)

// AgendaItem is one person on an agenda.
type AgendaItem struct {
	PersonID    string `json:"person_id"`
	Reason      Reason `json:"reason"`
	Rating      Rating `json:"rating,omitempty"`
	DaysOverdue int    `json:"days_overdue"`
	Carried     int    `json:"carried,omitempty"`
}

// Carry is a person moved to the next meeting: their review date becomes
// that meeting's start.
type Carry struct {
	PersonID string    `json:"person_id"`
	To       string    `json:"to"` // meeting id; empty when no next meeting is known
	Due      time.Time `json:"due"`
	// Times is how many meetings in a row the person has now been carried
	// from; TellCoordinator is set from the second.
	Times           int  `json:"times"`
	TellCoordinator bool `json:"tell_coordinator,omitempty"`
}

// Edits are a coordinator's changes to a planned agenda before it is sent.
type Edits struct {
	Add    []string `json:"add,omitempty"`    // people to put on, in this order after the ordered ones
	Remove []string `json:"remove,omitempty"` // people to take off (not carried)
	Order  []string `json:"order,omitempty"`  // people to put first, in this order
}

// Agenda is the planner's answer for one meeting.
type Agenda struct {
	MeetingID string       `json:"meeting_id"`
	Items     []AgendaItem `json:"items"`
	Carried   []Carry      `json:"carried,omitempty"`
}

// londonDay is the calendar day of t in London, as a day count.
func londonDay(t time.Time) int {
	y, m, d := t.In(London).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DaysBetween counts London calendar days from a to b: a clock change in
// between does not make a day of 23 or 25 hours count differently.
func DaysBetween(a, b time.Time) int { return londonDay(b) - londonDay(a) }

// reasonFor says why c comes onto an agenda for meeting m, or "" when it
// does not.
func reasonFor(c Candidate, m Meeting) Reason {
	switch {
	case !c.Status.Open():
		return ""
	case c.Escalated:
		return ReasonEscalated
	case m.Extra:
		return "" // an extra meeting takes the urgent and the added only
	case c.Status == Referred:
		return ReasonTriage
	case !c.Due.IsZero() && londonDay(c.Due) <= londonDay(m.Start):
		return ReasonReviewDue
	}
	return ""
}

// overdue is how many days c's date is past by meeting m's day.
func overdue(c Candidate, m Meeting) int {
	if c.Due.IsZero() {
		return 0
	}
	return max(0, DaysBetween(c.Due, m.Start))
}

// class orders the ratings for the agenda: blue, then red, then the rest.
func class(r Rating) int {
	switch r {
	case Blue:
		return 0
	case Red:
		return 1
	}
	return 2
}

// lesser orders amber before green, and both before an unrated referral.
func lesser(r Rating) int {
	switch r {
	case Amber:
		return 0
	case Green:
		return 1
	}
	return 2
}

// PlanAgenda decides meeting m's agenda from the candidates: who comes on
// (review due on or before the meeting's day, referrals awaiting triage,
// anyone escalated), in order (blue, red, then those carried over before,
// then by days overdue, then amber, then green; ties by the earlier date,
// then id), with the coordinator's edits applied, cut at m's capacity.
// Whoever does not fit is carried to next (the following regular meeting)
// with their review date set to its start. A cancelled meeting carries
// everyone. An extra meeting carries nobody: those left off stay due for
// the next regular one.
func PlanAgenda(m Meeting, next *Meeting, cands []Candidate, ed Edits) Agenda {
	ag := Agenda{MeetingID: m.ID}
	byID := make(map[string]Candidate, len(cands))
	for _, c := range cands {
		byID[c.PersonID] = c
	}
	removed := make(map[string]bool, len(ed.Remove))
	for _, id := range ed.Remove {
		removed[id] = true
	}
	var items []AgendaItem
	seen := map[string]bool{}
	add := func(c Candidate, why Reason) {
		if seen[c.PersonID] || removed[c.PersonID] {
			return
		}
		seen[c.PersonID] = true
		it := AgendaItem{PersonID: c.PersonID, Reason: why, Rating: c.Rating, Carried: c.Carried}
		it.DaysOverdue = overdue(c, m)
		items = append(items, it)
	}
	var ruled []Candidate
	for _, c := range cands {
		if why := reasonFor(c, m); why != "" {
			ruled = append(ruled, c)
		}
	}
	slices.SortStableFunc(ruled, func(a, b Candidate) int {
		return cmp.Or(
			cmp.Compare(class(a.Rating), class(b.Rating)),
			cmp.Compare(b.Carried, a.Carried),
			cmp.Compare(overdue(b, m), overdue(a, m)),
			cmp.Compare(lesser(a.Rating), lesser(b.Rating)),
			a.Due.Compare(b.Due),
			strings.Compare(a.PersonID, b.PersonID),
		)
	})
	// The coordinator's order first, then the rule's, then their additions.
	for _, id := range ed.Order {
		if c, ok := byID[id]; ok && c.Status.Open() {
			why := reasonFor(c, m)
			if why == "" {
				why = ReasonAdded
			}
			add(c, why)
		}
	}
	for _, c := range ruled {
		add(c, reasonFor(c, m))
	}
	for _, id := range ed.Add {
		if c, ok := byID[id]; ok && c.Status.Open() {
			add(c, ReasonAdded)
		}
	}
	capacity := m.Capacity
	if m.Cancelled {
		capacity = 0
	}
	if capacity < 0 {
		capacity = 0
	}
	if len(items) <= capacity {
		ag.Items = items
		return ag
	}
	ag.Items = items[:capacity:capacity]
	if m.Extra {
		return ag
	}
	for _, it := range items[capacity:] {
		ag.Carried = append(ag.Carried, CarryTo(it.PersonID, it.Carried, next))
	}
	return ag
}

// CarryTo carries a person (carried times in a row before) to next: the
// same rule for the overflow of an agenda and for "not discussed".
func CarryTo(personID string, carried int, next *Meeting) Carry {
	c := Carry{PersonID: personID, Times: carried + 1}
	c.TellCoordinator = c.Times >= 2
	if next != nil {
		c.To, c.Due = next.ID, next.Start
	}
	return c
}

// ForProfessional is the part of an agenda a professional may see: the
// people they are named for.
func ForProfessional(ag Agenda, email string, cands []Candidate) []AgendaItem {
	mine := map[string]bool{}
	for _, c := range cands {
		for _, p := range c.Professionals {
			if strings.EqualFold(p, email) {
				mine[c.PersonID] = true
			}
		}
	}
	var out []AgendaItem
	for _, it := range ag.Items {
		if mine[it.PersonID] {
			out = append(out, it)
		}
	}
	return out
}

// Recipients lists who gets the agenda: the standing attendees and every
// professional named for someone on it, each once (case-insensitively),
// standing attendees first.
func Recipients(s Series, ag Agenda, cands []Candidate) []string {
	on := map[string]bool{}
	for _, it := range ag.Items {
		on[it.PersonID] = true
	}
	seen := map[string]bool{}
	var out []string
	addr := func(a string) {
		k := strings.ToLower(strings.TrimSpace(a))
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, strings.TrimSpace(a))
		}
	}
	for _, a := range s.Attendees {
		addr(a)
	}
	var prof []string
	for _, c := range cands {
		if on[c.PersonID] {
			prof = append(prof, c.Professionals...)
		}
	}
	slices.SortFunc(prof, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, a := range prof {
		addr(a)
	}
	return out
}

// CarriedAgain tells the coordinators that a person has been carried over
// from two meetings in a row.
const CarriedAgain NoticeKind = "carried-again"

// ChangeMoveReview is a person's review date moved to a DSR meeting's date:
// carried over because the meeting was full, or not discussed at it.
const ChangeMoveReview ChangeKind = "move-review"

// CheckMoveReview refuses moving the review date of someone not on the
// register, or to a date already past.
func CheckMoveReview(s State, due, now time.Time) *Error {
	if s.Status != Active {
		return Invalidf("status", "only a person on the register has a review date")
	}
	if due.IsZero() || !due.After(now) {
		return Invalidf("due", "must be a future meeting's date")
	}
	return nil
}

// MoveReview sets the review date to due (a meeting's start): the review
// ladder restarts, so reminders name the real date.
func (s *State) MoveReview(due time.Time) { s.setReviewDue(due.UTC()) }
