package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrNotDevDatabase refuses `dsr dev` a database that holds data but was
// never marked as dev's own: it may be a real register, and dev turns on
// password-free sign-in and writes demo users into it.
var ErrNotDevDatabase = errors.New("DATABASE_URL names a database that holds data and was not made by dsr dev; " +
	"dsr dev turns on password-free sign-in and adds demo users, so it will not use it " +
	"(pass --i-know-this-is-not-production if it really is a scratch database)")

// devMarkTable marks a database dsr dev made: created by dev, never by a
// migration, so a production database never has it.
const devMarkTable = "public.dsr_dev_mark"

// ClaimDevDatabase decides whether dsr dev may use the database at url, and
// marks it when it does so for the first time. A database marked before is
// dev's; an empty one (no users and no people, or no schema at all) is
// marked and taken; one with data and no mark is refused with
// ErrNotDevDatabase unless force is set (then it is used, but not marked,
// so the next run must say so again).
func ClaimDevDatabase(ctx context.Context, url string, force bool) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("dev database: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var marked bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, devMarkTable).Scan(&marked); err != nil {
		return fmt.Errorf("dev database: look for the mark: %w", err)
	}
	if marked {
		return nil
	}
	var schema, empty bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.users') IS NOT NULL AND to_regclass('public.people') IS NOT NULL`).Scan(&schema); err != nil {
		return fmt.Errorf("dev database: look for the register's tables: %w", err)
	}
	q := `SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM people)`
	if !schema { // no register here: empty when it has no tables at all
		q = `SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_version')`
	}
	if err := conn.QueryRow(ctx, q).Scan(&empty); err != nil {
		return fmt.Errorf("dev database: check it is empty: %w", err)
	}
	if !empty {
		if force {
			return nil
		}
		return ErrNotDevDatabase
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+devMarkTable+` (marked_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO `+devMarkTable+` DEFAULT VALUES`); err != nil {
		return fmt.Errorf("dev database: mark it: %w", err)
	}
	return nil
}
