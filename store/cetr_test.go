package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func change(t *testing.T, st *store.Store, c register.Change) error {
	t.Helper()
	if c.UpdateID == "" {
		c.UpdateID = uuid.NewString()
	}
	if c.At.IsZero() {
		c.At = time.Now().UTC().Truncate(time.Microsecond)
	}
	if c.Status == "" {
		c.Status = register.Active
	}
	return st.ApplyChange(context.Background(), c)
}

// The clock's C(E)TRs due become rows; booked, held (recommendations as
// actions) and cancelled are kept; a due no longer due is cancelled with a
// reason; an admission without a community C(E)TR is flagged and its
// root-cause outcome recorded; consent renewed, then withdrawn: off the
// register, reason and record kept; the list filters on C(E)TR overdue and
// eligible without a keyworker.
func TestCETRRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	id := person(t, st)
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET status='active', rating='red', accepted_at=now(), date_of_birth='2010-02-28' WHERE id=$1`, id); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	past := now.Add(-48 * time.Hour)
	due := []register.CETRDueRow{{ID: "community-1", Kind: register.CETRCommunity, Due: past}, {ID: "inpatient-1", Kind: register.CETRInpatient, Due: now.Add(48 * time.Hour)}}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeRating, Rating: register.Red, FromRating: register.Amber, Clocks: true, CETRDue: due}); err != nil {
		t.Fatal(err)
	}
	coord := register.Actor{Email: "c@example.org", Role: "coordinator"}
	list := func(f store.ListFilter) int {
		t.Helper()
		f.Now = now
		ps, _, err := st.ListPeople(ctx, coord, f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range ps {
			if p.ID == id {
				n++
			}
		}
		return n
	}
	if list(store.ListFilter{CETROverdue: true}) != 1 {
		t.Error("C(E)TR overdue: not listed")
	}
	kw := store.ListFilter{NoKeyworker: true, KeyworkerMaxAge: 25, KeyworkerRatings: []register.Rating{register.Red}}
	if list(kw) != 1 {
		t.Error("eligible, no keyworker: not listed")
	}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeKeyworker, Keyworker: &register.Keyworker{ReferredOn: "2026-11-02"}}); err != nil {
		t.Fatal(err)
	}
	if list(kw) != 0 {
		t.Error("keyworker referral recorded: still listed")
	}
	// Booked, then held with a recommendation.
	booked := now.Add(time.Hour)
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeBookCETR, CETR: &register.CETRInput{ID: "community-1", BookedFor: booked}}); err != nil {
		t.Fatal(err)
	}
	act := register.NewAction{ID: uuid.NewString(), Description: "refer to intensive support", OwnerEmail: "o@example.org", Due: now.Add(72 * time.Hour)}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeRecordCETR, Clocks: true, CETRDue: due[1:],
		CETR: &register.CETRInput{ID: "community-1", HeldAt: now, Chair: "Dr Chair", Actions: []register.NewAction{act}}}); err != nil {
		t.Fatal(err)
	}
	if list(store.ListFilter{CETROverdue: true}) != 0 {
		t.Error("held: still overdue")
	}
	// An LAEP held with no due date; then cancel the inpatient one.
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeRecordCETR, CETR: &register.CETRInput{ID: "laep-x", Kind: register.CETRLAEP, HeldAt: now}}); err != nil {
		t.Fatal(err)
	}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeCancelCETR, CETR: &register.CETRInput{ID: "nope", Reason: "x"}}); register.KindOf(err) != register.KindInvalid {
		t.Errorf("cancel of an unknown C(E)TR: %v", err)
	}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeCancelCETR, CETR: &register.CETRInput{ID: "inpatient-1", Reason: "moved area"}}); err != nil {
		t.Fatal(err)
	}
	// Admitted without one in the look-back (the workflow decides): flagged.
	adm := now.Add(time.Minute)
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeRating, Rating: register.Blue, At: adm, Clocks: true, Admitted: true,
		CETRDue: []register.CETRDueRow{{ID: "post-admission-1", Kind: register.CETRPostAdmission, Due: adm.Add(14 * 24 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeRootCause, RootCause: &register.RootCauseInput{AdmittedAt: adm, Outcome: "crisis out of hours"}}); err != nil {
		t.Fatal(err)
	}
	p, err := st.GetPerson(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]register.CETRStatus{}
	for _, c := range p.CETRs {
		got[c.ID] = c.Status
	}
	want := map[string]register.CETRStatus{"community-1": "held", "inpatient-1": "cancelled", "laep-x": "held", "post-admission-1": "due"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("C(E)TR %s: %s, want %s (%v)", k, got[k], v, got)
		}
	}
	if len(p.Admissions) != 1 || p.Admissions[0].Preceded || p.Admissions[0].RootCauseOutcome != "crisis out of hours" {
		t.Errorf("admissions: %+v", p.Admissions)
	}
	if p.Keyworker.ReferredOn != "2026-11-02" {
		t.Errorf("keyworker: %+v", p.Keyworker)
	}
	var cetrAction string
	st.Pool.QueryRow(ctx, `SELECT coalesce(cetr_id,'') FROM actions WHERE id=$1`, act.ID).Scan(&cetrAction)
	if cetrAction != "community-1" {
		t.Errorf("recommendation's C(E)TR: %q", cetrAction)
	}
	f, err := st.ClockFacts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !f.TransitionOn.Equal(time.Date(2028, 2, 28, 0, 0, 0, 0, register.London).UTC()) || f.AdmittedAt.IsZero() || len(f.CETRs) != 1 || !f.LastCommunityHeld.Equal(now) {
		t.Errorf("clock facts: %+v", f)
	}
	// Consent renewed, then withdrawn.
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeConsent, Consent: &register.ConsentInput{Basis: register.InformedConsent, RecordedOn: "2026-11-20", RecordedBy: "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeWithdrawn, Status: register.Discharged,
		Consent: &register.ConsentInput{Withdraw: true, RecordedOn: "2026-11-21", RecordedBy: "c", Details: "no longer wishes to be on it"}}); err != nil {
		t.Fatal(err)
	}
	p, _ = st.GetPerson(ctx, id)
	if p.Status != register.Discharged || p.CloseReason != "consent withdrawn: no longer wishes to be on it" || len(p.ConsentHistory) != 2 || p.Consent.Basis != register.InformedConsent {
		t.Errorf("withdrawn: %s %q %+v", p.Status, p.CloseReason, p.ConsentHistory)
	}
	for _, c := range p.CETRs {
		if c.Status == register.CETRDueStatus || c.Status == register.CETRBooked {
			t.Errorf("withdrawn, C(E)TR still open: %+v", c)
		}
	}
}

func TestBirthdayInSQL(t *testing.T) {
	t.Parallel()
	st := testenv.DB(t)
	for _, c := range []struct{ dob, want string }{{"2008-02-29", "2026-03-01"}, {"2008-02-29", "2032-02-29"}, {"2000-06-10", "2026-06-10"}} {
		var got string
		years := 18
		if c.want[:4] == "2032" {
			years = 24
		} else if c.dob[:4] == "2000" {
			years = 26
		}
		if err := st.Pool.QueryRow(context.Background(), `SELECT to_char(dsr_birthday($1::date, $2), 'YYYY-MM-DD')`, c.dob, years).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := register.Birthday(mustDate(t, c.dob), years).Format("2006-01-02")
		if got != c.want || got != want {
			t.Errorf("dsr_birthday(%s, %d) = %s, want %s (register says %s)", c.dob, years, got, c.want, want)
		}
	}
}

func mustDate(t *testing.T, s string) time.Time {
	d, err := register.ParseDOB(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The consent clock's start in the clock facts is the day consent was
// recorded (the referral's or import's consent_recorded_on), then the
// last renewal once there is one, never the acceptance.
func TestClockFactsConsentFrom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	id := person(t, st)
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET status='active', rating='green', accepted_at=now(), consent_recorded_on='2025-01-02' WHERE id=$1`, id); err != nil {
		t.Fatal(err)
	}
	f, err := st.ClockFacts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 1, 2, 0, 0, 0, 0, register.London).UTC(); !f.ConsentFrom.Equal(want) {
		t.Errorf("consent from %s, want the day recorded %s", f.ConsentFrom, want)
	}
	renewed := time.Now().UTC().Truncate(time.Second)
	if err := change(t, st, register.Change{PersonID: id, Kind: register.ChangeConsent, At: renewed,
		Consent: &register.ConsentInput{Basis: register.InformedConsent, RecordedOn: renewed.In(register.London).Format(time.DateOnly), RecordedBy: "c"}}); err != nil {
		t.Fatal(err)
	}
	if f, err = st.ClockFacts(ctx, id); err != nil {
		t.Fatal(err)
	}
	if f.ConsentFrom.Before(renewed.Add(-time.Second)) || f.ConsentFrom.After(time.Now()) {
		t.Errorf("consent from %s after a renewal at %s", f.ConsentFrom, renewed)
	}
}
