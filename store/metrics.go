package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PeopleCount is how many people have one status and rating ("" before
// triage).
type PeopleCount struct {
	Status, Rating string
	N              int
}

// PeopleCounts counts the people by status and rating, for the metrics.
func (s *Store) PeopleCounts(ctx context.Context) ([]PeopleCount, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT status, coalesce(rating, ''), count(*) FROM people GROUP BY 1, 2 ORDER BY 1, 2`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PeopleCount, error) {
		var c PeopleCount
		err := r.Scan(&c.Status, &c.Rating, &c.N)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: people counts: %w", err)
	}
	return out, nil
}
