// Package activities holds the person workflow's activities: load the state
// from the record, persist a change, send or skip a notice.
package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// Activities is registered on the worker; its methods are the activities.
type Activities struct {
	Store   *store.Store
	Mailer  mail.Sender
	BaseURL string
	Logger  *slog.Logger
	// MaxEscalations is how many escalations a ladder has, for "2 of 3".
	MaxEscalations int
}

// LoadState rebuilds a person's workflow state from the record.
func (a *Activities) LoadState(ctx context.Context, personID string) (register.State, error) {
	st, err := a.Store.LoadState(ctx, personID)
	if register.KindOf(err) == register.KindNotFound {
		return st, temporal.NewNonRetryableApplicationError("person not found", "not-found", err)
	}
	return st, err
}

// Persist writes one change, idempotently on its update id.
func (a *Activities) Persist(ctx context.Context, c register.Change) error {
	err := a.Store.ApplyChange(ctx, c)
	if k := register.KindOf(err); k != register.KindInternal {
		return temporal.NewNonRetryableApplicationError(err.Error(), "domain", err)
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

// Notify sends one notice once: it claims the key in the outbox, reads the
// recipients now (so a changed address is honoured), sends, and marks it
// sent. A retry of a sent key does nothing. An error makes Temporal retry.
func (a *Activities) Notify(ctx context.Context, personID string, n register.Notice) error {
	key := n.Key(personID)
	status, err := a.Store.ClaimNotice(ctx, personID, n)
	if err != nil {
		return err
	}
	if status != "sending" {
		return nil
	}
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
	start := time.Now()
	if err := a.Mailer.Send(ctx, msg); err != nil {
		_ = a.Store.NoteNoticeError(context.WithoutCancel(ctx), key, err.Error())
		return fmt.Errorf("send %s: %w", n.Kind, err)
	}
	a.Logger.Info("notice sent", "kind", n.Kind, "person", personID, "recipients", len(to), "ms", time.Since(start).Milliseconds())
	// The message is out: record it even if the worker is stopping, or a
	// retry would send it again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return a.Store.MarkNoticeSent(mctx, key, to)
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
		var emails []string
		for _, p := range ps {
			emails = append(emails, p.Email)
		}
		return emails, ps, err
	}
	switch n.Kind {
	case register.ReferralReceived, register.TriageOverdue:
		return store.Dedupe(coordinators), false, nil
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
