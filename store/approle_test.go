package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

// roles makes cluster-wide roles unique to this test and drops them (and
// their privileges in the test's database) when it ends.
func roles(t *testing.T, owner *pgx.Conn, names ...string) {
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range names {
			id := pgx.Identifier{n}.Sanitize()
			owner.Exec(ctx, `DROP OWNED BY `+id)
			if _, err := owner.Exec(ctx, `DROP ROLE IF EXISTS `+id); err != nil {
				t.Logf("drop role %s: %v", n, err)
			}
		}
	})
}

// asUser is dbURL signed in as user with password.
func asUser(t *testing.T, dbURL, user, password string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// The application role, used through a login role that is a member of it
// (as dsr api and dsr worker connect), can do the register's work and
// append to the audit log, but cannot touch the schema: it cannot drop or
// disable the audit log's append-only trigger, change or empty the audit
// log by privilege (not only by the trigger), drop tables or create any.
func TestGrantAppRoleIsLeastPrivilege(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	owner, err := pgx.Connect(ctx, dbURL) // the test's superuser, which ran the migrations
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Close(context.Background()) })

	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	app, login, password := "dsr_app_"+suffix, "dsr_app_login_"+suffix, uuid.NewString()
	roles(t, owner, login, app)
	for i := range 2 { // creates the role, then re-applies the same grants
		if err := store.GrantAppRole(ctx, owner, app); err != nil {
			t.Fatalf("GrantAppRole run %d: %v", i+1, err)
		}
	}
	var canLogin bool
	if err := owner.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, app).Scan(&canLogin); err != nil || canLogin {
		t.Fatalf("app role created with LOGIN %v (err %v), want NOLOGIN", canLogin, err)
	}
	if _, err := owner.Exec(ctx, `CREATE ROLE `+pgx.Identifier{login}.Sanitize()+` LOGIN PASSWORD '`+password+`' IN ROLE `+pgx.Identifier{app}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	// A table a later migration creates is covered by the default privileges.
	if _, err := owner.Exec(ctx, `CREATE TABLE later_table (id bigserial PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, asUser(t, dbURL, login, password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	var who string
	if err := st.Pool.QueryRow(ctx, `SELECT current_user`).Scan(&who); err != nil || who != login {
		t.Fatalf("connected as %q (err %v), want %q", who, err, login)
	}

	// What the application does.
	if err := st.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema as the app: %v", err)
	}
	id := person(t, st)
	a := register.Actor{Email: "coord@example.org", Role: "coordinator", ClientAddr: "127.0.0.1"}
	if err := st.Audit(ctx, a, "read", id, []string{"given_name"}, "test"); err != nil {
		t.Errorf("append to audit_log: %v", err)
	}
	for _, stmt := range []string{
		`SELECT count(*) FROM people`,
		`UPDATE people SET given_name = 'C' WHERE id = '` + id + `'`,
		`SELECT count(*) FROM audit_log`,
		`SELECT id FROM people FOR UPDATE`,
		`INSERT INTO later_table (v) VALUES ('x')`,
		`DELETE FROM later_table`,
		`DELETE FROM web_sessions`,
	} {
		if _, err := st.Pool.Exec(ctx, stmt); err != nil {
			t.Errorf("as the app, %s: %v", stmt, err)
		}
	}

	// What it must not: each refused for want of privilege, not by the
	// audit trigger (whose message names the table as append-only).
	for _, stmt := range []string{
		`DROP TRIGGER audit_log_append_only ON audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER ALL`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
		`CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
		`DROP FUNCTION audit_log_append_only()`,
		`UPDATE audit_log SET detail = 'changed'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`TRUNCATE people`,
		`DROP TABLE people`,
		`ALTER TABLE people ADD COLUMN x int`,
		`CREATE TABLE app_table (id int)`,
		`UPDATE schema_version SET version = 0`,
		`CREATE ROLE app_made_role`,
	} {
		_, err := st.Pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" || strings.Contains(pgErr.Message, "append-only") {
			t.Errorf("as the app, %s: err = %v, want refused for lack of privilege", stmt, err)
		}
	}
	for _, priv := range []string{"UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"} {
		var has bool
		if err := owner.QueryRow(ctx, `SELECT has_table_privilege($1, 'audit_log', $2)`, login, priv).Scan(&has); err != nil || has {
			t.Errorf("app login has %s on audit_log: %v (err %v)", priv, has, err)
		}
	}
	var n int
	var detail string
	if err := owner.QueryRow(ctx, `SELECT count(*), max(detail) FROM audit_log`).Scan(&n, &detail); err != nil || n != 1 || detail != "test" {
		t.Errorf("audit_log: %d rows, detail %q (err %v); want the one row unchanged", n, detail, err)
	}
	var enabled string
	if err := owner.QueryRow(ctx, `SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only'`).Scan(&enabled); err != nil || enabled != "O" {
		t.Errorf("append-only trigger: enabled %q (err %v)", enabled, err)
	}
}

// GrantAppRole refuses roles that would defeat it, users that do not own
// the tables, and a missing role the owner may not create (naming the
// option); an owner that is no superuser and may not create roles (the
// production shape) grants an existing role.
func TestGrantAppRoleRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.EmptyDatabaseURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	super, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { super.Close(context.Background()) })
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	superRole, owner, other, app, password := "dsr_super_"+suffix, "dsr_owner_"+suffix, "dsr_other_"+suffix, "dsr_app_"+suffix, uuid.NewString()
	roles(t, super, app, superRole, other, owner)
	dbName := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
	t.Cleanup(func() { // before the roles go: a role owning a database cannot
		super.Exec(context.Background(), `ALTER DATABASE `+dbName+` OWNER TO CURRENT_USER`)
	})
	for _, stmt := range []string{
		`CREATE ROLE ` + superRole + ` SUPERUSER NOLOGIN`,
		`CREATE ROLE ` + owner + ` LOGIN NOCREATEROLE PASSWORD '` + password + `'`,
		`CREATE ROLE ` + other + ` LOGIN PASSWORD '` + password + `'`,
		`ALTER DATABASE ` + dbName + ` OWNER TO ` + owner,
	} {
		if _, err := super.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	ownerURL := asUser(t, dbURL, owner, password)
	if _, err := store.Migrate(ctx, ownerURL); err != nil {
		t.Fatalf("migrate as the database's owner: %v", err)
	}
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for _, role := range []string{"", "Robert'); DROP TABLE people;--", `a"b`, owner, superRole} {
		if err := store.GrantAppRole(ctx, conn, role); err == nil {
			t.Errorf("GrantAppRole(%q) succeeded", role)
		}
	}
	err = store.GrantAppRole(ctx, conn, app)
	if !errors.Is(err, store.ErrAppRoleMissing) || !strings.Contains(err.Error(), "--app-role") {
		t.Errorf("missing role, no CREATEROLE: err = %v, want ErrAppRoleMissing naming --app-role", err)
	}
	// Someone who does not own the tables grants nothing.
	otherConn, err := pgx.Connect(ctx, asUser(t, dbURL, other, password))
	if err != nil {
		t.Fatal(err)
	}
	defer otherConn.Close(ctx)
	if err := store.GrantAppRole(ctx, otherConn, "dsr_none_"+suffix); err == nil || !strings.Contains(err.Error(), "does not own the tables") {
		t.Errorf("not the owner: err = %v", err)
	}

	if _, err := super.Exec(ctx, `CREATE ROLE `+app+` NOLOGIN`); err != nil {
		t.Fatal(err)
	}
	if err := store.GrantAppRole(ctx, conn, app); err != nil {
		t.Fatalf("existing role, granted by the owner: %v", err)
	}
	var canInsert, canDelete bool
	if err := conn.QueryRow(ctx, `SELECT has_table_privilege($1, 'people', 'INSERT'), has_table_privilege($1, 'audit_log', 'DELETE')`, app).Scan(&canInsert, &canDelete); err != nil {
		t.Fatal(err)
	}
	if !canInsert || canDelete {
		t.Errorf("INSERT on people %v, DELETE on audit_log %v; want true, false", canInsert, canDelete)
	}
}
