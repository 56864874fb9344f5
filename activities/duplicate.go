package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// DuplicateKind is the notice a duplicate referral sends the coordinators.
const DuplicateKind = "referral-duplicate"

// Duplicates sends referral-duplicate notices (workflows.ReferralDuplicate).
// It has its own outbox row per attempt (store.ClaimDuplicateNotice), so it
// shares nothing with the person's notices.
type Duplicates struct {
	Store   *store.Store
	Mailer  mail.Sender
	BaseURL string
	Logger  *slog.Logger
}

// NotifyDuplicate sends one attempt's notice once: a retry after it was
// sent does nothing. The recipients are the coordinators at the time of
// sending. The message names no one: the link is to the existing record,
// which only the coordinators it goes to may open.
func (d *Duplicates) NotifyDuplicate(ctx context.Context, attemptID string) error {
	personID, pending, err := d.Store.ClaimDuplicateNotice(ctx, attemptID)
	if register.KindOf(err) == register.KindNotFound {
		return temporal.NewNonRetryableApplicationError("no such duplicate referral", "not-found", err)
	}
	if err != nil || !pending {
		return err
	}
	to, err := d.Store.EmailsByRole(ctx, "coordinator")
	if err != nil {
		return err
	}
	to = store.Dedupe(to)
	if len(to) == 0 {
		d.Logger.Warn("referral-duplicate notice has no recipients: no coordinators")
		return d.Store.MarkDuplicateNoticeSent(ctx, attemptID, []string{})
	}
	subject, text, html, err := mail.Render(DuplicateKind, mail.NoticeData{PersonID: personID, Link: mail.PersonLink(d.BaseURL, personID)})
	if err != nil {
		return temporal.NewNonRetryableApplicationError("render notice", "render", err)
	}
	sum := sha256.Sum256([]byte(DuplicateKind + "/" + attemptID))
	msg := mail.Message{To: to, Kind: DuplicateKind, PersonID: personID, Subject: subject, Text: text, HTML: html,
		MessageID: hex.EncodeToString(sum[:16]), Headers: map[string]string{}}
	if err := d.Mailer.Send(ctx, msg); err != nil {
		_ = d.Store.NoteDuplicateNoticeError(context.WithoutCancel(ctx), attemptID, err.Error())
		return fmt.Errorf("send %s: %s", DuplicateKind, mail.Summary(err)) // never the addresses
	}
	// The message is out: record it even if the worker is stopping.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return d.Store.MarkDuplicateNoticeSent(mctx, attemptID, to)
}
