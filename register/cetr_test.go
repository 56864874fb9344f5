package register

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func ld(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, London) }

func at(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, London).UTC() }

func cetrTiming() Timing {
	return Timing{ReminderLead: 3 * day, EscalateAfter: 2 * day, MaxEscalations: 2, CETR: DefaultCETRTiming()}
}

func TestBirthday(t *testing.T) {
	for _, c := range []struct {
		dob   time.Time
		years int
		want  time.Time
	}{
		{ld(2008, 6, 15), 18, ld(2026, 6, 15)},
		{ld(2008, 2, 29), 18, ld(2026, 3, 1)},  // not a leap year
		{ld(2008, 2, 29), 16, ld(2024, 2, 29)}, // a leap year
		{ld(2000, 2, 29), 100, ld(2100, 3, 1)}, // 2100 is not a leap year
		{ld(2008, 3, 1), 18, ld(2026, 3, 1)},
		{ld(2007, 12, 31), 18, ld(2025, 12, 31)},
	} {
		if got := Birthday(c.dob, c.years); !got.Equal(c.want) {
			t.Errorf("Birthday(%s, %d) = %s, want %s", c.dob.Format("2006-01-02"), c.years, got, c.want)
		}
	}
}

func TestChildOnTheDay(t *testing.T) {
	s := State{TransitionOn: TransitionOn(ld(2008, 2, 29))} // 18 on 1 March 2026
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{at(2026, 2, 28, 23), true},
		{ld(2026, 3, 1).UTC(), false}, // the first moment of the 18th birthday
		{at(2026, 3, 1, 12), false},
	} {
		if got := s.ChildOn(c.at); got != c.want {
			t.Errorf("ChildOn(%s) = %v, want %v", c.at, got, c.want)
		}
		if got := CETRName(s.ChildOn(c.at)); (got == "CETR") != c.want {
			t.Errorf("CETRName at %s = %s", c.at, got)
		}
	}
	if (State{}).ChildOn(at(2026, 1, 1, 0)) {
		t.Error("no transition date: taken as an adult")
	}
}

func TestAddWorkdaysEngland(t *testing.T) {
	for _, c := range []struct {
		name     string
		from     time.Time
		n        int
		want     time.Time
		workdays []time.Time
	}{
		{"plain week", at(2026, 1, 12, 10), 5, at(2026, 1, 19, 10), nil},
		// Good Friday 3 April 2026 and Easter Monday 6 April are bank holidays.
		{"over Easter", at(2026, 4, 1, 10), 5, at(2026, 4, 10, 10), nil},
		// Christmas Day (Fri) and Boxing Day (Sat, observed Mon 28) 2026.
		{"over Christmas", at(2026, 12, 23, 9), 5, at(2027, 1, 4, 9), nil},
		{"from a Saturday", at(2026, 1, 10, 10), 1, at(2026, 1, 12, 10), nil},
	} {
		if got := AddWorkdays(c.from, c.n); !got.Equal(c.want) {
			t.Errorf("%s: AddWorkdays = %s, want %s", c.name, got.In(London), c.want.In(London))
		}
	}
	for _, d := range []time.Time{ld(2026, 4, 3), ld(2026, 4, 6), ld(2026, 5, 4), ld(2026, 5, 25), ld(2026, 8, 31), ld(2026, 12, 28)} {
		if IsWorkday(d) {
			t.Errorf("%s is a bank holiday in England", d.Format("2 Jan 2006"))
		}
	}
	if !IsWorkday(ld(2026, 8, 3)) {
		t.Error("the first Monday of August is a bank holiday in Scotland only")
	}
	if got := FirstWorkday(2026, time.June); !got.Equal(ld(2026, 6, 1)) {
		t.Errorf("FirstWorkday June 2026 = %s", got)
	}
	if got := FirstWorkday(2027, time.January); !got.Equal(ld(2027, 1, 4)) { // 1 Jan Fri holiday, then a weekend
		t.Errorf("FirstWorkday January 2027 = %s", got)
	}
	if got := FirstWorkday(2026, time.August); !got.Equal(ld(2026, 8, 3)) {
		t.Errorf("FirstWorkday August 2026 = %s", got)
	}
}

func dueKinds(s State) []string {
	var out []string
	for _, d := range s.CETRs {
		out = append(out, string(d.Kind)+"@"+d.Due.In(London).Format("2006-01-02"))
	}
	slices.Sort(out)
	return out
}

func TestCETRClock(t *testing.T) {
	adultDOB, childDOB := ld(1990, 5, 1), ld(2012, 5, 1)
	amber := cetrTiming()
	amber.CETR.CommunityRatings = []Rating{Red, Amber}
	type step struct {
		to        Rating
		at        time.Time
		rootCause bool
	}
	for _, c := range []struct {
		name   string
		timing Timing
		dob    time.Time
		secure bool
		steps  []step
		held   *CETRKind
		heldAt time.Time
		want   []string
	}{
		{name: "red: community due within 14 days", timing: cetrTiming(), dob: adultDOB,
			steps: []step{{Red, at(2026, 3, 2, 10), false}}, want: []string{"community@2026-03-16"}},
		{name: "amber: nothing by default", timing: cetrTiming(), dob: adultDOB,
			steps: []step{{Amber, at(2026, 3, 2, 10), false}}, want: nil},
		{name: "amber where the area says so", timing: amber, dob: adultDOB,
			steps: []step{{Amber, at(2026, 3, 2, 10), false}}, want: []string{"community@2026-03-16"}},
		{name: "green drops the community review", timing: cetrTiming(), dob: adultDOB,
			steps: []step{{Red, at(2026, 3, 2, 10), false}, {Green, at(2026, 3, 4, 10), false}}, want: nil},
		{name: "adult admitted without a community C(E)TR: 4 weeks, flagged", timing: cetrTiming(), dob: adultDOB,
			steps: []step{{Red, at(2026, 3, 2, 10), false}, {Blue, at(2026, 3, 5, 10), true}}, want: []string{"post-admission@2026-04-02"}},
		{name: "child admitted: interim in 5 working days over Easter, 2 weeks", timing: cetrTiming(), dob: childDOB,
			steps: []step{{Blue, at(2026, 4, 1, 10), true}}, want: []string{"interim@2026-04-10", "post-admission@2026-04-15"}},
		{name: "blue to red to blue: community then post-admission again", timing: cetrTiming(), dob: adultDOB,
			steps: []step{{Blue, at(2026, 1, 5, 10), true}, {Red, at(2026, 2, 2, 10), false}, {Blue, at(2026, 2, 9, 10), true}},
			want:  []string{"post-admission@2026-03-09"}},
		{name: "17 on admission, 18 by the review: child's timescale from the day", timing: cetrTiming(), dob: ld(2008, 4, 3),
			steps: []step{{Blue, at(2026, 4, 2, 10), true}}, want: []string{"interim@2026-04-13", "post-admission@2026-04-16"}},
		{name: "18 on the day of admission: adult", timing: cetrTiming(), dob: ld(2008, 4, 2),
			steps: []step{{Blue, at(2026, 4, 2, 10), true}}, want: []string{"post-admission@2026-04-30"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := State{Status: Active, ReferredAt: at(2025, 1, 1, 0)}
			c.timing.StartClocks(&s, TransitionOn(c.dob), time.Time{}, at(2025, 1, 1, 0))
			for _, st := range c.steps {
				from := s.Rating
				s.Rating = st.to
				if got := c.timing.OnRating(&s, from, st.to, st.at); got != st.rootCause {
					t.Errorf("%s→%s root cause = %v, want %v", from, st.to, got, st.rootCause)
				}
			}
			if got := dueKinds(s); !slices.Equal(got, c.want) {
				t.Errorf("due = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCETRHeldAndInpatientRepeats(t *testing.T) {
	tm := cetrTiming()
	for _, c := range []struct {
		name   string
		dob    time.Time
		secure bool
		want   string
	}{
		{"adult non-secure: 6 months", ld(1990, 5, 1), false, "inpatient@2026-10-20"},
		{"adult secure: 12 months", ld(1990, 5, 1), true, "inpatient@2027-04-20"},
		{"child: 3 months", ld(2012, 5, 1), false, "inpatient@2026-07-20"},
		{"child secure: still 3 months", ld(2012, 5, 1), true, "inpatient@2026-07-20"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := State{Status: Active, ReferredAt: at(2025, 1, 1, 0)}
			tm.StartClocks(&s, TransitionOn(c.dob), time.Time{}, at(2025, 1, 1, 0))
			s.Rating = Blue
			tm.OnRating(&s, Red, Blue, at(2026, 4, 1, 10))
			s.Secure = c.secure
			var post CETRDue
			for _, d := range s.CETRs {
				if d.Kind == CETRPostAdmission {
					post = d
				}
			}
			tm.HeldCETR(&s, post.ID, CETRPostAdmission, at(2026, 4, 20, 10))
			got := dueKinds(s)
			if !slices.Contains(got, c.want) || slices.ContainsFunc(got, func(k string) bool { return k[:4] == "post" }) {
				t.Errorf("after post-admission held: %v, want %s", got, c.want)
			}
			// A hospital move: a new review within the post-admission window.
			tm.InpatientEvent(&s, at(2026, 5, 1, 10))
			if n := len(s.CETRs); n < 2 {
				t.Errorf("a hospital move adds a review due: %v", dueKinds(s))
			}
		})
	}
	// A community C(E)TR held within the look-back: the admission is not flagged.
	s := State{Status: Active, Rating: Red, ReferredAt: at(2025, 1, 1, 0)}
	tm.StartClocks(&s, TransitionOn(ld(1990, 1, 1)), time.Time{}, at(2026, 1, 5, 10))
	if len(s.CETRs) != 1 {
		t.Fatalf("red at start: %v", dueKinds(s))
	}
	tm.HeldCETR(&s, s.CETRs[0].ID, CETRCommunity, at(2026, 1, 10, 10))
	if len(s.CETRs) != 0 || !s.LastCommunityHeld.Equal(at(2026, 1, 10, 10)) {
		t.Fatalf("held: %v %s", dueKinds(s), s.LastCommunityHeld)
	}
	s.Rating = Blue
	if tm.OnRating(&s, Red, Blue, at(2026, 7, 9, 10)) {
		t.Error("held 6 months less a day before: not flagged")
	}
	s.Rating = Red
	tm.OnRating(&s, Blue, Red, at(2026, 7, 20, 10))
	s.Rating = Blue
	if !tm.OnRating(&s, Red, Blue, at(2026, 7, 11, 10).AddDate(0, 0, 1)) {
		t.Error("held more than 6 months before: flagged")
	}
}

func TestKeyworkerEligibility(t *testing.T) {
	tm := cetrTiming()
	dob := ld(2000, 6, 10) // 26 on 10 June 2026
	s := State{Status: Active, Rating: Amber, TransitionOn: TransitionOn(dob)}
	for _, c := range []struct {
		rating Rating
		at     time.Time
		want   bool
	}{
		{Amber, at(2026, 6, 9, 23), true},
		{Amber, ld(2026, 6, 10).UTC(), false},
		{Red, at(2026, 1, 1, 0), true},
		{Blue, at(2026, 1, 1, 0), true},
		{Green, at(2026, 1, 1, 0), false},
	} {
		s.Rating = c.rating
		if got := tm.KeyworkerEligible(s, c.at); got != c.want {
			t.Errorf("%s at %s: eligible %v, want %v", c.rating, c.at, got, c.want)
		}
	}
	s.Status = Discharged
	if tm.KeyworkerEligible(s, at(2026, 1, 1, 0)) {
		t.Error("off the register: not eligible")
	}
	// A leapling's 26th birthday is 1 March.
	leap := State{TransitionOn: TransitionOn(ld(2008, 2, 29))}
	if got := tm.KeyworkerUntil(leap); !got.Equal(ld(2034, 3, 1).UTC()) {
		t.Errorf("KeyworkerUntil leapling = %s", got)
	}
}

func notices(p Plan) []string {
	var out []string
	for _, n := range p.Send {
		out = append(out, string(n.Kind))
	}
	return out
}

func TestClockLadders(t *testing.T) {
	tm := cetrTiming()
	start := at(2026, 3, 2, 10)
	s := State{Status: Active, Rating: Red, ReferredAt: start.Add(-day)}
	// 17: 18th birthday on 1 May 2026, within the 90-day lead.
	tm.StartClocks(&s, TransitionOn(ld(2008, 5, 1)), time.Time{}, start)

	p := tm.PlanPerAudience(s, start)
	if got := notices(p); !slices.Contains(got, "keyworker-needed") || !slices.Contains(got, "transition-due") {
		t.Fatalf("at start: %v", got)
	}
	tm.Advance(&s, start)
	if got := notices(tm.PlanPerAudience(s, start.Add(time.Hour))); len(got) != 0 {
		t.Fatalf("nothing twice: %v", got)
	}
	due := s.CETRs[0].Due
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{due.Add(-3 * day), []string{"cetr-due"}},
		{due, []string{"cetr-overdue"}},
		{due.Add(2 * day), []string{"cetr-escalated"}},
		{due.Add(4 * day), []string{"cetr-escalated"}},
	} {
		if got := notices(tm.PlanPerAudience(s, c.at)); !slices.Equal(got, c.want) {
			t.Errorf("at %s: %v, want %v", c.at, got, c.want)
		}
		tm.Advance(&s, c.at)
	}
	// Rated green, then red again: the keyworker notice is once per episode.
	tm.OnRating(&s, Red, Green, due.Add(5*day))
	s.Rating = Red
	tm.OnRating(&s, Green, Red, due.Add(6*day))
	p = tm.PlanPerAudience(s, due.Add(6*day))
	if slices.Contains(notices(p), "keyworker-needed") {
		t.Error("keyworker-needed sent twice in one episode")
	}
	// Consent review a year (365 days) after consent.
	consent := addInterval(s.ConsentFrom, 365*day)
	if got := notices(tm.PlanPerAudience(s, consent)); !slices.Contains(got, "consent-review-due") {
		t.Errorf("consent review due at %s: %v", consent, got)
	}
	s.RenewConsent(consent)
	tm.Advance(&s, consent)
	if got := notices(tm.PlanPerAudience(s, consent.Add(day))); slices.Contains(got, "consent-review-due") {
		t.Error("renewed consent restarts the clock")
	}
	// A named keyworker: no keyworker-needed for a new episode either.
	s2 := State{Status: Active, Rating: Red, ReferredAt: start, Keyworker: true}
	tm.StartClocks(&s2, TransitionOn(ld(2008, 5, 1)), time.Time{}, start)
	if slices.Contains(notices(tm.PlanPerAudience(s2, start)), "keyworker-needed") {
		t.Error("keyworker named: none needed")
	}
	// An adult referred: no transition-due.
	s3 := State{Status: Active, Rating: Green, ReferredAt: start}
	tm.StartClocks(&s3, TransitionOn(ld(1990, 5, 1)), time.Time{}, start)
	if got := notices(tm.PlanPerAudience(s3, start.Add(400*day))); slices.Contains(got, "transition-due") || slices.Contains(got, "keyworker-needed") {
		t.Errorf("adult of 35: %v", got)
	}
	// Closed: nothing more.
	s.Close(Discharged)
	if got := notices(tm.PlanPerAudience(s, consent.Add(800*day))); len(got) != 0 {
		t.Errorf("closed: %v", got)
	}
	// The clocks off (an older workflow): none of these ladders.
	s4 := State{Status: Active, Rating: Red, ReferredAt: start, CETRs: []CETRDue{{ID: "x", Due: start}}}
	if got := notices(tm.PlanPerAudience(s4, start.Add(day))); len(got) != 0 {
		t.Errorf("clocks off: %v", got)
	}
}

func TestConsentNeeded(t *testing.T) {
	dob := ld(2008, 2, 29)
	for _, c := range []struct {
		basis ConsentBasis
		at    time.Time
		want  bool
	}{
		{ParentalResponsibility, at(2026, 2, 28, 12), false},
		{ParentalResponsibility, ld(2026, 3, 1).UTC(), true},
		{InformedConsent, ld(2026, 3, 1).UTC(), false},
	} {
		if got := ConsentNeeded(c.basis, dob, c.at); got != c.want {
			t.Errorf("%s at %s = %v", c.basis, c.at, got)
		}
	}
}

func TestAnnotate(t *testing.T) {
	tm := cetrTiming()
	now := at(2026, 6, 1, 12)
	due := at(2026, 5, 20, 10)
	held := at(2026, 2, 1, 10)
	p := Person{Status: Active, Rating: Red, DateOfBirth: "2008-03-01", Consent: Consent{Basis: ParentalResponsibility},
		CETRs: []CETR{
			{ID: "a", Kind: CETRCommunity, Status: CETRDueStatus, Due: &due},
			{ID: "b", Kind: CETRCommunity, Status: CETRHeld, HeldAt: &held},
		}}
	tm.Annotate(&p, now)
	if !p.CETROverdue || !p.CETRs[0].Overdue || p.CETRs[1].Overdue {
		t.Errorf("overdue: %+v", p.CETRs)
	}
	if p.CETRs[0].Name != "CTR" || p.CETRs[1].Name != "CETR" {
		t.Errorf("names by age on the day: %s %s", p.CETRs[0].Name, p.CETRs[1].Name)
	}
	if !p.KeyworkerEligible || !p.ConsentNeeded {
		t.Errorf("18, red, parental responsibility: eligible %v, consent needed %v", p.KeyworkerEligible, p.ConsentNeeded)
	}
	p.Rating = Green
	tm.Annotate(&p, now)
	if p.KeyworkerEligible {
		t.Error("green: not eligible")
	}
}

func TestRestoreClocks(t *testing.T) {
	tm := cetrTiming()
	now := at(2026, 6, 1, 12)
	due := CETRDue{ID: "community-x", Kind: CETRCommunity, Due: now.Add(5 * day), Ladder: Ladder{Occasion: "community-x"}}
	s := State{Status: Active, Rating: Red, ReferredAt: at(2026, 1, 1, 0)}
	tm.RestoreClocks(&s, ClockFacts{TransitionOn: TransitionOn(ld(2010, 1, 1)), CETRs: []CETRDue{due},
		Sent: []SentRung{{CETRDueNotice, "community-x", 0}, {KeyworkerNeeded, occasionOf(s.ReferredAt), 0}}}, now)
	if !s.Clocks || len(s.CETRs) != 1 || s.CETRs[0].Ladder.Done != 1 || s.KeyworkerLadder.Done != 1 {
		t.Fatalf("restored: %+v", s)
	}
	if got := notices(tm.PlanPerAudience(s, now)); slices.Contains(got, "keyworker-needed") || slices.Contains(got, "cetr-due") {
		t.Errorf("sent before: not again: %v", got)
	}
	// In hospital since before the clocks: no post-admission review invented, no flag.
	b := State{Status: Active, Rating: Blue, ReferredAt: at(2026, 1, 1, 0)}
	tm.RestoreClocks(&b, ClockFacts{TransitionOn: TransitionOn(ld(1980, 1, 1))}, now)
	if len(b.CETRs) != 0 || !b.AdmittedAt.Equal(now) {
		t.Errorf("blue restored: %+v", b)
	}
	// Referred: only the transition date.
	r := State{Status: Referred}
	tm.RestoreClocks(&r, ClockFacts{TransitionOn: TransitionOn(ld(2010, 1, 1))}, now)
	if r.Clocks || r.TransitionOn.IsZero() {
		t.Errorf("referred restored: %+v", r)
	}
}

// The consent clock runs from the day consent was recorded or its last
// renewal, the later.
func TestConsentFromRule(t *testing.T) {
	renewal := at(2026, 6, 3, 15)
	for _, c := range []struct {
		name       string
		recordedOn string
		renewed    time.Time
		want       time.Time
	}{
		{"recorded day, start of day in London (summer)", "2025-07-01", time.Time{}, time.Date(2025, 7, 1, 0, 0, 0, 0, London).UTC()},
		{"recorded day in winter", "2025-01-02", time.Time{}, time.Date(2025, 1, 2, 0, 0, 0, 0, London).UTC()},
		{"a later renewal wins", "2025-01-02", renewal, renewal},
		{"renewal recorded that same day wins (later in the day)", "2026-06-03", renewal, renewal},
		{"recorded day after the renewal wins", "2026-07-01", renewal, time.Date(2026, 7, 1, 0, 0, 0, 0, London).UTC()},
		{"no date: the renewal", "", renewal, renewal},
		{"unreadable date: the renewal", "02/01/2025", renewal, renewal},
		{"neither: zero (the clock starts with the clocks)", "", time.Time{}, time.Time{}},
	} {
		if got := ConsentFrom(c.recordedOn, c.renewed); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// Consent recorded 400 days before acceptance on a 365-day clock: the
// review is due at once, caught up once, and not sent again; the clock
// facts of a referred person carry the day to acceptance.
func TestConsentRecordedLongBeforeAcceptance(t *testing.T) {
	tm := cetrTiming()
	accepted := at(2026, 3, 2, 10)
	recorded := accepted.Add(-400 * day)
	s := State{Status: Referred, Rating: Green, ReferredAt: accepted.Add(-30 * day)}
	tm.RestoreClocks(&s, ClockFacts{TransitionOn: TransitionOn(ld(1990, 5, 1)), ConsentFrom: recorded}, accepted.Add(-30*day))
	if !s.ConsentFrom.Equal(recorded) {
		t.Fatalf("a referred person's clock facts keep the consent day: %s", s.ConsentFrom)
	}
	if got := notices(tm.PlanPerAudience(s, accepted.Add(-29*day))); slices.Contains(got, "consent-review-due") {
		t.Fatalf("no consent review before acceptance: %v", got)
	}
	s.Status = Active
	tm.StartClocks(&s, s.TransitionOn, s.ConsentFrom, accepted)
	got := tm.PlanPerAudience(s, accepted)
	if n := notices(got); !slices.Equal(n, []string{"consent-review-due"}) {
		t.Fatalf("at acceptance: %v, want consent-review-due at once", n)
	}
	if due := got.Send[0].DueAt; !due.Equal(addInterval(recorded, 365*day)) || !due.Before(accepted) {
		t.Errorf("due %s, want a year after %s (already past)", due, recorded)
	}
	tm.Advance(&s, accepted)
	for _, later := range []time.Duration{time.Minute, 30 * day, 300 * day} {
		if n := notices(tm.PlanPerAudience(s, accepted.Add(later))); slices.Contains(n, "consent-review-due") {
			t.Errorf("sent again %s later: %v", later, n)
		}
	}
}

// Restored clocks spread a consent review already past over the 28 days
// after, by the person's id; one not yet due is left alone; renewal
// clears the hold.
func TestSpreadConsent(t *testing.T) {
	tm := cetrTiming()
	now := at(2026, 3, 2, 10)
	days := map[time.Time]bool{}
	for i := range 40 {
		s := State{PersonID: fmt.Sprintf("person-%d", i), Status: Active, Clocks: true}
		s.RenewConsent(now.Add(-400 * day))
		tm.SpreadConsent(&s, now)
		nb := s.ConsentNotBefore
		if !nb.After(now.Add(day-time.Second)) || nb.After(now.Add(28*day)) {
			t.Fatalf("%s: held to %s, want 1 to 28 days after %s", s.PersonID, nb, now)
		}
		days[nb] = true
		again := State{PersonID: s.PersonID, Status: Active, Clocks: true}
		again.RenewConsent(now.Add(-400 * day))
		tm.SpreadConsent(&again, now)
		if !again.ConsentNotBefore.Equal(nb) {
			t.Errorf("%s: not the same day twice", s.PersonID)
		}
		if got := notices(tm.PlanPerAudience(s, now)); slices.Contains(got, "consent-review-due") {
			t.Errorf("%s: sent on the day", s.PersonID)
		}
		if got := notices(tm.PlanPerAudience(s, nb)); !slices.Contains(got, "consent-review-due") {
			t.Errorf("%s: not sent at %s: %v", s.PersonID, nb, got)
		}
		tm.Advance(&s, nb)
		if got := notices(tm.PlanPerAudience(s, nb.Add(30*day))); slices.Contains(got, "consent-review-due") {
			t.Errorf("%s: sent twice", s.PersonID)
		}
	}
	if len(days) < 10 {
		t.Errorf("40 people on %d days: not spread", len(days))
	}
	s := State{PersonID: "p", Status: Active, Clocks: true}
	s.RenewConsent(now.Add(-100 * day))
	tm.SpreadConsent(&s, now)
	if !s.ConsentNotBefore.IsZero() {
		t.Errorf("not yet due, held: %s", s.ConsentNotBefore)
	}
	s.RenewConsent(now.Add(-400 * day))
	tm.SpreadConsent(&s, now)
	s.RenewConsent(now)
	if !s.ConsentNotBefore.IsZero() {
		t.Error("renewal keeps the hold")
	}
}
