package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// appRoleName is what GrantAppRole accepts: an unquoted-style PostgreSQL
// name, so the role is spelt the same in SQL, in psql and in the compose
// file. It is quoted with pgx.Identifier all the same.
var appRoleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ErrAppRoleMissing is returned when the application role does not exist
// and the migrating user may not create roles.
var ErrAppRoleMissing = errors.New("the application role does not exist")

// GrantAppRole gives role exactly what dsr api and dsr worker need on the
// schema the connected user (the schema's owner, who runs the migrations)
// has made, and nothing more: SELECT, INSERT, UPDATE and DELETE on the
// tables, USAGE and SELECT on their sequences, INSERT and SELECT only on
// audit_log, SELECT only on the schema version. The role owns nothing, so
// it cannot ALTER or DROP a table, nor drop or disable the audit log's
// append-only trigger, nor create tables.
//
// The role is created NOLOGIN when missing, if the connected user may
// create roles; log in as a member of it. Default privileges cover tables
// later migrations create, and running it again resets the grants to this
// set, so it is idempotent.
func GrantAppRole(ctx context.Context, conn *pgx.Conn, role string) error {
	if !appRoleName.MatchString(role) {
		return fmt.Errorf("app role %q: want a lower-case PostgreSQL name (letters, digits, _)", role)
	}
	id := pgx.Identifier{role}.Sanitize()

	// The tables' owner (or a superuser) grants; anyone else would be
	// told only "no privileges were granted", as a warning.
	var me, owner string
	var canCreate, mayGrant bool
	err := conn.QueryRow(ctx, `SELECT current_user, r.rolsuper OR r.rolcreaterole, o.rolname, pg_has_role(current_user, o.oid, 'USAGE')
		FROM pg_roles r, pg_class c JOIN pg_roles o ON o.oid = c.relowner
		WHERE r.rolname = current_user AND c.oid = 'public.audit_log'::regclass`).Scan(&me, &canCreate, &owner, &mayGrant)
	if err != nil {
		return fmt.Errorf("app role: find the tables' owner (migrate first): %w", err)
	}
	if !mayGrant {
		return fmt.Errorf("app role: %s does not own the tables (%s does): run dsr migrate --app-role as the owner", me, owner)
	}
	if role == me || role == owner {
		return fmt.Errorf("app role %q owns the tables or runs the migrations: name a separate role", role)
	}
	var exists, super, ownerMember bool
	err = conn.QueryRow(ctx, `SELECT true, rolsuper, pg_has_role(oid, $2, 'MEMBER') OR pg_has_role(oid, current_user, 'MEMBER')
		FROM pg_roles WHERE rolname = $1`, role, owner).Scan(&exists, &super, &ownerMember)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("app role: look up %s: %w", role, err)
	}
	switch {
	case exists && super:
		return fmt.Errorf("app role %q is a superuser: it could drop the audit trigger; use an ordinary role", role)
	case exists && ownerMember:
		return fmt.Errorf("app role %q is a member of %q, the tables' owner, or of %q: it could drop the audit trigger; use a role outside them", role, owner, me)
	case !exists && !canCreate:
		return fmt.Errorf("%w: %q, and %s may not create roles; create it first (CREATE ROLE %s NOLOGIN) or change --app-role", ErrAppRoleMissing, role, me, id)
	case !exists:
		_, err := conn.Exec(ctx, `CREATE ROLE `+id+` NOLOGIN`)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42710") { // duplicate_object: made meanwhile
			return fmt.Errorf("app role: create %s: %w", role, err)
		}
	}

	var db string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return fmt.Errorf("app role: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("app role: %w", err)
	}
	defer tx.Rollback(context.Background())
	for _, stmt := range []string{
		`GRANT CONNECT ON DATABASE ` + pgx.Identifier{db}.Sanitize() + ` TO ` + id,
		// PostgreSQL before 15 lets PUBLIC create in schema public; the
		// app must not (a no-op, with a warning, where the owner may not).
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
		`REVOKE ALL ON SCHEMA public FROM ` + id,
		`GRANT USAGE ON SCHEMA public TO ` + id,
		// Start from nothing each time, so the set below is exact.
		`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ` + id,
		`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ` + id,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + id,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + id,
		// The audit log is append-only; the schema version is the migrator's.
		`REVOKE UPDATE, DELETE ON audit_log FROM ` + id,
		`REVOKE INSERT, UPDATE, DELETE ON ` + versionTable + ` FROM ` + id,
		// Tables and sequences later migrations create (by this user).
		`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ` + id,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ` + id,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("app role: %s: %w", stmt, err)
		}
	}
	// Whatever this user could not revoke, say so rather than leave the
	// role able to create tables.
	var canCreateTables bool
	if err := tx.QueryRow(ctx, `SELECT has_schema_privilege($1, 'public', 'CREATE')`, role).Scan(&canCreateTables); err != nil {
		return fmt.Errorf("app role: %w", err)
	}
	if canCreateTables {
		return fmt.Errorf("app role %q may create tables in schema public (as PUBLIC, PostgreSQL before 15): have the schema's owner run REVOKE CREATE ON SCHEMA public FROM PUBLIC", role)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("app role: %w", err)
	}
	return nil
}
