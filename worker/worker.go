// Package worker builds and runs the Temporal worker: registrations and the
// reconciler that rebuilds workflows from the register.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/time/rate"

	retry "github.com/cenkalti/backoff/v5"

	"github.com/bsw-dsr/dsr/activities"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/metrics"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// TaskQueue is the one task queue the DSR uses.
const TaskQueue = starter.TaskQueue

// ReconcileEvery is how often the worker checks that the people referred
// or imported lately have a workflow; FullReconcileEvery how often it
// checks everyone. A check of someone whose workflow runs is a no-op start,
// but at 100,000 people a full pass every ten minutes would keep a core
// busy; ReconcileRate paces it.
const (
	ReconcileEvery     = 10 * time.Minute
	FullReconcileEvery = time.Hour
	ReconcileRate      = rate.Limit(200)
)

// Deps is what the worker needs.
type Deps struct {
	Client client.Client
	Store  *store.Store
	Mailer mail.Sender
	Config config.Config
	Logger *slog.Logger
	// PersistWithin bounds one change's write (0: the default); tests
	// shorten it.
	PersistWithin time.Duration
	// Metrics counts notices; nil counts none.
	Metrics *metrics.Metrics
}

// Register registers the workflow and activities on any registry: the
// worker, the replayer or a test environment.
func Register(r sdkworker.Registry, d Deps) {
	timing := d.Config.Timing
	timing.Localities = d.Config.Localities
	p := &workflows.Person{Timing: timing, PersistWithin: d.PersistWithin}
	r.RegisterWorkflowWithOptions(p.Run, workflow.RegisterOptions{Name: workflows.PersonWorkflowName})
	a := &activities.Activities{Store: d.Store, Mailer: d.Mailer, BaseURL: d.Config.BaseURL, Logger: d.Logger,
		MaxEscalations: d.Config.Timing.MaxEscalations, Metrics: d.Metrics}
	r.RegisterActivityWithOptions(a.LoadState, activity.RegisterOptions{Name: workflows.ActivityLoadState})
	r.RegisterActivityWithOptions(a.LoadClocks, activity.RegisterOptions{Name: workflows.ActivityLoadClocks})
	r.RegisterActivityWithOptions(a.Persist, activity.RegisterOptions{Name: workflows.ActivityPersist})
	r.RegisterActivityWithOptions(a.Notify, activity.RegisterOptions{Name: workflows.ActivityNotify})
	r.RegisterActivityWithOptions(a.SkipNotices, activity.RegisterOptions{Name: workflows.ActivitySkip})
	r.RegisterActivityWithOptions(a.SettleUpdate, activity.RegisterOptions{Name: workflows.ActivitySettle})
	r.RegisterWorkflowWithOptions(workflows.Digest, workflow.RegisterOptions{Name: workflows.DigestWorkflowName})
	dg := &activities.Digests{Activities: a, EscalateAfter: d.Config.Timing.EscalateAfter}
	r.RegisterActivityWithOptions(dg.SendDigests, activity.RegisterOptions{Name: workflows.ActivityDigest})
	r.RegisterWorkflowWithOptions(workflows.MonthlyReturn, workflow.RegisterOptions{Name: workflows.MonthlyReturnWorkflowName})
	mr := &activities.MonthlyReturns{Activities: a, ExtraTo: d.Config.MonthlyReturnTo}
	r.RegisterActivityWithOptions(mr.SendMonthlyReturn, activity.RegisterOptions{Name: workflows.ActivityMonthlyReturn})
	registerRetention(r, d)
	registerMeetings(r, d, a)
	dup := &activities.Duplicates{Store: d.Store, Mailer: d.Mailer, BaseURL: d.Config.BaseURL, Logger: d.Logger}
	r.RegisterWorkflowWithOptions(workflows.ReferralDuplicate, workflow.RegisterOptions{Name: workflows.ReferralDuplicateWorkflowName})
	r.RegisterActivityWithOptions(dup.NotifyDuplicate, activity.RegisterOptions{Name: workflows.ActivityNotifyDuplicate})
}

// EnsureDigestSchedule creates the weekly digest Schedule, or brings its
// cron expression up to date with the configuration.
func EnsureDigestSchedule(ctx context.Context, c client.Client, cron string) error {
	return ensureSchedule(ctx, c, workflows.DigestScheduleID, "digest", workflows.DigestWorkflowName, cron)
}

// EnsureMonthlyReturnSchedule creates the monthly return's Schedule (days
// 1 to 7 at 08:00 London time; the workflow acts on the first working day).
func EnsureMonthlyReturnSchedule(ctx context.Context, c client.Client) error {
	return ensureSchedule(ctx, c, workflows.MonthlyReturnScheduleID, "monthly-return", workflows.MonthlyReturnWorkflowName, workflows.MonthlyReturnCron)
}

func ensureSchedule(ctx context.Context, c client.Client, id, workflowID, name, cron string) error {
	spec := client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: "Europe/London"}
	sc := c.ScheduleClient()
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:   id,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:        workflowID,
			Workflow:  name,
			TaskQueue: TaskQueue,
		},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				in.Description.Schedule.Spec = &spec
				return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
			},
		})
	}
	if err != nil {
		return fmt.Errorf("%s schedule: %w", workflowID, err)
	}
	return nil
}

// DefaultStickyTimeout is how long a workflow's task may wait for this
// worker's sticky queue (DSR_WORKER_STICKY_TIMEOUT overrides it). It stays
// below workflows.UpdateTimeout: a worker that stopped (or crashed) just as
// a change came in can leave that change's task in its sticky queue, and
// the task must reach another worker while the user still waits. At 30 s
// such a change answered 503 (e2e TestHistoriesReadableAfterKeyRotation,
// failing in CI).
const DefaultStickyTimeout = 10 * time.Second

// Options are the worker's options: the configured tuning over the
// register's defaults (DESIGN.md, "Throughput", says why each is set).
func Options(t config.WorkerTuning) sdkworker.Options {
	o := sdkworker.Options{
		// On stop, activities in flight get time to finish (a sent notice
		// is recorded as sent) before their contexts are cancelled.
		WorkerStopTimeout: 15 * time.Second,
		// In a burst a workflow's next task can wait in its sticky queue
		// longer than the default 5 s; timed out, it goes to the shared
		// queue and its whole history is replayed. A worker that is gone
		// stops polling its sticky queue, and within about 10 s the server
		// sends its tasks to the shared queue instead; a task it accepted
		// before then waits out this timeout.
		StickyScheduleToStartTimeout: DefaultStickyTimeout,
	}
	if t.WorkflowPollers > 0 {
		o.MaxConcurrentWorkflowTaskPollers = t.WorkflowPollers
	}
	if t.ActivityPollers > 0 {
		o.MaxConcurrentActivityTaskPollers = t.ActivityPollers
	}
	if t.StickyTimeout > 0 {
		o.StickyScheduleToStartTimeout = t.StickyTimeout
	}
	if t.WorkflowTasks > 0 {
		o.MaxConcurrentWorkflowTaskExecutionSize = t.WorkflowTasks
	}
	if t.Activities > 0 {
		o.MaxConcurrentActivityExecutionSize = t.Activities
	}
	return o
}

// SizeCache sizes the SDK's workflow cache, one per process, made when the
// process's first SDK worker starts: dsr dev calls it before its embedded
// Temporal server starts, whose own system workers use the SDK too.
func SizeCache(t config.WorkerTuning) {
	if t.StickyCache > 0 {
		sdkworker.SetStickyWorkflowCacheSize(t.StickyCache)
	}
}

// Run runs the worker until ctx is done.
func Run(ctx context.Context, d Deps) error {
	SizeCache(d.Config.Worker)
	w := sdkworker.New(d.Client, TaskQueue, Options(d.Config.Worker))
	Register(w, d)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	d.Logger.Info("worker started", "task_queue", TaskQueue)
	if err := EnsureDigestSchedule(ctx, d.Client, d.Config.DigestSchedule); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	if err := EnsureRetentionSchedule(ctx, d.Client, d.Config.RetainClosedFor > 0); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := EnsureMonthlyReturnSchedule(ctx, d.Client); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	if err := EnsureSeries(ctx, d.Client, d.Store, d.Config); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		d.Logger.Warn("meeting series workflows: not all started; the reconciler tries again", "error", err)
	}

	// Every open person is checked at start and then hourly; in between,
	// only the people referred or imported lately, whose start may have
	// failed. A full pass over a large register is paced, so a restart
	// is not a burst.
	tick := time.NewTicker(ReconcileEvery)
	defer tick.Stop()
	var passes passSchedule
	for {
		if err := startSeries(ctx, d.Client, d.Store); err != nil && ctx.Err() == nil {
			d.Logger.Warn("reconcile meeting series failed", "error", err)
		}
		since, lastResort := passes.next(time.Now())
		n, listed, err := reconcileSince(ctx, d.Client, d.Store, d.Logger, since, listBackoff, lastResort)
		passes.done(time.Now(), since.IsZero(), listed || lastResort)
		if err != nil && ctx.Err() == nil {
			d.Logger.Warn("reconcile failed", "error", err)
		} else if n > 0 {
			d.Logger.Info("reconciled", "people", n, "full", since.IsZero())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Reconcile starts a workflow, seeded from the record, for every referred or
// active person; starting one that runs already is a no-op. It returns how
// many people it checked. A start that fails is logged and the pass goes
// on, so one person's problem never leaves everyone after them without a
// workflow; the error then says how many failed. Asked for, it is a last
// resort: when visibility cannot list, it describes everyone.
func Reconcile(ctx context.Context, c client.Client, st *store.Store, logger *slog.Logger) (int, error) {
	n, _, err := reconcileSince(ctx, c, st, logger, time.Time{}, listBackoff, true)
	return n, err
}

// passSchedule decides each reconcile pass: a full one at start and then
// hourly, a pass over the recent in between; and when visibility cannot
// list, whether to describe everyone instead.
type passSchedule struct {
	lastFull time.Time // the last full pass, listed or not
	failing  bool      // the last full pass could not list
}

// next is the pass to make now: since is zero for a full pass. A full pass
// describes everyone only as the last resort, when the full pass an hour
// before could not list either: a failed list means visibility is busy (a
// large import's writes, or a register so large that one page passes the
// SDK's 10 s), and describing everyone each hour would double what an
// hour of the register at rest costs.
func (p *passSchedule) next(now time.Time) (since time.Time, lastResort bool) {
	if !p.lastFull.IsZero() && now.Sub(p.lastFull) < FullReconcileEvery {
		return now.Add(-2*ReconcileEvery - time.Minute), false
	}
	return time.Time{}, p.failing
}

// done records a pass: whether it was full, and whether it checked its
// people (it listed, or described them as the last resort). A pass over
// the recent that did not is covered by the next, which looks back over
// its people too.
func (p *passSchedule) done(now time.Time, full, checked bool) {
	if full {
		p.lastFull, p.failing = now, !checked
	}
}

// reconcileSince checks the open people referred or imported since then
// (zero: everyone), paced at ReconcileRate; backoff is runningPeople's.
// listed reports whether visibility listed the running workflows. When it
// could not, the people are described one by one only as the last resort
// (passSchedule.next); otherwise the pass checks no one and says so.
func reconcileSince(ctx context.Context, c client.Client, st *store.Store, logger *slog.Logger, since time.Time, backoff time.Duration, lastResort bool) (n int, listed bool, err error) {
	running, err := runningPeople(ctx, c, since, backoff)
	listed = err == nil
	switch {
	case !listed && !lastResort:
		// During a 100,000-row import the list timed out and one pass
		// described 55,663 people instead: 21 minutes of reads through the
		// server's one SQLite connection, which the import's writes and
		// first tasks were waiting for.
		err = fmt.Errorf("reconcile: checked no one, the next pass tries again: %w", err)
	default:
		if !listed {
			logger.Warn("reconcile: cannot list the running workflows, nor could the last full pass; describing everyone", "error", err)
		}
		pace := rate.NewLimiter(ReconcileRate, 50)
		n, err = reconcile(ctx, st, logger, since, unlessRunning(c, pace, running, func(ctx context.Context, id string) error {
			return starter.StartPerson(ctx, c, id)
		}))
	}
	if derr := reconcileDuplicates(ctx, c, st, logger); derr != nil {
		err = errors.Join(err, derr)
	}
	return n, listed, err
}

// unlessRunning wraps a pass's start so it skips the people whose
// workflows Temporal's visibility lists as running (running, from
// runningPeople): a page of a thousand ids costs what one start does, and
// at 100,000 people the starts kept a core busy for minutes. Visibility
// lags (after a burst of starts, by minutes): one not listed is described,
// a read, and started only when Temporal has no running workflow for it; a
// start that finds one running tries to write, and after a 10,000-referral
// burst those tries took the CPU the next import needed. A workflow closed
// but still listed is caught by the next pass. With no list (nil), everyone
// is described. The describes and starts are paced together.
func unlessRunning(c client.Client, pace *rate.Limiter, running map[string]bool, start func(context.Context, string) error) func(context.Context, string) error {
	return func(ctx context.Context, id string) error {
		if running[workflows.WorkflowID(id)] {
			return nil
		}
		if err := pace.Wait(ctx); err != nil {
			return err
		}
		desc, err := c.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
		if err == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return nil
		}
		// Not found, closed, or not known: the start decides.
		return start(ctx, id)
	}
}

// listTries is how often one page of the running list is asked for, and
// listBackoff the wait before the second try (doubled before each next),
// before a pass gives up on the list. During a 100,000-row import a page
// took longer than the SDK's 10 s while visibility worked through its
// writes; waiting for it costs less than reading around it.
const (
	listTries   = 4
	listBackoff = 5 * time.Second
)

// runningPeople is the ids of the person workflows visibility lists as
// running, started since then (zero: all); a page that fails is asked for
// again after backoff, then after twice that, up to listTries in all.
//
// A pass over the recent lists only the workflows started since its
// people's records (less a minute, for the clocks of two servers): with
// 100,000 running, even the first page of the whole list passed the SDK's
// 10 s at rest on the embedded server's SQLite, where the narrowed list
// took 0.8 s. One started earlier is not listed, and is described.
func runningPeople(ctx context.Context, c client.Client, since time.Time, backoff time.Duration) (map[string]bool, error) {
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.PersonWorkflowName)
	if !since.IsZero() {
		query += fmt.Sprintf(" AND StartTime >= '%s'", since.Add(-time.Minute).UTC().Format(time.RFC3339))
	}
	out := map[string]bool{}
	var token []byte
	for {
		page, err := retry.Retry(ctx, func() (*workflowservice.ListWorkflowExecutionsResponse, error) {
			return c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				PageSize:      1000,
				Query:         query,
				NextPageToken: token,
			})
		}, retry.WithMaxTries(listTries), retry.WithBackOff(&retry.ExponentialBackOff{
			InitialInterval: backoff, Multiplier: 2, MaxInterval: 8 * backoff,
		}))
		if err != nil {
			return nil, fmt.Errorf("list running person workflows: %w", err)
		}
		for _, e := range page.GetExecutions() {
			out[e.GetExecution().GetWorkflowId()] = true
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

func reconcile(ctx context.Context, st *store.Store, logger *slog.Logger, since time.Time, start func(context.Context, string) error) (int, error) {
	ids, err := st.OpenPeopleSince(ctx, since)
	if err != nil {
		return 0, err
	}
	var first error
	failed := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := start(ctx, id); err != nil {
			failed++
			if first == nil {
				first = err
			}
			logger.Warn("reconcile: could not start a person's workflow; going on", "person", id, "error", err)
		}
	}
	if failed > 0 {
		return len(ids), fmt.Errorf("reconcile: %d of %d starts failed; the first: %w", failed, len(ids), first)
	}
	return len(ids), nil
}

// reconcileDuplicates starts the referral-duplicate notices whose workflow
// did not start (Temporal was down when the attempt was refused); a
// minute's grace leaves the ones being started now alone, and a second
// start is a no-op anyway. Like the people's, a failed start is logged and
// the pass goes on.
func reconcileDuplicates(ctx context.Context, c client.Client, st *store.Store, logger *slog.Logger) error {
	dups, err := st.PendingDuplicateNotices(ctx, time.Now().Add(-time.Minute))
	if err != nil {
		return err
	}
	var first error
	for _, id := range dups {
		if err := starter.StartDuplicateNotice(ctx, c, id); err != nil {
			logger.Warn("reconcile: could not start a referral-duplicate notice; going on", "error", err)
			if first == nil {
				first = fmt.Errorf("reconcile duplicate referral notice: %w", err)
			}
		}
	}
	return first
}
