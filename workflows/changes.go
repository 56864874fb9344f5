package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// clockSkew is how far a client's "now" may run ahead of the workflow's.
const clockSkew = time.Minute

type fields map[string]string

func (f fields) err() *register.Error {
	if len(f) == 0 {
		return nil
	}
	return register.Invalid(f)
}

// checkText and checkEmail are the register's own rules (register.CheckText
// and CheckEmail), so an update is held to what a referral is.
func checkText(f fields, name, v string, required bool) {
	register.CheckText(f, name, v, register.MaxTextLen, required)
}

func checkEmail(f fields, name, v string, required bool) {
	register.CheckEmail(f, name, v, required)
}

func needActive(s register.State) *register.Error {
	if s.Status != register.Active {
		return &register.Error{Kind: register.KindConflict, Message: fmt.Sprintf("the person is %s, not active on the register", s.Status)}
	}
	return nil
}

func (r *run) validateTriage(s register.State, req TriageRequest, _ time.Time) *register.Error {
	if s.Status != register.Referred {
		return &register.Error{Kind: register.KindConflict, Message: "this referral has already been decided"}
	}
	f := fields{}
	switch req.Decision {
	case "accept":
		if !req.Rating.Valid() {
			f["rag"] = "must be one of red, amber, green, blue"
		}
	case "decline":
		checkText(f, "reason", req.Reason, true)
	default:
		f["decision"] = "must be accept or decline"
	}
	return f.err()
}

func (r *run) applyTriage(ctx workflow.Context, st *register.State, req TriageRequest, now time.Time) (register.Change, []register.Notice) {
	if req.Decision == "accept" {
		r.timing.Accept(st, req.Rating, now)
		c := register.Change{Kind: register.ChangeAccept, Actor: req.Actor, Rating: req.Rating}
		if r.clocks >= versionClocks && !st.TransitionOn.IsZero() {
			rootCause := r.timing.StartClocks(st, st.TransitionOn, consentFrom(ctx, r.in.Generation, st, now), now)
			c.Admitted, c.Preceded = req.Rating == register.Blue, !rootCause
		}
		return c, nil
	}
	st.Close(register.Declined)
	n := register.Notice{Kind: register.ReferralDeclined, Occasion: st.ReferredAt.UTC().Format(time.RFC3339), At: now}
	return register.Change{Kind: register.ChangeDecline, Actor: req.Actor, Reason: req.Reason}, []register.Notice{n}
}

func (r *run) validateReview(s register.State, req ReviewRequest, now time.Time) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	v := req.Review
	f := fields{}
	if v.ID == "" {
		f["id"] = "required"
	}
	held := v.HeldAt
	if held.IsZero() {
		held = now
	}
	switch {
	case held.After(now.Add(clockSkew)):
		f["held_at"] = "must not be in the future"
	case held.Before(s.LastReviewAt):
		f["held_at"] = "must not be before the previous review"
	}
	if v.Rating != s.Rating {
		if e := r.timing.CheckRatingChange(s, v.Rating, held); e != nil {
			for k, p := range e.Fields {
				f[k] = p
			}
		}
	}
	checkText(f, "current_issues", v.CurrentIssues, false)
	checkText(f, "tried", v.Tried, false)
	checkText(f, "could_help", v.CouldHelp, false)
	checkText(f, "notes", v.Notes, false)
	for i, n := range v.Needs {
		if !slices.Contains(register.Needs, n) {
			f[fmt.Sprintf("needs[%d]", i)] = "not a known need: one of " + strings.Join(register.Needs, ", ")
		}
	}
	checkNewActions(f, "actions", s, v.Actions, now)
	return f.err()
}

func (r *run) applyReview(ctx workflow.Context, st *register.State, req ReviewRequest, now time.Time) (register.Change, []register.Notice) {
	v := req.Review
	if v.HeldAt.IsZero() {
		v.HeldAt = now
	}
	v.HeldAt = v.HeldAt.UTC()
	from := st.Rating
	r.timing.RecordReview(st, v.Rating, v.HeldAt)
	for _, a := range v.Actions {
		st.AddAction(a.ID, a.Due.UTC())
	}
	c := register.Change{Kind: register.ChangeReview, Actor: req.Actor, Review: &v, FromRating: from, Rating: v.Rating}
	r.onRating(st, &c, from, v.Rating, v.HeldAt)
	return c, ratingNotice(ctx, from, v.Rating, now)
}

func ratingNotice(ctx workflow.Context, from, to register.Rating, now time.Time) []register.Notice {
	if from == to {
		return nil
	}
	return []register.Notice{{Kind: register.RatingChanged, Occasion: workflow.GetCurrentUpdateInfo(ctx).ID, At: now,
		FromRating: from, ToRating: to}}
}

func (r *run) validateRating(s register.State, req RatingRequest, now time.Time) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	f := fields{}
	if req.Rating == s.Rating && req.Rating.Valid() {
		f["rag"] = fmt.Sprintf("the rating is already %s", s.Rating)
	} else if e := r.timing.CheckRatingChange(s, req.Rating, now); e != nil {
		for k, p := range e.Fields {
			f[k] = p
		}
	}
	checkText(f, "reason", req.Reason, true)
	return f.err()
}

func (r *run) applyRating(ctx workflow.Context, st *register.State, req RatingRequest, now time.Time) (register.Change, []register.Notice) {
	from := st.Rating
	r.timing.ChangeRating(st, req.Rating, now)
	c := register.Change{Kind: register.ChangeRating, Actor: req.Actor, Rating: req.Rating, FromRating: from, Reason: req.Reason}
	r.onRating(st, &c, from, req.Rating, now)
	return c, ratingNotice(ctx, from, req.Rating, now)
}

func checkNewActions(f fields, prefix string, s register.State, as []register.NewAction, now time.Time) {
	ids := map[string]bool{}
	for i, a := range as {
		p := fmt.Sprintf("%s[%d].", prefix, i)
		if a.ID == "" {
			f[p+"id"] = "required"
		} else if _, open := s.Action(a.ID); open || ids[a.ID] {
			f[p+"id"] = "already used"
		}
		ids[a.ID] = true
		checkText(f, p+"description", a.Description, true)
		checkEmail(f, p+"owner_email", a.OwnerEmail, true)
		switch {
		case a.Due.IsZero():
			f[p+"due"] = "required"
		case !a.Due.After(now):
			f[p+"due"] = "must be in the future"
		}
	}
}

func validateActions(s register.State, req ActionsRequest, now time.Time) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	f := fields{}
	if len(req.Actions) == 0 {
		f["actions"] = "at least one action"
	}
	checkNewActions(f, "actions", s, req.Actions, now)
	return f.err()
}

func applyActions(_ workflow.Context, st *register.State, req ActionsRequest, _ time.Time) (register.Change, []register.Notice) {
	for _, a := range req.Actions {
		st.AddAction(a.ID, a.Due.UTC())
	}
	return register.Change{Kind: register.ChangeAddActions, Actor: req.Actor, Actions: req.Actions}, nil
}

func validateCloseAction(s register.State, req CloseActionRequest, _ time.Time) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	f := fields{}
	if _, ok := s.Action(req.ActionID); !ok {
		f["action_id"] = "no open action with this id on this record"
	}
	name := "outcome"
	if req.Cancel {
		name = "reason"
	}
	checkText(f, name, req.Outcome, true)
	return f.err()
}

func applyCloseAction(_ workflow.Context, st *register.State, req CloseActionRequest, _ time.Time) (register.Change, []register.Notice) {
	st.CloseAction(req.ActionID)
	kind := register.ChangeCompleteAction
	if req.Cancel {
		kind = register.ChangeCancelAction
	}
	return register.Change{Kind: kind, Actor: req.Actor, ActionID: req.ActionID, Outcome: req.Outcome}, nil
}

// ValidateProfessionals checks a list of named professionals; the API uses
// it for referrals as well.
func ValidateProfessionals(f map[string]string, prefix string, ps []register.Professional) {
	if len(ps) == 0 {
		f[prefix] = "at least one professional with an email"
	}
	for i, p := range ps {
		k := fmt.Sprintf("%s[%d].", prefix, i)
		if strings.TrimSpace(p.Name) == "" {
			f[k+"name"] = "required"
		}
		checkEmail(f, k+"email", p.Email, true)
		checkEmail(f, k+"manager_email", p.ManagerEmail, false)
	}
}

func validateProfessionals(s register.State, req ProfessionalsRequest, _ time.Time) *register.Error {
	if !s.Status.Open() {
		return &register.Error{Kind: register.KindConflict, Message: fmt.Sprintf("the person is %s", s.Status)}
	}
	f := fields{}
	ValidateProfessionals(f, "professionals", req.Professionals)
	return f.err()
}

func applyProfessionals(_ workflow.Context, _ *register.State, req ProfessionalsRequest, _ time.Time) (register.Change, []register.Notice) {
	return register.Change{Kind: register.ChangeProfessionals, Actor: req.Actor, Professionals: req.Professionals}, nil
}

func validateDischarge(s register.State, req DischargeRequest, _ time.Time) *register.Error {
	if e := needActive(s); e != nil {
		return e
	}
	f := fields{}
	checkText(f, "reason", req.Reason, true)
	return f.err()
}

func applyDischarge(_ workflow.Context, st *register.State, req DischargeRequest, _ time.Time) (register.Change, []register.Notice) {
	st.Close(register.Discharged)
	return register.Change{Kind: register.ChangeDischarge, Actor: req.Actor, Reason: req.Reason}, nil
}
