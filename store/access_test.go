package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
)

// The audit log takes inserts and refuses every UPDATE, DELETE and
// TRUNCATE, even from the table's owner (the test connects as a superuser
// that owns it), and even when no row matches.
func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.DB(t)
	a := register.Actor{Email: "coord@example.org", Role: "coordinator", ClientAddr: "127.0.0.1"}
	if err := st.Audit(ctx, a, "read", "", nil, "test"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET detail = 'changed'`,
		`UPDATE audit_log SET detail = 'changed' WHERE false`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE id < 0`,
		`TRUNCATE audit_log`,
	} {
		_, err := st.Pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: err = %v, want insufficient_privilege", stmt, err)
		}
	}
	var n int
	var detail string
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), max(detail) FROM audit_log`).Scan(&n, &detail); err != nil {
		t.Fatal(err)
	}
	if n != 1 || detail != "test" {
		t.Errorf("after the refused statements: %d rows, detail %q; want the one row unchanged", n, detail)
	}
	// No role gets UPDATE or DELETE through PUBLIC.
	for _, priv := range []string{"UPDATE", "DELETE", "TRUNCATE"} {
		var has bool
		err := st.Pool.QueryRow(ctx, `SELECT has_table_privilege('public', 'audit_log', $1)`, priv).Scan(&has)
		if err != nil || has {
			t.Errorf("PUBLIC has %s on audit_log: %v (err %v)", priv, has, err)
		}
	}
}
