package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// SubjectAccess is everything the register holds about one person, for a
// subject access request (UK GDPR article 15): every episode on the
// register, with its reviews, rating history, actions, professionals,
// corrections, the notices sent about it (kind, when, to whom), and the
// audit log of who read, listed, exported or changed it.
type SubjectAccess struct {
	// AssembledAt is the moment of the snapshot every part was read from.
	AssembledAt time.Time `json:"assembled_at"`
	// RequestedFor is the person id the export was asked for.
	RequestedFor string `json:"requested_for"`
	// NHSNumber is the NHS number of the episode asked for.
	NHSNumber   string              `json:"nhs_number"`
	Episodes    []register.Person   `json:"episodes"`
	Audit       []AuditEntry        `json:"audit"`
	ExportBy    register.Actor      `json:"exported_by"`
	Notices     []SubjectNotice     `json:"notices"`
	Corrections []SubjectCorrection `json:"corrections"`
}

// SubjectNotice is one notice about the person: what kind, when, to whom.
type SubjectNotice struct {
	PersonID   string     `json:"person_id"`
	Kind       string     `json:"kind"`
	Occasion   string     `json:"occasion"`
	Level      int        `json:"level"`
	Status     string     `json:"status"`
	DueAt      *time.Time `json:"due_at,omitempty"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	Recipients []string   `json:"recipients"`
	// Deliveries is each address's outcome: sent, refused or pending.
	Deliveries []SubjectDelivery `json:"deliveries"`
}

// SubjectDelivery is one address a notice went, or was to go, to.
type SubjectDelivery struct {
	Address string     `json:"address"`
	Status  string     `json:"status"`
	SentAt  *time.Time `json:"sent_at,omitempty"`
}

// SubjectCorrection is one correction of a person's details: the field, its
// value before and after, why, by whom and when.
type SubjectCorrection struct {
	PersonID    string    `json:"person_id"`
	Field       string    `json:"field"`
	OldValue    string    `json:"old_value"`
	NewValue    string    `json:"new_value"`
	Reason      string    `json:"reason"`
	CorrectedBy string    `json:"corrected_by,omitempty"`
	CorrectedAt time.Time `json:"corrected_at"`
}

// SubjectAccessExport assembles everything held about the person with this
// id, across all their episodes (linked by NHS number and by previous_id,
// so a corrected NHS number does not split the history), in one REPEATABLE
// READ transaction: every part is read from one snapshot. The export is
// audited in that transaction, one 'export' entry per episode, so the
// export exists if and only if its audit entries do; the export's own
// entries are in its audit section.
func (s *Store) SubjectAccessExport(ctx context.Context, a register.Actor, id string) (SubjectAccess, error) {
	var out SubjectAccess
	err := pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var err error
		out, err = subjectAccess(ctx, tx, a, id)
		return err
	})
	return out, err
}

func subjectAccess(ctx context.Context, tx pgx.Tx, a register.Actor, id string) (SubjectAccess, error) {
	out := SubjectAccess{RequestedFor: id, ExportBy: a}
	if err := tx.QueryRow(ctx, `SELECT nhs_number, now() FROM people WHERE id = $1`, id).Scan(&out.NHSNumber, &out.AssembledAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return out, register.NotFound("person")
		}
		return out, fmt.Errorf("store: subject access: find person: %w", err)
	}
	// Every episode: those sharing an NHS number with any episode of the
	// chain, and the chain of previous_id links both ways.
	rows, _ := tx.Query(ctx, `WITH RECURSIVE ep(id, nhs, prev) AS (
			SELECT id, nhs_number, previous_id FROM people WHERE id = $1
			UNION
			SELECT p.id, p.nhs_number, p.previous_id FROM people p
				JOIN ep ON p.nhs_number = ep.nhs OR p.previous_id = ep.id OR p.id = ep.prev
		)
		SELECT p.id::text FROM people p WHERE p.id IN (SELECT id FROM ep) ORDER BY p.referred_at, p.episode`, id)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return out, fmt.Errorf("store: subject access: episodes: %w", err)
	}
	// Audited first, in this transaction: the export holds its own entries.
	for _, pid := range ids {
		if err := audit(ctx, tx, a, "export", pid, nil, "subject access export"); err != nil {
			return out, err
		}
	}
	for _, pid := range ids {
		p, err := getPerson(ctx, tx, pid)
		if err != nil {
			return out, err
		}
		out.Episodes = append(out.Episodes, p)
	}

	rows, _ = tx.Query(ctx, `SELECT n.person_id::text, n.kind, n.occasion, n.level, n.status, n.due_at, n.sent_at, n.recipients,
		coalesce((SELECT json_agg(json_build_object('address', d.address, 'status', d.status, 'sent_at', d.sent_at) ORDER BY d.address)
			FROM notice_deliveries d WHERE d.key = n.key), '[]')
		FROM notices n WHERE n.person_id = ANY($1::uuid[]) ORDER BY n.created_at, n.key`, ids)
	out.Notices, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubjectNotice, error) {
		var n SubjectNotice
		var deliveries []byte
		if err := r.Scan(&n.PersonID, &n.Kind, &n.Occasion, &n.Level, &n.Status, &n.DueAt, &n.SentAt, &n.Recipients, &deliveries); err != nil {
			return n, err
		}
		return n, json.Unmarshal(deliveries, &n.Deliveries)
	})
	if err != nil {
		return out, fmt.Errorf("store: subject access: notices: %w", err)
	}

	rows, _ = tx.Query(ctx, `SELECT person_id::text, field, old_value, new_value, reason, coalesce(corrected_by::text, ''), corrected_at
		FROM person_corrections WHERE person_id = ANY($1::uuid[]) ORDER BY corrected_at, id`, ids)
	out.Corrections, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubjectCorrection, error) {
		var c SubjectCorrection
		err := r.Scan(&c.PersonID, &c.Field, &c.OldValue, &c.NewValue, &c.Reason, &c.CorrectedBy, &c.CorrectedAt)
		return c, err
	})
	if err != nil {
		return out, fmt.Errorf("store: subject access: corrections: %w", err)
	}

	rows, _ = tx.Query(ctx, `SELECT id, at, coalesce(user_id::text, ''), user_email, role, action, coalesce(person_id::text, ''),
		fields, client_addr, detail FROM audit_log WHERE person_id = ANY($1::uuid[]) ORDER BY id`, ids)
	out.Audit, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.User.ID, &e.User.Email, &e.User.Role, &e.Action, &e.PersonID,
			&e.Fields, &e.ClientAddr, &e.Detail)
		return e, err
	})
	if err != nil {
		return out, fmt.Errorf("store: subject access: audit: %w", err)
	}
	if out.Notices == nil {
		out.Notices = []SubjectNotice{}
	}
	if out.Corrections == nil {
		out.Corrections = []SubjectCorrection{}
	}
	return out, nil
}
