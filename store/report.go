package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/report"
)

// ReportCounts counts the register for the anonymised summary over the
// period [from, to): who is on the register at to (by rating at to, age
// band at to, locality), the status counts, rating changes per month and the
// coded needs of reviews held in the period. Only counts leave the
// database; the caller hides the small ones (report.Build). The queries run
// in one read-only snapshot, so the figures agree with each other.
func (s *Store) ReportCounts(ctx context.Context, from, to time.Time) (report.Raw, error) {
	raw := report.Raw{From: from, To: to,
		Rating: map[string]int{}, AgeBand: map[string]int{}, Locality: map[string]int{},
		Status: map[string]int{}, RatingChanges: map[string]map[string]int{}, Needs: map[string]int{}}
	err := pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// On the register at $1: accepted by then and not yet closed. The
		// rating is the one the history says held at $1; the age is in
		// whole years on the London day of $1.
		rows, _ := tx.Query(ctx, `
			SELECT coalesce((SELECT h.to_rating FROM rating_history h
			                 WHERE h.person_id = p.id AND h.changed_at <= $1
			                 ORDER BY h.changed_at DESC, h.id DESC LIMIT 1), p.rating, ''),
			       date_part('year', age(($1::timestamptz AT TIME ZONE 'Europe/London')::date, p.date_of_birth))::int,
			       p.locality, count(*)
			FROM people p
			WHERE p.accepted_at <= $1 AND (p.closed_at IS NULL OR p.closed_at > $1)
			GROUP BY 1, 2, 3`, to)
		var rating, locality string
		var age, n int
		if _, err := pgx.ForEachRow(rows, []any{&rating, &age, &locality, &n}, func() error {
			raw.Rating[rating] += n
			raw.AgeBand[register.AgeBand(age)] += n
			raw.Locality[locality] += n
			return nil
		}); err != nil {
			return fmt.Errorf("on the register: %w", err)
		}

		var referred, active, discharged, declined int
		err := tx.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE referred_at <= $2 AND (accepted_at IS NULL OR accepted_at > $2) AND (closed_at IS NULL OR closed_at > $2)),
			       count(*) FILTER (WHERE accepted_at <= $2 AND (closed_at IS NULL OR closed_at > $2)),
			       count(*) FILTER (WHERE status = 'discharged' AND closed_at >= $1 AND closed_at < $2),
			       count(*) FILTER (WHERE status = 'declined' AND closed_at >= $1 AND closed_at < $2)
			FROM people`, from, to).Scan(&referred, &active, &discharged, &declined)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		raw.Status[string(register.Referred)], raw.Status[string(register.Active)] = referred, active
		raw.Status[string(register.Discharged)], raw.Status[string(register.Declined)] = discharged, declined

		// Changes of rating, not first ratings, by London month.
		rows, _ = tx.Query(ctx, `
			SELECT to_char(changed_at AT TIME ZONE 'Europe/London', 'YYYY-MM'), to_rating, count(*)
			FROM rating_history
			WHERE from_rating IS NOT NULL AND from_rating <> to_rating AND changed_at >= $1 AND changed_at < $2
			GROUP BY 1, 2`, from, to)
		var month string
		if _, err := pgx.ForEachRow(rows, []any{&month, &rating, &n}, func() error {
			if raw.RatingChanges[month] == nil {
				raw.RatingChanges[month] = map[string]int{}
			}
			raw.RatingChanges[month][rating] += n
			return nil
		}); err != nil {
			return fmt.Errorf("rating changes: %w", err)
		}

		// People, not reviews: one person reviewed weekly is one unmet need.
		rows, _ = tx.Query(ctx, `
			SELECT need, count(DISTINCT person_id) FROM reviews, unnest(needs) AS need
			WHERE held_at >= $1 AND held_at < $2 GROUP BY need`, from, to)
		var need string
		if _, err := pgx.ForEachRow(rows, []any{&need, &n}, func() error {
			raw.Needs[need] = n
			return nil
		}); err != nil {
			return fmt.Errorf("needs: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT person_id) FROM reviews WHERE held_at >= $1 AND held_at < $2`,
			from, to).Scan(&raw.Reviewed); err != nil {
			return fmt.Errorf("people reviewed: %w", err)
		}
		// The risk tool against the rating chosen: reviews in the period
		// that used the tool, and those whose rating differs from what it
		// suggested (no suggestion counts as agreeing).
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE suggested_rating IS NOT NULL AND suggested_rating <> rating)
			FROM reviews WHERE risk_tool IS NOT NULL AND held_at >= $1 AND held_at < $2`,
			from, to).Scan(&raw.RiskToolUsed, &raw.RiskToolDiffers); err != nil {
			return fmt.Errorf("risk tool: %w", err)
		}
		return nil
	})
	if err != nil {
		return report.Raw{}, fmt.Errorf("store: report: %w", err)
	}
	return raw, nil
}

// CETRCounts counts the C(E)TR and keyworker figures of the summary for
// [from, to): admissions in the period and how many had a community C(E)TR
// or LAEP before them; C(E)TRs due in the period, those of them not held
// by their due date, and those held in the period; and, at to, the people
// eligible for a keyworker (on the register, under the birthday after
// maxAge, at one of ratings) and how many of them have one named or
// referred. Counts only.
func (s *Store) CETRCounts(ctx context.Context, from, to time.Time, maxAge int, ratings []register.Rating) (report.CETRRaw, error) {
	var c report.CETRRaw
	rs := make([]string, 0, len(ratings))
	for _, r := range ratings {
		rs = append(rs, string(r))
	}
	err := pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE preceded) FROM admissions WHERE admitted_at >= $1 AND admitted_at < $2`,
			from, to).Scan(&c.Admissions, &c.Preceded); err != nil {
			return fmt.Errorf("admissions: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT
				count(*) FILTER (WHERE due >= $1 AND due < $2 AND status <> 'cancelled'),
				count(*) FILTER (WHERE due >= $1 AND due < $2 AND ((status IN ('due','booked') AND due < $3) OR (status = 'held' AND held_at > due))),
				count(*) FILTER (WHERE status = 'held' AND held_at >= $1 AND held_at < $2)
			FROM cetrs`, from, to, to).Scan(&c.Due, &c.Overdue, &c.Held); err != nil {
			return fmt.Errorf("C(E)TRs: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE p.keyworker_name <> '' OR p.keyworker_referred_on <= ($1::timestamptz AT TIME ZONE 'Europe/London')::date)
			FROM people p
			WHERE p.accepted_at <= $1 AND (p.closed_at IS NULL OR p.closed_at > $1)
			  AND dsr_birthday(p.date_of_birth, $2) > ($1::timestamptz AT TIME ZONE 'Europe/London')::date
			  AND coalesce((SELECT h.to_rating FROM rating_history h WHERE h.person_id = p.id AND h.changed_at <= $1
			                ORDER BY h.changed_at DESC, h.id DESC LIMIT 1), p.rating, '') = ANY($3::text[])`,
			to, maxAge+1, rs).Scan(&c.Eligible, &c.WithKeyworker); err != nil {
			return fmt.Errorf("keyworker coverage: %w", err)
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("store: C(E)TR report: %w", err)
	}
	return c, nil
}
