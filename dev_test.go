package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDevStartsAndStops builds the dsr binary and runs `dsr dev` from an
// empty directory, as a developer would after cloning: it must come up with
// nothing configured, keep its state under ./.dsr/, stop cleanly on Ctrl-C
// with exit status 0, and come back with its state after both a clean stop
// and a kill -9.
func TestDevStartsAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	bin, dir := buildDev(t)
	addr := freeAddr(t)
	base := "http://" + addr

	// First start: a fresh clone.
	d := startDev(t, bin, dir, addr)
	ready := d.waitReady(t, base)
	t.Logf("first start (initdb, Temporal schema): ready in %v", ready.Round(time.Millisecond))
	// temporal.db-wal: Temporal's SQLite runs in WAL mode.
	for _, p := range []string{"temporal.db", "temporal.db-wal", "pg/PG_VERSION", "mail", "tokens.json", "payload.key", "dsr.log"} {
		if _, err := os.Stat(filepath.Join(dir, ".dsr", p)); err != nil {
			t.Errorf(".dsr/%s missing: %v", p, err)
		}
	}
	coordinator := d.token(t, "coordinator@example.org")
	expectMe(t, base, coordinator, "coordinator")

	// dsr user add finds the running dev database by itself.
	user := exec.Command(bin, "user", "add", "--email", "newbie@example.org", "--name", "New Person", "--role", "professional")
	user.Dir, user.Env = dir, devEnv(addr)
	out, err := user.Output()
	if err != nil {
		t.Fatalf("user add: %v (%s)", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	added := lines[len(lines)-1]
	expectMe(t, base, added, "professional")

	// dsr start beside dsr dev: a referral goes through the real stack to
	// the person's workflow and out as mail into .dsr/mail.
	person := startReferral(t, bin, dir, addr)
	expectPerson(t, base, coordinator, person)
	waitMailFile(t, filepath.Join(dir, ".dsr", "mail"), "referral-received", person)

	time.Sleep(5 * time.Second) // idle
	if rss, err := rssKB(d.cmd.Process.Pid); err == nil {
		t.Logf("idle RSS of dsr dev: %d MB (PostgreSQL's processes not included)", rss/1024)
	}
	d.interrupt(t)

	// Second start: same state, same tokens.
	d = startDev(t, bin, dir, addr)
	t.Logf("restart after Ctrl-C: ready in %v", d.waitReady(t, base).Round(time.Millisecond))
	if got := d.token(t, "coordinator@example.org"); got != coordinator {
		t.Errorf("demo token changed across a restart")
	}
	expectMe(t, base, added, "professional")

	// kill -9, then start again: PostgreSQL must not be left holding the
	// directory, nor Temporal's database be unusable.
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited // startDev's goroutine is the one Wait
	d = startDev(t, bin, dir, addr)
	t.Logf("restart after kill -9: ready in %v", d.waitReady(t, base).Round(time.Millisecond))
	expectMe(t, base, coordinator, "coordinator")
	expectPerson(t, base, coordinator, person)
	d.interrupt(t)
}

// buildDev builds the dsr binary and makes an empty directory to run it in.
func buildDev(t *testing.T) (bin, dir string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "dsr")
	start := time.Now()
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("go build: %v", time.Since(start).Round(time.Millisecond))
	dir = t.TempDir()
	// PostgreSQL runs as the postgres user when we are root: it must be able
	// to enter the directory (t.TempDir makes private ones).
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, dir
}

// A made-up person with a valid NHS number (check digit included), whose
// consent was recorded a week ago: the consent review clock runs from that
// day, so a fixed date would make it due at acceptance after a year.
var referralJSON = strings.Replace(`{
  "person": {"given_name": "Dev", "family_name": "Testperson", "date_of_birth": "1990-04-01",
             "nhs_number": "943 476 5919", "address": "1 High Street", "postcode": "SN1 1AA", "locality": "Swindon"},
  "referrer": {"name": "Rhi Referrer", "email": "referrer@example.org", "organisation": "CTPLD", "phone": "01793 000000"},
  "consent": {"basis": "informed_consent", "recorded_on": "2026-01-02", "recorded_by": "Sam Worker", "details": ""},
  "proposed_rag": "red",
  "current_issues": "placement under strain", "tried": "extra support hours", "could_help": "respite",
  "professionals": [{"name": "Sam Worker", "role": "Social worker", "organisation": "Swindon Borough Council", "email": "sw@example.org", "manager_email": ""}]
}`, "2026-01-02", time.Now().AddDate(0, 0, -7).Format(time.DateOnly), 1)

// startReferral runs dsr start --file beside dsr dev and returns the id.
func startReferral(t *testing.T, bin, dir, addr string) string {
	t.Helper()
	file := filepath.Join(dir, "referral.json")
	if err := os.WriteFile(file, []byte(referralJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "start", "--file", file)
	cmd.Dir, cmd.Env = dir, devEnv(addr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dsr start: %v (%s)", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	id := strings.Fields(lines[len(lines)-1])[0]
	if len(id) != 36 {
		t.Fatalf("dsr start printed %q, want the person's id", out)
	}
	return id
}

func expectPerson(t *testing.T, base, token, id string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/people/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct{ Status string }
	json.NewDecoder(res.Body).Decode(&p)
	if res.StatusCode != http.StatusOK || p.Status != "referred" {
		t.Fatalf("GET /api/v1/people/%s: %d, status %q", id, res.StatusCode, p.Status)
	}
}

// waitMailFile waits for a captured .eml of this kind about this person.
func waitMailFile(t *testing.T, dir, kind, person string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte("X-DSR-Kind: "+kind)) && bytes.Contains(b, []byte("X-DSR-Person: "+person)) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s mail for %s in %s within a minute", kind, person, dir)
}

type devProc struct {
	cmd     *exec.Cmd
	started time.Time
	mu      sync.Mutex
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	exited  chan struct{}
}

func devEnv(addr string) []string {
	// Only what a fresh shell would have: no DATABASE_URL, TEMPORAL_ADDRESS
	// or DSR_SMTP_HOST leaking in from the test's environment.
	env := []string{"DSR_HTTP_ADDR=" + addr}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func startDev(t *testing.T, bin, dir, addr string, extraEnv ...string) *devProc {
	t.Helper()
	return startDevArgs(t, bin, dir, addr, nil, extraEnv...)
}

// startDevArgs is startDev with arguments after dsr dev.
func startDevArgs(t *testing.T, bin, dir, addr string, args []string, extraEnv ...string) *devProc {
	t.Helper()
	d := &devProc{exited: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"dev"}, args...)...)
	d.cmd.Dir, d.cmd.Env = dir, append(devEnv(addr), extraEnv...)
	// Should this test binary die (a timeout), dsr dev stops too.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	d.cmd.Stdout, d.cmd.Stderr = &lockedWriter{&d.mu, &d.stdout}, &lockedWriter{&d.mu, &d.stderr}
	d.started = time.Now()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			d.mu.Lock()
			t.Logf("dsr dev stdout:\n%s\nstderr:\n%s", d.stdout.String(), d.stderr.String())
			d.mu.Unlock()
		}
	})
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// waitReady polls /readyz until 200 and returns the time since start.
func (d *devProc) waitReady(t *testing.T, base string) time.Duration {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			t.Fatalf("dsr dev exited before it was ready (%v)", d.cmd.ProcessState)
		default:
		}
		if res, err := c.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(d.started)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("dsr dev not ready after 3 minutes")
	return 0
}

// token finds a demo user's token in the banner.
func (d *devProc) token(t *testing.T, email string) string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(d.stdout.Bytes()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[1] == email {
			return f[2]
		}
	}
	t.Fatalf("no token for %s in the banner:\n%s", email, d.stdout.String())
	return ""
}

// interrupt sends Ctrl-C and expects exit status 0 soon after.
func (d *devProc) interrupt(t *testing.T) {
	t.Helper()
	start := time.Now()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
	case <-time.After(time.Minute):
		t.Fatal("dsr dev still running a minute after SIGINT")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("dsr dev exited %d after SIGINT, want 0", code)
	}
	t.Logf("stopped on SIGINT in %v, exit 0", time.Since(start).Round(time.Millisecond))
}

func expectMe(t *testing.T, base, token, role string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var me struct{ Role string }
	json.NewDecoder(res.Body).Decode(&me)
	if res.StatusCode != http.StatusOK || me.Role != role {
		t.Fatalf("GET /api/v1/me: %d, role %q; want 200, %q", res.StatusCode, me.Role, role)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func rssKB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
