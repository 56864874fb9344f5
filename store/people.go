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
// nothing twice. The update id is claimed first, so SettleUpdate can fence
// an attempt whose answer was lost.
func (s *Store) ApplyChange(ctx context.Context, c register.Change) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin change: %w", err)
	}
	defer tx.Rollback(ctx)
	var scope *string
	if c.Key.Scope != "" {
		scope = &c.Key.Scope
	}
	tag, err := tx.Exec(ctx, `INSERT INTO applied_updates (update_id, person_id, scope, body_hash, result)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (update_id) DO NOTHING`,
		c.UpdateID, c.PersonID, scope, c.Key.BodyHash, nullJSON(c.Result))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == "applied_updates_scope" {
		return register.Invalidf("Idempotency-Key", "already used for a change to this record")
	}
	if err != nil {
		return fmt.Errorf("store: record update: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return earlierUse(ctx, tx, c)
	}
	fields, err := applyChange(ctx, tx, c)
	if err != nil {
		return err
	}
	if err := syncClocks(ctx, tx, c); err != nil {
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

// earlierUse decides about an update id already recorded: the same change
// applied by an earlier attempt is done; an id that belongs to another
// person or another body, or that was abandoned, is refused, so a reused id
// never answers success for a change that was not written.
func earlierUse(ctx context.Context, tx pgx.Tx, c register.Change) error {
	var person, outcome, body string
	err := tx.QueryRow(ctx, `SELECT person_id::text, outcome, body_hash FROM applied_updates WHERE update_id = $1`, c.UpdateID).
		Scan(&person, &outcome, &body)
	if err != nil {
		return fmt.Errorf("store: read earlier update: %w", err)
	}
	switch {
	case person != c.PersonID || body != c.Key.BodyHash:
		return &register.Error{Kind: register.KindConflict, Message: "this change's id was already used for another change"}
	case outcome == "abandoned":
		return &register.Error{Kind: register.KindUnavailable, Message: "the register gave up on this change before it was written, so nothing was changed. Please try again."}
	}
	return nil // applied by an earlier attempt
}

// SettleUpdate tells whether the update with this id was written, and
// makes the answer final: when it was not, it is recorded as abandoned, so
// an attempt still in flight can no longer commit it. The workflow asks
// after a persist that failed or timed out, and adopts the answer.
func (s *Store) SettleUpdate(ctx context.Context, updateID, personID string, key register.IdempotencyKey) (applied bool, err error) {
	var scope *string
	if key.Scope != "" {
		scope = &key.Scope
	}
	// An attempt still holding the id in an open transaction makes this
	// insert wait for its commit or rollback: the answer is never a guess.
	if _, err := s.Pool.Exec(ctx, `INSERT INTO applied_updates (update_id, person_id, outcome, scope, body_hash) VALUES ($1, $2, 'abandoned', $3, $4)
		ON CONFLICT (update_id) DO NOTHING`, updateID, personID, scope, key.BodyHash); err != nil {
		return false, fmt.Errorf("store: settle update: %w", err)
	}
	var outcome string
	if err := s.Pool.QueryRow(ctx, `SELECT outcome FROM applied_updates WHERE update_id = $1`, updateID).Scan(&outcome); err != nil {
		return false, fmt.Errorf("store: read settled update: %w", err)
	}
	return outcome == "applied", nil
}

// KeyUse is what the register knows of one scoped Idempotency-Key.
type KeyUse struct {
	// Applied holds the first answer when a change with this key was
	// written; nil otherwise.
	Applied []byte
	// BodyHash is the body the key was first used with ("" if never).
	BodyHash string
	// Abandoned counts the attempts given up with nothing written: a retry
	// is a new attempt.
	Abandoned int
}

// IdempotencyKey reads what is known of a scoped key.
func (s *Store) IdempotencyKey(ctx context.Context, scope string) (KeyUse, error) {
	var u KeyUse
	rows, _ := s.Pool.Query(ctx, `SELECT outcome, body_hash, coalesce(result::text, '') FROM applied_updates WHERE scope = $1 ORDER BY applied_at`, scope)
	type row struct{ outcome, body, result string }
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.outcome, &x.body, &x.result)
	})
	if err != nil {
		return u, fmt.Errorf("store: idempotency key: %w", err)
	}
	for _, x := range rs {
		if u.BodyHash == "" {
			u.BodyHash = x.body
		}
		if x.outcome == "applied" {
			u.Applied = []byte(x.result)
			u.BodyHash = x.body
		} else {
			u.Abandoned++
		}
	}
	return u, nil
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
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
		if r.Risk != nil {
			if err := exec(`UPDATE reviews SET risk_tool=$2, risk_version=$3, risk_yes=$4, suggested_rating=nullif($5,''), rating_reason=$6 WHERE id=$1`,
				r.ID, r.Risk.Tool, r.Risk.Version, nonNil(r.Risk.Yes), string(r.Risk.Suggested), r.Risk.Reason); err != nil {
				return nil, err
			}
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
	case register.ChangeMoveReview:
		return []string{"next_review_due"}, exec(`UPDATE people SET next_review_due=$2 WHERE id=$1 AND status='active'`, c.PersonID, nullTime(c.NextReviewDue))
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
	case register.ChangeBookCETR, register.ChangeRecordCETR, register.ChangeCancelCETR, register.ChangeKeyworker,
		register.ChangeConsent, register.ChangeWithdrawn, register.ChangeInpatient, register.ChangeRootCause:
		return applyClockChange(ctx, tx, c)
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
