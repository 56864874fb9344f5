package workflows

import (
	"go.temporal.io/sdk/workflow"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/register"
)

// clockTiming is the test timing with the C(E)TR clocks on: a community
// C(E)TR within 14 days of red, keyworkers to 25, transition 90 days ahead,
// consent yearly.
func clockTiming() register.Timing {
	tm := timing()
	tm.CETR = register.DefaultCETRTiming()
	return tm
}

func dob(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, register.London)
}

func clockHarness(t *testing.T, born time.Time) *harness {
	h := newHarnessTiming(t, referred(), clockTiming())
	h.rec.clocks = register.ClockFacts{TransitionOn: register.TransitionOn(born)}
	return h
}

func (h *harness) sentKinds(prefix string) []string {
	var out []string
	for _, s := range h.rec.sent {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func (h *harness) wantKinds(prefix string, want ...string) {
	h.t.Helper()
	if got := h.sentKinds(prefix); !slices.Equal(got, want) {
		h.t.Errorf("%s*:\n got  %v\n want %v", prefix, got, want)
	}
}

// Red: the community C(E)TR's ladder, once, up to the escalations.
func TestRedCETRLadder(t *testing.T) {
	h := clockHarness(t, dob(1990, 5, 1))
	h.update(0, UpdateTriage, accept(register.Red), "")
	h.run(Input{PersonID: "p1"}, 30*day)
	h.wantKinds("cetr-", "cetr-due@11d", "cetr-overdue@14d", "cetr-escalated#1@16d", "cetr-escalated#2@18d", "cetr-escalated#3@20d")
	first := h.rec.changes[0]
	if !first.Clocks || len(first.CETRDue) != 1 || first.CETRDue[0].Kind != register.CETRCommunity {
		t.Errorf("acceptance's change: %+v", first)
	}
}

// Booked, then held before it is due: no overdue; its recommendation is an
// action on the ladder.
func TestCETRHeldStopsTheLadder(t *testing.T) {
	h := clockHarness(t, dob(1990, 5, 1))
	h.update(0, UpdateTriage, accept(register.Red), "")
	id := "community-" + t0.Add(14*day).UTC().Format("20060102T150405Z")
	h.update(day, UpdateBookCETR, CETRRequest{Actor: admin, CETR: register.CETRInput{ID: id, BookedFor: t0.Add(9 * day)}}, "")
	h.update(2*day, UpdateRecordCETR, CETRRequest{Actor: admin, CETR: register.CETRInput{ID: "other"}}, "kind")
	h.update(9*day, UpdateRecordCETR, CETRRequest{Actor: admin, CETR: register.CETRInput{ID: id, HeldAt: t0.Add(9 * day), Chair: "Dr A",
		Actions: []register.NewAction{{ID: "rec1", Description: "intensive support", OwnerEmail: "sw@example.org", Due: t0.Add(20 * day)}}}}, "")
	h.update(10*day, UpdateCancelCETR, CETRRequest{Actor: admin, CETR: register.CETRInput{ID: id}}, "reason")
	h.run(Input{PersonID: "p1"}, 25*day)
	h.wantKinds("cetr-")
	h.wantKinds("action-", "action-due@17d", "action-overdue@20d", "action-escalated#1@22d", "action-escalated#2@24d")
}

// Admitted (blue) with no community C(E)TR: the admission is flagged; a
// child's interim review in 5 working days and post-admission in 2 weeks.
func TestBlueWithoutCETRIsFlagged(t *testing.T) {
	h := clockHarness(t, dob(2012, 5, 1))
	h.update(0, UpdateTriage, accept(register.Amber), "")
	h.update(2*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Blue, Reason: "admitted"}, "")
	h.update(3*day, UpdateInpatient, InpatientRequest{Actor: admin, Inpatient: register.InpatientInput{Event: "fell over"}}, "event")
	secure := true
	h.update(3*day, UpdateInpatient, InpatientRequest{Actor: admin, Inpatient: register.InpatientInput{Secure: &secure}}, "")
	h.update(4*day, UpdateRootCause, RootCauseRequest{Actor: admin, RootCause: register.RootCauseInput{AdmittedAt: t0.Add(2 * day)}}, "outcome")
	h.update(4*day, UpdateRootCause, RootCauseRequest{Actor: admin, RootCause: register.RootCauseInput{AdmittedAt: t0.Add(2 * day), Outcome: "no crisis bed"}}, "")
	h.run(Input{PersonID: "p1"}, 20*day)
	var blue register.Change
	for _, c := range h.rec.changes {
		if c.Kind == register.ChangeRating {
			blue = c
		}
	}
	if !blue.Admitted || blue.Preceded {
		t.Errorf("admission not flagged: %+v", blue)
	}
	// 7 Jan 2026 (Wed) + 5 working days = 14 Jan; + 14 days = 21 Jan.
	kinds := map[register.CETRKind]bool{}
	for _, d := range blue.CETRDue {
		kinds[d.Kind] = true
	}
	if !kinds[register.CETRInterim] || !kinds[register.CETRPostAdmission] {
		t.Errorf("child admitted: %+v", blue.CETRDue)
	}
	t.Logf("sent %v", h.rec.sent)
	h.wantKinds("cetr-due", "cetr-due@6d", "cetr-due@13d")
	// An amber person is eligible: the keyworker notice at acceptance, once.
	h.wantKinds("keyworker", "keyworker-needed@0d")
}

// 17 and three months: transition-due 90 days before the 18th birthday.
func TestTransitionDue(t *testing.T) {
	h := clockHarness(t, dob(2008, 4, 5)) // 18 on 5 April 2026: 90 days before is 5 January
	h.update(0, UpdateTriage, accept(register.Green), "")
	h.run(Input{PersonID: "p1"}, 10*day)
	h.wantKinds("transition", "transition-due@0d")
	h.wantKinds("keyworker")
}

// A keyworker named before eligibility: no keyworker-needed; a named
// keyworker is on the record only (the store sends them the reminders).
func TestKeyworkerNamedNoNotice(t *testing.T) {
	h := clockHarness(t, dob(2005, 5, 1))
	h.update(0, UpdateTriage, accept(register.Green), "")
	h.update(day, UpdateKeyworker, KeyworkerRequest{Actor: admin, Keyworker: register.Keyworker{Email: "kw@example.org"}}, "name")
	h.update(day, UpdateKeyworker, KeyworkerRequest{Actor: admin, Keyworker: register.Keyworker{ReferredOn: "5 Jan"}}, "referred_on")
	h.update(2*day, UpdateKeyworker, KeyworkerRequest{Actor: admin, Keyworker: register.Keyworker{Name: "Kay Worker", Email: "kw@example.org"}}, "")
	h.update(3*day, UpdateChangeRating, RatingRequest{Actor: admin, Rating: register.Red, Reason: "crisis"}, "")
	h.run(Input{PersonID: "p1"}, 5*day)
	h.wantKinds("keyworker")
}

// Consent: reviewed a year on; renewed restarts the clock; withdrawn takes
// the person off the register and nothing is sent after.
func TestConsentReviewAndWithdrawal(t *testing.T) {
	h := clockHarness(t, dob(1990, 5, 1))
	h.update(0, UpdateTriage, accept(register.Green), "")
	h.update(day, UpdateConsent, ConsentRequest{Actor: admin, Consent: register.ConsentInput{Basis: "nod", RecordedOn: "2026-01-06", RecordedBy: "x"}}, "basis")
	h.update(366*day, UpdateConsent, ConsentRequest{Actor: admin, Consent: register.ConsentInput{Basis: register.InformedConsent, RecordedOn: "2027-01-06", RecordedBy: "Sam"}}, "")
	h.update(400*day, UpdateConsent, ConsentRequest{Actor: admin, Consent: register.ConsentInput{Withdraw: true, RecordedOn: "2027-02-09", RecordedBy: "Sam"}}, "reason")
	h.update(401*day, UpdateConsent, ConsentRequest{Actor: admin, Consent: register.ConsentInput{Withdraw: true, RecordedOn: "2027-02-09", RecordedBy: "Sam", Details: "no longer wishes"}}, "")
	h.run(Input{PersonID: "p1"}, 0)
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	h.wantKinds("consent", "consent-review-due@365d")
	last := h.rec.changes[len(h.rec.changes)-1]
	if last.Kind != register.ChangeWithdrawn || last.Status != register.Discharged {
		t.Errorf("last change: %+v", last)
	}
	for _, s := range h.rec.sent {
		if strings.HasSuffix(s, "@401d") || strings.Contains(s, "@40") && !strings.HasPrefix(s, "review") {
			t.Errorf("sent after withdrawal: %s", s)
		}
	}
}

// A workflow without the clocks' facts (a state from before them) still
// runs: the updates say the clocks start later.
func TestClocksOffRefuseClockUpdates(t *testing.T) {
	h := newHarnessTiming(t, referred(), clockTiming()) // LoadClocks answers no transition date
	h.update(0, UpdateTriage, accept(register.Red), "")
	h.update(day, UpdateKeyworker, KeyworkerRequest{Actor: admin, Keyworker: register.Keyworker{Name: "K"}}, "next reminder or change")
	h.run(Input{PersonID: "p1"}, 20*day)
	h.wantKinds("cetr-")
}

// A corrected date of birth moves the transition date: a person recorded
// as an adult, corrected to 17 with a birthday within the lead, is sent
// transition-due.
func TestCorrectedBirthMovesTransition(t *testing.T) {
	h := clockHarness(t, dob(1990, 5, 1))
	h.update(0, UpdateTriage, accept(register.Green), "")
	born := t0.In(register.London).AddDate(-18, 0, 40).Format(time.DateOnly)
	h.update(day, UpdateCorrectDetails, CorrectRequest{Actor: admin, Correction: register.Correction{
		Fields: []string{"date_of_birth"}, Reason: "typed wrongly",
		Details: register.Details{GivenName: "Alex", FamilyName: "Example", DateOfBirth: born, NHSNumber: "9434765919",
			Address: "1 High Street", Postcode: "SN1 1AA", Locality: "Swindon",
			Consent: register.Consent{Basis: register.ParentalResponsibility, RecordedOn: "2026-01-02", RecordedBy: "Sam"}}}}, "")
	h.run(Input{PersonID: "p1"}, 3*day)
	h.wantKinds("transition", "transition-due@1d")
}

// TestOldRunUpgradesToClocks: a run that began before the C(E)TR clocks
// (cetr-clocks at its default version) continues as new at its first wake
// after the upgrade, so the new run starts the clocks; a run with the
// clocks does not.
func TestOldRunUpgradesToClocks(t *testing.T) {
	tests := []struct {
		name    string
		clocks  workflow.Version
		wantCAN bool
	}{
		{"began before the clocks", workflow.DefaultVersion, true},
		{"began with the clocks", versionClocks, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := register.State{Status: register.Active, Rating: register.Red, ReferredAt: t0.Add(-30 * day),
				LastReviewAt: t0.Add(-2 * day), ReviewDue: t0.Add(5 * day)}
			h := newHarness(t, st)
			h.env.OnGetVersion(clocksChangeID, workflow.DefaultVersion, versionClocks).Return(tt.clocks)
			h.run(Input{PersonID: "p1", State: &st}, 20*day)
			err := h.env.GetWorkflowError()
			if got := workflow.IsContinueAsNewError(err); got != tt.wantCAN {
				t.Fatalf("continued as new: %v (%v), want %v", got, err, tt.wantCAN)
			}
			if tt.wantCAN && h.env.Now().After(t0.Add(5*day)) {
				t.Errorf("continued as new at %s, after the review was due: the first wake should do it", h.env.Now())
			}
		})
	}
}

// The consent clock runs from the day consent was recorded (the record's
// consent.recorded_on, from the clock facts), not from acceptance: taken
// 400 days before acceptance on a 365-day clock, its review is due at
// once, sent once. A run from before cetr-clocks-2 keeps the old rule.
func TestConsentClockFromRecordedDay(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version workflow.Version
		want    []string
	}{
		{"recorded 400 days ago", versionConsentFrom, []string{"consent-review-due@0d"}},
		{"before cetr-clocks-2: from acceptance", workflow.DefaultVersion, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := clockHarness(t, dob(1990, 5, 1))
			h.rec.clocks.ConsentFrom = t0.Add(-400 * day)
			h.env.OnGetVersion(consentFromChangeID, workflow.DefaultVersion, versionConsentFrom).Return(tt.version)
			h.update(0, UpdateTriage, accept(register.Green), "")
			h.run(Input{PersonID: "p1"}, 60*day)
			h.wantKinds("consent", tt.want...)
		})
	}
}

// Clocks restored from the record (an imported person, say) with consent
// recorded 400 days ago: its review is past, but spread over the 28 days
// after, not sent on the day; sent once. Before cetr-clocks-2, at once.
func TestRestoredConsentReviewSpread(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version workflow.Version
		onDay   bool
	}{
		{"spread", versionConsentFrom, false},
		{"before cetr-clocks-2", workflow.DefaultVersion, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := register.State{PersonID: "p1", Status: register.Active, Rating: register.Green, ReferredAt: t0.Add(-30 * day),
				LastReviewAt: t0.Add(-2 * day), ReviewDue: t0.Add(90 * day)}
			h := newHarnessTiming(t, st, clockTiming())
			h.rec.clocks = register.ClockFacts{TransitionOn: register.TransitionOn(dob(1990, 5, 1)), ConsentFrom: t0.Add(-400 * day)}
			h.env.OnGetVersion(consentFromChangeID, workflow.DefaultVersion, versionConsentFrom).Return(tt.version)
			h.run(Input{PersonID: "p1", State: &st}, 40*day)
			got := h.sentKinds("consent")
			if len(got) != 1 {
				t.Fatalf("consent notices %v, want one", got)
			}
			if onDay := got[0] == "consent-review-due@0d"; onDay != tt.onDay {
				t.Errorf("sent %s, on the day %v, want %v", got[0], onDay, tt.onDay)
			}
		})
	}
}
