package worker

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/activities"
	"github.com/bsw-dsr/dsr/workflows"
)

// RetentionCron is when the daily retention run starts (Europe/London):
// early morning, away from the working day and the digest.
const RetentionCron = "30 2 * * *"

func registerRetention(r sdkworker.Registry, d Deps) {
	r.RegisterWorkflowWithOptions(workflows.Retention, workflow.RegisterOptions{Name: workflows.RetentionWorkflowName})
	ret := &activities.Retention{Store: d.Store, Temporal: d.Client, Namespace: d.Config.TemporalNamespace,
		RetainFor: d.Config.RetainClosedFor, Logger: d.Logger}
	r.RegisterActivityWithOptions(ret.Run, activity.RegisterOptions{Name: workflows.ActivityRetention})
}

// EnsureRetentionSchedule creates the daily retention Schedule when
// retention is on, and deletes it when it is off (DSR_RETAIN_CLOSED_FOR=0).
func EnsureRetentionSchedule(ctx context.Context, c client.Client, on bool) error {
	sc := c.ScheduleClient()
	if !on {
		err := sc.GetHandle(ctx, workflows.RetentionScheduleID).Delete(ctx)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("retention schedule: delete: %w", err)
		}
		return nil
	}
	spec := client.ScheduleSpec{CronExpressions: []string{RetentionCron}, TimeZoneName: "Europe/London"}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:   workflows.RetentionScheduleID,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:        "retention",
			Workflow:  workflows.RetentionWorkflowName,
			TaskQueue: TaskQueue,
		},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("retention schedule: %w", err)
	}
	return nil
}
