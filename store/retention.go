package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// ExpiredClosed lists the ids of discharged or declined episodes that
// closed before cutoff: what a retention run with that cutoff deletes.
func (s *Store) ExpiredClosed(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT id::text FROM people
		WHERE status IN ('discharged', 'declined') AND closed_at < $1 ORDER BY closed_at, id`, cutoff)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: expired closed records: %w", err)
	}
	return ids, nil
}

// personTables are the tables holding a person's data by person_id, in
// the order they are emptied (children before people). A new table that
// holds person data must be added here: TestRetention checks that no table
// with a person_id column keeps a deleted person's rows.
var personTables = []string{"notices", "actions", "reviews", "rating_history", "professionals", "person_corrections", "applied_updates",
	"cetrs", "admissions", "consent_records"}

// DeleteExpired deletes one closed episode that closed before cutoff, and
// its personal data from every table, in one transaction, keeping an
// anonymised count of it (month closed, status, last rating) in
// retention_deleted. A later episode that pointed to it keeps its own
// history and loses only the link. The audit log keeps its entries, which
// name the person only by the opaque id. It reports false when the episode
// is not (or no longer) there, open, or closed since cutoff.
func (s *Store) DeleteExpired(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	deleted := false
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var status, rating string
		var closed time.Time
		err := tx.QueryRow(ctx, `SELECT status, coalesce(rating, ''), closed_at FROM people
			WHERE id = $1 AND status IN ('discharged', 'declined') AND closed_at < $2 FOR UPDATE`, id, cutoff).Scan(&status, &rating, &closed)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: retention: lock %s: %w", id, err)
		}
		for _, t := range personTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE person_id = $1`, id); err != nil {
				return fmt.Errorf("store: retention: delete from %s: %w", t, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE people SET previous_id = NULL WHERE previous_id = $1`, id); err != nil {
			return fmt.Errorf("store: retention: unlink later episode: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM people WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: retention: delete person: %w", err)
		}
		month := time.Date(closed.In(register.London).Year(), closed.In(register.London).Month(), 1, 0, 0, 0, 0, time.UTC)
		if _, err := tx.Exec(ctx, `INSERT INTO retention_deleted (closed_month, status, rating, episodes) VALUES ($1, $2, $3, 1)
			ON CONFLICT (closed_month, status, rating) DO UPDATE SET episodes = retention_deleted.episodes + 1`, month, status, rating); err != nil {
			return fmt.Errorf("store: retention: count: %w", err)
		}
		deleted = true
		return nil
	})
	return deleted, err
}

// AuditRetention records a retention run: counts and the cutoff only.
func (s *Store) AuditRetention(ctx context.Context, cutoff time.Time, found, deleted int) error {
	return s.Audit(ctx, register.Actor{Role: "system", Email: "retention"}, "retention", "", nil,
		fmt.Sprintf("retention run: %d closed episodes closed before %s found, %d deleted", found, cutoff.UTC().Format(time.RFC3339), deleted))
}
