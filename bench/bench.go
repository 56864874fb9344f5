// Package bench measures the register's throughput against bare Temporal
// on the same machine in the same run (dsr bench): the goals of a reminder
// burst, updates during it, a referral burst, an import, and memory.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"
)

// Options configures a whole run.
type Options struct {
	N, Clients int
	Lead       time.Duration
	Patience   time.Duration
	// Exe is the dsr binary, run as dsr dev and as the bare baseline's
	// process (so each has its own memory to measure).
	Exe string
	// Dir is the scratch directory; kept when Keep is set.
	Dir  string
	Keep bool
	// Env is added to dsr dev's environment.
	Env    []string
	Only   string // "bare" or "dsr": run one side only
	Logger *slog.Logger
}

// Report is one run's figures.
type Report struct {
	Options Options
	Bare    *BareResult
	DSR     *DSRResult
}

// Run runs the bare baseline in a child process, then the register, and
// returns both.
func Run(ctx context.Context, o Options) (Report, error) {
	r := Report{Options: o}
	if o.Only != "dsr" {
		o.Logger.Info("bare Temporal: starting", "workflows", o.N)
		b, err := runBareChild(ctx, o)
		if err != nil {
			return r, err
		}
		r.Bare = &b
	}
	if o.Only != "bare" {
		d, err := RunDSR(ctx, DSROptions{N: o.N, Clients: o.Clients, Exe: o.Exe, Dir: filepath.Join(o.Dir, "dsr"),
			Lead: o.Lead, Patience: o.Patience, Env: o.Env, Logger: o.Logger})
		if err != nil {
			return r, err
		}
		r.DSR = &d
	}
	return r, nil
}

func runBareChild(ctx context.Context, o Options) (BareResult, error) {
	var res BareResult
	dir := filepath.Join(o.Dir, "bare")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, o.Exe, "bench", "--bare-child", "--n", strconv.Itoa(o.N),
		"--clients", strconv.Itoa(o.Clients), "--patience", o.Patience.String(), "--dir", dir)
	cmd.Env = cleanEnv()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return res, fmt.Errorf("bare Temporal run: %w", err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("bare Temporal run: %w", err)
	}
	return res, nil
}

// Write prints one line per goal: the register's figure, bare Temporal's,
// their ratio and the goal.
func (r Report) Write(w io.Writer) {
	n := r.Options.N
	fmt.Fprintf(w, "dsr bench: %d people, %d clients, reminder lead %s\n\n", n, r.Options.Clients, r.Options.Lead)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\tdsr\tbare Temporal\tratio\ttarget")
	b, d := r.Bare, r.DSR
	if b == nil {
		b = &BareResult{}
	}
	if d == nil {
		d = &DSRResult{}
	}
	sec := func(x time.Duration) float64 { return x.Seconds() }
	line := func(goal, ours, bare string, ratio float64, target string) {
		rs := "-"
		if ratio > 0 {
			rs = fmt.Sprintf("%.2f", ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", goal, ours, bare, rs, target)
	}
	line("reminder burst: lag p99 from the due moment",
		fmt.Sprintf("%s (p50 %s, %d missing, %d twice)", round(d.BurstLag.Quantile(.99)), round(d.BurstLag.Quantile(.5)), d.BurstMissing, d.BurstDuplicates),
		fmt.Sprintf("%s (p50 %s, %d missing)", round(b.BurstLag.Quantile(.99)), round(b.BurstLag.Quantile(.5)), b.BurstMissed),
		Ratio(sec(d.BurstLag.Quantile(.99)), sec(b.BurstLag.Quantile(.99))), "<= 0.5, < 2m, none missing or twice")
	line("updates during the burst: rate",
		fmt.Sprintf("%.0f/s (%d failed)", d.UpdateRate, d.UpdateFailures), fmt.Sprintf("%.0f/s (%d failed)", b.UpdateRate, b.UpdateFailures),
		Ratio(b.UpdateRate, d.UpdateRate), ">= 100/s")
	line("updates during the burst: p99",
		round(d.UpdateLatency.Quantile(.99)).String(), round(b.UpdateLatency.Quantile(.99)).String(),
		Ratio(sec(d.UpdateLatency.Quantile(.99)), sec(b.UpdateLatency.Quantile(.99))), "< 1s")
	line("referral burst: p99",
		fmt.Sprintf("%s (%.0f/s, %d failed)", round(d.ReferralLatency.Quantile(.99)), d.ReferralRate, d.ReferralFailures),
		fmt.Sprintf("%s (%.0f/s starts)", round(b.StartLatency.Quantile(.99)), b.StartRate),
		Ratio(sec(d.ReferralLatency.Quantile(.99)), sec(b.StartLatency.Quantile(.99))), "< 100ms")
	line("referral burst: last first notice after the last referral",
		fmt.Sprintf("%s (%d missing)", round(d.ReceivedAfterLast), d.ReceivedMissing), round(b.LastFirstActivity).String(),
		Ratio(sec(d.ReceivedAfterLast), sec(b.LastFirstActivity)), "< 2m")
	line("import: rows", fmt.Sprintf("%s for %d", round(d.ImportTook), n), fmt.Sprintf("%s for %d starts", round(b.StartsTook), n),
		Ratio(sec(d.ImportTook), sec(b.StartsTook)), "< 60s")
	line("import: every first task after its end", round(d.FirstTaskAfterImport).String(), round(b.LastFirstActivity).String(),
		Ratio(sec(d.FirstTaskAfterImport), sec(b.LastFirstActivity)), "< 60s")
	line("peak RSS", MiB(d.PeakRSS), MiB(b.PeakRSS), Ratio(float64(d.PeakRSS), float64(b.PeakRSS)), "< 1 GiB")
	line("idle CPU, everyone referred, nothing due", fmt.Sprintf("%.1f%% of a core", 100*d.IdleCPU), "-", 0, "< 5%")
	tw.Flush()
	fmt.Fprintln(w, "\nratio: dsr / bare, except update rate: bare / dsr (lower is better everywhere)")
}
