package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DigestCounts is what a coordinator's or manager's weekly digest says:
// counts only, no identifiers.
type DigestCounts struct {
	ReviewsDue       int `json:"reviews_due"`
	ReviewsOverdue   int `json:"reviews_overdue"`
	ReviewsEscalated int `json:"reviews_escalated"`
	ActionsDue       int `json:"actions_due"`
	ActionsOverdue   int `json:"actions_overdue"`
	ActionsEscalated int `json:"actions_escalated"`
}

// Any reports whether there is anything to act on.
func (c DigestCounts) Any() bool {
	return c.ReviewsDue+c.ReviewsOverdue+c.ReviewsEscalated+c.ActionsDue+c.ActionsOverdue+c.ActionsEscalated > 0
}

// DigestUser is a recipient of the weekly digest.
type DigestUser struct {
	Email string
	Role  string
}

// DigestRecipients returns every coordinator and manager.
func (s *Store) DigestRecipients(ctx context.Context) ([]DigestUser, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT email, role FROM users WHERE role IN ('coordinator','manager') ORDER BY email`)
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DigestUser, error) {
		var u DigestUser
		return u, r.Scan(&u.Email, &u.Role)
	})
	if err != nil {
		return nil, fmt.Errorf("store: digest recipients: %w", err)
	}
	return us, nil
}

// Digest counts what is due within the coming week, overdue, and escalated
// (overdue by more than escalateAfter) among the people the user may see.
func (s *Store) Digest(ctx context.Context, u DigestUser, now time.Time, escalateAfter time.Duration) (DigestCounts, error) {
	var c DigestCounts
	week := now.Add(7 * 24 * time.Hour)
	esc := now.Add(-escalateAfter)
	err := s.Pool.QueryRow(ctx, `WITH mine AS (SELECT p.id, p.next_review_due FROM people p
			WHERE p.status = 'active' AND `+visibleTo(u.Role)+`)
		SELECT
			(SELECT count(*) FROM mine WHERE next_review_due >= $2 AND next_review_due < $3),
			(SELECT count(*) FROM mine WHERE next_review_due < $2 AND next_review_due >= $4),
			(SELECT count(*) FROM mine WHERE next_review_due < $4),
			(SELECT count(*) FROM actions a JOIN mine ON a.person_id = mine.id WHERE a.status = 'open' AND a.due >= $2 AND a.due < $3),
			(SELECT count(*) FROM actions a JOIN mine ON a.person_id = mine.id WHERE a.status = 'open' AND a.due < $2 AND a.due >= $4),
			(SELECT count(*) FROM actions a JOIN mine ON a.person_id = mine.id WHERE a.status = 'open' AND a.due < $4)`,
		strings.ToLower(u.Email), now, week, esc).Scan(&c.ReviewsDue, &c.ReviewsOverdue, &c.ReviewsEscalated,
		&c.ActionsDue, &c.ActionsOverdue, &c.ActionsEscalated)
	if err != nil {
		return c, fmt.Errorf("store: digest: %w", err)
	}
	return c, nil
}

// ClaimDigest claims the outbox key of one user's digest for one schedule
// run; it reports false when that digest was already sent.
func (s *Store) ClaimDigest(ctx context.Context, key, occasion string) (bool, error) {
	var status string
	err := s.Pool.QueryRow(ctx, `INSERT INTO notices (key, kind, occasion, status, attempts) VALUES ($1, 'digest', $2, 'sending', 1)
		ON CONFLICT (key) DO UPDATE SET attempts = notices.attempts + 1 RETURNING status`, key, occasion).Scan(&status)
	if err != nil {
		return false, fmt.Errorf("store: claim digest: %w", err)
	}
	return status == "sending", nil
}
