package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bsw-dsr/dsr/register"
)

// ImportedReason is the rating history's and the audit log's note on a
// person imported from a spreadsheet.
const ImportedReason = "imported from the register spreadsheet"

// CreateImported stores one person read from an imported register, as the
// row describes them (status, rating, last review), with the next review
// already planned (p.NextReviewDue), the professionals, a rating history
// entry and an audit 'create' entry, in one transaction. p.ID, p.ReferredAt
// (the referral date the row gives, or the import), p.ImportedAt and, for
// an active person, p.AcceptedAt must be set; importKey says where the row
// came from (run and line).
//
// A spreadsheet never overrides the register: when any record with that
// NHS number exists (open or closed, imported or referred), nothing is
// written and a KindConflict error carries the latest record's id, so a
// re-run of the same file imports nothing twice, and a person discharged
// since the first run stays discharged. The check runs under a transaction
// advisory lock on the NHS number, and the unique index on open NHS numbers
// backs it against a referral submitted at the same moment.
func (s *Store) CreateImported(ctx context.Context, p register.Person, importKey string, actor register.Actor) error {
	if !p.Status.Valid() {
		return fmt.Errorf("store: import: unknown status %q", p.Status)
	}
	if p.ImportedAt == nil || importKey == "" {
		return errors.New("store: import: the import time and key are required")
	}
	importedAt := *p.ImportedAt
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin import: %w", err)
	}
	defer tx.Rollback(ctx)

	// One round trip: lock the NHS number, then insert unless the register
	// knows the person.
	var rating, proposed *string
	if p.Rating != "" {
		r := string(p.Rating)
		rating = &r
	}
	if p.ProposedRAG != "" {
		r := string(p.ProposedRAG)
		proposed = &r
	}
	var closedAt *time.Time
	closeReason := ""
	if !p.Status.Open() {
		closedAt = p.ClosedAt
		closeReason = p.CloseReason
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('dsr-nhs:' || $1, 0))`, p.NHSNumber)
	b.Queue(`INSERT INTO people (id, nhs_number, episode, status, rating, proposed_rating,
		given_name, family_name, date_of_birth, address, postcode, locality,
		referrer_name, referrer_email, referrer_org, referrer_phone, referrer_relationship, self_referral,
		consent_basis, consent_recorded_on, consent_recorded_by, consent_details,
		current_issues, tried, could_help, referred_at, accepted_at, closed_at, close_reason,
		last_review_at, next_review_due, import_key, imported_at)
		SELECT $1,$2,1,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,false,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31
		WHERE NOT EXISTS (SELECT 1 FROM people WHERE nhs_number = $2)`,
		p.ID, p.NHSNumber, string(p.Status), rating, proposed,
		p.GivenName, p.FamilyName, p.DateOfBirth, p.Address, p.Postcode, p.Locality,
		p.Referrer.Name, p.Referrer.Email, p.Referrer.Organisation, p.Referrer.Phone, p.Referrer.Relationship,
		string(p.Consent.Basis), p.Consent.RecordedOn, p.Consent.RecordedBy, p.Consent.Details,
		p.CurrentIssues, p.Tried, p.CouldHelp, p.ReferredAt, p.AcceptedAt, closedAt, closeReason,
		p.LastReviewAt, p.NextReviewDue, importKey, importedAt)
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("store: import: lock NHS number: %w", err)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
			// A referral for this NHS number committed in the meantime.
			tx.Rollback(ctx)
			return s.alreadyThere(ctx, p.NHSNumber)
		}
		return fmt.Errorf("store: import person: %w", err)
	}
	if tag.RowsAffected() == 0 {
		tx.Rollback(ctx)
		return s.alreadyThere(ctx, p.NHSNumber)
	}

	b = &pgx.Batch{}
	for i, pr := range p.Professionals {
		b.Queue(`INSERT INTO professionals (person_id, position, name, role, organisation, email, manager_email)
			VALUES ($1,$2,$3,$4,$5,$6,$7)`, p.ID, i, pr.Name, pr.Role, pr.Organisation, pr.Email, pr.ManagerEmail)
	}
	if p.Rating != "" {
		b.Queue(`INSERT INTO rating_history (person_id, from_rating, to_rating, reason, changed_by, changed_at)
			VALUES ($1, NULL, $2, $3, $4, $5)`, p.ID, string(p.Rating), ImportedReason, nullUser(actor), importedAt)
	}
	detail := ImportedReason + " (" + importKey + ")"
	b.Queue(`INSERT INTO audit_log (user_id, user_email, role, action, person_id, fields, client_addr, detail)
		VALUES ($1,$2,$3,'create',$4,$5,$6,$7)`, nullUser(actor), actor.Email, actor.Role, p.ID, []string{"import"}, actor.ClientAddr, detail)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: import professionals, rating history and audit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit import: %w", err)
	}
	return nil
}

// alreadyThere is the conflict an import meets: the latest record with the
// NHS number, saying whether an earlier import made it.
func (s *Store) alreadyThere(ctx context.Context, nhs string) error {
	var id, status string
	var key *string
	err := s.Pool.QueryRow(ctx, `SELECT id::text, status, import_key FROM people WHERE nhs_number = $1
		ORDER BY (status IN ('referred','active')) DESC, episode DESC LIMIT 1`, nhs).Scan(&id, &status, &key)
	if err != nil {
		return fmt.Errorf("store: find existing record: %w", err)
	}
	msg := "already on the register (" + status + ")"
	if key != nil {
		msg = "already imported (" + status + ")"
	}
	return register.Conflict(msg, id)
}
