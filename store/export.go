package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// exportFrom picks each person's latest episode: the register CSV holds
// one row per person (a repeated NHS number is refused on import), so an
// export can be imported again. Earlier episodes stay in the register.
const exportFrom = `FROM (SELECT DISTINCT ON (nhs_number) * FROM people ORDER BY nhs_number, episode DESC) p`

// ExportPeople calls each for every person's latest episode, ordered by
// family name, given name and NHS number, with their professionals, after
// auditing an 'export' entry per person, so an auditor can ask who took a
// copy of a given record. The audit is committed before any record is
// passed on, and the records passed on are exactly those audited (one
// snapshot). professionals is called first with the largest number of
// professionals on any exported record, so a CSV header can be sized.
func (s *Store) ExportPeople(ctx context.Context, a register.Actor, detail string, professionals func(n int) error, each func(register.Person) error) error {
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("store: begin export: %w", err)
	}
	defer tx.Rollback(ctx)

	rows, _ := tx.Query(ctx, `SELECT p.id::text `+exportFrom)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("store: export: list people: %w", err)
	}
	if err := s.auditMany(ctx, a, "export", ids, detail); err != nil {
		return err
	}
	var most int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM professionals pr
		JOIN (SELECT p.id `+exportFrom+`) e ON e.id = pr.person_id GROUP BY pr.person_id) c`).Scan(&most); err != nil {
		return fmt.Errorf("store: export: count professionals: %w", err)
	}
	if err := professionals(most); err != nil {
		return err
	}

	rows, err = tx.Query(ctx, `SELECT `+personColumns+`,
		coalesce((SELECT json_agg(json_build_object('name', pr.name, 'role', pr.role, 'organisation', pr.organisation,
			'email', pr.email, 'manager_email', pr.manager_email) ORDER BY pr.position)
			FROM professionals pr WHERE pr.person_id = p.id), '[]')
		`+exportFrom+` ORDER BY p.family_name, p.given_name, p.nhs_number`)
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		p, err := scanPerson(extraColumn{rows, &raw})
		if err != nil {
			return fmt.Errorf("store: export: read person: %w", err)
		}
		if err := json.Unmarshal(raw, &p.Professionals); err != nil {
			return fmt.Errorf("store: export: read professionals: %w", err)
		}
		if err := each(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	return nil
}

// extraColumn lets scanPerson read a row that has one more column at the
// end, into dest.
type extraColumn struct {
	row  pgx.Row
	dest any
}

func (e extraColumn) Scan(dest ...any) error { return e.row.Scan(append(dest, e.dest)...) }

// auditMany appends one audit entry per person, in one statement and its
// own committed transaction.
func (s *Store) auditMany(ctx context.Context, a register.Actor, action string, ids []string, detail string) error {
	if len(ids) == 0 {
		return s.Audit(ctx, a, action, "", nil, detail) // an empty export was still taken
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO audit_log (user_id, user_email, role, action, person_id, client_addr, detail)
		SELECT $1, $2, $3, $4, unnest($5::uuid[]), $6, $7`, nullUser(a), a.Email, a.Role, action, ids, a.ClientAddr, detail)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}
