package devstack

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// openTempDir returns a temporary directory the postgres user can enter when
// the test runs as root (t.TempDir makes its directories private).
func openTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func query(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestPostgresKeepsDataAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(openTempDir(t), "pg")

	start := time.Now()
	pg, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initdb and start: %v", time.Since(start))
	if got := query(t, pg.URL(), "SELECT 1"); got != 1 {
		t.Fatalf("SELECT 1 = %d", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatalf("no cluster in %s: %v", dir, err)
	}
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx2, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx2, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx2)
	oldPort := pg.Port()

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pg.Done():
	default:
		t.Fatal("Stop returned before the server exited")
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid still there after a clean stop: %v", err)
	}

	start = time.Now()
	pg, err = StartPostgres(ctx, dir)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer pg.Stop()
	t.Logf("restart: %v (port %d, was %d)", time.Since(start), pg.Port(), oldPort)
	if got := query(t, pg.URL(), "SELECT n FROM kept"); got != 42 {
		t.Fatalf("after restart kept.n = %d, want 42", got)
	}
}

func TestPostgresRecoversFromKilledServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(openTempDir(t), "pg")
	pg, err := StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	query(t, pg.URL(), "SELECT count(*) FROM (SELECT 1) s")
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// kill -9: no shutdown checkpoint, postmaster.pid left behind.
	pg.proc.Signal(syscall.SIGKILL)
	<-pg.Done()
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
		t.Fatalf("expected a stale postmaster.pid: %v", err)
	}
	// Backends notice the postmaster's death and exit; give them a moment,
	// as a person restarting by hand would.
	time.Sleep(500 * time.Millisecond)

	pg, err = StartPostgres(ctx, dir)
	if err != nil {
		t.Fatalf("start after kill -9: %v", err)
	}
	defer pg.Stop()
	if got := query(t, pg.URL(), "SELECT n FROM kept"); got != 7 {
		t.Fatalf("kept.n = %d, want 7", got)
	}
}

func TestPostgresIgnoresPidFileOfUnrelatedProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(openTempDir(t), "pg")
	pg, err := StartPostgresWith(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	// A pid file naming a live process that is not a postmaster (this test
	// process), as happens when pids are reused after a crash.
	pidFile := filepath.Join(dir, "postmaster.pid")
	body := strconv.Itoa(os.Getpid()) + "\n" + dir + "\n0\n5432\n"
	if err := os.WriteFile(pidFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	pg, err = StartPostgresWith(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatalf("start with stale pid file: %v", err)
	}
	defer pg.Stop()
	query(t, pg.URL(), "SELECT 1")
}

func TestPostgresRefusesSecondServerOnSameDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(openTempDir(t), "pg")
	pg, err := StartPostgresWith(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if second, err := StartPostgresWith(ctx, PostgresOptions{Dir: dir, Ephemeral: true}); err == nil {
		second.Stop()
		t.Fatal("a second server started on a data directory in use")
	}
	// The first is untouched.
	query(t, pg.URL(), "SELECT 1")
}

func TestPostgresURLForNamesDatabase(t *testing.T) {
	p := &Postgres{port: 5555, database: "dsr"}
	if got, want := p.URL(), "postgres://postgres@127.0.0.1:5555/dsr?sslmode=disable"; got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
}

// TestPostgresStopsWhenParentIsKilled kills -9 a process that started a
// cluster (as kill -9 of dsr dev would) and expects the server to shut down
// by itself, leaving the directory ready for the next start.
func TestPostgresStopsWhenParentIsKilled(t *testing.T) {
	if dir := os.Getenv("DSR_TEST_PG_CHILD_DIR"); dir != "" {
		pg, err := StartPostgres(context.Background(), dir)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		pid, _ := readPid(pg.Dir())
		fmt.Println("ready", pid)
		select {}
	}
	t.Parallel()
	dir := filepath.Join(openTempDir(t), "pg")
	child := exec.Command(os.Args[0], "-test.run=^TestPostgresStopsWhenParentIsKilled$")
	child.Env = append(os.Environ(), "DSR_TEST_PG_CHILD_DIR="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(line, "ready %d", &pid); err != nil {
		t.Fatalf("child said %q", line)
	}
	child.Process.Kill()
	child.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGQUIT)
			t.Fatalf("postmaster %d still running 30s after its parent was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pg, err := StartPostgres(context.Background(), dir)
	if err != nil {
		t.Fatalf("start after parent was killed: %v", err)
	}
	defer pg.Stop()
	query(t, pg.URL(), "SELECT 1")
}
