package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// PopulationResult is what the large-register phase measured: a register
// of People imported, at rest, then killed with kill -9 while referrals'
// triage deadlines fall due, and restarted.
type PopulationResult struct {
	People     int
	ImportTook time.Duration
	// FirstTasksAfterImport: until every imported workflow answered.
	FirstTasksAfterImport time.Duration
	// VisibilityAfterImport: until Temporal's visibility recorded every
	// imported workflow's first task (its writes are throttled, so they
	// trail the import); the register is at rest only after it.
	VisibilityAfterImport time.Duration

	// EmptyRSS is dsr dev's resident set before the import; RSS at rest
	// with everyone on the register; PerWorkflow the difference over
	// People.
	EmptyRSS, RSS, PeakRSS, PerWorkflow int64
	IdleCPU                             float64
	// HeapInuse and HeapTop come from a heap profile at rest (HeapFile).
	HeapInuse int64
	HeapTop   []string
	HeapFile  string
	// CPUTop is where the idle CPU went (a 30-second profile at rest).
	CPUTop []string

	// The kill -9: Due triage deadlines fell while dsr dev was down.
	Due      int
	Down     time.Duration
	Ready    time.Duration // restart until /readyz answered
	DueAfter time.Duration // restart until the last triage-overdue arrived
	// DueMissing never arrived; DueTwice arrived more than once for one
	// recipient; Extra are other notices sent after the restart (a burst
	// the restart caused).
	DueMissing, DueTwice, Extra int
	// CPUAfterRestart is the share of one core used in the first minutes
	// after the restart; BackAfterRestart until every workflow answered.
	CPUAfterRestart  float64
	BackAfterRestart time.Duration
}

// populationDue is how many referrals have their triage deadline fall
// while dsr dev is down.
const populationDue = 200

// RunPopulation imports o.N people into a fresh dsr dev with nothing due
// for days, measures it at rest (resident set, idle CPU, a heap profile),
// then refers populationDue people whose triage deadlines fall due while
// dsr dev is killed with kill -9, restarts it, and measures the recovery:
// every deadline's notice arrives once, and nothing else goes out.
func RunPopulation(ctx context.Context, o DSROptions) (PopulationResult, error) {
	res := PopulationResult{People: o.N}
	work, capture, smtpEnv, err := prepare(o)
	if err != nil {
		return res, err
	}
	defer capture.Close()
	metricsAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	const triageWithin = 3 * time.Minute
	env := append(smtpEnv,
		"DSR_TRIAGE_WITHIN="+triageWithin.String(), "DSR_ESCALATE_AFTER=1d", "DSR_REMINDER_LEAD=1d",
		"DSR_RETAIN_CLOSED_FOR=0", "DSR_METRICS_ADDR="+metricsAddr, "DSR_PPROF=1",
	)
	env = append(env, o.Env...)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients, MaxConnsPerHost: o.Clients}}

	o.Logger.Info("population: starting dsr dev", "people", o.N)
	d, err := startDev(ctx, o, work, env, "dev-population.log")
	if err != nil {
		return res, err
	}
	sleep(ctx, 15*time.Second)
	res.EmptyRSS, _ = procStatus(d.pid(), "VmRSS")

	now := time.Now()
	csvPath := filepath.Join(o.Dir, "population.csv")
	nhs := register.TestRangeNHSList(0, o.N+populationDue)
	if err := writePopulation(csvPath, nhs[:o.N], now); err != nil {
		d.stop()
		return res, err
	}
	t0 := time.Now()
	imp := exec.CommandContext(ctx, o.Exe, "start", "--csv", csvPath)
	imp.Dir = work
	imp.Env = append(cleanEnv(), env...)
	if out, err := imp.CombinedOutput(); err != nil {
		d.stop()
		return res, fmt.Errorf("dsr start --csv: %w: %s", err, lastLines(out, 5))
	}
	importEnd := time.Now()
	res.ImportTook = importEnd.Sub(t0)
	o.Logger.Info("population: imported", "rows", o.N, "took", res.ImportTook.Round(time.Second))
	imported, err := peopleWith(ctx, d.dbURL, "active")
	if err != nil {
		d.stop()
		return res, err
	}
	if err := firstTasks(ctx, d, imported, o.Clients); err != nil {
		d.stop()
		return res, err
	}
	res.FirstTasksAfterImport = time.Since(importEnd)
	o.Logger.Info("population: every workflow answered", "after_import", res.FirstTasksAfterImport.Round(time.Second))

	if err := visibilityCaughtUp(ctx, d, o.N); err != nil {
		o.Logger.Warn("population: visibility did not catch up; measuring at rest all the same", "error", err)
	}
	res.VisibilityAfterImport = time.Since(importEnd)
	o.Logger.Info("population: visibility caught up", "after_import", res.VisibilityAfterImport.Round(time.Second))

	// At rest: nothing is due for days.
	sleep(ctx, 30*time.Second)
	// Where the idle CPU goes: a CPU profile over the middle of the window.
	cpuDone := make(chan struct{})
	go func() {
		defer close(cpuDone)
		sleep(ctx, 10*time.Second)
		var err error
		if _, res.CPUTop, err = fetchProfile(ctx, "http://"+metricsAddr, "profile?seconds=30", "cpu", filepath.Join(o.Dir, "cpu-at-rest.pb.gz"),
			func(ns int64) string { return time.Duration(ns).Round(time.Millisecond).String() }); err != nil {
			o.Logger.Warn("population: no CPU profile", "error", err)
		}
	}()
	res.IdleCPU = idleCPU(d.pid(), time.Minute)
	<-cpuDone
	res.RSS, _ = procStatus(d.pid(), "VmRSS")
	res.PeakRSS = peakRSS(d.pid())
	res.PerWorkflow = (res.RSS - res.EmptyRSS) / int64(max(o.N, 1))
	res.HeapFile = filepath.Join(o.Dir, "heap-at-rest.pb.gz")
	if res.HeapInuse, res.HeapTop, err = fetchProfile(ctx, "http://"+metricsAddr, "heap?gc=1", "inuse_space", res.HeapFile, MiB); err != nil {
		o.Logger.Warn("population: no heap profile", "error", err)
	}
	o.Logger.Info("population: at rest", "rss", MiB(res.RSS), "idle_cpu", res.IdleCPU, "heap_inuse", MiB(res.HeapInuse))

	// Referrals whose triage deadlines fall while dsr dev is down.
	var mu sync.Mutex
	var referred []string
	r0 := time.Now()
	_, failed := parallel(ctx, o.Clients, nhs[o.N:], func(ctx context.Context, n string) error {
		var created struct{ ID string }
		if err := d.call(ctx, hc, "POST", "/referrals", referralBody(n), http.StatusCreated, &created); err != nil {
			return err
		}
		mu.Lock()
		referred = append(referred, created.ID)
		mu.Unlock()
		return nil
	})
	if failed > 0 {
		d.stop()
		return res, fmt.Errorf("population: %d referrals failed", failed)
	}
	rLast := time.Now()
	res.Due = len(referred)
	want := map[string]bool{}
	for _, id := range referred {
		want[id] = true
	}
	waitCount(ctx, func() int { return len(firstByPerson(capture, "referral-received", want)) }, len(want), triageWithin/2)
	killAt := r0.Add(triageWithin - 20*time.Second)
	sleep(ctx, time.Until(killAt))
	if ctx.Err() != nil {
		d.stop()
		return res, ctx.Err()
	}
	o.Logger.Info("population: kill -9")
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.stopped
	killed := time.Now()
	// Down until every deadline has passed.
	sleep(ctx, time.Until(rLast.Add(triageWithin+20*time.Second)))
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.Down = time.Since(killed)
	before := len(capture.Messages())
	restart := time.Now()
	d, err = startDev(ctx, o, work, env, "dev-population-restart.log")
	if err != nil {
		return res, err
	}
	defer d.stop()
	res.Ready = time.Since(restart)
	c0, _ := cpuTime(d.pid())
	waitCount(ctx, func() int { return len(firstByPerson(capture, "triage-overdue", want)) }, len(want), o.Patience)
	got := firstByPerson(capture, "triage-overdue", want)
	for _, t := range got {
		res.DueAfter = max(res.DueAfter, t.Sub(restart))
	}
	res.DueMissing = len(want) - len(got)
	// Watch what else goes out over the next minutes: a restart that
	// catches up should send nothing but what fell due.
	sleep(ctx, time.Until(restart.Add(5*time.Minute)))
	c1, _ := cpuTime(d.pid())
	res.CPUAfterRestart = float64(c1-c0) / float64(time.Since(restart)-res.Ready)
	msgs := capture.Messages()
	for _, m := range msgs[before:] {
		if m.Header.Get("X-DSR-Kind") != "triage-overdue" {
			res.Extra++
		}
	}
	res.DueTwice = duplicates(capture, "triage-overdue") + duplicates(capture, "referral-received")
	b0 := time.Now()
	if err := firstTasks(ctx, d, imported, o.Clients); err != nil {
		return res, err
	}
	res.BackAfterRestart = time.Since(restart)
	o.Logger.Info("population: everyone back", "sweep", time.Since(b0).Round(time.Second), "after_restart", res.BackAfterRestart.Round(time.Second))
	return res, nil
}

// writePopulation writes a spreadsheet of active people, a quarter amber
// and the rest green, reviewed lately: their next reviews spread over the
// coming weeks, none within a day, so the register is at rest.
func writePopulation(path string, nhs []string, now time.Time) error {
	consent := now.AddDate(0, -1, 0).In(register.London).Format("02/01/2006")
	return writeCSV(path, len(nhs), func(i int) map[string]string {
		rag, ago := "green", 5+i%80 // reviewed 5..84 days ago: due in 7..86 days
		if i%4 == 0 {
			rag, ago = "amber", 2+i%20 // every 28 days: due in 8..26 days
		}
		return map[string]string{
			"given_name": fmt.Sprintf("Given%06d", i), "family_name": "Populationperson", "date_of_birth": "01/04/1980", "nhs_number": nhs[i],
			"address": "1 High Street", "postcode": "SN1 1AA", "locality": "Swindon",
			"consent_basis": "Informed consent", "consent_recorded_on": consent, "consent_recorded_by": "Sam Worker",
			"rag": rag, "status": "active", "last_review_date": now.AddDate(0, 0, -ago).In(register.London).Format("02/01/2006"),
			"current_issues": "placement under strain", "tried": "extra hours", "could_help": "respite",
			"professional1_name": "Sam Worker", "professional1_role": "Social worker", "professional1_organisation": "SBC",
			"professional1_email": "sw@example.org", "professional1_manager_email": "mgr@example.org",
		}
	})
}

// fetchProfile fetches a profile from dsr dev's /debug/pprof/ (path and
// query, e.g. "heap?gc=1") into file and returns the total of one sample
// type and the ten functions at the top of the most stacks by it.
func fetchProfile(ctx context.Context, base, path, sampleType, file string, show func(int64) string) (int64, []string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/debug/pprof/"+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, nil, fmt.Errorf("profile %s: %d %v", path, resp.StatusCode, err)
	}
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		return 0, nil, err
	}
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return 0, nil, fmt.Errorf("profile %s: %w", path, err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == sampleType {
			idx = i
		}
	}
	if idx < 0 {
		return 0, nil, fmt.Errorf("profile %s: no %s", path, sampleType)
	}
	// Flat totals by the function at the top of each stack.
	flat := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 {
			flat[s.Location[0].Line[0].Function.Name] += v
		}
	}
	names := make([]string, 0, len(flat))
	for n := range flat {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return flat[names[i]] > flat[names[j]] })
	var top []string
	for _, n := range names[:min(10, len(names))] {
		top = append(top, fmt.Sprintf("%s %s", show(flat[n]), n))
	}
	return total, top, nil
}

// Write prints the large-register phase's lines.
func (p *PopulationResult) Write(w io.Writer) {
	fmt.Fprintf(w, "\n%d people on one dsr dev (no bare counterpart)\n\n", p.People)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tdsr\ttarget")
	fmt.Fprintf(tw, "import\t%s; every workflow answered %s after; visibility caught up %s after\t-\n", round(p.ImportTook), round(p.FirstTasksAfterImport), round(p.VisibilityAfterImport))
	fmt.Fprintf(tw, "RSS at rest\t%s (empty %s, peak %s)\t< 1 GiB\n", MiB(p.RSS), MiB(p.EmptyRSS), MiB(p.PeakRSS))
	fmt.Fprintf(tw, "per workflow\t%.1f KiB of RSS; %.1f KiB of live heap\t-\n", float64(p.PerWorkflow)/1024, float64(p.HeapInuse)/float64(max(p.People, 1))/1024)
	fmt.Fprintf(tw, "idle CPU at rest\t%.1f%% of a core\t< 5%%\n", 100*p.IdleCPU)
	fmt.Fprintf(tw, "kill -9, down %s: ready after restart\t%s\t-\n", round(p.Down), round(p.Ready))
	fmt.Fprintf(tw, "deadlines due while down: all notices after restart\t%s (%d due, %d missing, %d twice)\tnone missing or twice\n", round(p.DueAfter), p.Due, p.DueMissing, p.DueTwice)
	fmt.Fprintf(tw, "other notices sent after restart\t%d\t0 (no burst)\n", p.Extra)
	fmt.Fprintf(tw, "CPU in the 5 minutes after restart\t%.1f%% of a core\t-\n", 100*p.CPUAfterRestart)
	fmt.Fprintf(tw, "every workflow answered after restart\t%s\t-\n", round(p.BackAfterRestart))
	tw.Flush()
	if len(p.CPUTop) > 0 {
		fmt.Fprintln(w, "\nCPU profile at rest (30 s, flat):")
		for _, l := range p.CPUTop {
			fmt.Fprintln(w, "  "+l)
		}
	}
	if len(p.HeapTop) > 0 {
		fmt.Fprintf(w, "\nheap profile at rest (%s live; %s):\n", MiB(p.HeapInuse), p.HeapFile)
		for _, l := range p.HeapTop {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

// visibilityCaughtUp waits (up to an hour) until Temporal's visibility
// lists n person workflows that have run their first task: the first
// task's completion stamps BuildIds, the last visibility write an idle
// workflow makes.
func visibilityCaughtUp(ctx context.Context, d *dev, n int) error {
	c, err := d.temporalClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND BuildIds = 'unversioned'", workflows.PersonWorkflowName)
	deadline := time.Now().Add(time.Hour)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err == nil && resp.GetCount() >= int64(n) {
			return nil
		}
		sleep(ctx, 5*time.Second)
	}
	return fmt.Errorf("visibility lists fewer than %d workflows after an hour", n)
}
