package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/bsw-dsr/dsr/mail"
)

// Digests sends the weekly digest to each coordinator and manager who has
// something to act on; nobody with nothing to act on gets mail.
type Digests struct {
	*Activities
	EscalateAfter time.Duration
}

// SendDigests sends one digest per recipient for this occasion, once.
func (d *Digests) SendDigests(ctx context.Context, occasion string) error {
	users, err := d.Store.DigestRecipients(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	sent := 0
	for _, u := range users {
		c, err := d.Store.Digest(ctx, u, now, d.EscalateAfter)
		if err != nil {
			return err
		}
		if !c.Any() {
			continue
		}
		key := fmt.Sprintf("digest/%s/%s", u.Email, occasion)
		ok, err := d.Store.ClaimDigest(ctx, key, occasion)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		data := mail.NoticeData{Kind: "digest", Link: d.BaseURL + "/", Digest: mail.DigestCounts(c)}
		subject, text, html, err := mail.Render("digest", data)
		if err != nil {
			return fmt.Errorf("render digest: %w", err)
		}
		sum := sha256.Sum256([]byte(key))
		if err := d.Mailer.Send(ctx, mail.Message{To: []string{u.Email}, Kind: "digest", Subject: subject, Text: text, HTML: html,
			MessageID: hex.EncodeToString(sum[:16])}); err != nil {
			return fmt.Errorf("send digest: %s", mail.Summary(err)) // never the addresses
		}
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = d.Store.MarkNoticeSent(mctx, key, []string{u.Email})
		cancel()
		if err != nil {
			return err
		}
		sent++
	}
	d.Logger.Info("digests sent", "occasion", occasion, "sent", sent)
	return nil
}
