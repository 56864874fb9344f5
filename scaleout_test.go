package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bsw-dsr/dsr/codec"
	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
)

// TestScaleOut runs the production topology from the outside, as
// docker-compose.yml does but without Docker: one PostgreSQL, a standalone
// Temporal server on it (dsr temporal-server), dsr migrate, two dsr worker
// and two dsr api processes, and one SMTP server. Referrals and triages are
// spread across both APIs; one worker is killed with SIGKILL in the middle
// of the review ladders; every notice of every ladder must still arrive,
// once per recipient.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the production topology")
	}
	t.Parallel()
	bin, dir := buildDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	pg, err := devstack.StartPostgresWith(ctx, devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	smtp, err := devstack.StartSMTP(filepath.Join(dir, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })

	temporalAddr := freeAddr(t)
	ts := startProc(t, bin, dir, "temporal", []string{"temporal-server"},
		"DSR_TEMPORAL_DATABASE_URL="+pg.URLFor("postgres"), "DSR_TEMPORAL_LISTEN="+temporalAddr)
	ts.waitLog(t, "temporal server ready", 2*time.Minute)

	// What compose's x-dsr-env gives every dsr service, with second-scale
	// ladders: review due 30 s after triage, reminder 15 s before, then
	// overdue and three escalations 10 s apart.
	common := []string{
		"DATABASE_URL=" + pg.URL(),
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_NAMESPACE=default",
		"DSR_PAYLOAD_KEY=" + codec.GenerateKey(),
		"DSR_REVIEW_EVERY_RED=30s", "DSR_REMINDER_LEAD=15s", "DSR_ESCALATE_AFTER=10s",
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, append(devEnv(""), common...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dsr %s: %v (%s)", strings.Join(args, " "), err, stderrOf(err))
		}
		return string(out)
	}
	run("migrate")
	lastLine := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return strings.TrimSpace(lines[len(lines)-1])
	}
	coordinator := lastLine(run("user", "add", "--email", "coordinator@example.org", "--name", "Cora Ordinator", "--role", "coordinator"))
	worker := lastLine(run("user", "add", "--email", "sw@example.org", "--name", "Sam Worker", "--role", "professional"))

	workerEnv := append(common[:len(common):len(common)],
		"DSR_SMTP_HOST="+smtp.Host(), fmt.Sprintf("DSR_SMTP_PORT=%d", smtp.Port()), "DSR_SMTP_TLS=none")
	var workers []*proc
	var workerMetrics []string
	for i := range 2 {
		m := freeAddr(t)
		workerMetrics = append(workerMetrics, m)
		w := startProc(t, bin, dir, fmt.Sprintf("worker%d", i+1), []string{"worker"}, append(workerEnv, "DSR_METRICS_ADDR="+m)...)
		workers = append(workers, w)
	}
	var apis []string
	for i := range 2 {
		addr := freeAddr(t)
		a := startProc(t, bin, dir, fmt.Sprintf("api%d", i+1), []string{"api"},
			append(common, "DSR_HTTP_ADDR="+addr, "DSR_BASE_URL=http://"+addr, "DSR_ALLOW_HTTP=1", "DSR_METRICS_ADDR="+freeAddr(t))...)
		apis = append(apis, "http://"+addr)
		a.waitReady(t, "http://"+addr)
	}
	for _, w := range workers {
		w.waitLog(t, "worker started", time.Minute)
	}

	// Referrals on one API, triages on the other, alternating.
	const people = 6
	var ids []string
	var triaged time.Time
	for i := range people {
		nhs, _ := register.TestRangeNHS(i)
		body := strings.Replace(referralJSON, "943 476 5919", nhs, 1)
		id := postReferral(t, apis[i%2], worker, body)
		if code := post(t, apis[(i+1)%2]+"/api/v1/people/"+id+"/triage", coordinator, `{"decision":"accept","rag":"red"}`); code != http.StatusOK {
			t.Fatalf("triage of %s on %s: %d", id, apis[(i+1)%2], code)
		}
		ids = append(ids, id)
		triaged = time.Now()
	}

	// Mid-ladder: every reminder is out, the overdue notices and
	// escalations are yet to come. One worker goes, without warning.
	for _, id := range ids {
		waitFor(t, time.Minute, func() bool { return len(copiesOf(t, filepath.Join(dir, "mail"), "review-due", id)) > 0 })
	}
	workers[0].cmd.Process.Signal(syscall.SIGKILL)
	<-workers[0].exited
	t.Logf("killed worker 1 %v after the last triage", time.Since(triaged).Round(time.Millisecond))

	// Due at 30 s, escalations at 40, 50 and 60 s: wait for the last of them
	// (work the killed worker held is retried once its timeouts pass).
	want := map[string]int{"referral-received": 1, "review-due": 1, "review-overdue": 1, "review-escalated": 3}
	mail := filepath.Join(dir, "mail")
	waitFor(t, 3*time.Minute, func() bool {
		for _, id := range ids {
			if copiesOf(t, mail, "review-escalated", id)["coordinator@example.org"] < 3 {
				return false
			}
		}
		return true
	})
	time.Sleep(3 * time.Second) // a duplicate, if any, would come now
	for _, id := range ids {
		for kind, n := range want {
			got := copiesOf(t, mail, kind, id)
			if got["coordinator@example.org"] != n {
				t.Errorf("%s: the coordinator got %d %s, want %d", id, got["coordinator@example.org"], kind, n)
			}
			for to, c := range got {
				if c != n {
					t.Errorf("%s: %s got %d %s, want %d", id, to, c, kind, n)
				}
			}
		}
	}

	// The surviving worker's metrics show the ladders it sent.
	res, err := http.Get("http://" + workerMetrics[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(b, []byte(`dsr_notice_copies_total{kind="review-escalated",outcome="sent"}`)) {
		t.Errorf("the surviving worker's /metrics shows no escalation sent")
	}
	for _, p := range append(workers[1:], ts) {
		p.interrupt(t)
	}
}

// proc is one dsr process of the topology.
type proc struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	exited chan struct{}
}

func startProc(t *testing.T, bin, dir, name string, args []string, env ...string) *proc {
	t.Helper()
	p := &proc{name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir, p.cmd.Env = dir, append(devEnv(""), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	w := &lockedWriter{&p.mu, &p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s output:\n%s", p.name, p.out.String())
			p.mu.Unlock()
		}
	})
	return p
}

// waitLog waits for a log line with this message.
func (p *proc) waitLog(t *testing.T, msg string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("%s exited (%v) before logging %q", p.name, p.cmd.ProcessState, msg)
		default:
		}
		p.mu.Lock()
		sc := bufio.NewScanner(bytes.NewReader(p.out.Bytes()))
		found := false
		for sc.Scan() {
			var line struct{ Msg string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
				found = true
			}
		}
		p.mu.Unlock()
		if found {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not log %q within %s", p.name, msg, within)
}

func (p *proc) waitReady(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := c.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s not ready within a minute", p.name)
}

// interrupt stops the process as an orchestrator does (SIGTERM) and
// expects a clean exit.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Fatalf("%s still running a minute after SIGTERM", p.name)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited %d after SIGTERM, want 0", p.name, code)
	}
}
