// Package activities holds the person workflow's activities: load the state
// from the record, persist a change, send or skip a notice.
package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/metrics"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// Activities is registered on the worker; its methods are the activities.
type Activities struct {
	Store   *store.Store
	Mailer  mail.Sender
	BaseURL string
	Logger  *slog.Logger
	// MaxEscalations is how many escalations a ladder has, for "2 of 3".
	MaxEscalations int
	// Metrics counts copies sent and the lag of notices; nil counts none.
	Metrics *metrics.Metrics
}

// LoadState rebuilds a person's workflow state from the record.
func (a *Activities) LoadState(ctx context.Context, personID string) (register.State, error) {
	st, err := a.Store.LoadState(ctx, personID)
	if register.KindOf(err) == register.KindNotFound {
		return st, temporal.NewNonRetryableApplicationError("person not found", "not-found", err)
	}
	return st, err
}

// LoadClocks reads what the record says about a person's clocks; the
// workflow holds the 18th birthday, never the date of birth.
func (a *Activities) LoadClocks(ctx context.Context, personID string) (register.ClockFacts, error) {
	f, err := a.Store.ClockFacts(ctx, personID)
	if register.KindOf(err) == register.KindNotFound {
		return f, temporal.NewNonRetryableApplicationError("person not found", "not-found", err)
	}
	return f, err
}

// Persist writes one change, idempotently on its update id. A refusal by
// the store (a conflict, a reused key) is final and keeps its kind, so the
// caller hears 409 or 422 rather than 500; anything else is retried.
func (a *Activities) Persist(ctx context.Context, c register.Change) error {
	err := a.Store.ApplyChange(ctx, c)
	var e *register.Error
	if errors.As(err, &e) {
		return workflows.DomainFailure(e)
	}
	return err
}

// SkipNotices records notices superseded by a later rung of their ladder.
func (a *Activities) SkipNotices(ctx context.Context, personID string, ns []register.Notice) error {
	for _, n := range ns {
		if err := a.Store.SkipNotice(ctx, personID, n); err != nil {
			return err
		}
	}
	return nil
}

// Notify sends one notice once to each of its recipients. It claims the
// notice for this attempt (an owner and a lease, so no second attempt sends
// alongside), reads the recipients now (so a changed address is honoured),
// and sends a copy to each address not yet confirmed, recording each
// outcome as it comes: accepted, refused for good (a 5xx: recorded, the
// coordinators told with delivery-failed, and never tried again) or failed
// for now (retried with backoff, for as long as it takes). The notice is
// done when every address is accepted or refused, so one mistyped address
// never holds up the others.
func (a *Activities) Notify(ctx context.Context, personID string, n register.Notice) error {
	return a.deliver(ctx, personID, n)
}

// claimMargin is how long a claim outlives its attempt's deadline: long
// enough for the attempt to record what it sent after its context ends.
const claimMargin = 30 * time.Second

// claimant names this attempt and how long its claim lasts.
func claimant(ctx context.Context) (owner string, lease time.Duration) {
	lease = time.Minute + claimMargin
	if !activity.IsActivity(ctx) {
		return "direct-" + uuid.NewString(), lease
	}
	info := activity.GetInfo(ctx)
	if !info.Deadline.IsZero() {
		lease = time.Until(info.Deadline) + claimMargin
	}
	return fmt.Sprintf("%s/%s/%d", info.WorkflowExecution.RunID, info.ActivityID, info.Attempt), lease
}

// errClaimedElsewhere makes Temporal retry: another attempt holds the notice.
var errClaimedElsewhere = errors.New("the notice is being sent by another attempt; waiting for it")

func (a *Activities) deliver(ctx context.Context, personID string, n register.Notice) (err error) {
	key := n.Key(personID)
	owner, lease := claimant(ctx)
	claim, err := a.Store.ClaimNotice(ctx, personID, n, owner, lease)
	if err != nil {
		return err
	}
	switch claim {
	case store.AlreadySent, store.AlreadySkipped:
		return nil
	case store.ClaimedElsewhere:
		return errClaimedElsewhere
	}
	defer func() {
		if err != nil {
			// Free the claim at once, so the next attempt need not wait for
			// the lease; a crashed attempt's lease simply runs out.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = a.Store.ReleaseNotice(rctx, key, owner)
		}
	}()
	to, managerMissing, err := a.recipients(ctx, personID, n)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		// Nobody to tell (no coordinators yet): record it rather than retry
		// forever; the record shows the notice with no recipients.
		a.Logger.Warn("notice has no recipients", "kind", n.Kind, "person", personID)
		return a.Store.MarkNoticeSent(ctx, key, []string{})
	}
	pending, err := a.Store.PendingDeliveries(ctx, key, to)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		if err := a.send(ctx, personID, n, key, pending, managerMissing); err != nil {
			return err
		}
	}
	if n.Kind != register.DeliveryFailed {
		// Told before the notice is finished, so a crash in between tells
		// them on the retry; delivery-failed has its own once-only key.
		refused, err := a.Store.Refusals(ctx, key)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			if err := a.deliver(ctx, personID, deliveryFailed(n, personID)); err != nil {
				return fmt.Errorf("tell coordinators of a refused address: %w", err)
			}
		}
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	refused, err := a.Store.FinishNotice(mctx, key)
	if err != nil {
		return err
	}
	if refused > 0 {
		a.Logger.Warn("notice refused for some recipients", "kind", n.Kind, "person", personID, "refused", refused)
	}
	a.Metrics.NoticeSent(string(n.Kind), n.At, time.Now())
	return nil
}

// deliveryFailed is the notice that tells the coordinators about the
// addresses refused for notice n. Its occasion is n's key without the
// person, so there is one per undelivered notice.
func deliveryFailed(n register.Notice, personID string) register.Notice {
	return register.Notice{Kind: register.DeliveryFailed, Occasion: strings.TrimPrefix(n.Key(personID), personID+"/"), At: n.At}
}

// send sends a copy of the notice to each pending address and records each
// outcome as it is known. It fails (to be retried) when any address failed
// for now.
func (a *Activities) send(ctx context.Context, personID string, n register.Notice, key string, to []string, managerMissing bool) error {
	data := mail.NoticeData{
		Kind:           string(n.Kind),
		PersonID:       personID,
		Link:           a.BaseURL + "/people/" + personID,
		DueAt:          n.DueAt,
		Level:          n.Level,
		MaxLevel:       a.MaxEscalations,
		FromRating:     string(n.FromRating),
		ToRating:       string(n.ToRating),
		ManagerMissing: managerMissing,
		CETRKind:       string(n.CETRKind),
		Child:          n.Child,
	}
	if n.Kind == register.DeliveryFailed {
		failed, _, _ := strings.Cut(n.Occasion, "/")
		data.FailedKind = failed
		failedKey := personID + "/" + n.Occasion
		refusals, err := a.Store.Refusals(ctx, failedKey)
		if err != nil {
			return err
		}
		for _, r := range refusals {
			data.Refused = append(data.Refused, r.Address)
		}
	}
	subject, text, html, err := mail.Render(string(n.Kind), data)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("render notice", "render", err)
	}
	sum := sha256.Sum256([]byte(key))
	msg := mail.Message{
		To: to, Kind: string(n.Kind), PersonID: personID, Subject: subject, Text: text, HTML: html,
		MessageID: hex.EncodeToString(sum[:16]),
		Headers:   map[string]string{},
	}
	// Opaque ids only, for mail filters and tooling.
	if n.ActionID != "" {
		msg.Headers["X-DSR-Action"] = n.ActionID
	}
	if n.Level > 0 {
		msg.Headers["X-DSR-Escalation"] = strconv.Itoa(n.Level)
	}
	return a.sendEach(ctx, key, msg)
}

// sendEach sends msg to each of its recipients alone and records each
// outcome under the notice's key. It fails (to be retried) when any
// address failed for now.
func (a *Activities) sendEach(ctx context.Context, key string, msg mail.Message) error {
	start := time.Now()
	results := a.Mailer.SendEach(ctx, msg)
	// What the server said is recorded even if the worker is stopping: an
	// accepted copy that is not recorded would be sent again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var temporary error
	sent, refused := 0, 0
	outcomes := make([]store.Outcome, len(results))
	for i, r := range results {
		o := store.Outcome{Address: r.To, Status: store.DeliverySent}
		switch {
		case r.Err == nil:
			sent++
		case mail.IsPermanent(r.Err):
			o.Status, o.Problem = store.DeliveryRefused, r.Err.Error()
			refused++
		default:
			o.Status, o.Problem = store.DeliveryPending, r.Err.Error()
			temporary = r.Err
		}
		outcomes[i] = o
	}
	if err := a.Store.MarkDeliveries(mctx, key, outcomes); err != nil {
		return err
	}
	a.Metrics.NoticeCopies(msg.Kind, metrics.CopySent, sent)
	a.Metrics.NoticeCopies(msg.Kind, metrics.CopyRefused, refused)
	a.Metrics.NoticeCopies(msg.Kind, metrics.CopyRetrying, len(results)-sent-refused)
	a.Logger.Info("notice sent", "kind", msg.Kind, "person", msg.PersonID, "accepted", sent, "refused", refused,
		"waiting", len(results)-sent-refused, "ms", time.Since(start).Milliseconds())
	if temporary != nil {
		// The summary, not the error: go-mail's text names the recipients.
		return fmt.Errorf("send %s: %d of %d recipient(s) to try again: %s", msg.Kind, len(results)-sent-refused, len(results), mail.Summary(temporary))
	}
	return nil
}

// SettleUpdate answers, for a persist that failed or timed out, whether
// the change was written; when it was not, it never will be.
func (a *Activities) SettleUpdate(ctx context.Context, c register.Change) (bool, error) {
	return a.Store.SettleUpdate(ctx, c.UpdateID, c.PersonID, c.Key)
}

// recipients decides who gets a notice, per CONTRACT.md's table.
func (a *Activities) recipients(ctx context.Context, personID string, n register.Notice) (to []string, managerMissing bool, err error) {
	var coordinators []string
	switch n.Kind {
	case register.ReferralDeclined, register.ActionDue, register.ActionOverdue:
		// These go to one person; no need to look the coordinators up.
	default:
		if coordinators, err = a.Store.EmailsByRole(ctx, "coordinator"); err != nil {
			return nil, false, err
		}
	}
	professionals := func() ([]string, []register.Professional, error) {
		ps, err := a.Store.Professionals(ctx, personID)
		if err != nil {
			return nil, nil, err
		}
		var emails []string
		for _, p := range ps {
			emails = append(emails, p.Email)
		}
		// A named keyworker hears what a named professional hears.
		kw, err := a.Store.KeyworkerEmail(ctx, personID)
		if kw != "" {
			emails = append(emails, kw)
		}
		return emails, ps, err
	}
	switch n.Kind {
	case register.ReferralReceived, register.TriageOverdue, register.DeliveryFailed,
		register.KeyworkerNeeded, register.TransitionDue, register.ConsentReviewDue, register.CarriedAgain:
		return store.Dedupe(coordinators), false, nil
	case register.CETRDueNotice, register.CETROverdue:
		emails, _, err := professionals()
		return store.Dedupe(emails, coordinators), false, err
	case register.CETREscalated:
		leads, err := a.Store.CETRLeads(ctx)
		return store.Dedupe(leads, coordinators), false, err
	case register.ReferralDeclined:
		e, err := a.Store.ReferrerEmail(ctx, personID)
		return store.Dedupe([]string{e}), false, err
	case register.ReviewDue, register.ReviewOverdue, register.RatingChanged:
		emails, _, err := professionals()
		return store.Dedupe(emails, coordinators), false, err
	case register.ReviewEscalated:
		_, ps, err := professionals()
		if err != nil {
			return nil, false, err
		}
		var managers []string
		for _, p := range ps {
			m, err := a.Store.ManagerOf(ctx, personID, p.Email)
			if err != nil {
				return nil, false, err
			}
			if m == "" {
				managerMissing = true
			}
			managers = append(managers, m)
		}
		return store.Dedupe(managers, coordinators), managerMissing, nil
	case register.ActionDue, register.ActionOverdue:
		owner, err := a.Store.ActionOwner(ctx, personID, n.ActionID)
		return store.Dedupe([]string{owner}), false, err
	case register.ActionEscalated:
		owner, err := a.Store.ActionOwner(ctx, personID, n.ActionID)
		if err != nil {
			return nil, false, err
		}
		m, err := a.Store.ManagerOf(ctx, personID, owner)
		return store.Dedupe([]string{m}, coordinators), m == "", err
	}
	return nil, false, fmt.Errorf("no recipients rule for %s", n.Kind)
}
