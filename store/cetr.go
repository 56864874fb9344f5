package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// applyClockChange writes the changes of issue 12: C(E)TRs booked, held
// (with their recommendations as actions) or cancelled, the keyworker,
// consent renewed or withdrawn, news of an inpatient, and a root-cause
// review's outcome.
func applyClockChange(ctx context.Context, tx pgx.Tx, c register.Change) ([]string, error) {
	exec := func(sql string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", c.Kind, err)
		}
		return tag.RowsAffected(), nil
	}
	switch c.Kind {
	case register.ChangeBookCETR:
		v := c.CETR
		n, err := exec(`UPDATE cetrs SET status='booked', booked_for=$3 WHERE person_id=$1 AND id=$2 AND status IN ('due','booked')`,
			c.PersonID, v.ID, v.BookedFor)
		if err == nil && n == 0 {
			_, err = exec(`INSERT INTO cetrs (person_id, id, kind, status, booked_for, created_at) VALUES ($1,$2,$3,'booked',$4,$5)`,
				c.PersonID, v.ID, string(v.Kind), v.BookedFor, c.At)
		}
		return []string{"cetrs"}, err
	case register.ChangeRecordCETR:
		v := c.CETR
		n, err := exec(`UPDATE cetrs SET status='held', held_at=$3, chair=$4, notes=$5, closed_at=$6 WHERE person_id=$1 AND id=$2 AND status IN ('due','booked')`,
			c.PersonID, v.ID, v.HeldAt, v.Chair, v.Notes, c.At)
		if err == nil && n == 0 {
			_, err = exec(`INSERT INTO cetrs (person_id, id, kind, status, held_at, chair, notes, created_at, closed_at) VALUES ($1,$2,$3,'held',$4,$5,$6,$7,$7)`,
				c.PersonID, v.ID, string(v.Kind), v.HeldAt, v.Chair, v.Notes, c.At)
		}
		if err != nil {
			return nil, err
		}
		for _, a := range v.Actions {
			if _, err := exec(`INSERT INTO actions (id, person_id, cetr_id, description, owner_email, due, created_by, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, a.ID, c.PersonID, v.ID, a.Description, a.OwnerEmail, a.Due, nullUser(c.Actor), c.At); err != nil {
				return nil, err
			}
		}
		return []string{"cetrs", "actions"}, nil
	case register.ChangeCancelCETR:
		n, err := exec(`UPDATE cetrs SET status='cancelled', reason=$3, closed_at=$4 WHERE person_id=$1 AND id=$2 AND status IN ('due','booked')`,
			c.PersonID, c.CETR.ID, c.CETR.Reason, c.At)
		if err == nil && n == 0 {
			return nil, register.Invalidf("id", "no due or booked C(E)TR with this id on this record")
		}
		return []string{"cetrs"}, err
	case register.ChangeKeyworker:
		k := c.Keyworker
		var on *string
		if k.ReferredOn != "" {
			on = &k.ReferredOn
		}
		_, err := exec(`UPDATE people SET keyworker_name=$2, keyworker_email=$3, keyworker_referred_on=$4 WHERE id=$1`,
			c.PersonID, k.Name, k.Email, on)
		return []string{"keyworker"}, err
	case register.ChangeConsent, register.ChangeWithdrawn:
		v := c.Consent
		event := "renewed"
		if v.Withdraw {
			event = "withdrawn"
		}
		if _, err := exec(`INSERT INTO consent_records (person_id, event, basis, recorded_on, recorded_by, details, recorded_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7)`, c.PersonID, event, string(v.Basis), v.RecordedOn, v.RecordedBy, v.Details, c.At); err != nil {
			return nil, err
		}
		if !v.Withdraw {
			_, err := exec(`UPDATE people SET consent_basis=$2, consent_recorded_on=$3, consent_recorded_by=$4, consent_details=$5 WHERE id=$1`,
				c.PersonID, string(v.Basis), v.RecordedOn, v.RecordedBy, v.Details)
			return []string{"consent"}, err
		}
		// Withdrawn: off the register, the reason kept and the record retained.
		if _, err := exec(`UPDATE actions SET status='cancelled', closed_at=$2, outcome='consent withdrawn' WHERE person_id=$1 AND status='open'`,
			c.PersonID, c.At); err != nil {
			return nil, err
		}
		if _, err := exec(`UPDATE cetrs SET status='cancelled', closed_at=$2, reason='consent withdrawn' WHERE person_id=$1 AND status IN ('due','booked')`,
			c.PersonID, c.At); err != nil {
			return nil, err
		}
		_, err := exec(`UPDATE people SET status='discharged', closed_at=$2, close_reason=$3, next_review_due=NULL WHERE id=$1`,
			c.PersonID, c.At, "consent withdrawn: "+v.Details)
		return []string{"consent", "status", "close_reason"}, err
	case register.ChangeInpatient:
		if c.Inpatient.Secure != nil {
			if _, err := exec(`UPDATE admissions SET secure=$2 WHERE person_id=$1 AND left_at IS NULL`, c.PersonID, *c.Inpatient.Secure); err != nil {
				return nil, err
			}
		}
		return []string{"admissions", "cetrs"}, nil
	case register.ChangeRootCause:
		n, err := exec(`UPDATE admissions SET root_cause_outcome=$3, root_cause_at=$4 WHERE person_id=$1 AND admitted_at=$2 AND NOT preceded`,
			c.PersonID, c.RootCause.AdmittedAt, c.RootCause.Outcome, c.At)
		if err == nil && n == 0 {
			return nil, register.Invalidf("admitted_at", "no admission flagged for a root-cause review at this time on this record")
		}
		return []string{"admissions"}, err
	}
	return nil, fmt.Errorf("store: unknown change kind %q", c.Kind)
}

// syncClocks keeps the record in step with the workflow's C(E)TR clock:
// each C(E)TR due gets a row; one no longer due (the rating changed, the
// person left hospital) is cancelled with that reason; an admission or a
// return from hospital is recorded.
func syncClocks(ctx context.Context, tx pgx.Tx, c register.Change) error {
	if !c.Clocks {
		return nil
	}
	if c.Admitted {
		if _, err := tx.Exec(ctx, `INSERT INTO admissions (person_id, admitted_at, preceded) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`,
			c.PersonID, c.At, c.Preceded); err != nil {
			return fmt.Errorf("store: record admission: %w", err)
		}
	}
	if c.LeftHospital {
		if _, err := tx.Exec(ctx, `UPDATE admissions SET left_at=$2 WHERE person_id=$1 AND left_at IS NULL`, c.PersonID, c.At); err != nil {
			return fmt.Errorf("store: record leaving hospital: %w", err)
		}
	}
	ids := make([]string, 0, len(c.CETRDue))
	for _, d := range c.CETRDue {
		ids = append(ids, d.ID)
		if _, err := tx.Exec(ctx, `INSERT INTO cetrs (person_id, id, kind, status, due, created_at) VALUES ($1,$2,$3,'due',$4,$5)
			ON CONFLICT (person_id, id) DO NOTHING`, c.PersonID, d.ID, string(d.Kind), d.Due, c.At); err != nil {
			return fmt.Errorf("store: C(E)TR due: %w", err)
		}
	}
	// Off the register, every open one ends; on it, the clock's own.
	q := `UPDATE cetrs SET status='cancelled', closed_at=$3, reason='no longer due: the rating changed'
		WHERE person_id=$1 AND status IN ('due','booked') AND due IS NOT NULL AND NOT (id = ANY($2::text[]))`
	if c.Status != register.Active {
		q = `UPDATE cetrs SET status='cancelled', closed_at=$3, reason='off the register'
			WHERE person_id=$1 AND status IN ('due','booked') AND cardinality($2::text[]) >= 0`
	}
	if _, err := tx.Exec(ctx, q, c.PersonID, ids, c.At); err != nil {
		return fmt.Errorf("store: C(E)TRs no longer due: %w", err)
	}
	return nil
}

// cetrParts reads a record's C(E)TRs, admissions, keyworker and consent
// history.
func cetrParts(ctx context.Context, db reader, p *register.Person) error {
	var on *string
	err := db.QueryRow(ctx, `SELECT keyworker_name, keyworker_email, to_char(keyworker_referred_on,'YYYY-MM-DD') FROM people WHERE id=$1`, p.ID).
		Scan(&p.Keyworker.Name, &p.Keyworker.Email, &on)
	if err != nil {
		return fmt.Errorf("store: keyworker: %w", err)
	}
	if on != nil {
		p.Keyworker.ReferredOn = *on
	}
	rows, _ := db.Query(ctx, `SELECT id, kind, status, due, booked_for, held_at, chair, notes, reason, created_at, closed_at
		FROM cetrs WHERE person_id=$1 ORDER BY coalesce(held_at, booked_for, due, created_at), id`, p.ID)
	p.CETRs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.CETR, error) {
		var c register.CETR
		var kind, status string
		err := r.Scan(&c.ID, &kind, &status, &c.Due, &c.BookedFor, &c.HeldAt, &c.Chair, &c.Notes, &c.Reason, &c.CreatedAt, &c.ClosedAt)
		c.Kind, c.Status = register.CETRKind(kind), register.CETRStatus(status)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("store: C(E)TRs: %w", err)
	}
	rows, _ = db.Query(ctx, `SELECT admitted_at, preceded, secure, root_cause_outcome, root_cause_at, left_at
		FROM admissions WHERE person_id=$1 ORDER BY admitted_at`, p.ID)
	p.Admissions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.Admission, error) {
		var a register.Admission
		return a, r.Scan(&a.AdmittedAt, &a.Preceded, &a.Secure, &a.RootCauseOutcome, &a.RootCauseAt, &a.LeftAt)
	})
	if err != nil {
		return fmt.Errorf("store: admissions: %w", err)
	}
	rows, _ = db.Query(ctx, `SELECT event, basis, to_char(recorded_on,'YYYY-MM-DD'), recorded_by, details, recorded_at
		FROM consent_records WHERE person_id=$1 ORDER BY recorded_at, id`, p.ID)
	p.ConsentHistory, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.ConsentRecord, error) {
		var c register.ConsentRecord
		var basis string
		err := r.Scan(&c.Event, &basis, &c.RecordedOn, &c.RecordedBy, &c.Details, &c.RecordedAt)
		c.Basis = register.ConsentBasis(basis)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("store: consent history: %w", err)
	}
	return nil
}

// ClockFacts reads what a workflow needs to start its C(E)TR, keyworker,
// transition and consent clocks for a person: the 18th birthday (never the
// date of birth itself), the open C(E)TRs due with their ladders' progress,
// the last community C(E)TR or LAEP held, the open admission, whether a
// keyworker is named, and when consent was last recorded.
func (s *Store) ClockFacts(ctx context.Context, id string) (register.ClockFacts, error) {
	var f register.ClockFacts
	var dob time.Time
	var consentOn, community, admitted *time.Time
	var keyworker bool
	var consentDay string
	err := s.Pool.QueryRow(ctx, `SELECT date_of_birth, (keyworker_name <> '' OR keyworker_referred_on IS NOT NULL),
		(SELECT max(recorded_at) FROM consent_records c WHERE c.person_id = p.id AND c.event = 'renewed'),
		to_char(p.consent_recorded_on, 'YYYY-MM-DD'),
		(SELECT max(held_at) FROM cetrs c WHERE c.person_id = p.id AND c.status = 'held' AND c.kind IN ('community','laep')),
		(SELECT max(admitted_at) FROM admissions a WHERE a.person_id = p.id AND a.left_at IS NULL),
		coalesce((SELECT bool_or(secure) FROM admissions a WHERE a.person_id = p.id AND a.left_at IS NULL), false)
		FROM people p WHERE id = $1`, id).Scan(&dob, &keyworker, &consentOn, &consentDay, &community, &admitted, &f.Secure)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, register.NotFound("person")
	}
	if err != nil {
		return f, fmt.Errorf("store: clock facts: %w", err)
	}
	y, m, d := dob.Date()
	f.TransitionOn = register.TransitionOn(time.Date(y, m, d, 0, 0, 0, 0, register.London))
	f.Keyworker = keyworker
	for _, t := range []struct {
		from *time.Time
		to   *time.Time
	}{{community, &f.LastCommunityHeld}, {admitted, &f.AdmittedAt}} {
		if t.from != nil {
			*t.to = t.from.UTC()
		}
	}
	var renewed time.Time
	if consentOn != nil {
		renewed = *consentOn
	}
	// The consent clock runs from the day consent was taken (the referral's
	// or import's consent.recorded_on) or its last renewal, the later.
	f.ConsentFrom = register.ConsentFrom(consentDay, renewed)
	rows, _ := s.Pool.Query(ctx, `SELECT id, kind, due FROM cetrs WHERE person_id=$1 AND status IN ('due','booked') AND due IS NOT NULL ORDER BY due, id`, id)
	f.CETRs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.CETRDue, error) {
		var c register.CETRDue
		var kind string
		err := r.Scan(&c.ID, &kind, &c.Due)
		c.Kind, c.Due, c.Ladder.Occasion = register.CETRKind(kind), c.Due.UTC(), c.ID
		return c, err
	})
	if err != nil {
		return f, fmt.Errorf("store: clock facts: C(E)TRs: %w", err)
	}
	rows, _ = s.Pool.Query(ctx, `SELECT kind, occasion, level FROM notices WHERE person_id = $1 AND status IN ('sent','skipped')
		AND kind IN ('cetr-due','cetr-overdue','cetr-escalated','keyworker-needed','transition-due','consent-review-due')`, id)
	f.Sent, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (register.SentRung, error) {
		var x register.SentRung
		var k string
		err := r.Scan(&k, &x.Occasion, &x.Level)
		x.Kind = register.NoticeKind(k)
		return x, err
	})
	if err != nil {
		return f, fmt.Errorf("store: clock facts: notices: %w", err)
	}
	return f, nil
}
