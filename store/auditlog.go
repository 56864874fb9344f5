package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/register"
)

// AuditEntry is one line of the audit log: who (the user as they were
// then), did what, to which person's record, when, from where, and for a
// change which fields.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	User       AuditUser `json:"user"`
	Action     string    `json:"action"`
	PersonID   string    `json:"person_id,omitempty"`
	Fields     []string  `json:"fields"`
	ClientAddr string    `json:"client_addr"`
	Detail     string    `json:"detail,omitempty"`
}

// AuditUser is who acted. The email and role are copied into each entry
// when it is written, so the log says who they were at the time.
type AuditUser struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// AuditFilter narrows the audit log. User is a user id, or an email (any
// value holding "@"). From is inclusive, To exclusive; zero means open.
type AuditFilter struct {
	PersonID string
	User     string
	From, To time.Time
	Limit    int
	Cursor   string
}

// ListAudit returns audit entries, newest first, matching the filter, and
// a cursor for the next (older) page, empty when there is none.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error) {
	return listAudit(ctx, s.Pool, f)
}

// ListAuditAudited is ListAudit for a person: the reading of the audit log
// is itself written to it, in the same transaction, as an "audit" entry
// naming the person asked about (if any) and the filter. So the log says
// who looked into whose trail; the new entry is the first one returned.
func (s *Store) ListAuditAudited(ctx context.Context, a register.Actor, f AuditFilter) ([]AuditEntry, string, error) {
	var entries []AuditEntry
	var next string
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := audit(ctx, tx, a, "audit", f.PersonID, nil, f.String()); err != nil {
			return err
		}
		var err error
		entries, next, err = listAudit(ctx, tx, f)
		return err
	})
	return entries, next, err
}

// String describes the filter for the audit entry of a search: ids, times
// and staff emails only.
func (f AuditFilter) String() string {
	var parts []string
	if f.PersonID != "" {
		parts = append(parts, "person="+f.PersonID)
	}
	if f.User != "" {
		parts = append(parts, "user="+f.User)
	}
	if !f.From.IsZero() {
		parts = append(parts, "from="+f.From.UTC().Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		parts = append(parts, "to="+f.To.UTC().Format(time.RFC3339))
	}
	if f.Cursor != "" {
		parts = append(parts, "cursor="+f.Cursor)
	}
	return "audit log " + strings.Join(parts, " ")
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func listAudit(ctx context.Context, db querier, f AuditFilter) ([]AuditEntry, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var where []string
	var args []any
	add := func(cond string, val any) {
		args = append(args, val)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.PersonID != "" {
		add("person_id = $%d", f.PersonID)
	}
	if f.User != "" {
		if strings.Contains(f.User, "@") {
			add("lower(user_email) = lower($%d)", f.User)
		} else {
			add("user_id = $%d", f.User)
		}
	}
	if !f.From.IsZero() {
		add("at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("at < $%d", f.To)
	}
	if f.Cursor != "" {
		id, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || id <= 0 {
			return nil, "", register.Invalidf("cursor", "not a cursor from this list")
		}
		add("id < $%d", id)
	}
	q := `SELECT id, at, coalesce(user_id::text, ''), user_email, role, action, coalesce(person_id::text, ''),
		fields, client_addr, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	// Keyset on the id, which grows with time: pages do not shift as the
	// log grows while someone reads it.
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, _ := db.Query(ctx, q, args...)
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.User.ID, &e.User.Email, &e.User.Role, &e.Action, &e.PersonID,
			&e.Fields, &e.ClientAddr, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list audit: %w", err)
	}
	next := ""
	if len(entries) > f.Limit {
		entries = entries[:f.Limit]
		next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	return entries, next, nil
}
