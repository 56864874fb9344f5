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
	// Window is the reminder window the register's burst runs with; 0 for
	// none. BeforeWindow is the earlier binary's: the same, so the two
	// bursts compare, unless that binary has no DSR_REMINDER_WINDOW (builds
	// before ee4cb4c): then 0, for its burst as it was.
	Window, BeforeWindow time.Duration
	// Exe is the dsr binary, run as dsr dev and as the bare baseline's
	// process (so each has its own memory to measure).
	Exe string
	// Dir is the scratch directory; kept when Keep is set.
	Dir  string
	Keep bool
	// Env is added to dsr dev's environment.
	Env  []string
	Only string // "bare", "dsr" or "population": run one part only
	// Population, when above zero, is the size of the large-register
	// phase (RunPopulation), run after the register's bursts.
	Population int
	// Out, when set, gets the bursts' report as soon as they are done,
	// before the large-register phase runs (its lines come after).
	Out io.Writer
	// Before, when set, is an earlier dsr binary whose dsr dev is run the
	// same way, for a before-and-after in the same run.
	Before string
	Logger *slog.Logger
}

// Report is one run's figures.
type Report struct {
	Options Options
	Bare    *BareResult
	DSR     *DSRResult
	Before  *DSRResult
	Pop     *PopulationResult
}

// Run runs the bare baseline in a child process, then the register, and
// returns both.
func Run(ctx context.Context, o Options) (Report, error) {
	r := Report{Options: o}
	if o.Only == "population" {
		return r, runPopulation(ctx, o, &r)
	}
	if o.Only != "dsr" {
		o.Logger.Info("bare Temporal: starting", "workflows", o.N)
		b, err := runBareChild(ctx, o)
		if err != nil {
			return r, err
		}
		r.Bare = &b
	}
	if o.Only == "bare" {
		return r, nil
	}
	if o.Before != "" {
		o.Logger.Info("dsr before: the earlier binary", "exe", o.Before)
		d, err := RunDSR(ctx, DSROptions{N: o.N, Clients: o.Clients, Exe: o.Before, Dir: filepath.Join(o.Dir, "dsr-before"),
			Lead: o.Lead, Window: o.BeforeWindow, Patience: o.Patience, Env: o.Env, Logger: o.Logger.With("side", "before")})
		if err != nil {
			return r, fmt.Errorf("before: %w", err)
		}
		r.Before = &d
	}
	d, err := RunDSR(ctx, DSROptions{N: o.N, Clients: o.Clients, Exe: o.Exe, Dir: filepath.Join(o.Dir, "dsr"),
		Lead: o.Lead, Window: o.Window, Patience: o.Patience, Env: o.Env, Logger: o.Logger})
	if err != nil {
		return r, err
	}
	r.DSR = &d
	if o.Out != nil && o.Population > 0 {
		r.Write(o.Out)
	}
	return r, runPopulation(ctx, o, &r)
}

func runPopulation(ctx context.Context, o Options, r *Report) error {
	if o.Population <= 0 {
		return nil
	}
	p, err := RunPopulation(ctx, DSROptions{N: o.Population, Clients: o.Clients, Exe: o.Exe, Dir: filepath.Join(o.Dir, "population"),
		Patience: o.Patience, Env: o.Env, Logger: o.Logger.With("side", "population")})
	if err != nil {
		return fmt.Errorf("population: %w", err)
	}
	r.Pop = &p
	return nil
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

// goal is one line of the report: how to show a side's figure, the
// number the ratio is taken of (lower is better), and the target.
type goal struct {
	name   string
	dsr    func(DSRResult) (string, float64)
	bare   func(BareResult) (string, float64)
	target string
}

func goals(n int) []goal {
	p := func(l Latencies, q float64) float64 { return l.Quantile(q).Seconds() }
	return []goal{
		{"reminder burst: lag p99 from the due moment",
			func(d DSRResult) (string, float64) {
				within := ""
				if d.Window > 0 {
					within = fmt.Sprintf(", from each point of a %s window", d.Window)
				}
				return fmt.Sprintf("%s (p50 %s; %d missing, %d twice%s)", round(d.BurstLag.Quantile(.99)), round(d.BurstLag.Quantile(.5)), d.BurstMissing, d.BurstDuplicates, within), p(d.BurstLag, .99)
			},
			func(b BareResult) (string, float64) {
				return fmt.Sprintf("%s (p50 %s; %d missing)", round(b.BurstLag.Quantile(.99)), round(b.BurstLag.Quantile(.5)), b.BurstMissed), p(b.BurstLag, .99)
			}, "<= 0.5 x bare, < 2m, none missing or twice"},
		{"updates during the burst: time per update (1/rate)",
			func(d DSRResult) (string, float64) {
				return fmt.Sprintf("%.0f/s (%d failed)", d.UpdateRate, d.UpdateFailures), inverse(d.UpdateRate)
			},
			func(b BareResult) (string, float64) {
				return fmt.Sprintf("%.0f/s (%d failed)", b.UpdateRate, b.UpdateFailures), inverse(b.UpdateRate)
			}, ">= 100/s"},
		{"updates during the burst: p99",
			func(d DSRResult) (string, float64) {
				return round(d.UpdateLatency.Quantile(.99)).String(), p(d.UpdateLatency, .99)
			},
			func(b BareResult) (string, float64) {
				return round(b.UpdateLatency.Quantile(.99)).String(), p(b.UpdateLatency, .99)
			},
			"< 1s"},
		phaseGoal("updates: waiting for their workflow task, p99", func(u UpdatePhases) Latencies { return u.Queued }),
		phaseGoal("updates: from accepted to written, p99", func(u UpdatePhases) Latencies { return u.Written }),
		{"referral burst: p99 (bare: a start)",
			func(d DSRResult) (string, float64) {
				return fmt.Sprintf("%s (%.0f/s; %d failed)", round(d.ReferralLatency.Quantile(.99)), d.ReferralRate, d.ReferralFailures), p(d.ReferralLatency, .99)
			},
			func(b BareResult) (string, float64) {
				return fmt.Sprintf("%s (%.0f/s)", round(b.StartLatency.Quantile(.99)), b.StartRate), p(b.StartLatency, .99)
			}, "< 100ms"},
		{"referral burst: last first notice after the last referral",
			func(d DSRResult) (string, float64) {
				return fmt.Sprintf("%s (%d missing)", round(d.ReceivedAfterLast), d.ReceivedMissing), d.ReceivedAfterLast.Seconds()
			},
			func(b BareResult) (string, float64) {
				return round(b.LastFirstActivity).String(), b.LastFirstActivity.Seconds()
			},
			"< 2m"},
		{fmt.Sprintf("import of %d rows (bare: %d starts)", n, n),
			func(d DSRResult) (string, float64) { return round(d.ImportTook).String(), d.ImportTook.Seconds() },
			func(b BareResult) (string, float64) { return round(b.StartsTook).String(), b.StartsTook.Seconds() },
			"< 60s"},
		{"import: every first task run, after its end",
			func(d DSRResult) (string, float64) {
				return round(d.FirstTaskAfterImport).String(), d.FirstTaskAfterImport.Seconds()
			},
			func(b BareResult) (string, float64) {
				return round(b.LastFirstActivity).String(), b.LastFirstActivity.Seconds()
			},
			"< 60s"},
		{"peak RSS",
			func(d DSRResult) (string, float64) { return MiB(d.PeakRSS), float64(d.PeakRSS) },
			func(b BareResult) (string, float64) { return MiB(b.PeakRSS), float64(b.PeakRSS) },
			"< 1 GiB"},
		{"referral burst: visibility caught up after the last referral",
			func(d DSRResult) (string, float64) {
				return round(d.VisibilityAfterReferrals).String(), d.VisibilityAfterReferrals.Seconds()
			},
			func(BareResult) (string, float64) { return "-", 0 },
			"-"},
		{"idle CPU, everyone referred, nothing due, visibility caught up",
			func(d DSRResult) (string, float64) { return fmt.Sprintf("%.1f%% of a core", 100*d.IdleCPU), 0 },
			func(BareResult) (string, float64) { return "-", 0 },
			"< 5%"},
	}
}

// phaseGoal is a line for one part of the updates' time (UpdatePhases):
// its p99 and p50, and from how many updates (read back from a sample of
// histories).
func phaseGoal(name string, part func(UpdatePhases) Latencies) goal {
	show := func(l Latencies) (string, float64) {
		if len(l) == 0 {
			return "-", 0
		}
		return fmt.Sprintf("%s (p50 %s; %d read)", round(l.Quantile(.99)), round(l.Quantile(.5)), len(l)), l.Quantile(.99).Seconds()
	}
	return goal{name,
		func(d DSRResult) (string, float64) { return show(part(d.UpdatePhases)) },
		func(b BareResult) (string, float64) { return show(part(b.UpdatePhases)) },
		"-"}
}

func inverse(rate float64) float64 {
	if rate == 0 {
		return 0
	}
	return 1 / rate
}

// Write prints one line per goal: the register's figure (and the earlier
// binary's, when run), bare Temporal's, the ratio to bare, and the target.
func (r Report) Write(w io.Writer) {
	if r.Bare == nil && r.DSR == nil && r.Pop != nil {
		r.Pop.Write(w)
		return
	}
	fmt.Fprintf(w, "dsr bench: %d people, %d clients, reminder lead %s\n\n", r.Options.N, r.Options.Clients, r.Options.Lead)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Before != nil {
		fmt.Fprintln(tw, "goal\tbefore\tratio\tdsr\tratio\tbare Temporal\ttarget")
	} else {
		fmt.Fprintln(tw, "goal\tdsr\tratio\tbare Temporal\ttarget")
	}
	for _, g := range goals(r.Options.N) {
		bs, bv := "-", 0.0
		if r.Bare != nil {
			bs, bv = g.bare(*r.Bare)
		}
		cell := func(d *DSRResult) string {
			if d == nil {
				return "-\t-"
			}
			s, v := g.dsr(*d)
			ratio := "-"
			if q := Ratio(v, bv); q > 0 {
				ratio = fmt.Sprintf("%.2f", q)
			}
			return s + "\t" + ratio
		}
		if r.Before != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.name, cell(r.Before), cell(r.DSR), bs, g.target)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.name, cell(r.DSR), bs, g.target)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nratio: the register's figure over bare Temporal's in this run; lower is better on every line")
	for _, d := range []*DSRResult{r.Before, r.DSR} {
		if d != nil && d.BurstVoid {
			fmt.Fprintln(w, "warning: a register's import ran past its burst's moment: its burst and update lines measured nothing")
		}
	}
	if p := r.Pop; p != nil {
		p.Write(w)
	}
	if r.Bare != nil && r.Bare.WakeAfterLastStart <= 0 {
		fmt.Fprintf(w, "warning: bare Temporal's starts ran %s past its burst's moment: its burst figures include the starts\n", round(-r.Bare.WakeAfterLastStart))
	}
}
