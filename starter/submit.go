package starter

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// Referrals submits referrals: the one code path of the API, the web form,
// `dsr start --file` and the CSV import.
type Referrals struct {
	Store    *store.Store
	Temporal client.Client
	Logger   *slog.Logger
	// Localities is the area's list (DSR_LOCALITIES); nil means the default.
	Localities register.Localities
}

// Options qualify a submission.
type Options struct {
	SelfReferral bool
}

// StarterRole is the audit role of `dsr start`: an operator holding the
// database's credentials, who may see every record.
const StarterRole = "starter"

// DuplicateUnseen is the answer to a duplicate referral from someone who
// may not see the existing record: it says no more than that the person is
// known, so an NHS number cannot be tested for the record's id.
const DuplicateUnseen = "already known to the register: the coordinator has been told"

// Submit validates a referral, stores it (the commit makes it durable and the
// unique NHS-number index decides duplicates), then starts the person's
// workflow. It returns the new person's id. When Temporal cannot be reached
// the referral is still kept and the reconciler starts its workflow later.
//
// A referral for a person already referred or on the register is refused
// with a KindConflict error and audited against the existing record. The
// error carries the record's id only when the actor may already see that
// record; for anyone else it says DuplicateUnseen, and the coordinators get
// a referral-duplicate notice (no identifiers) through its own short
// workflow.
func (s *Referrals) Submit(ctx context.Context, req register.ReferralRequest, actor register.Actor, now time.Time, opts Options) (string, error) {
	if e := register.ValidateReferral(req, now, s.Localities); e != nil {
		return "", e
	}
	req = req.Normalised()
	req.Person.Locality, _ = s.Localities.Canonical(req.Person.Locality)
	p := req.ToPerson()
	p.ID = uuid.NewString()
	p.ReferredAt = now.UTC().Truncate(time.Microsecond) // PostgreSQL's precision, so the record and the workflow agree
	p.SelfReferral = opts.SelfReferral
	if err := s.Store.CreateReferral(ctx, p, actor); err != nil {
		var e *register.Error
		if errors.As(err, &e) && e.Kind == register.KindConflict && e.ID != "" && e.ID != p.ID {
			return "", s.duplicate(ctx, actor, e)
		}
		return "", err
	}
	// The workflow starts with the state just written, so its first task
	// sends referral-received at once instead of loading the record first.
	if err := startFromRecord(ctx, s.Temporal, s.Store, p.ID); err != nil {
		s.Logger.Warn("referral stored; workflow start deferred to the reconciler", "person", p.ID, "error", err)
	}
	return p.ID, nil
}

// duplicate audits a duplicate referral and decides what its referrer is
// told (see Submit).
func (s *Referrals) duplicate(ctx context.Context, actor register.Actor, conflict *register.Error) error {
	existing := conflict.ID
	sees := actor.Role == StarterRole
	if !sees {
		var err error
		if sees, err = s.Store.CanSee(ctx, actor, existing); err != nil {
			return err
		}
	}
	attempt, err := s.Store.RecordDuplicateReferral(ctx, actor, existing, !sees)
	if err != nil {
		return err
	}
	if sees {
		return conflict
	}
	if err := StartDuplicateNotice(ctx, s.Temporal, attempt); err != nil {
		// Queued in the database: the worker's reconciler starts it.
		s.Logger.Warn("duplicate referral recorded; its notice is left to the reconciler", "error", err)
	}
	return register.Conflict(DuplicateUnseen, "")
}
