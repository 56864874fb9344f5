package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// DigestWorkflowName is started by the weekly digest Schedule.
const (
	DigestWorkflowName = "DigestWorkflow"
	DigestScheduleID   = "dsr-weekly-digest"
	ActivityDigest     = "SendDigests"
)

// Digest sends the weekly digest. The run's scheduled time is the occasion,
// so a retried or repeated run sends no one a second digest for that week.
func Digest(ctx workflow.Context) error {
	occasion := workflow.Now(ctx).UTC().Format(time.RFC3339)
	if t := workflow.GetInfo(ctx).WorkflowStartTime; !t.IsZero() {
		occasion = t.UTC().Truncate(time.Minute).Format(time.RFC3339)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	return workflow.ExecuteActivity(actx, ActivityDigest, occasion).Get(ctx, nil)
}
