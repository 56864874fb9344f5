package store

import (
	"context"
	"fmt"

	"github.com/bsw-dsr/dsr/register"
)

// Audit appends one entry to the audit log.
// One statement, committed on its own: a third of the round trips of an
// explicit transaction, which matters since every record read writes one.
func (s *Store) Audit(ctx context.Context, a register.Actor, action, personID string, fields []string, detail string) error {
	return audit(ctx, s.Pool, a, action, personID, fields, detail)
}

// ReadPerson returns a record and audits the read. The read fails if it
// cannot be audited: no record leaves the register unrecorded.
func (s *Store) ReadPerson(ctx context.Context, a register.Actor, id string) (register.Person, error) {
	p, err := s.GetPerson(ctx, id)
	if err != nil {
		return p, err
	}
	if err := s.Audit(ctx, a, "read", id, nil, ""); err != nil {
		return register.Person{}, err
	}
	return p, nil
}

// ListPeopleAudited lists people and audits the list with one entry per
// person returned, so an auditor can ask who saw a given person.
func (s *Store) ListPeopleAudited(ctx context.Context, a register.Actor, f ListFilter) ([]PersonSummary, string, error) {
	list, next, err := s.ListPeople(ctx, a, f)
	if err != nil {
		return nil, "", err
	}
	if len(list) == 0 {
		return list, next, nil
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("store: begin audit: %w", err)
	}
	defer tx.Rollback(ctx)
	ids := make([]string, len(list))
	for i, p := range list {
		ids[i] = p.ID
	}
	var uid *string
	if a.UserID != "" {
		uid = &a.UserID
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (user_id, user_email, role, action, person_id, client_addr, detail)
		SELECT $1, $2, $3, 'list', unnest($4::uuid[]), $5, 'people list'`, uid, a.Email, a.Role, ids, a.ClientAddr)
	if err != nil {
		return nil, "", fmt.Errorf("store: audit list: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, "", fmt.Errorf("store: commit audit: %w", err)
	}
	return list, next, nil
}

// AuditPayloadRead audits a read of Temporal payloads (the codec endpoint's
// decode) against each person it shows: of the ids found in the decoded
// payloads, those of people on the register get an entry each. A decode
// that names nobody is still audited, without a person.
func (s *Store) AuditPayloadRead(ctx context.Context, a register.Actor, ids []string, detail string) error {
	if ids == nil {
		ids = []string{}
	}
	tag, err := s.Pool.Exec(ctx, `INSERT INTO audit_log (user_id, user_email, role, action, person_id, client_addr, detail)
		SELECT $1, $2, $3, 'read', p.id, $5, $6 FROM people p WHERE p.id = ANY($4::uuid[])`,
		nullUser(a), a.Email, a.Role, ids, a.ClientAddr, detail)
	if err != nil {
		return fmt.Errorf("store: audit payload read: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return s.Audit(ctx, a, "read", "", nil, detail)
	}
	return nil
}
