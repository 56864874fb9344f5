package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// The C(E)TR, keyworker, transition and consent clocks (issue 12) are
// gated under their own change id: histories recorded before them replay
// without them, and a workflow started before them turns them on at its
// next continue-as-new.
const (
	clocksChangeID = "cetr-clocks"
	// versionClocks: the clocks run; updates book, record and cancel
	// C(E)TRs, set the keyworker, record consent, inpatient news and
	// root-cause outcomes.
	versionClocks workflow.Version = 1

	clocksUpgradeChangeID = "cetr-clocks-upgrade"
	// versionClocksUpgrade: a run that began before the clocks continues
	// as new at its next wake, so the new run starts them from the record.
	versionClocksUpgrade workflow.Version = 1

	consentFromChangeID = "cetr-clocks-2"
	// versionConsentFrom: acceptance starts the consent clock from the day
	// consent was recorded (the record's consent.recorded_on), not from
	// the acceptance; clocks restored from the record spread a consent
	// review already past (register.SpreadConsent). Asked only when a clock starts, so runs already
	// accepted keep their clock and recorded histories replay.
	versionConsentFrom workflow.Version = 1
)

// consentFrom is when acceptance starts the consent clock: from the
// consent recorded on the record (kept from the clock facts) in runs of
// this version, from the acceptance before it.
func consentFrom(ctx workflow.Context, gen int, st *register.State, now time.Time) time.Time {
	if st.ConsentFrom.IsZero() {
		return now
	}
	if versionOf(ctx, gen, consentFromChangeID, versionConsentFrom) < versionConsentFrom {
		return now
	}
	return st.ConsentFrom
}

// Updates and the activity of the clocks.
const (
	UpdateBookCETR   = "book-cetr"
	UpdateRecordCETR = "record-cetr"
	UpdateCancelCETR = "cancel-cetr"
	UpdateKeyworker  = "set-keyworker"
	UpdateConsent    = "record-consent"
	UpdateInpatient  = "inpatient"
	UpdateRootCause  = "root-cause"

	ActivityLoadClocks = "LoadClocks"
)

// Requests of the clocks' updates.
type (
	CETRRequest struct {
		Keyed
		Actor register.Actor     `json:"actor"`
		CETR  register.CETRInput `json:"cetr"`
	}
	KeyworkerRequest struct {
		Keyed
		Actor     register.Actor     `json:"actor"`
		Keyworker register.Keyworker `json:"keyworker"`
	}
	ConsentRequest struct {
		Keyed
		Actor   register.Actor        `json:"actor"`
		Consent register.ConsentInput `json:"consent"`
	}
	InpatientRequest struct {
		Keyed
		Actor     register.Actor          `json:"actor"`
		Inpatient register.InpatientInput `json:"inpatient"`
	}
	RootCauseRequest struct {
		Keyed
		Actor     register.Actor          `json:"actor"`
		RootCause register.RootCauseInput `json:"root_cause"`
	}
)

// loadClocks turns the clocks on for a person whose state has none yet
// (a new referral, or a workflow that ran before them), from the record.
func (r *run) loadClocks() error {
	if r.clocks < versionClocks || !r.state.Status.Open() || !r.state.TransitionOn.IsZero() {
		return nil
	}
	actx := workflow.WithActivityOptions(r.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	var f register.ClockFacts
	if r.in.Clocks != nil {
		f = *r.in.Clocks
	} else if err := workflow.ExecuteActivity(actx, ActivityLoadClocks, r.in.PersonID).Get(r.ctx, &f); err != nil {
		return fmt.Errorf("load clocks: %w", err)
	}
	now := workflow.Now(r.ctx).UTC()
	r.timing.RestoreClocks(&r.state, f, now)
	// Restored clocks run consent from its recorded day: reviews already
	// past are spread, not sent all at once (an import, a register of
	// running workflows). Asked only where a clock starts from the record.
	if r.state.Status == register.Active && !r.state.ConsentFrom.IsZero() &&
		versionOf(r.ctx, r.in.Generation, consentFromChangeID, versionConsentFrom) >= versionConsentFrom {
		r.timing.SpreadConsent(&r.state, now)
	}
	return nil
}

// upgradeToClocks reports whether a run that began before the clocks
// existed should continue as new now, at a wake after this code is
// running: people already on the register get their C(E)TR, keyworker,
// transition and consent clocks at their next reminder or change, instead
// of at a continue-as-new that may be months away.
func (r *run) upgradeToClocks() bool {
	if r.clocks >= versionClocks {
		return false
	}
	return versionOf(r.ctx, r.in.Generation, clocksUpgradeChangeID, versionClocksUpgrade) >= versionClocksUpgrade
}

// needClocks refuses the clocks' updates where they do not run.
func (r *run) needClocks(s register.State) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	if r.clocks < versionClocks || !s.Clocks {
		return &register.Error{Kind: register.KindConflict, Message: "this record's C(E)TR clocks start at its next reminder or change; record that first, or try again later"}
	}
	return nil
}

// onRating moves the clocks for a rating change and notes it on the change.
func (r *run) onRating(st *register.State, c *register.Change, from, to register.Rating, at time.Time) {
	if r.clocks < versionClocks || !st.Clocks || from == to {
		return
	}
	rootCause := r.timing.OnRating(st, from, to, at)
	c.Admitted, c.Preceded = to == register.Blue, !rootCause
	c.LeftHospital = from == register.Blue
}

func (r *run) validateCETR(book bool) func(register.State, CETRRequest, time.Time) *register.Error {
	return func(s register.State, req CETRRequest, now time.Time) *register.Error {
		if e := r.needClocks(s); e != nil {
			return e
		}
		v := req.CETR
		f := fields{}
		if v.ID == "" {
			f["id"] = "required"
		}
		if _, due := s.OpenCETR(v.ID); !due && v.ID != "" && !v.Kind.Valid() {
			f["kind"] = "a new C(E)TR needs a kind: one of community, laep, post-admission, interim, inpatient"
		}
		if book {
			if v.BookedFor.IsZero() {
				f["booked_for"] = "required"
			}
		} else {
			switch {
			case v.HeldAt.IsZero():
				f["held_at"] = "required"
			case v.HeldAt.After(now.Add(clockSkew)):
				f["held_at"] = "must not be in the future"
			}
			checkText(f, "chair", v.Chair, true)
			checkText(f, "notes", v.Notes, false)
			checkNewActions(f, "actions", s, v.Actions, now)
		}
		return f.err()
	}
}

func validateCancelCETR(s register.State, req CETRRequest, _ time.Time) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	f := fields{}
	if req.CETR.ID == "" {
		f["id"] = "required"
	}
	checkText(f, "reason", req.CETR.Reason, true)
	return f.err()
}

func (r *run) applyBookCETR(_ workflow.Context, st *register.State, req CETRRequest, _ time.Time) (register.Change, []register.Notice) {
	v := req.CETR
	v.BookedFor = v.BookedFor.UTC()
	if d, ok := st.OpenCETR(v.ID); ok {
		v.Kind = d.Kind
	}
	return register.Change{Kind: register.ChangeBookCETR, Actor: req.Actor, CETR: &v}, nil
}

func (r *run) applyRecordCETR(_ workflow.Context, st *register.State, req CETRRequest, _ time.Time) (register.Change, []register.Notice) {
	v := req.CETR
	v.HeldAt = v.HeldAt.UTC()
	id := ""
	if d, ok := st.OpenCETR(v.ID); ok {
		v.Kind, id = d.Kind, d.ID
	}
	r.timing.HeldCETR(st, id, v.Kind, v.HeldAt)
	for _, a := range v.Actions {
		st.AddAction(a.ID, a.Due.UTC())
	}
	return register.Change{Kind: register.ChangeRecordCETR, Actor: req.Actor, CETR: &v}, nil
}

func (r *run) applyCancelCETR(_ workflow.Context, st *register.State, req CETRRequest, _ time.Time) (register.Change, []register.Notice) {
	v := req.CETR
	st.CancelCETR(v.ID)
	return register.Change{Kind: register.ChangeCancelCETR, Actor: req.Actor, CETR: &v}, nil
}

func (r *run) validateKeyworker(s register.State, req KeyworkerRequest, _ time.Time) *register.Error {
	if e := r.needClocks(s); e != nil {
		return e
	}
	k := req.Keyworker
	f := fields{}
	checkText(f, "name", k.Name, false)
	checkEmail(f, "email", k.Email, false)
	if k.ReferredOn != "" {
		if _, err := time.Parse("2006-01-02", k.ReferredOn); err != nil {
			f["referred_on"] = "must be a date YYYY-MM-DD"
		}
	}
	if k.Email != "" && k.Name == "" {
		f["name"] = "required with an email"
	}
	return f.err()
}

func (r *run) applyKeyworker(_ workflow.Context, st *register.State, req KeyworkerRequest, _ time.Time) (register.Change, []register.Notice) {
	k := req.Keyworker
	st.Keyworker = k.Named()
	return register.Change{Kind: register.ChangeKeyworker, Actor: req.Actor, Keyworker: &k}, nil
}

func (r *run) validateConsent(s register.State, req ConsentRequest, _ time.Time) *register.Error {
	if e := r.needClocks(s); e != nil {
		return e
	}
	v := req.Consent
	f := fields{}
	if !v.Withdraw && !slices.Contains([]register.ConsentBasis{register.InformedConsent, register.BestInterestDecision, register.ParentalResponsibility}, v.Basis) {
		f["basis"] = "must be one of informed_consent, best_interest_decision, parental_responsibility"
	}
	if _, err := time.Parse("2006-01-02", v.RecordedOn); err != nil {
		f["recorded_on"] = "must be a date YYYY-MM-DD"
	}
	checkText(f, "recorded_by", v.RecordedBy, true)
	name := "details"
	if v.Withdraw {
		name = "reason"
	}
	checkText(f, name, v.Details, v.Withdraw)
	return f.err()
}

func (r *run) applyConsent(_ workflow.Context, st *register.State, req ConsentRequest, now time.Time) (register.Change, []register.Notice) {
	v := req.Consent
	if v.Withdraw {
		// Off the register, no notice after: the record is kept.
		st.Close(register.Discharged)
		return register.Change{Kind: register.ChangeWithdrawn, Actor: req.Actor, Consent: &v, Reason: v.Details}, nil
	}
	st.RenewConsent(now)
	return register.Change{Kind: register.ChangeConsent, Actor: req.Actor, Consent: &v}, nil
}

func (r *run) validateInpatient(s register.State, req InpatientRequest, _ time.Time) *register.Error {
	if e := r.needClocks(s); e != nil {
		return e
	}
	f := fields{}
	if s.Rating != register.Blue {
		f["rag"] = "the person is not in hospital (blue)"
	}
	v := req.Inpatient
	switch v.Event {
	case "", register.EventHospitalMove, register.EventDiagnosisRemoved:
	default:
		f["event"] = "must be hospital-move or diagnosis-removed"
	}
	if v.Event == "" && v.Secure == nil {
		f["event"] = "an event or secure is required"
	}
	return f.err()
}

func (r *run) applyInpatient(_ workflow.Context, st *register.State, req InpatientRequest, now time.Time) (register.Change, []register.Notice) {
	v := req.Inpatient
	if v.Secure != nil {
		st.Secure = *v.Secure
	}
	if v.Event != "" {
		r.timing.InpatientEvent(st, now)
	}
	return register.Change{Kind: register.ChangeInpatient, Actor: req.Actor, Inpatient: &v}, nil
}

func (r *run) validateRootCause(s register.State, req RootCauseRequest, _ time.Time) *register.Error {
	if e := r.needClocks(s); e != nil {
		return e
	}
	f := fields{}
	if req.RootCause.AdmittedAt.IsZero() {
		f["admitted_at"] = "required"
	}
	checkText(f, "outcome", req.RootCause.Outcome, true)
	return f.err()
}

func applyRootCause(_ workflow.Context, _ *register.State, req RootCauseRequest, _ time.Time) (register.Change, []register.Notice) {
	v := req.RootCause
	v.AdmittedAt = v.AdmittedAt.UTC()
	return register.Change{Kind: register.ChangeRootCause, Actor: req.Actor, RootCause: &v}, nil
}

// clockRegs are the clocks' updates, added to the workflow's list.
func (r *run) clockRegs() []reg {
	book, record := r.validateCETR(true), r.validateCETR(false)
	return []reg{
		{UpdateBookCETR, handle(r, book, r.applyBookCETR), validatorOf(r, book)},
		{UpdateRecordCETR, handle(r, record, r.applyRecordCETR), validatorOf(r, record)},
		{UpdateCancelCETR, handle(r, validateCancelCETR, r.applyCancelCETR), validatorOf(r, validateCancelCETR)},
		{UpdateKeyworker, handle(r, r.validateKeyworker, r.applyKeyworker), validatorOf(r, r.validateKeyworker)},
		{UpdateConsent, handle(r, r.validateConsent, r.applyConsent), validatorOf(r, r.validateConsent)},
		{UpdateInpatient, handle(r, r.validateInpatient, r.applyInpatient), validatorOf(r, r.validateInpatient)},
		{UpdateRootCause, handle(r, r.validateRootCause, applyRootCause), validatorOf(r, r.validateRootCause)},
	}
}
