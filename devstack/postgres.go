package devstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures a private PostgreSQL cluster.
type PostgresOptions struct {
	// Dir is the data directory. A cluster is created there if it holds none,
	// and reused otherwise.
	Dir string
	// Database is created if missing; empty means "dsr".
	Database string
	// Ephemeral trades durability for speed (no fsync): for throwaway test
	// clusters only, never for a cluster whose data should survive a crash.
	Ephemeral bool
	// Port to listen on; 0 means a free one. A cluster restarted on its
	// old port is the same server to the clients already configured.
	Port int
}

// Postgres is a running private cluster listening on 127.0.0.1 only, with
// trust authentication: fine for a dev machine, where only local users can
// reach it, and never used in production.
type Postgres struct {
	dir      string
	port     int
	database string
	bin      string
	proc     *os.Process

	done     chan struct{} // closed when the postmaster has exited
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Superuser is the cluster's superuser name.
const Superuser = "postgres"

// StartPostgres starts (creating first if need be) a durable cluster in dir
// with a database named dsr.
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	return StartPostgresWith(ctx, PostgresOptions{Dir: dir})
}

// StartPostgresWith starts a cluster as opts describe. It returns once the
// server accepts connections and the database exists.
func StartPostgresWith(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.Database == "" {
		opts.Database = "dsr"
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("postgres: data dir: %w", err)
	}
	run, err := newRunner()
	if err != nil {
		return nil, err
	}
	existing := ""
	if b, err := os.ReadFile(filepath.Join(dir, "PG_VERSION")); err == nil {
		existing = strings.TrimSpace(string(b))
	}
	bin, err := findPostgresBin(existing)
	if err != nil {
		return nil, err
	}
	if err := run.prepareDir(dir); err != nil {
		return nil, err
	}
	if existing == "" {
		if err := initdb(ctx, run, bin, dir, opts.Ephemeral); err != nil {
			return nil, err
		}
	} else if err := clearStalePid(dir); err != nil {
		return nil, err
	}

	// A free port can be taken between our probe and the server's bind, so
	// try a few times before giving up.
	var lastErr error
	for range 3 {
		p, err := startServer(ctx, run, bin, dir, opts)
		if err == nil {
			if err := p.ensureDatabase(ctx); err != nil {
				p.Stop()
				return nil, err
			}
			return p, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

// URL is the connection string of the dsr (or configured) database.
func (p *Postgres) URL() string { return p.URLFor(p.database) }

// URLFor is the connection string of another database in the cluster.
func (p *Postgres) URLFor(database string) string { return PostgresURL(p.port, database) }

// PostgresURL is the connection string of a database in a private cluster
// listening on 127.0.0.1:port (one started by another process, say).
func PostgresURL(port int, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Dir is the data directory.
func (p *Postgres) Dir() string { return p.dir }

// Port is the TCP port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// Done is closed when the server process has exited, for whatever reason.
func (p *Postgres) Done() <-chan struct{} { return p.done }

// ExitErr is how the server process ended (valid once Done is closed).
func (p *Postgres) ExitErr() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Stop shuts the server down the way pg_ctl stop -m fast does (SIGINT:
// disconnect clients, checkpoint, exit) and waits for it. It is safe to call
// more than once.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(60 * time.Second) })
	return p.stopErr
}

func (p *Postgres) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		if err := p.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("postgres: signal %v: %w", sig, err)
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(grace):
			grace = 10 * time.Second
		}
	}
	return errors.New("postgres: did not exit after SIGKILL")
}

var errPortInUse = errors.New("postgres: port in use")

func initdb(ctx context.Context, run runner, bin, dir string, ephemeral bool) error {
	args := []string{"-D", dir, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := run.command(ctx, filepath.Join(bin, "initdb"), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("postgres: initdb %s: %w\n%s", dir, err, lastLines(out, 10))
	}
	return nil
}

func startServer(ctx context.Context, run runner, bin, dir string, opts PostgresOptions) (*Postgres, error) {
	port := opts.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	args := []string{"-D", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + socketDir(dir, port),
	}
	if opts.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logPath := filepath.Join(dir, "postmaster.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("postgres: open log: %w", err)
	}
	defer logf.Close() // the child holds its own copy
	logStart, _ := logf.Seek(0, 2)
	run.chown(logPath)

	// Not CommandContext: the server must outlive the start-up context.
	cmd := run.command(context.Background(), filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C in the terminal reaches only dsr, which
	// then stops the server last, after the worker and API are done with it.
	cmd.SysProcAttr.Setpgid = true
	// If this process dies without stopping the server (kill -9, a test
	// timeout), the kernel asks the server for a fast shutdown. The signal is
	// tied to the OS thread that started the child, so that thread is kept
	// locked for the child's lifetime.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT

	p := &Postgres{dir: dir, port: port, database: opts.Database, bin: bin, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.proc = cmd.Process
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("postgres: start: %w", err)
	}

	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := p.ping(ctx, "postgres"); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			log := readFrom(logPath, logStart)
			if strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use") {
				return nil, errPortInUse
			}
			return nil, fmt.Errorf("postgres: server exited during start-up (%v); log %s:\n%s", p.waitErr, logPath, lastLines([]byte(log), 15))
		case <-ctx.Done():
			p.stop(10 * time.Second)
			return nil, fmt.Errorf("postgres: waiting for start-up: %w", ctx.Err())
		case <-deadline.C:
			p.stop(10 * time.Second)
			return nil, fmt.Errorf("postgres: not ready after 60s; log %s:\n%s", logPath, lastLines([]byte(readFrom(logPath, logStart)), 15))
		case <-tick.C:
		}
	}
}

func (p *Postgres) ping(ctx context.Context, db string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URLFor(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func (p *Postgres) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URLFor("postgres"))
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", p.database).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look up database: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{p.database}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: create database %s: %w", p.database, err)
	}
	return nil
}

// socketDir puts the unix socket in the data directory when the path fits
// the kernel's limit (107 bytes); otherwise TCP only, which is all we use.
func socketDir(dir string, port int) string {
	if len(filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))) > 100 {
		return ""
	}
	return dir
}

// clearStalePid handles a postmaster.pid left by a server that did not shut
// down. PostgreSQL itself ignores a pid file whose process is gone, but not
// one whose pid has been reused by another process of the same user, which
// is common in containers; and a server orphaned by a kill -9 of its parent
// must be stopped before a new one can start.
func clearStalePid(dir string) error {
	pid, err := readPid(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	pidFile := filepath.Join(dir, "postmaster.pid")
	if err != nil {
		return os.Remove(pidFile)
	}
	if !isPostmasterOf(pid, dir) {
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("postgres: remove stale %s: %w", pidFile, err)
		}
		return nil
	}
	if parentPid(pid) != 1 {
		return fmt.Errorf("postgres: a server (pid %d) is already running on %s; is another dsr using this directory?", pid, dir)
	}
	// Orphaned: its parent died without stopping it. Stop it the fast way.
	syscall.Kill(pid, syscall.SIGINT)
	for range 600 {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("postgres: orphaned server (pid %d) on %s did not stop", pid, dir)
}

func readPid(dir string) (int, error) {
	f, err := os.Open(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return 0, errors.New("empty postmaster.pid")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s.Text()))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad postmaster.pid: %q", s.Text())
	}
	return pid, nil
}

// isPostmasterOf reports whether pid is a postgres process working in dir
// (the postmaster changes into its data directory).
func isPostmasterOf(pid int, dir string) bool {
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		want = dir
	}
	return cwd == want || cwd == dir
}

func parentPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name: state ppid ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// runner runs PostgreSQL's programs as an unprivileged user when we are
// root, since PostgreSQL refuses to run as root.
type runner struct {
	cred *syscall.Credential // nil: run as ourselves
}

func newRunner() (runner, error) {
	if os.Geteuid() != 0 {
		return runner{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runner{}, fmt.Errorf("postgres: running as root, and PostgreSQL refuses root; need the unprivileged 'postgres' user: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return runner{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
}

func (r runner) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if r.cred != nil {
		cmd.Dir = "/" // our working directory may be closed to that user
	}
	return cmd
}

func (r runner) chown(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Chown(path, int(r.cred.Uid), int(r.cred.Gid))
}

// prepareDir creates the data directory and, as root, hands it to the
// postgres user, checking that user can reach it at all.
func (r runner) prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("postgres: create %s: %w", dir, err)
	}
	if r.cred == nil {
		return nil
	}
	if err := r.chown(dir); err != nil {
		return fmt.Errorf("postgres: hand %s to the postgres user: %w", dir, err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(st.Uid == r.cred.Uid && mode&0o100 != 0) ||
			(st.Gid == r.cred.Gid && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("postgres: the server runs as the postgres user, who cannot enter %s (mode %v); run from a directory others may enter (chmod o+x %s) or set DATABASE_URL", d, mode, d)
		}
		if d == "/" {
			return nil
		}
	}
}

var versionRe = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// findPostgresBin finds the directory of PostgreSQL's programs: of the given
// major version when reusing a cluster, else the newest installed.
func findPostgresBin(major string) (string, error) {
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = append(dirs, globbed...)
	more, _ := filepath.Glob("/usr/pgsql-*/bin")
	dirs = append(dirs, more...)

	best, bestMajor := "", -1
	seen := map[string]bool{}
	var found []string
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output()
		if err != nil {
			continue
		}
		m := versionRe.FindSubmatch(out)
		if m == nil {
			continue
		}
		found = append(found, string(m[1]))
		if major != "" {
			if string(m[1]) == major {
				return d, nil
			}
			continue
		}
		if n, _ := strconv.Atoi(string(m[1])); n > bestMajor {
			best, bestMajor = d, n
		}
	}
	if best != "" {
		return best, nil
	}
	slices.Sort(found)
	if major != "" {
		return "", fmt.Errorf("postgres: the cluster was made by PostgreSQL %s, but only versions %v are installed", major, found)
	}
	return "", errors.New("postgres: no PostgreSQL programs (initdb, postgres) on PATH or under /usr/lib/postgresql/*/bin; install PostgreSQL or set DATABASE_URL")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	f.Seek(off, 0)
	var b bytes.Buffer
	b.ReadFrom(f)
	return b.String()
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
