package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/store"
)

// MonthlyReturns mails the commissioners (and DSR_MONTHLY_RETURN_TO) a
// link to the month's return. The mail carries no count at all, so no
// small one can identify anyone.
type MonthlyReturns struct {
	*Activities
	// ExtraTo is DSR_MONTHLY_RETURN_TO: addresses separated by commas.
	ExtraTo string
}

// SendMonthlyReturn sends the return's mail for month ("2006-01") once to
// each recipient.
func (m *MonthlyReturns) SendMonthlyReturn(ctx context.Context, month string) error {
	to, err := m.Store.EmailsByRole(ctx, store.RoleCommissioner)
	if err != nil {
		return err
	}
	extra := strings.Split(m.ExtraTo, ",")
	data := mail.NoticeData{Kind: "monthly-return", Link: strings.TrimRight(m.BaseURL, "/") + "/reports/returns/" + month, Month: month}
	subject, text, html, err := mail.Render("monthly-return", data)
	if err != nil {
		return fmt.Errorf("render monthly return: %w", err)
	}
	sent := 0
	for _, addr := range store.Dedupe(to, extra) {
		key := fmt.Sprintf("monthly-return/%s/%s", strings.ToLower(addr), month)
		ok, err := m.Store.ClaimDigest(ctx, key, month)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		sum := sha256.Sum256([]byte(key))
		if err := m.Mailer.Send(ctx, mail.Message{To: []string{addr}, Kind: "monthly-return", Subject: subject, Text: text, HTML: html,
			MessageID: hex.EncodeToString(sum[:16])}); err != nil {
			return fmt.Errorf("send monthly return: %s", mail.Summary(err))
		}
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = m.Store.MarkNoticeSent(mctx, key, []string{addr})
		cancel()
		if err != nil {
			return err
		}
		sent++
	}
	m.Logger.Info("monthly return sent", "month", month, "sent", sent)
	return nil
}
