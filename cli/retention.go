package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/worker"
	"github.com/bsw-dsr/dsr/workflows"
)

// runRetention is `dsr retention --dry-run`: it lists, by id only, the
// closed episodes the daily retention run would delete now, and changes
// nothing. The deletion itself runs in the worker, on a Temporal Schedule;
// `dsr retention --now` starts that run at once.
func runRetention(ctx context.Context, env Env, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dry := fs.Bool("dry-run", false, "list what would be deleted, change nothing")
	now := fs.Bool("now", false, "run the daily retention now, in the running worker")
	if err := fs.Parse(args); err != nil {
		return usageError{"usage: dsr retention --dry-run | --now (" + err.Error() + ")"}
	}
	if *dry == *now || fs.NArg() > 0 {
		return usageError{"usage: dsr retention --dry-run | --now"}
	}
	if *now {
		return retentionNow(ctx, env, cfg)
	}
	if cfg.RetainClosedFor <= 0 {
		fmt.Fprintln(env.Stdout, "retention is off (DSR_RETAIN_CLOSED_FOR=0): nothing would be deleted")
		return nil
	}
	url, done, err := databaseURL(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer done()
	st, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	cutoff := time.Now().UTC().Add(-cfg.RetainClosedFor)
	ids, err := st.ExpiredClosed(ctx, cutoff)
	if err != nil {
		return err
	}
	for _, id := range ids {
		fmt.Fprintln(env.Stdout, id)
	}
	fmt.Fprintf(env.Stderr, "%d closed episodes closed before %s would be deleted (dry run: nothing changed)\n", len(ids), cutoff.Format(time.RFC3339))
	return nil
}

// retentionNow starts the retention workflow at once, as its Schedule does
// daily, and waits for its counts. The worker's DSR_RETAIN_CLOSED_FOR
// decides what goes. Beside a running dsr dev it uses that one's Temporal.
func retentionNow(ctx context.Context, env Env, cfg config.Config) error {
	if err := besideDev(env, &cfg); err != nil {
		return err
	}
	tc, err := dialTemporal(ctx, cfg, newLogger(env.Stderr, true, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer tc.Close()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "retention-now-" + time.Now().UTC().Format("20060102T150405Z"), TaskQueue: worker.TaskQueue}, workflows.RetentionWorkflowName)
	if err != nil {
		return fmt.Errorf("start retention: %w", err)
	}
	var rep workflows.RetentionReport
	if err := run.Get(ctx, &rep); err != nil {
		return fmt.Errorf("retention run: %w", err)
	}
	if rep.Cutoff.IsZero() {
		fmt.Fprintln(env.Stdout, "retention is off in the worker (DSR_RETAIN_CLOSED_FOR=0): nothing deleted")
		return nil
	}
	fmt.Fprintf(env.Stdout, "retention run: %d closed episodes closed before %s found, %d deleted\n", rep.Found, rep.Cutoff.Format(time.RFC3339), rep.Deleted)
	return nil
}
