package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bsw-dsr/dsr/register"
)

// correctionColumns maps each correctable field to its column and how the
// column is read as text.
var correctionColumns = map[string]struct{ column, read string }{
	"given_name":          {"given_name", "given_name"},
	"family_name":         {"family_name", "family_name"},
	"date_of_birth":       {"date_of_birth", "to_char(date_of_birth,'YYYY-MM-DD')"},
	"nhs_number":          {"nhs_number", "nhs_number"},
	"address":             {"address", "address"},
	"postcode":            {"postcode", "postcode"},
	"locality":            {"locality", "locality"},
	"consent.basis":       {"consent_basis", "consent_basis"},
	"consent.recorded_on": {"consent_recorded_on", "to_char(consent_recorded_on,'YYYY-MM-DD')"},
	"consent.recorded_by": {"consent_recorded_by", "consent_recorded_by"},
	"consent.details":     {"consent_details", "consent_details"},
}

// changeDetail is the audit entry's detail for a change: its kind, and for
// a correction the reason given.
func changeDetail(c register.Change) string {
	if c.Kind == register.ChangeCorrection && c.Correction != nil {
		return string(c.Kind) + ": " + c.Correction.Reason
	}
	return string(c.Kind)
}

// applyCorrection writes a correction: for each field that changes, the
// value before and after into person_corrections, then the new values into
// people. The row is locked first, so the "before" is the value replaced.
// An NHS number that another open episode holds is refused by the unique
// index (people_open_nhs) as a conflict.
func applyCorrection(ctx context.Context, tx pgx.Tx, c register.Change) ([]string, error) {
	k := c.Correction
	if k == nil {
		return nil, fmt.Errorf("store: correction without details")
	}
	var reads []string
	var fields []string
	for _, f := range k.Fields {
		col, ok := correctionColumns[f]
		if !ok {
			return nil, fmt.Errorf("store: correction: unknown field %q", f)
		}
		reads = append(reads, col.read)
		fields = append(fields, f)
	}
	old := make([]string, len(fields))
	dest := make([]any, len(fields))
	for i := range old {
		dest[i] = &old[i]
	}
	err := tx.QueryRow(ctx, `SELECT `+strings.Join(reads, ", ")+` FROM people WHERE id = $1 FOR UPDATE`, c.PersonID).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, register.NotFound("person")
	}
	if err != nil {
		return nil, fmt.Errorf("store: correction: read current details: %w", err)
	}
	var sets []string
	args := []any{c.PersonID}
	var changed []string
	for i, f := range fields {
		nv := k.Details.Value(f)
		if nv == old[i] {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO person_corrections (person_id, update_id, field, old_value, new_value, reason, corrected_by, corrected_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, c.PersonID, c.UpdateID, f, old[i], nv, k.Reason, nullUser(c.Actor), c.At); err != nil {
			return nil, fmt.Errorf("store: correction: keep history: %w", err)
		}
		args = append(args, nv)
		sets = append(sets, fmt.Sprintf("%s = $%d", correctionColumns[f].column, len(args)))
		changed = append(changed, f)
	}
	if len(sets) == 0 {
		return []string{}, nil // the details were already so
	}
	if _, err := tx.Exec(ctx, `UPDATE people SET `+strings.Join(sets, ", ")+` WHERE id = $1`, args...); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == "people_open_nhs" {
			return nil, register.Conflict("this NHS number is already referred or on the register in another record", "")
		}
		return nil, fmt.Errorf("store: correction: %w", err)
	}
	return changed, nil
}
