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

const uniqueViolation = "23505"

// CreateReferral stores a new referral as a person in status referred. A
// second open referral for the same NHS number is refused by the unique
// index, and the existing person's id returned in a KindConflict error.
func (s *Store) CreateReferral(ctx context.Context, p register.Person, actor register.Actor) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin referral: %w", err)
	}
	defer tx.Rollback(ctx)

	// A declined or discharged person comes back as a new episode, linked to
	// the last one so their history stays.
	var prevID *string
	var prevEpisode int
	err = tx.QueryRow(ctx, `SELECT id::text, episode FROM people WHERE nhs_number = $1 ORDER BY episode DESC LIMIT 1`,
		p.NHSNumber).Scan(&prevID, &prevEpisode)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: find earlier episode: %w", err)
	}
	var referredBy *string
	if actor.UserID != "" {
		referredBy = &actor.UserID
	}
	_, err = tx.Exec(ctx, `INSERT INTO people (id, nhs_number, episode, previous_id, status, proposed_rating,
		given_name, family_name, date_of_birth, address, postcode, locality,
		referrer_name, referrer_email, referrer_org, referrer_phone, referrer_relationship, self_referral,
		consent_basis, consent_recorded_on, consent_recorded_by, consent_details,
		current_issues, tried, could_help, referred_by, referred_at, import_key)
		VALUES ($1,$2,$3,$4,'referred',NULLIF($5,''),$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,NULLIF($27,''))`,
		p.ID, p.NHSNumber, prevEpisode+1, prevID, string(p.ProposedRAG),
		p.GivenName, p.FamilyName, p.DateOfBirth, p.Address, p.Postcode, p.Locality,
		p.Referrer.Name, p.Referrer.Email, p.Referrer.Organisation, p.Referrer.Phone, p.Referrer.Relationship, p.SelfReferral,
		string(p.Consent.Basis), p.Consent.RecordedOn, p.Consent.RecordedBy, p.Consent.Details,
		p.CurrentIssues, p.Tried, p.CouldHelp, referredBy, p.ReferredAt, "")
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
			if pgErr.ConstraintName == "people_pkey" {
				return register.Conflict("this referral was already submitted", p.ID)
			}
			tx.Rollback(ctx)
			id, lookupErr := s.OpenPersonByNHS(ctx, p.NHSNumber)
			if lookupErr != nil {
				return lookupErr
			}
			return register.Conflict("this NHS number is already referred or on the register", id)
		}
		return fmt.Errorf("store: insert referral: %w", err)
	}
	if err := insertProfessionals(ctx, tx, p.ID, p.Professionals); err != nil {
		return err
	}
	if err := audit(ctx, tx, actor, "create", p.ID, []string{"referral"}, ""); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit referral: %w", err)
	}
	return nil
}

// OpenPersonByNHS returns the id of the referred or active person with this
// NHS number.
func (s *Store) OpenPersonByNHS(ctx context.Context, nhs string) (string, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `SELECT id::text FROM people WHERE nhs_number = $1 AND status IN ('referred','active')`, nhs).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", register.NotFound("person")
	}
	if err != nil {
		return "", fmt.Errorf("store: find by NHS number: %w", err)
	}
	return id, nil
}

func insertProfessionals(ctx context.Context, tx pgx.Tx, personID string, ps []register.Professional) error {
	for i, p := range ps {
		_, err := tx.Exec(ctx, `INSERT INTO professionals (person_id, position, name, role, organisation, email, manager_email)
			VALUES ($1,$2,$3,$4,$5,$6,$7)`, personID, i, p.Name, p.Role, p.Organisation, p.Email, p.ManagerEmail)
		if err != nil {
			return fmt.Errorf("store: insert professional: %w", err)
		}
	}
	return nil
}

// execer is a transaction or the pool: what audit writes through.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func audit(ctx context.Context, tx execer, a register.Actor, action, personID string, fields []string, detail string) error {
	var uid, pid *string
	if a.UserID != "" {
		uid = &a.UserID
	}
	if personID != "" {
		pid = &personID
	}
	if fields == nil {
		fields = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (user_id, user_email, role, action, person_id, fields, client_addr, detail)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, uid, a.Email, a.Role, action, pid, fields, a.ClientAddr, detail)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// ApplyChange persists one change in one transaction with its audit entry.
// It is idempotent on the change's update id: a retried activity writes
// nothing twice.
func (s *Store) ApplyChange(ctx context.Context, c register.Change) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin change: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO applied_updates (update_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		c.UpdateID, c.PersonID)
	if err != nil {
		return fmt.Errorf("store: record update: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // applied by an earlier attempt
	}
	fields, err := applyChange(ctx, tx, c)
	if err != nil {
		return err
	}
	if err := audit(ctx, tx, c.Actor, "change", c.PersonID, fields, changeDetail(c)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit change: %w", err)
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullUser(a register.Actor) *string {
	if a.UserID == "" {
		return nil
	}
	return &a.UserID
}

func applyChange(ctx context.Context, tx pgx.Tx, c register.Change) ([]string, error) {
	exec := func(sql string, args ...any) error {
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("store: %s: %w", c.Kind, err)
		}
		return nil
	}
	ratingHistory := func(from, to register.Rating, reason string) error {
		var f *string
		if from != "" {
			s := string(from)
			f = &s
		}
		return exec(`INSERT INTO rating_history (person_id, from_rating, to_rating, reason, changed_by, changed_at)
			VALUES ($1,$2,$3,$4,$5,$6)`, c.PersonID, f, string(to), reason, nullUser(c.Actor), c.At)
	}
	switch c.Kind {
	case register.ChangeAccept:
		if err := exec(`UPDATE people SET status='active', rating=$2, accepted_at=$3, next_review_due=$4 WHERE id=$1`,
			c.PersonID, string(c.Rating), c.At, nullTime(c.NextReviewDue)); err != nil {
			return nil, err
		}
		return []string{"status", "rag", "next_review_due"}, ratingHistory("", c.Rating, "accepted onto the register")
	case register.ChangeDecline:
		return []string{"status", "close_reason"}, exec(`UPDATE people SET status='declined', closed_at=$2, close_reason=$3 WHERE id=$1`,
			c.PersonID, c.At, c.Reason)
	case register.ChangeDischarge:
		if err := exec(`UPDATE actions SET status='cancelled', closed_at=$2, outcome='person discharged from the register' WHERE person_id=$1 AND status='open'`,
			c.PersonID, c.At); err != nil {
			return nil, err
		}
		return []string{"status", "close_reason"}, exec(`UPDATE people SET status='discharged', closed_at=$2, close_reason=$3, next_review_due=NULL WHERE id=$1`,
			c.PersonID, c.At, c.Reason)
	case register.ChangeReview:
		r := c.Review
		needs := r.Needs
		if needs == nil {
			needs = []string{}
		}
		if err := exec(`INSERT INTO reviews (id, person_id, held_at, rating, current_issues, tried, could_help, notes, needs, recorded_by)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, r.ID, c.PersonID, r.HeldAt, string(r.Rating), r.CurrentIssues, r.Tried, r.CouldHelp, r.Notes, needs, nullUser(c.Actor)); err != nil {
			return nil, err
		}
		if err := exec(`UPDATE people SET rating=$2, last_review_at=$3, next_review_due=$4, current_issues=$5, tried=$6, could_help=$7 WHERE id=$1`,
			c.PersonID, string(r.Rating), r.HeldAt, nullTime(c.NextReviewDue), r.CurrentIssues, r.Tried, r.CouldHelp); err != nil {
			return nil, err
		}
		if err := insertActions(ctx, tx, c, r.ID, r.Actions); err != nil {
			return nil, err
		}
		if c.FromRating != r.Rating {
			if err := ratingHistory(c.FromRating, r.Rating, "review"); err != nil {
				return nil, err
			}
		}
		return []string{"reviews", "rag", "next_review_due", "current_issues", "tried", "could_help", "actions"}, nil
	case register.ChangeRating:
		if err := exec(`UPDATE people SET rating=$2, next_review_due=$3 WHERE id=$1`, c.PersonID, string(c.Rating), nullTime(c.NextReviewDue)); err != nil {
			return nil, err
		}
		return []string{"rag", "next_review_due"}, ratingHistory(c.FromRating, c.Rating, c.Reason)
	case register.ChangeAddActions:
		return []string{"actions"}, insertActions(ctx, tx, c, "", c.Actions)
	case register.ChangeCompleteAction, register.ChangeCancelAction:
		status := register.ActionDone
		if c.Kind == register.ChangeCancelAction {
			status = register.ActionCancelled
		}
		return []string{"actions"}, exec(`UPDATE actions SET status=$3, outcome=$4, closed_by=$5, closed_at=$6 WHERE id=$2 AND person_id=$1 AND status='open'`,
			c.PersonID, c.ActionID, string(status), c.Outcome, nullUser(c.Actor), c.At)
	case register.ChangeCorrection:
		return applyCorrection(ctx, tx, c)
	case register.ChangeProfessionals:
		if err := exec(`DELETE FROM professionals WHERE person_id=$1`, c.PersonID); err != nil {
			return nil, err
		}
		return []string{"professionals"}, insertProfessionals(ctx, tx, c.PersonID, c.Professionals)
	}
	return nil, fmt.Errorf("store: unknown change kind %q", c.Kind)
}

func insertActions(ctx context.Context, tx pgx.Tx, c register.Change, reviewID string, as []register.NewAction) error {
	var rid *string
	if reviewID != "" {
		rid = &reviewID
	}
	for _, a := range as {
		_, err := tx.Exec(ctx, `INSERT INTO actions (id, person_id, review_id, description, owner_email, due, created_by, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, a.ID, c.PersonID, rid, a.Description, a.OwnerEmail, a.Due, nullUser(c.Actor), c.At)
		if err != nil {
			return fmt.Errorf("store: insert action: %w", err)
		}
	}
	return nil
}
