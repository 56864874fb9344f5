package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// ClaimNotice records that a notice is being sent, or finds that it was.
// It returns the notice's status: "sending" (go ahead), "sent" or
// "skipped" (nothing to do).
func (s *Store) ClaimNotice(ctx context.Context, personID string, n register.Notice) (string, error) {
	var pid, aid *string
	if personID != "" {
		pid = &personID
	}
	if n.ActionID != "" {
		aid = &n.ActionID
	}
	var status string
	err := s.Pool.QueryRow(ctx, `INSERT INTO notices (key, person_id, kind, occasion, level, action_id, due_at, status, attempts)
		VALUES ($1,$2,$3,$4,$5,$6,$7,'sending',1)
		ON CONFLICT (key) DO UPDATE SET attempts = notices.attempts + 1
		RETURNING status`, n.Key(personID), pid, string(n.Kind), n.Occasion, n.Level, aid, nullTime(n.DueAt)).Scan(&status)
	if err != nil {
		return "", fmt.Errorf("store: claim notice: %w", err)
	}
	return status, nil
}

// MarkNoticeSent records the accepted message and its recipients.
func (s *Store) MarkNoticeSent(ctx context.Context, key string, recipients []string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE notices SET status = 'sent', sent_at = now(), recipients = $2, last_error = '' WHERE key = $1`,
		key, recipients)
	if err != nil {
		return fmt.Errorf("store: mark notice sent: %w", err)
	}
	return nil
}

// NoteNoticeError keeps the last send error (never personal data: SMTP
// replies only) so an operator can see why a notice is waiting.
func (s *Store) NoteNoticeError(ctx context.Context, key, problem string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE notices SET last_error = $2 WHERE key = $1`, key, problem)
	if err != nil {
		return fmt.Errorf("store: note notice error: %w", err)
	}
	return nil
}

// SkipNotice records a notice that fell due while the workflow slept and was
// superseded by a later one of the same ladder.
func (s *Store) SkipNotice(ctx context.Context, personID string, n register.Notice) error {
	var aid *string
	if n.ActionID != "" {
		aid = &n.ActionID
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO notices (key, person_id, kind, occasion, level, action_id, due_at, status)
		VALUES ($1,$2,$3,$4,$5,$6,$7,'skipped') ON CONFLICT (key) DO NOTHING`,
		n.Key(personID), personID, string(n.Kind), n.Occasion, n.Level, aid, nullTime(n.DueAt))
	if err != nil {
		return fmt.Errorf("store: skip notice: %w", err)
	}
	return nil
}

// EmailsByRole returns the email addresses of every user with this role.
func (s *Store) EmailsByRole(ctx context.Context, role string) ([]string, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT email FROM users WHERE role = $1 ORDER BY email`, role)
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: users by role: %w", err)
	}
	return emails, nil
}

// ReferrerEmail returns the email of whoever made the referral.
func (s *Store) ReferrerEmail(ctx context.Context, personID string) (string, error) {
	var e string
	err := s.Pool.QueryRow(ctx, `SELECT referrer_email FROM people WHERE id = $1`, personID).Scan(&e)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", register.NotFound("person")
	}
	if err != nil {
		return "", fmt.Errorf("store: referrer: %w", err)
	}
	return e, nil
}

// ManagerOf returns the manager's email for a professional: from the
// professional's entry on this person's record, else from their user record.
// Empty when unknown.
func (s *Store) ManagerOf(ctx context.Context, personID, email string) (string, error) {
	var m string
	err := s.Pool.QueryRow(ctx, `SELECT coalesce(
			(SELECT nullif(manager_email,'') FROM professionals WHERE person_id = $1 AND lower(email) = lower($2) LIMIT 1),
			(SELECT nullif(manager_email,'') FROM users WHERE lower(email) = lower($2)),
			'')`, personID, email).Scan(&m)
	if err != nil {
		return "", fmt.Errorf("store: manager of: %w", err)
	}
	return m, nil
}

// ActionOwner returns an action's owner email.
func (s *Store) ActionOwner(ctx context.Context, personID, actionID string) (string, error) {
	var e string
	err := s.Pool.QueryRow(ctx, `SELECT owner_email FROM actions WHERE id = $1 AND person_id = $2`, actionID, personID).Scan(&e)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", register.NotFound("action")
	}
	if err != nil {
		return "", fmt.Errorf("store: action owner: %w", err)
	}
	return e, nil
}

// Dedupe returns the addresses lower-cased, without blanks or repeats, in
// first-seen order.
func Dedupe(addrs ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range addrs {
		for _, a := range list {
			a = strings.ToLower(strings.TrimSpace(a))
			if a != "" && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}
