// Package worker builds and runs the Temporal worker: registrations and the
// reconciler that rebuilds workflows from the register.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/activities"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/mail"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

// TaskQueue is the one task queue the DSR uses.
const TaskQueue = starter.TaskQueue

// ReconcileEvery is how often the worker checks that every open person has
// a workflow.
const ReconcileEvery = 10 * time.Minute

// Deps is what the worker needs.
type Deps struct {
	Client client.Client
	Store  *store.Store
	Mailer mail.Sender
	Config config.Config
	Logger *slog.Logger
}

// Register registers the workflow and activities on any registry: the
// worker, the replayer or a test environment.
func Register(r sdkworker.Registry, d Deps) {
	p := &workflows.Person{Timing: d.Config.Timing}
	r.RegisterWorkflowWithOptions(p.Run, workflow.RegisterOptions{Name: workflows.PersonWorkflowName})
	a := &activities.Activities{Store: d.Store, Mailer: d.Mailer, BaseURL: d.Config.BaseURL, Logger: d.Logger}
	r.RegisterActivityWithOptions(a.LoadState, activity.RegisterOptions{Name: workflows.ActivityLoadState})
	r.RegisterActivityWithOptions(a.Persist, activity.RegisterOptions{Name: workflows.ActivityPersist})
	r.RegisterActivityWithOptions(a.Notify, activity.RegisterOptions{Name: workflows.ActivityNotify})
	r.RegisterActivityWithOptions(a.SkipNotices, activity.RegisterOptions{Name: workflows.ActivitySkip})
}

// Run runs the worker until ctx is done.
func Run(ctx context.Context, d Deps) error {
	w := sdkworker.New(d.Client, TaskQueue, sdkworker.Options{})
	Register(w, d)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	d.Logger.Info("worker started", "task_queue", TaskQueue)

	tick := time.NewTicker(ReconcileEvery)
	defer tick.Stop()
	for {
		n, err := Reconcile(ctx, d.Client, d.Store)
		if err != nil && ctx.Err() == nil {
			d.Logger.Warn("reconcile failed", "error", err)
		} else if n > 0 {
			d.Logger.Info("reconciled", "people", n)
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
// many people it checked.
func Reconcile(ctx context.Context, c client.Client, st *store.Store) (int, error) {
	ids, err := st.OpenPeople(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := starter.StartPerson(ctx, c, id); err != nil {
			return 0, fmt.Errorf("reconcile %s: %w", id, err)
		}
	}
	return len(ids), nil
}
