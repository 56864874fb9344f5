package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/devstack"
)

// BareOptions configures the bare Temporal baseline: a naive application
// on the same embedded server with the server's and the SDK's defaults.
type BareOptions struct {
	N       int
	Clients int
	// Dir holds the server's SQLite file.
	Dir string
	// Patience bounds the wait for the burst to finish.
	Patience time.Duration
	Logger   *slog.Logger
}

// BareResult is what the baseline measured. Durations are nanoseconds in
// JSON, so a parent process can read a child's result.
type BareResult struct {
	// Starts: each workflow start (the referral burst's equivalent), and
	// from the last start to the last first activity (its notice).
	StartLatency       Latencies     `json:"start_latency"`
	StartRate          float64       `json:"start_rate"`
	LastFirstActivity  time.Duration `json:"last_first_activity"`
	StartsTook         time.Duration `json:"starts_took"`
	BurstLag           Latencies     `json:"burst_lag"`
	BurstMissed        int           `json:"burst_missed"`
	UpdateLatency      Latencies     `json:"update_latency"`
	UpdateRate         float64       `json:"update_rate"`
	UpdateFailures     int           `json:"update_failures"`
	UpdatePhases       UpdatePhases  `json:"update_phases"`
	PeakRSS            int64         `json:"peak_rss"`
	WakeAfterLastStart time.Duration `json:"wake_after_last_start"`
}

const (
	bareQueue    = "bare"
	bareWorkflow = "BareSleeper"
	bareActivity = "BareWrite"
	bareUpdate   = "touch"
)

// bareInput is when the workflow's one timer fires.
type bareInput struct {
	Wake time.Time `json:"wake"`
}

// bareSleeper is the naive application: a first activity on start (a
// notice), a timer to one moment, an activity then (the reminder), and an
// update handler that runs one activity (a change written).
func bareSleeper(ctx workflow.Context, in bareInput) error {
	ao := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	touched := false
	if err := workflow.SetUpdateHandler(ctx, bareUpdate, func(ctx workflow.Context) error {
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute}), bareActivity, "touch").Get(ctx, nil)
		touched = true
		return err
	}); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(ao, bareActivity, "received").Get(ctx, nil); err != nil {
		return err
	}
	if err := workflow.Sleep(ctx, in.Wake.Sub(workflow.Now(ctx))); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(ao, bareActivity, "due").Get(ctx, nil); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return touched })
}

// recorder keeps when each activity of a kind ran.
type recorder struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

func (r *recorder) write(_ context.Context, kind string) error {
	r.mu.Lock()
	r.times[kind] = append(r.times[kind], time.Now())
	r.mu.Unlock()
	return nil
}

func (r *recorder) get(kind string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.times[kind]...)
}

// RunBare runs the baseline and returns its figures.
func RunBare(ctx context.Context, o BareOptions) (BareResult, error) {
	var res BareResult
	srv, err := devstack.StartTemporal(devstack.TemporalOptions{
		DatabaseFile:   filepath.Join(o.Dir, "bare-temporal.db"),
		LogFile:        os.DevNull,
		ServerDefaults: true,
	})
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return res, fmt.Errorf("dial bare temporal: %w", err)
	}
	defer c.Close()
	rec := &recorder{times: map[string][]time.Time{}}
	w := sdkworker.New(c, bareQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(bareSleeper, workflow.RegisterOptions{Name: bareWorkflow})
	w.RegisterActivityWithOptions(rec.write, activityName(bareActivity))
	if err := w.Start(); err != nil {
		return res, fmt.Errorf("start bare worker: %w", err)
	}
	defer w.Stop()

	// The wake leaves room for every start and its first activity, so
	// the burst is measured alone.
	began := time.Now()
	wake := began.Add(importBudget(o.N)).Truncate(time.Second)
	ids := make([]string, o.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("bare-%d", i)
	}
	lat, errs := parallel(ctx, o.Clients, ids, func(ctx context.Context, id string) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: bareQueue}, bareWorkflow, bareInput{Wake: wake})
		return err
	})
	if errs > 0 {
		return res, fmt.Errorf("bare: %d of %d starts failed", errs, o.N)
	}
	res.StartLatency = lat
	res.StartsTook = time.Since(began)
	res.StartRate = float64(o.N) / res.StartsTook.Seconds()
	lastStart := time.Now()
	waitCount(ctx, func() int { return len(rec.get("received")) }, o.N, time.Until(wake))
	if got := rec.get("received"); len(got) > 0 {
		res.LastFirstActivity = latest(got).Sub(lastStart)
	}
	res.WakeAfterLastStart = wake.Sub(lastStart)

	sleep(ctx, time.Until(wake))
	// Updates from the clients while the burst runs.
	updStart := time.Now()
	ulat, uerrs := parallel(ctx, o.Clients, ids, func(ctx context.Context, id string) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: bareUpdate, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	})
	res.UpdateLatency, res.UpdateFailures = ulat, uerrs
	res.UpdateRate = float64(len(ulat)) / time.Since(updStart).Seconds()
	waitCount(ctx, func() int { return len(rec.get("due")) }, o.N, o.Patience)
	for _, t := range rec.get("due") {
		res.BurstLag = append(res.BurstLag, t.Sub(wake))
	}
	res.BurstMissed = o.N - len(res.BurstLag)
	// As on the register's side: without the histories, only the split
	// of the updates' time is missing, not the run.
	if res.UpdatePhases, err = updatePhases(ctx, c, ids); err != nil {
		o.Logger.Warn("bare: reading the updated workflows' histories failed", "error", err)
	}
	res.PeakRSS = peakRSS(os.Getpid())
	return res, nil
}

// parallel runs fn for every item with k at a time, returning the
// latencies of those that succeeded and the count that failed.
func parallel[T any](ctx context.Context, k int, items []T, fn func(context.Context, T) error) (Latencies, int) {
	next := make(chan T)
	var mu sync.Mutex
	var lat Latencies
	failed := 0
	var wg sync.WaitGroup
	for range max(k, 1) {
		wg.Go(func() {
			for it := range next {
				t := time.Now()
				err := fn(ctx, it)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
	return lat, failed
}

// sleep waits for d or until ctx ends (a bench stopped with Ctrl-C or
// SIGTERM stops, instead of sleeping on through its phases).
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waitCount polls until count reaches want or patience runs out.
func waitCount(ctx context.Context, count func() int, want int, patience time.Duration) bool {
	deadline := time.Now().Add(patience)
	for count() < want {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

func latest(ts []time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

var errNoProc = errors.New("no /proc status")
