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
	Actor      register.Actor      `json:"actor"`
	Correction register.Correction `json:"correction"`
}

// validateCorrection refuses a correction of a closed record (its workflow
// has ended in any case) and one the register's rules refuse.
func validateCorrection(s register.State, req CorrectRequest, now time.Time) *register.Error {
	if !s.Status.Open() {
		return &register.Error{Kind: register.KindConflict, Message: fmt.Sprintf("the person is %s", s.Status)}
	}
	return register.ValidateCorrection(req.Correction, now)
}

// applyCorrection changes no workflow state: the schedule depends on no
// corrected detail today. A rule that comes to depend on one (an age-based
// clock on the date of birth) re-plans here; the loop re-plans after every
// change in any case.
func applyCorrection(_ workflow.Context, _ *register.State, req CorrectRequest, _ time.Time) (register.Change, []register.Notice) {
	c := req.Correction
	return register.Change{Kind: register.ChangeCorrection, Actor: req.Actor, Reason: c.Reason, Correction: &c}, nil
}

// OpenByNHS finds the referred or active person holding an NHS number
// (store.OpenPersonByNHS): a *register.Error of KindNotFound when none.
type OpenByNHS func(ctx context.Context, nhs string) (string, error)

// Correct sends a correction to the person's workflow, as the API and the
// pages both do. An NHS number another open episode holds is refused with
// a KindConflict error naming that person: asked before the update is sent,
// and asked again when the update fails, since the database's unique index
// is what decides (a referral may take the number in between).
func Correct(ctx context.Context, c client.Client, personID, updateID string, req CorrectRequest, open OpenByNHS) (Result, error) {
	clash := func() error {
		if !slices.Contains(req.Correction.Fields, "nhs_number") {
			return nil
		}
		other, err := open(ctx, req.Correction.Details.NHSNumber)
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
	if err := clash(); err != nil {
		return Result{}, err
	}
	var res Result
	err := Update(ctx, c, personID, UpdateCorrectDetails, updateID, req, &res)
	if err != nil && register.KindOf(err) == register.KindInternal {
		if cerr := clash(); cerr != nil && register.KindOf(cerr) == register.KindConflict {
			return Result{}, cerr
		}
	}
	return res, err
}
