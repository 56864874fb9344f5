// Package testenv gives tests the real parts they run against: PostgreSQL
// (a fresh database per test), an embedded Temporal server with a client,
// and an SMTP server that records what it receives.
//
// PostgreSQL comes from DSR_TEST_DATABASE_URL or DATABASE_URL when set (the
// role needs CREATEDB); otherwise one private throwaway cluster is started
// per test binary, with the same code dsr dev uses. Packages that use DB
// should call Main from TestMain so the cluster is stopped and removed:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/store"
)

// pgEnv is this test binary's PostgreSQL: a server and a migrated template
// database that each test's database is cloned from. It is process-wide
// state by design: starting a cluster per test would cost a second each.
type pgEnv struct {
	admin    *pgxpool.Pool // to the maintenance database, for CREATE/DROP DATABASE
	base     *url.URL      // server URL; the path is replaced per database
	template string
	cluster  *devstack.Postgres // nil when the server is external
	root     string             // temporary directory of the private cluster
}

var (
	pgMu      sync.Mutex
	pgStarted *pgEnv
	pgErr     error
)

// Main runs the tests and then stops what this package started for the
// whole process. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shutdown()
	os.Exit(code)
}

func shutdown() {
	pgMu.Lock()
	defer pgMu.Unlock()
	env := pgStarted
	if env == nil {
		return
	}
	pgStarted, pgErr = nil, errors.New("testenv: shut down")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if env.cluster == nil {
		// An external server outlives us: leave it as we found it.
		env.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(env.template)+" WITH (FORCE)")
	}
	env.admin.Close()
	if env.cluster != nil {
		env.cluster.Stop()
		os.RemoveAll(env.root)
	}
}

func getPG() (*pgEnv, error) {
	pgMu.Lock()
	defer pgMu.Unlock()
	if pgStarted == nil && pgErr == nil {
		pgStarted, pgErr = startPG()
	}
	return pgStarted, pgErr
}

func startPG() (*pgEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := &pgEnv{}
	raw := firstNonEmpty(os.Getenv("DSR_TEST_DATABASE_URL"), os.Getenv("DATABASE_URL"))
	if raw == "" {
		removeStaleClusters()
		root, err := os.MkdirTemp("", "dsr-testpg-")
		if err != nil {
			return nil, fmt.Errorf("testenv: %w", err)
		}
		// The server may run as the postgres user, who must enter the directory.
		os.Chmod(root, 0o755)
		os.WriteFile(filepath.Join(root, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		pg, err := devstack.StartPostgresWith(ctx, devstack.PostgresOptions{Dir: filepath.Join(root, "pg"), Database: "postgres", Ephemeral: true})
		if err != nil {
			os.RemoveAll(root)
			return nil, fmt.Errorf("testenv: start a private PostgreSQL (or set DSR_TEST_DATABASE_URL): %w", err)
		}
		env.cluster, env.root, raw = pg, root, pg.URL()
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("testenv: DSR_TEST_DATABASE_URL/DATABASE_URL must be a postgres:// URL")
	}
	env.base = u
	env.admin, err = pgxpool.New(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("testenv: connect: %w", err)
	}
	env.template = "dsr_tpl_" + randomHex(6)
	if err := env.createTemplate(ctx); err != nil {
		env.admin.Close()
		if env.cluster != nil {
			env.cluster.Stop()
			os.RemoveAll(env.root)
		}
		return nil, err
	}
	return env, nil
}

func (env *pgEnv) createTemplate(ctx context.Context) error {
	if _, err := env.admin.Exec(ctx, "CREATE DATABASE "+ident(env.template)); err != nil {
		return fmt.Errorf("testenv: create template database: %w", err)
	}
	// Migrate over a connection that is closed again before cloning: a
	// template cannot be copied while anyone is connected to it.
	conn, err := pgx.Connect(ctx, env.urlFor(env.template))
	if err != nil {
		return fmt.Errorf("testenv: connect to template: %w", err)
	}
	_, err = store.MigrateConn(ctx, conn)
	conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("testenv: migrate template: %w", err)
	}
	return nil
}

func (env *pgEnv) urlFor(db string) string {
	u := *env.base
	u.Path = "/" + db
	return u.String()
}

// DatabaseURL creates a fresh database with every migration applied and
// returns its URL; it is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// EmptyDatabaseURL creates a database with no schema at all (for testing
// the migrations themselves); it is dropped when the test ends.
func EmptyDatabaseURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	env, err := getPG()
	if err != nil {
		t.Fatal(err)
	}
	name := "dsr_t_" + randomHex(8)
	stmt := "CREATE DATABASE " + ident(name)
	if migrated {
		stmt += " TEMPLATE " + ident(env.template)
	} else {
		stmt += " TEMPLATE template0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := env.admin.Exec(ctx, stmt); err != nil {
		t.Fatalf("testenv: %s: %v", stmt, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a test that forgot to close a connection must not leak
		// the database.
		if _, err := env.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return env.urlFor(name)
}

// DB returns a store over a fresh, migrated database of its own, closed
// and dropped when the test ends. Safe to call from parallel tests.
func DB(t testing.TB) *store.Store {
	t.Helper()
	u := DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, u)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(s.Close) // runs before the drop, registered earlier
	return s
}

// Cluster starts a private PostgreSQL cluster for this test alone, for
// tests that stop or break the server; it is stopped when the test ends.
func Cluster(t testing.TB) *devstack.Postgres {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		os.Chmod(d, 0o755) // the server may run as the postgres user
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := devstack.StartPostgresWith(ctx, devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Ephemeral: true})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { pg.Stop() })
	return pg
}

// removeStaleClusters deletes the directories of private clusters whose
// test binary died without cleaning up (a timeout, a kill). Their servers
// have already shut down: the kernel told them when their parent died.
func removeStaleClusters() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "dsr-testpg-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "pg", "postmaster.pid")); err == nil {
			if pm, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err == nil && syscall.Kill(pm, 0) == nil {
				continue // its server is still shutting down; next time
			}
		}
		os.RemoveAll(d)
	}
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
