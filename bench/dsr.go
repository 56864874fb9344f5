package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/devstack"
	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/tclient"
	"github.com/bsw-dsr/dsr/workflows"
)

// DSROptions configures the register's side of the run: dsr dev started as
// a new user starts it, driven from outside over HTTP, with its mail going
// to a capture server in this process.
type DSROptions struct {
	N       int
	Clients int
	// Exe is the dsr binary; Dir the run's scratch directory.
	Exe, Dir string
	// Lead is the reminder lead: review-due goes this long before the
	// review date.
	Lead time.Duration
	// Window, when set, is the reminder window (DSR_REMINDER_WINDOW) the
	// burst runs with: it closes at the reminders' moment, and each
	// person's lag is taken from their own point in it.
	Window   time.Duration
	Patience time.Duration
	// Env is added to dsr dev's environment (settings under trial).
	Env    []string
	Logger *slog.Logger
}

// DSRResult is what the register's run measured.
type DSRResult struct {
	ReferralLatency  Latencies
	ReferralRate     float64
	ReferralFailures int
	// ReceivedAfterLast: from the last referral's answer to the last
	// referral-received reaching the mail server; ReceivedMissing never did.
	ReceivedAfterLast time.Duration
	ReceivedMissing   int

	ImportTook time.Duration
	// FirstTaskAfterImport: from the import's end until every imported
	// person's workflow had run its first task.
	FirstTaskAfterImport time.Duration

	// BurstLag is from each person's reminder moment: due − lead, or their
	// point in the reminder window (Window, when set).
	BurstLag        Latencies
	Window          time.Duration
	BurstMissing    int // never got review-due (skipped or late past patience)
	BurstDuplicates int // a second copy of one review-due to one recipient
	// BurstVoid: the import ran past the burst's moment, so no burst (and
	// no updates during it) was measured.
	BurstVoid bool

	UpdateLatency  Latencies
	UpdateRate     float64
	UpdateFailures int
	UpdatePhases   UpdatePhases

	PeakRSS int64
	// VisibilityAfterReferrals: from the last referral until Temporal's
	// visibility recorded every referral's first task (its writes trail
	// the burst). IdleCPU is the share of one core dsr dev used after
	// that, once everything had settled.
	VisibilityAfterReferrals time.Duration
	IdleCPU                  float64
}

// dev is one running dsr dev child process.
type dev struct {
	cmd     *exec.Cmd
	url     string
	dbURL   string
	work    string
	token   string
	stopped chan struct{}
}

func freeAddr() (string, error) {
	p, err := devstack.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", p), nil
}

// startDev starts dsr dev in work with env and waits until it is ready.
func startDev(ctx context.Context, o DSROptions, work string, env []string, logName string) (*dev, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(o.Dir, logName))
	if err != nil {
		return nil, err
	}
	var banner bytes.Buffer
	cmd := exec.Command(o.Exe, "dev")
	cmd.Dir = work
	cmd.Env = append(cleanEnv(), "DSR_HTTP_ADDR="+addr)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = io.MultiWriter(&syncWriter{w: &banner}, log)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dsr dev: %w", err)
	}
	d := &dev{cmd: cmd, url: "http://" + addr, work: work, stopped: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(d.stopped) }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if resp, err := http.Get(d.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-d.stopped:
			return nil, fmt.Errorf("dsr dev exited while starting (see %s)", filepath.Join(o.Dir, logName))
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("dsr dev not ready after 5 minutes (see %s)", filepath.Join(o.Dir, logName))
		}
	}
	m := regexp.MustCompile(`PostgreSQL\s+(postgres://\S+)`).FindStringSubmatch(banner.String())
	if m == nil {
		d.stop()
		return nil, fmt.Errorf("no PostgreSQL URL in dsr dev's banner")
	}
	d.dbURL = m[1]
	var tokens map[string]string
	b, err := os.ReadFile(filepath.Join(work, ".dsr", "tokens.json"))
	if err == nil {
		err = json.Unmarshal(b, &tokens)
	}
	if err != nil || tokens["coordinator@example.org"] == "" {
		d.stop()
		return nil, fmt.Errorf("no coordinator token from dsr dev: %v", err)
	}
	d.token = tokens["coordinator@example.org"]
	return d, nil
}

// cleanEnv is this process's environment without the register's own
// settings, so only the run's reach dsr dev.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DSR_") || strings.HasPrefix(k, "TEMPORAL_") || k == "DATABASE_URL" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (d *dev) pid() int { return d.cmd.Process.Pid }

func (d *dev) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.stopped:
	case <-time.After(2 * time.Minute):
		d.cmd.Process.Kill()
		<-d.stopped
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// call sends one API request as the coordinator; want is the expected
// status.
func (d *dev) call(ctx context.Context, hc *http.Client, method, path string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, d.url+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(rb))
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

// rssPeak samples a process's resident set until stop is closed.
func rssPeak(pid func() int, stop <-chan struct{}) *atomic.Int64 {
	var peak atomic.Int64
	go func() {
		for {
			if n, err := procStatus(pid(), "VmRSS"); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return &peak
}

// RunDSR runs the register's side: a referral burst on one dsr dev; then,
// restarted with a review interval that puts every imported review on one
// moment, an import, the reminder burst, and triage of the referrals while
// it runs.
func RunDSR(ctx context.Context, o DSROptions) (DSRResult, error) {
	var res DSRResult
	work, capture, smtpEnv, err := prepare(o)
	if err != nil {
		return res, err
	}
	defer capture.Close()
	base := append(smtpEnv,
		// Only the notices under test: no triage deadline or escalation
		// falls inside the run.
		"DSR_TRIAGE_WITHIN=30d", "DSR_ESCALATE_AFTER=1d",
		"DSR_REMINDER_LEAD="+fmt.Sprintf("%ds", int(o.Lead.Seconds())),
		"DSR_RETAIN_CLOSED_FOR=0",
	)
	base = append(base, o.Env...)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients, MaxConnsPerHost: o.Clients}}

	// Phase 1: the referral burst.
	o.Logger.Info("dsr: starting dsr dev for the referral burst")
	d, err := startDev(ctx, o, work, base, "dev-referrals.log")
	if err != nil {
		return res, err
	}
	stopSampling := make(chan struct{})
	cur := d
	var curMu sync.Mutex
	peak := rssPeak(func() int { curMu.Lock(); defer curMu.Unlock(); return cur.pid() }, stopSampling)
	defer close(stopSampling)

	nhs := register.TestRangeNHSList(0, 2*o.N)
	var idsMu sync.Mutex
	var referred []string
	began := time.Now()
	lat, failed := parallel(ctx, o.Clients, nhs[:o.N], func(ctx context.Context, n string) error {
		var created struct{ ID string }
		if err := d.call(ctx, hc, "POST", "/referrals", referralBody(n), http.StatusCreated, &created); err != nil {
			return err
		}
		idsMu.Lock()
		referred = append(referred, created.ID)
		idsMu.Unlock()
		return nil
	})
	lastReferral := time.Now()
	res.ReferralLatency, res.ReferralFailures = lat, failed
	res.ReferralRate = float64(len(lat)) / lastReferral.Sub(began).Seconds()
	o.Logger.Info("dsr: referrals sent", "ok", len(lat), "failed", failed, "took", lastReferral.Sub(began).Round(time.Millisecond))
	want := map[string]bool{}
	for _, id := range referred {
		want[id] = true
	}
	waitCount(ctx, func() int { return len(firstByPerson(capture, "referral-received", want)) }, len(want), o.Patience)
	got := firstByPerson(capture, "referral-received", want)
	res.ReceivedMissing = len(want) - len(got)
	for _, t := range got {
		res.ReceivedAfterLast = max(res.ReceivedAfterLast, t.Sub(lastReferral))
	}
	o.Logger.Info("dsr: referral-received", "got", len(got), "last_after", res.ReceivedAfterLast.Round(time.Millisecond))
	// Idle: the register at rest, everyone referred and nothing due, and
	// visibility's writes, which trail the burst, done.
	if err := visibilityCaughtUp(ctx, d, len(referred)); err != nil {
		o.Logger.Warn("visibility did not catch up; measuring idle all the same", "error", err)
	}
	res.VisibilityAfterReferrals = time.Since(lastReferral)
	o.Logger.Info("dsr: visibility caught up", "after_last_referral", res.VisibilityAfterReferrals.Round(time.Second))
	sleep(ctx, 10*time.Second)
	res.IdleCPU = idleCPU(d.pid(), 20*time.Second)
	d.stop()

	// Phase 2: every imported red review falls on one moment, P; its
	// review-due reminder goes at P - lead.
	now := time.Now()
	y, m, dd := now.In(register.London).Date()
	midnight := time.Date(y, m, dd, 0, 0, 0, 0, register.London)
	// The import and its first tasks must be over before the reminders
	// are due, or the import spreads the reviews it sees due within the
	// lead: a generous budget, as a loaded machine imports slowly.
	p := now.Add(importBudget(o.N) + o.Window + o.Lead).Truncate(time.Second)
	interval := p.Sub(midnight)
	remind := p.Add(-o.Lead)
	// With a window, the burst begins as it opens; each person's reminder
	// goes at their point in it (register.Timing.RemindAt).
	timing := register.Timing{ReminderLead: o.Lead}
	burstEnv := append(base, fmt.Sprintf("DSR_REVIEW_EVERY_RED=%ds", int(interval.Seconds())))
	begins := remind
	if o.Window > 0 {
		begins = remind.Add(-o.Window.Truncate(time.Second))
		w, err := register.ParseWindow(begins.In(register.London).Format(time.TimeOnly) + "-" + remind.In(register.London).Format(time.TimeOnly))
		if err != nil {
			return res, fmt.Errorf("the reminder window would cross midnight in London; run the bench at another time: %w", err)
		}
		timing.ReminderWindow = w
		burstEnv = append(burstEnv, "DSR_REMINDER_WINDOW="+w.String())
		res.Window = w.Len()
	}
	o.Logger.Info("dsr: restarting dsr dev for the import and the reminder burst", "reminders_from", begins.Format(time.TimeOnly), "reminders_to", remind.Format(time.TimeOnly))
	d, err = startDev(ctx, o, work, burstEnv, "dev-burst.log")
	if err != nil {
		return res, err
	}
	curMu.Lock()
	cur = d
	curMu.Unlock()
	defer d.stop()

	csvPath := filepath.Join(o.Dir, "register.csv")
	if err := writeRegister(csvPath, nhs[o.N:], now); err != nil {
		return res, err
	}
	t0 := time.Now()
	imp := exec.CommandContext(ctx, o.Exe, "start", "--csv", csvPath)
	imp.Dir = work
	// The import plans first reviews with its own settings: the same.
	imp.Env = append(cleanEnv(), burstEnv...)
	if out, err := imp.CombinedOutput(); err != nil {
		return res, fmt.Errorf("dsr start --csv: %w: %s", err, lastLines(out, 5))
	}
	importEnd := time.Now()
	res.ImportTook = importEnd.Sub(t0)
	o.Logger.Info("dsr: imported", "rows", o.N, "took", res.ImportTook.Round(time.Millisecond))
	imported, err := peopleWith(ctx, d.dbURL, "active")
	if err != nil {
		return res, err
	}
	if err := firstTasks(ctx, d, imported, o.Clients); err != nil {
		return res, err
	}
	res.FirstTaskAfterImport = time.Since(importEnd)
	o.Logger.Info("dsr: every imported workflow has run its first task", "after_import", res.FirstTaskAfterImport.Round(time.Millisecond))
	if time.Now().After(begins) {
		// The import spread the reviews it saw due within the lead: there
		// is no burst to measure. What was measured is still reported.
		o.Logger.Warn("the import and its first tasks ran past the burst's moment: the burst is not measured", "moment", begins.Format(time.TimeOnly))
		res.BurstVoid = true
		res.PeakRSS = max(peak.Load(), peakRSS(d.pid()))
		return res, nil
	}

	// Phase 3: the burst, and triage of the referrals while it runs.
	sleep(ctx, time.Until(begins))
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	o.Logger.Info("dsr: reminder burst due now; triaging the referrals")
	u0 := time.Now()
	ulat, ufail := parallel(ctx, o.Clients, referred, func(ctx context.Context, id string) error {
		return d.call(ctx, hc, "POST", "/people/"+id+"/triage", map[string]any{"decision": "accept", "rag": "green"}, http.StatusOK, nil)
	})
	res.UpdateLatency, res.UpdateFailures = ulat, ufail
	res.UpdateRate = float64(len(ulat)) / time.Since(u0).Seconds()
	wantDue := map[string]bool{}
	for _, id := range imported {
		wantDue[id] = true
	}
	waitCount(ctx, func() int { return len(firstByPerson(capture, "review-due", wantDue)) }, len(wantDue), o.Patience)
	due := firstByPerson(capture, "review-due", wantDue)
	for id, t := range due {
		res.BurstLag = append(res.BurstLag, t.Sub(timing.RemindAt(id, p)))
	}
	res.BurstMissing = len(wantDue) - len(due)
	res.BurstDuplicates = duplicates(capture, "review-due")
	o.Logger.Info("dsr: burst done", "got", len(due), "missing", res.BurstMissing)
	if res.UpdatePhases, err = triagePhases(ctx, d, referred); err != nil {
		o.Logger.Warn("reading the triaged workflows' histories failed", "error", err)
	}

	res.PeakRSS = max(peak.Load(), peakRSS(d.pid()))
	return res, nil
}

// prepare makes a side's working directory and its mail capture server,
// and returns the settings that send dsr dev's mail there.
func prepare(o DSROptions) (work string, capture *devstack.SMTPCapture, env []string, err error) {
	work = filepath.Join(o.Dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", nil, nil, err
	}
	if capture, err = devstack.StartSMTP(filepath.Join(o.Dir, "mail")); err != nil {
		return "", nil, nil, err
	}
	return work, capture, []string{
		fmt.Sprintf("DSR_SMTP_HOST=%s", capture.Host()), fmt.Sprintf("DSR_SMTP_PORT=%d", capture.Port()), "DSR_SMTP_TLS=none",
	}, nil
}

// firstByPerson is when each wanted person's first notice of a kind
// reached the mail server.
func firstByPerson(c *devstack.SMTPCapture, kind string, want map[string]bool) map[string]time.Time {
	out := map[string]time.Time{}
	for _, m := range c.Messages() {
		if m.Header.Get("X-DSR-Kind") != kind {
			continue
		}
		p := m.Header.Get("X-DSR-Person")
		if !want[p] {
			continue
		}
		if t, ok := out[p]; !ok || m.Received.Before(t) {
			out[p] = m.Received
		}
	}
	return out
}

// duplicates counts copies of a kind beyond the first per notice and
// recipient: a notice sent twice.
func duplicates(c *devstack.SMTPCapture, kind string) int {
	seen := map[string]bool{}
	n := 0
	for _, m := range c.Messages() {
		if m.Header.Get("X-DSR-Kind") != kind {
			continue
		}
		for _, to := range m.To {
			k := m.Header.Get("X-DSR-Person") + "\x00" + strings.ToLower(to)
			if seen[k] {
				n++
			}
			seen[k] = true
		}
	}
	return n
}

func peopleWith(ctx context.Context, dbURL, status string) ([]string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to dsr dev's database: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id::text FROM people WHERE status = $1`, status)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// firstTasks waits until every person's workflow has run its first task:
// Temporal describes it with no workflow task pending (a new workflow has
// one until its first is done). A describe is a read of the workflow's
// state on the server; a query would replay the workflow in the worker and
// make the measurement its own load.
func firstTasks(ctx context.Context, d *dev, ids []string, k int) error {
	c, err := d.temporalClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, failed := parallel(ctx, k, ids, func(ctx context.Context, id string) error {
		deadline := time.Now().Add(10 * time.Minute)
		for time.Now().Before(deadline) {
			desc, err := c.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
			if err == nil && desc.GetPendingWorkflowTask() == nil &&
				desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return nil
			}
			// Not done: ask again in a second, so the asking stays light.
			sleep(ctx, time.Second)
		}
		return fmt.Errorf("no first task")
	})
	if failed > 0 {
		return fmt.Errorf("%d workflows never ran their first task", failed)
	}
	return nil
}

func referralBody(nhs string) map[string]any {
	return map[string]any{
		"person": map[string]any{"given_name": "Bench", "family_name": "Testperson", "date_of_birth": "1990-04-01",
			"nhs_number": nhs, "address": "1 High Street", "postcode": "SN1 1AA", "locality": "Swindon"},
		"referrer":       map[string]any{"name": "Rhi Referrer", "email": "referrer@example.org", "organisation": "CTPLD", "phone": "01793 000000"},
		"consent":        map[string]any{"basis": "informed_consent", "recorded_on": "2026-01-02", "recorded_by": "Sam Worker"},
		"proposed_rag":   "red",
		"current_issues": "placement under strain",
		"tried":          "extra support hours",
		"could_help":     "respite",
		"professionals": []map[string]any{
			{"name": "Sam Worker", "role": "Social worker", "organisation": "Swindon Borough Council", "email": "sw@example.org"},
			{"name": "Nia Nurse", "role": "LD nurse", "organisation": "CTPLD", "email": "nurse@example.org"},
		},
	}
}

// writeRegister writes a spreadsheet of red people whose last review was
// today, so that every review falls due at once.
func writeRegister(path string, nhs []string, now time.Time) error {
	today := now.In(register.London).Format("02/01/2006")
	return writeCSV(path, len(nhs), func(i int) map[string]string {
		return map[string]string{
			"given_name": fmt.Sprintf("Given%05d", i), "family_name": "Importperson", "date_of_birth": "01/04/1990", "nhs_number": nhs[i],
			"address": "1 High Street", "postcode": "SN1 1AA", "locality": "Swindon",
			"consent_basis": "Informed consent", "consent_recorded_on": "02/01/2025", "consent_recorded_by": "Sam Worker",
			"rag": "red", "status": "active", "last_review_date": today,
			"current_issues": "placement under strain", "tried": "extra hours", "could_help": "respite",
			"professional1_name": "Sam Worker", "professional1_role": "Social worker", "professional1_organisation": "SBC",
			"professional1_email": "sw@example.org", "professional1_manager_email": "mgr@example.org",
			"professional2_name": "Nia Nurse", "professional2_email": "nurse@example.org",
		}
	})
}

// writeCSV writes n rows in the import's columns, each from row(i).
func writeCSV(path string, n int, row func(i int) map[string]string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	header := register.CSVColumns
	w.Write(header)
	for i := range n {
		cells := row(i)
		rec := make([]string, len(header))
		for j, h := range header {
			rec[j] = cells[h]
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// idleCPU is the share of one core a process uses over a window.
func idleCPU(pid int, window time.Duration) float64 {
	c0, err0 := cpuTime(pid)
	time.Sleep(window)
	c1, err1 := cpuTime(pid)
	if err0 != nil || err1 != nil {
		return 0
	}
	return float64(c1-c0) / float64(window)
}

// importBudget is how long an import of n rows and its workflows' first
// tasks are given before the reminder burst.
func importBudget(n int) time.Duration {
	return 90*time.Second + time.Duration(n)*25*time.Millisecond
}

// temporalClient dials the Temporal server of a running dsr dev.
func (d *dev) temporalClient(ctx context.Context) (client.Client, error) {
	addr, err := os.ReadFile(filepath.Join(d.work, ".dsr", "temporal.addr"))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(filepath.Join(d.work, ".dsr", "payload.key"))
	if err != nil {
		return nil, err
	}
	return tclient.Dial(ctx, tclient.Options{HostPort: strings.TrimSpace(string(addr)), PayloadKey: strings.TrimSpace(string(key)), Logger: slog.New(slog.DiscardHandler)})
}

// triagePhases splits the triages' time on the server (UpdatePhases).
func triagePhases(ctx context.Context, d *dev, referred []string) (UpdatePhases, error) {
	c, err := d.temporalClient(ctx)
	if err != nil {
		return UpdatePhases{}, err
	}
	defer c.Close()
	ids := make([]string, len(referred))
	for i, id := range referred {
		ids[i] = workflows.WorkflowID(id)
	}
	return updatePhases(ctx, c, ids)
}
