package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// Claim answers ClaimNotice.
type Claim string

const (
	// Claimed: this attempt owns the notice until its lease ends; send it.
	Claimed Claim = "claimed"
	// ClaimedElsewhere: another attempt holds a live lease; try again later.
	ClaimedElsewhere Claim = "claimed-elsewhere"
	// AlreadySent and AlreadySkipped: nothing to do.
	AlreadySent    Claim = "sent"
	AlreadySkipped Claim = "skipped"
)

// ClaimNotice claims a notice for one attempt (owner) until lease has
// passed. A notice still being sent by another attempt whose lease is live
// is not claimed, so two attempts never send it side by side; one whose
// lease has run out (its worker died) is taken over.
func (s *Store) ClaimNotice(ctx context.Context, personID string, n register.Notice, owner string, lease time.Duration) (Claim, error) {
	var pid, aid *string
	if personID != "" {
		pid = &personID
	}
	if n.ActionID != "" {
		aid = &n.ActionID
	}
	key := n.Key(personID)
	var got string
	err := s.Pool.QueryRow(ctx, `INSERT INTO notices (key, person_id, kind, occasion, level, action_id, due_at, status, attempts, claim_id, claimed_until)
		VALUES ($1,$2,$3,$4,$5,$6,$7,'sending',1,$8, now() + make_interval(secs => $9))
		ON CONFLICT (key) DO UPDATE SET attempts = notices.attempts + 1, claim_id = EXCLUDED.claim_id, claimed_until = EXCLUDED.claimed_until
		WHERE notices.status = 'sending' AND (notices.claim_id IN ('', EXCLUDED.claim_id)
			OR notices.claimed_until IS NULL OR notices.claimed_until < now())
		RETURNING claim_id`, key, pid, string(n.Kind), n.Occasion, n.Level, aid, nullTime(n.DueAt), owner, lease.Seconds()).Scan(&got)
	if err == nil {
		return Claimed, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: claim notice: %w", err)
	}
	var status string
	if err := s.Pool.QueryRow(ctx, `SELECT status FROM notices WHERE key = $1`, key).Scan(&status); err != nil {
		return "", fmt.Errorf("store: read notice claim: %w", err)
	}
	switch status {
	case "sent":
		return AlreadySent, nil
	case "skipped":
		return AlreadySkipped, nil
	}
	return ClaimedElsewhere, nil
}

// ReleaseNotice ends this owner's claim early (its attempt failed), so the
// next attempt can claim the notice at once.
func (s *Store) ReleaseNotice(ctx context.Context, key, owner string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE notices SET claimed_until = now() WHERE key = $1 AND claim_id = $2 AND status = 'sending'`, key, owner)
	if err != nil {
		return fmt.Errorf("store: release notice: %w", err)
	}
	return nil
}

// PendingDeliveries records the notice's recipients, read now, and returns
// those not yet sent or refused. An address recorded earlier but no longer
// a recipient (the named professionals changed before it could be sent) is
// dropped unsent.
func (s *Store) PendingDeliveries(ctx context.Context, key string, to []string) ([]string, error) {
	if to == nil {
		to = []string{}
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin deliveries: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO notice_deliveries (key, address) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, key, to); err != nil {
		return nil, fmt.Errorf("store: record deliveries: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM notice_deliveries WHERE key = $1 AND status = 'pending' AND NOT (address = ANY($2))`, key, to); err != nil {
		return nil, fmt.Errorf("store: drop stale deliveries: %w", err)
	}
	rows, _ := tx.Query(ctx, `SELECT address FROM notice_deliveries WHERE key = $1 AND status = 'pending' ORDER BY address`, key)
	pending, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: pending deliveries: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("store: commit deliveries: %w", err)
	}
	return pending, nil
}

// Delivery outcomes, per address.
const (
	DeliverySent    = "sent"
	DeliveryRefused = "refused" // for good: a 5xx for this address
	DeliveryPending = "pending" // a temporary failure: try again
)

// Outcome is what became of one address.
type Outcome struct {
	Address string
	Status  string // DeliverySent, DeliveryRefused or DeliveryPending
	Problem string // the mail server's reply, never personal data
}

// MarkDelivery records what became of one address: sent, refused for good,
// or still pending after a temporary failure.
func (s *Store) MarkDelivery(ctx context.Context, key, address, outcome, problem string) error {
	return s.MarkDeliveries(ctx, key, []Outcome{{Address: address, Status: outcome, Problem: problem}})
}

// MarkDeliveries records the outcomes of one send, all in one statement.
func (s *Store) MarkDeliveries(ctx context.Context, key string, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	addrs := make([]string, len(outcomes))
	statuses := make([]string, len(outcomes))
	problems := make([]string, len(outcomes))
	last := ""
	for i, o := range outcomes {
		addrs[i], statuses[i], problems[i] = o.Address, o.Status, o.Problem
		if o.Status == DeliveryPending && o.Problem != "" {
			last = o.Problem
		}
	}
	_, err := s.Pool.Exec(ctx, `WITH o AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS o(address, status, problem)),
		d AS (UPDATE notice_deliveries d SET status = o.status, attempts = d.attempts + 1, last_error = o.problem,
				updated_at = now(), sent_at = CASE WHEN o.status = 'sent' THEN now() END
			FROM o WHERE d.key = $1 AND d.address = o.address AND d.status = 'pending')
		UPDATE notices SET last_error = $5 WHERE key = $1 AND $5 <> ''`, key, addrs, statuses, problems, last)
	if err != nil {
		return fmt.Errorf("store: mark deliveries: %w", err)
	}
	return nil
}

// FinishNotice marks a notice whose every address was sent or refused as
// sent, with the addresses that took it, and returns how many were refused.
func (s *Store) FinishNotice(ctx context.Context, key string) (refused int, err error) {
	err = s.Pool.QueryRow(ctx, `WITH d AS (
			SELECT coalesce(array_agg(address ORDER BY address) FILTER (WHERE status = 'sent'), '{}') AS sent,
				count(*) FILTER (WHERE status = 'refused') AS refused,
				coalesce(string_agg(last_error, '; ') FILTER (WHERE status = 'refused'), '') AS problems
			FROM notice_deliveries WHERE key = $1)
		UPDATE notices SET status = 'sent', sent_at = now(), recipients = d.sent, last_error = d.problems
		FROM d WHERE key = $1 RETURNING d.refused`, key).Scan(&refused)
	if err != nil {
		return 0, fmt.Errorf("store: finish notice: %w", err)
	}
	return refused, nil
}

// Refusal is an address a mail server refused for good, and its reply.
type Refusal struct {
	Address string `json:"address"`
	Problem string `json:"problem"`
}

// Refusals lists the addresses refused for the notice with this key.
func (s *Store) Refusals(ctx context.Context, key string) ([]Refusal, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT address, last_error FROM notice_deliveries WHERE key = $1 AND status = 'refused' ORDER BY address`, key)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Refusal])
	if err != nil {
		return nil, fmt.Errorf("store: refusals: %w", err)
	}
	return rs, nil
}

// MarkNoticeSent records a notice with these recipients as sent, for a
// notice that had nobody to go to.
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

// Unsent is how many notices have waited longer than a limit to be sent,
// and since when the oldest has waited.
type Unsent struct {
	Count  int        `json:"count"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// UnsentOlderThan counts the notices still being sent after waiting longer
// than d: a mail server refusing for hours, a worker that is down. They are
// never dropped; this is how they are seen.
func (s *Store) UnsentOlderThan(ctx context.Context, d time.Duration) (Unsent, error) {
	var u Unsent
	err := s.Pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM notices
		WHERE status = 'sending' AND created_at < now() - make_interval(secs => $1)`, d.Seconds()).Scan(&u.Count, &u.Oldest)
	if err != nil {
		return u, fmt.Errorf("store: unsent notices: %w", err)
	}
	return u, nil
}

// SkipNotice records a notice that fell due while the workflow slept and was
// superseded by a later one of the same ladder.
//
// A claim left behind by a workflow that is gone (Temporal's state was lost
// and rebuilt) is superseded too, once its lease has run out: as skipped if
// nobody got it, or as sent to those who did (the rest are told by the
// later notice instead).
func (s *Store) SkipNotice(ctx context.Context, personID string, n register.Notice) error {
	var aid *string
	if n.ActionID != "" {
		aid = &n.ActionID
	}
	key := n.Key(personID)
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin skip notice: %w", err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `INSERT INTO notices (key, person_id, kind, occasion, level, action_id, due_at, status)
		VALUES ($1,$2,$3,$4,$5,$6,$7,'skipped')
		ON CONFLICT (key) DO UPDATE SET
			status = CASE WHEN EXISTS (SELECT 1 FROM notice_deliveries WHERE key = $1 AND status = 'sent') THEN 'sent' ELSE 'skipped' END,
			sent_at = CASE WHEN EXISTS (SELECT 1 FROM notice_deliveries WHERE key = $1 AND status = 'sent') THEN now() END,
			recipients = coalesce((SELECT array_agg(address ORDER BY address) FROM notice_deliveries WHERE key = $1 AND status = 'sent'), '{}')
		WHERE notices.status = 'sending' AND (notices.claimed_until IS NULL OR notices.claimed_until < now())`,
		key, personID, string(n.Kind), n.Occasion, n.Level, aid, nullTime(n.DueAt))
	if err != nil {
		return fmt.Errorf("store: skip notice: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM notice_deliveries d USING notices n
		WHERE d.key = $1 AND n.key = d.key AND d.status = 'pending' AND n.status <> 'sending'`, key); err != nil {
		return fmt.Errorf("store: drop superseded deliveries: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit skip notice: %w", err)
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

// CETRLeads returns the email addresses of the users flagged C(E)TR lead
// (dsr user add --cetr-lead), who hear of overdue C(E)TRs.
func (s *Store) CETRLeads(ctx context.Context) ([]string, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT email FROM users WHERE cetr_lead AND disabled_at IS NULL ORDER BY email`)
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: C(E)TR leads: %w", err)
	}
	return emails, nil
}

// KeyworkerEmail returns the named keyworker's email, or "".
func (s *Store) KeyworkerEmail(ctx context.Context, personID string) (string, error) {
	var e string
	err := s.Pool.QueryRow(ctx, `SELECT keyworker_email FROM people WHERE id = $1`, personID).Scan(&e)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", register.NotFound("person")
	}
	if err != nil {
		return "", fmt.Errorf("store: keyworker email: %w", err)
	}
	return e, nil
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
