//go:build !lean

package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/bsw-dsr/dsr/bench"
)

// runBench is `dsr bench`: the throughput goals, the register beside bare
// Temporal in one run. --bare-child is the baseline's own process, which
// prints its figures as JSON for the parent.
func runBench(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 10000, "people in each burst")
	clients := fs.Int("clients", 16, "concurrent HTTP (and Temporal) clients")
	lead := fs.Duration("lead", 4*time.Minute, "reminder lead")
	window := fs.Duration("window", 0, "spread the register's reminders over a window this long that closes at their moment (DSR_REMINDER_WINDOW); 0: none")
	patience := fs.Duration("patience", 10*time.Minute, "how long to wait for a burst's notices")
	keep := fs.Bool("keep", false, "keep the scratch directory (logs, mail, databases)")
	only := fs.String("only", "", "bare, dsr or population: run one part")
	population := fs.Int("population", 100000, "people in the large-register phase (0: skip it)")
	before := fs.String("before", "", "an earlier dsr binary to run the same way, for a before-and-after")
	beforeWindow := fs.Duration("before-window", 0, "the earlier binary's reminder window (0 for a build without DSR_REMINDER_WINDOW); default: --window")
	var envs multiFlag
	fs.Var(&envs, "env", "NAME=VALUE added to dsr dev's environment (repeatable): a setting under trial")
	child := fs.Bool("bare-child", false, "")
	dir := fs.String("dir", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *n < 1 || *clients < 1 || *population < 0 || *window < 0 || *beforeWindow < 0 || (*only != "" && *only != "bare" && *only != "dsr" && *only != "population") {
		return usageError{"usage: dsr bench [--n 10000] [--clients 16] [--lead 4m] [--window 0] [--patience 10m] [--keep] [--only bare|dsr|population] [--population 100000] [--before OLD-DSR-BINARY [--before-window W]] [--env NAME=VALUE]"}
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	if *child {
		res, err := bench.RunBare(ctx, bench.BareOptions{N: *n, Clients: *clients, Dir: *dir, Patience: *patience, Logger: logger})
		if err != nil {
			return err
		}
		return json.NewEncoder(env.Stdout).Encode(res)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the dsr binary: %w", err)
	}
	scratch, err := os.MkdirTemp("", "dsr-bench-")
	if err != nil {
		return err
	}
	// PostgreSQL runs as its own user under dsr dev: it must reach pg/.
	os.Chmod(scratch, 0o755)
	if *keep {
		logger.Info("scratch directory kept", "dir", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "before-window" })
	if !given {
		*beforeWindow = *window
	}
	r, err := bench.Run(ctx, bench.Options{N: *n, Clients: *clients, Lead: *lead, Window: *window, BeforeWindow: *beforeWindow, Patience: *patience, Exe: exe,
		Dir: scratch, Keep: *keep, Env: envs, Only: *only, Before: *before, Population: *population, Out: env.Stdout, Logger: logger})
	if err != nil {
		return err
	}
	if r.Pop != nil && (r.DSR != nil || r.Bare != nil) {
		r.Pop.Write(env.Stdout) // the bursts' report went out before the phase ran
		return nil
	}
	r.Write(env.Stdout)
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	*m = append(*m, v)
	return nil
}
