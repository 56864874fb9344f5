package starter

import (
	"context"
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
}

// Options qualify a submission.
type Options struct {
	SelfReferral bool
}

// Submit validates a referral, stores it (the commit makes it durable and the
// unique NHS-number index decides duplicates), then starts the person's
// workflow. It returns the new person's id. When Temporal cannot be reached
// the referral is still kept and the reconciler starts its workflow later.
func (s *Referrals) Submit(ctx context.Context, req register.ReferralRequest, actor register.Actor, now time.Time, opts Options) (string, error) {
	if e := register.ValidateReferral(req, now); e != nil {
		return "", e
	}
	p := req.Normalised().ToPerson()
	p.ID = uuid.NewString()
	p.ReferredAt = now.UTC().Truncate(time.Microsecond) // PostgreSQL's precision, so the record and the workflow agree
	p.SelfReferral = opts.SelfReferral
	if err := s.Store.CreateReferral(ctx, p, actor); err != nil {
		return "", err
	}
	if err := StartPerson(ctx, s.Temporal, p.ID); err != nil {
		s.Logger.Warn("referral stored; workflow start deferred to the reconciler", "person", p.ID, "error", err)
	}
	return p.ID, nil
}
