package cli

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/internal/testenv"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run runs dsr in-process with exactly these variables set.
func run(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdout: &out, Stderr: &errb, Dir: t.TempDir()})
	return code, out.String(), errb.String()
}

func TestFailuresAreOneLineNamingTheCause(t *testing.T) {
	t.Parallel()
	key := codec.GenerateKey()
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string // the stderr line starts "dsr: " + want
	}{
		{"bad duration", map[string]string{"DSR_REVIEW_EVERY_RED": "0"}, []string{"migrate"}, 2, "DSR_REVIEW_EVERY_RED: "},
		{"bad number", map[string]string{"DSR_REVIEW_EVERY_RED": "abc"}, []string{"dev"}, 2, "DSR_REVIEW_EVERY_RED: "},
		{"bad cron", map[string]string{"DSR_DIGEST_SCHEDULE": "bad"}, []string{"worker"}, 2, "DSR_DIGEST_SCHEDULE: "},
		{"bad tls", map[string]string{"DSR_SMTP_TLS": "x"}, []string{"api"}, 2, "DSR_SMTP_TLS: "},
		{"bad payload key", map[string]string{"DSR_PAYLOAD_KEY": "not-a-key"}, []string{"worker"}, 2, "DSR_PAYLOAD_KEY: "},
		{"worker needs a database", map[string]string{}, []string{"worker"}, 2, "DATABASE_URL: required"},
		{"worker needs temporal", map[string]string{"DATABASE_URL": "postgres://x/y"}, []string{"worker"}, 2, "TEMPORAL_ADDRESS: required"},
		{"worker needs a key", map[string]string{"DATABASE_URL": "postgres://x/y", "TEMPORAL_ADDRESS": "t:1"}, []string{"worker"}, 2, "DSR_PAYLOAD_KEY: required"},
		{"worker needs smtp", map[string]string{"DATABASE_URL": "postgres://x/y", "TEMPORAL_ADDRESS": "t:1", "DSR_PAYLOAD_KEY": key}, []string{"worker"}, 2, "DSR_SMTP_HOST: required"},
		{"migrate needs a database", map[string]string{}, []string{"migrate"}, 2, "DATABASE_URL: required"},
		{"unknown command", map[string]string{}, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"stray argument", map[string]string{}, []string{"api", "now"}, 2, "api takes no arguments"},
		{"api over http", map[string]string{"DATABASE_URL": "postgres://x/y", "TEMPORAL_ADDRESS": "t:1", "DSR_PAYLOAD_KEY": key, "DSR_BASE_URL": "http://dsr.example.org"}, []string{"api"}, 2, "DSR_BASE_URL: must be https://"},
		{"user add without role", map[string]string{}, []string{"user", "add", "--email", "a@example.org", "--name", "A"}, 2, "user add: --role is required"},
		{"user add with bad flag", map[string]string{}, []string{"user", "add", "--colour", "red"}, 2, "user add: flag provided but not defined: -colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.vars, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "dsr: "+tc.want) {
				t.Errorf("stderr = %q, want one line starting %q", stderr, "dsr: "+tc.want)
			}
		})
	}
}

func TestUserAdd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	vars := map[string]string{"DATABASE_URL": url}
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		return lines[len(lines)-1]
	}
	code, out, stderr := run(t, vars, "user", "add", "--email", "Pat.Nurse@Example.org", "--name", "Pat Nurse", "--role", "professional", "--team", "CTPLD", "--manager-email", "boss@example.org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	first := lastLine(out)
	u, err := st.UserByToken(ctx, first)
	if err != nil {
		t.Fatalf("the last line %q is not a working token: %v", first, err)
	}
	if u.Email != "pat.nurse@example.org" || u.Role != "professional" || u.Team != "CTPLD" || u.ManagerEmail != "boss@example.org" {
		t.Fatalf("user = %+v", u)
	}

	// Again with the same email: the user is updated, a second token issued.
	code, out, stderr = run(t, vars, "user", "add", "--email", "pat.nurse@example.org", "--name", "Pat Nurse", "--role", "manager")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	second := lastLine(out)
	if second == first {
		t.Fatal("the same token twice")
	}
	for _, tok := range []string{first, second} {
		got, err := st.UserByToken(ctx, tok)
		if err != nil || got.ID != u.ID || got.Role != "manager" {
			t.Fatalf("after update, token -> %+v, %v", got, err)
		}
	}
	if users, _ := st.ListUsers(ctx, ""); len(users) != 1 {
		t.Fatalf("%d users, want 1", len(users))
	}

	code, _, stderr = run(t, vars, "user", "add", "--email", "x@example.org", "--name", "X", "--role", "admin")
	if code != 2 || !strings.HasPrefix(stderr, "dsr: user add: --role: must be one of") {
		t.Fatalf("bad role: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, vars, "user", "add", "--email", "not-an-email", "--name", "X", "--role", "auditor")
	if code != 2 || !strings.HasPrefix(stderr, "dsr: user add: --email: ") {
		t.Fatalf("bad email: exit %d, stderr %q", code, stderr)
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"DATABASE_URL": testenv.EmptyDatabaseURL(t)}
	files, _ := store.Migrations()
	for range 2 {
		code, out, stderr := run(t, vars, "migrate")
		if code != 0 || !strings.HasPrefix(out, "database schema at version ") || !strings.Contains(out, " "+strconv.Itoa(len(files))+"\n") {
			t.Fatalf("migrate: exit %d, out %q, err %q", code, out, stderr)
		}
	}
}

// dsr migrate --app-role creates the role and grants it, every run; a
// stray argument is a usage error.
func TestMigrateAppRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.EmptyDatabaseURL(t)
	role := "dsr_app_cli_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), `DROP OWNED BY `+role+`; DROP ROLE IF EXISTS `+role)
		conn.Close(context.Background())
	})
	vars := map[string]string{"DATABASE_URL": dbURL}
	for range 2 {
		code, out, stderr := run(t, vars, "migrate", "--app-role", role)
		if code != 0 || !strings.Contains(out, "granted role "+role+" ") {
			t.Fatalf("migrate --app-role: exit %d, out %q, err %q", code, out, stderr)
		}
	}
	var canInsert, canDropAudit bool
	if err := conn.QueryRow(ctx, `SELECT has_table_privilege($1, 'people', 'INSERT'), has_table_privilege($1, 'audit_log', 'DELETE')`, role).Scan(&canInsert, &canDropAudit); err != nil {
		t.Fatal(err)
	}
	if !canInsert || canDropAudit {
		t.Errorf("%s: INSERT on people %v, DELETE on audit_log %v; want true, false", role, canInsert, canDropAudit)
	}
	if code, _, stderr := run(t, vars, "migrate", "--app-role", "Bad Name"); code != 1 || !strings.Contains(stderr, "app role") {
		t.Errorf("bad role name: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, vars, "migrate", "extra"); code != 2 || !strings.Contains(stderr, "unexpected argument") {
		t.Errorf("stray argument: exit %d, stderr %q", code, stderr)
	}
}

func TestWorkerRefusesUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"DATABASE_URL":     testenv.EmptyDatabaseURL(t),
		"TEMPORAL_ADDRESS": "127.0.0.1:1",
		"DSR_PAYLOAD_KEY":  codec.GenerateKey(),
		"DSR_SMTP_HOST":    "127.0.0.1",
	}
	code, _, stderr := run(t, vars, "worker")
	if code != 1 || !strings.Contains(stderr, "run dsr migrate") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestUserDisableEnableList: dsr user disable ends the user's tokens at
// once, dsr user enable lets them back (with a new token), tokens expire
// (--expires, default a year), and dsr user list shows all of it.
func TestUserDisableEnableList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	vars := map[string]string{"DATABASE_URL": url}
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		return lines[len(lines)-1]
	}
	add := func(email string, extra ...string) string {
		t.Helper()
		code, out, stderr := run(t, vars, append([]string{"user", "add", "--email", email, "--name", "N", "--role", "professional"}, extra...)...)
		if code != 0 {
			t.Fatalf("user add %s: exit %d: %s", email, code, stderr)
		}
		return lastLine(out)
	}
	yearToken := add("pat@example.org")
	shortToken := add("sam@example.org", "--expires", "2s")
	if code, _, stderr := run(t, vars, "user", "add", "--email", "x@example.org", "--name", "X", "--role", "auditor", "--expires", "0d"); code != 2 || !strings.Contains(stderr, "--expires") {
		t.Errorf("--expires 0d: exit %d, %q", code, stderr)
	}

	code, out, stderr := run(t, vars, "user", "list")
	if code != 0 {
		t.Fatalf("user list: exit %d: %s", code, stderr)
	}
	year := time.Now().Add(store.DefaultTokenLife).In(register.London).Format(time.DateOnly)
	if !regexp.MustCompile(`pat@example.org\s+professional\s+active\s+1\s+` + year).MatchString(out) {
		t.Errorf("user list does not show pat's token expiring on %s:\n%s", year, out)
	}

	code, out, stderr = run(t, vars, "user", "disable", "--email", "Pat@Example.org")
	if code != 0 || !strings.Contains(out, "1 tokens revoked") {
		t.Fatalf("user disable: exit %d: %s %s", code, out, stderr)
	}
	if _, err := st.UserByToken(ctx, yearToken); err == nil {
		t.Error("a disabled user's token still works")
	}
	if _, out, _ = run(t, vars, "user", "list"); !regexp.MustCompile(`pat@example.org\s+professional\s+disabled since \S+\s+0\s`).MatchString(out) {
		t.Errorf("user list does not show pat disabled:\n%s", out)
	}
	if code, _, stderr = run(t, vars, "user", "add", "--email", "pat@example.org", "--name", "N", "--role", "professional"); code == 0 || !strings.Contains(stderr, "disabled") {
		t.Errorf("user add for a disabled user: exit %d, %q", code, stderr)
	}
	if code, _, stderr = run(t, vars, "user", "disable", "--email", "nobody@example.org"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("disable an unknown user: exit %d, %q", code, stderr)
	}
	if code, _, stderr = run(t, vars, "user", "enable", "--email", "pat@example.org"); code != 0 {
		t.Fatalf("user enable: exit %d: %s", code, stderr)
	}
	if _, err := st.UserByToken(ctx, yearToken); err == nil {
		t.Error("an old token works again after enabling")
	}
	if _, err := st.UserByToken(ctx, add("pat@example.org")); err != nil {
		t.Errorf("a new token after enabling: %v", err)
	}

	if _, err := st.UserByToken(ctx, shortToken); err != nil {
		t.Fatalf("a 2s token at once: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := st.UserByToken(ctx, shortToken); err == nil {
		t.Error("a 2s token still works after 2.5s")
	}
}

// TestDevRefusesARealDatabase: dsr dev takes an empty DATABASE_URL (and
// marks it as its own), a database it marked before, and refuses one that
// holds data it did not make unless told --i-know-this-is-not-production.
func TestDevRefusesARealDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := store.ClaimDevDatabase(ctx, url, false); err != nil {
		t.Fatalf("an empty database: %v", err)
	}
	if _, err := st.UpsertUser(ctx, store.User{Email: "real@example.org", Name: "Real", Role: "coordinator"}); err != nil {
		t.Fatal(err)
	}
	if err := store.ClaimDevDatabase(ctx, url, false); err != nil {
		t.Fatalf("a database dev marked, with data: %v", err)
	}

	real := testenv.DatabaseURL(t)
	rst, err := store.Open(ctx, real)
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	if _, err := rst.UpsertUser(ctx, store.User{Email: "real@example.org", Name: "Real", Role: "coordinator"}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": real, "DSR_HTTP_ADDR": "127.0.0.1:0", "TEMPORAL_ADDRESS": "127.0.0.1:1"}
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := Main(Env{Args: []string{"dev"}, Getenv: func(k string) string { return vars[k] }, Stdout: &out, Stderr: &errb, Dir: t.TempDir()})
		done <- result{code, errb.String()}
	}()
	var code int
	var stderr string
	select {
	case r := <-done:
		code, stderr = r.code, r.stderr
	case <-time.After(30 * time.Second):
		t.Fatal("dsr dev went on starting with a database that holds data it did not make")
	}
	if code == 0 || !strings.Contains(stderr, "not made by dsr dev") || !strings.Contains(stderr, "--i-know-this-is-not-production") {
		t.Fatalf("dsr dev on a real database: exit %d, %q", code, stderr)
	}
	if users, _ := rst.ListUsers(ctx, ""); len(users) != 1 {
		t.Errorf("dsr dev wrote users into a database it refused: %d", len(users))
	}
	if err := store.ClaimDevDatabase(ctx, real, true); err != nil {
		t.Errorf("with the flag: %v", err)
	}
	if err := store.ClaimDevDatabase(ctx, real, false); err == nil {
		t.Errorf("the flag marked the database: the next run must be told again")
	}
}
