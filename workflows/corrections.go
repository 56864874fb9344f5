package workflows

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// UpdateCorrectDetails corrects a person's details (names, date of birth,
// address, NHS number, consent record). Its payload carries names: like
// every payload it is encrypted by the codec before it reaches Temporal.
const UpdateCorrectDetails = "correct-details"

// CorrectRequest is a correction of a person's details, asked by Actor.
type CorrectRequest struct {
	Keyed
	Actor      register.Actor      `json:"actor"`
	Correction register.Correction `json:"correction"`
}

// validateCorrection refuses a correction of a closed record (its workflow
// has ended in any case) and one the register's rules refuse.
func (r *run) validateCorrection(s register.State, req CorrectRequest, now time.Time) *register.Error {
	if !s.Status.Open() {
		return &register.Error{Kind: register.KindConflict, Message: fmt.Sprintf("the person is %s", s.Status)}
	}
	return register.ValidateCorrection(req.Correction, now, r.timing.Localities)
}

// applyCorrection changes no workflow state but one: a corrected date of
// birth moves the transition date (the clocks' only age), and with it the
// transition and keyworker clocks; the loop re-plans after every change.
func (r *run) applyCorrection(_ workflow.Context, st *register.State, req CorrectRequest, _ time.Time) (register.Change, []register.Notice) {
	c := req.Correction
	if r.clocks >= versionClocks && slices.Contains(c.Fields, "date_of_birth") {
		if dob, err := register.ParseDOB(c.Details.DateOfBirth); err == nil {
			st.TransitionOn = register.TransitionOn(dob)
			st.Transition = register.Ladder{Occasion: st.TransitionOn.Format(time.RFC3339)}
		}
	}
	return register.Change{Kind: register.ChangeCorrection, Actor: req.Actor, Reason: c.Reason, Correction: &c}, nil
}

// OpenByNHS finds the referred or active person holding an NHS number
// (store.OpenPersonByNHS): a *register.Error of KindNotFound when none.
type OpenByNHS func(ctx context.Context, nhs string) (string, error)

// CheckNHSClash returns a KindConflict error naming the other person when
// the correction gives personID an NHS number another referred or active
// record holds. The database's unique index is what decides: this asks
// before an update is sent, and again after one fails, for the answer.
func CheckNHSClash(ctx context.Context, personID string, c register.Correction, open OpenByNHS) error {
	if !slices.Contains(c.Fields, "nhs_number") {
		return nil
	}
	other, err := open(ctx, c.Details.NHSNumber)
	switch {
	case register.KindOf(err) == register.KindNotFound:
		return nil
	case err != nil:
		return err
	case other != personID:
		return register.Conflict("this NHS number is already referred or on the register in another record", other)
	}
	return nil
}

// SettleCorrection turns the failure of a correction that the unique index
// refused into the conflict it was, naming the other record; other errors
// are returned as they are.
func SettleCorrection(ctx context.Context, personID string, c register.Correction, open OpenByNHS, err error) error {
	if k := register.KindOf(err); err == nil || (k != register.KindInternal && k != register.KindConflict) {
		return err
	}
	if cerr := CheckNHSClash(ctx, personID, c, open); register.KindOf(cerr) == register.KindConflict {
		return cerr
	}
	return err
}

// Correct sends a correction to the person's workflow, as the pages do (the
// API sends it with its Idempotency-Key handling): an NHS number another
// open record holds is refused with a KindConflict error naming it.
func Correct(ctx context.Context, c client.Client, personID, updateID string, req CorrectRequest, open OpenByNHS) (Result, error) {
	if err := CheckNHSClash(ctx, personID, req.Correction, open); err != nil {
		return Result{}, err
	}
	var res Result
	err := Update(ctx, c, personID, UpdateCorrectDetails, updateID, &req, &res)
	return res, SettleCorrection(ctx, personID, req.Correction, open, err)
}
