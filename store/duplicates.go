package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// RecordDuplicateReferral audits a referral refused because the person
// (personID, the existing record) is already referred or on the register.
// When notify is set (the referrer may not see that record) it also queues,
// in the same transaction, a referral-duplicate notice to the coordinators
// and returns its attempt id, the notice's once-only key; otherwise "".
func (s *Store) RecordDuplicateReferral(ctx context.Context, a register.Actor, personID string, notify bool) (string, error) {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("store: begin duplicate referral: %w", err)
	}
	defer tx.Rollback(ctx)
	detail := "referral for a person already referred or on the register: not stored"
	if notify {
		detail += "; the referrer was not told the record's id, the coordinators were told of the attempt"
	}
	if err := audit(ctx, tx, a, "refused", personID, nil, detail); err != nil {
		return "", err
	}
	id := ""
	if notify {
		id = uuid.NewString()
		if _, err := tx.Exec(ctx, `INSERT INTO duplicate_referrals (id, person_id) VALUES ($1, $2)`, id, personID); err != nil {
			return "", fmt.Errorf("store: queue duplicate referral notice: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("store: commit duplicate referral: %w", err)
	}
	return id, nil
}

// ClaimDuplicateNotice finds a queued referral-duplicate notice and counts
// the attempt to send it. It returns the existing record's id and whether
// the notice is still to be sent (false once it was sent).
func (s *Store) ClaimDuplicateNotice(ctx context.Context, id string) (personID string, pending bool, err error) {
	var status string
	err = s.Pool.QueryRow(ctx, `UPDATE duplicate_referrals SET attempts = attempts + 1 WHERE id = $1
		RETURNING person_id::text, status`, id).Scan(&personID, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, register.NotFound("duplicate referral")
	}
	if err != nil {
		return "", false, fmt.Errorf("store: claim duplicate referral notice: %w", err)
	}
	return personID, status == "pending", nil
}

// MarkDuplicateNoticeSent records the accepted message and its recipients.
func (s *Store) MarkDuplicateNoticeSent(ctx context.Context, id string, recipients []string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE duplicate_referrals SET status = 'sent', sent_at = now(), recipients = $2, last_error = ''
		WHERE id = $1`, id, recipients)
	if err != nil {
		return fmt.Errorf("store: mark duplicate referral notice sent: %w", err)
	}
	return nil
}

// NoteDuplicateNoticeError keeps the last send error (SMTP replies, never
// personal data) for an operator.
func (s *Store) NoteDuplicateNoticeError(ctx context.Context, id, problem string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE duplicate_referrals SET last_error = $2 WHERE id = $1`, id, problem)
	if err != nil {
		return fmt.Errorf("store: note duplicate referral notice error: %w", err)
	}
	return nil
}

// PendingDuplicateNotices lists the queued referral-duplicate notices
// queued before the cut-off, for the reconciler to (re)start their
// workflows: a notice whose start failed (Temporal was down) is not lost.
func (s *Store) PendingDuplicateNotices(ctx context.Context, before time.Time) ([]string, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT id::text FROM duplicate_referrals WHERE status = 'pending' AND attempted_at < $1
		ORDER BY attempted_at LIMIT 1000`, before)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: pending duplicate referral notices: %w", err)
	}
	return ids, nil
}
