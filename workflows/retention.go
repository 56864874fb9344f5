package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The daily retention run (DSR_RETAIN_CLOSED_FOR).
const (
	RetentionWorkflowName = "RetentionWorkflow"
	RetentionScheduleID   = "dsr-daily-retention"
	ActivityRetention     = "RunRetention"
)

// RetentionReport is what a retention run did: counts only.
type RetentionReport struct {
	Cutoff  time.Time `json:"cutoff"`
	Found   int       `json:"found"`
	Deleted int       `json:"deleted"`
}

// Retention deletes the closed episodes past the retention period. The
// activity does the work; the workflow only gives it a deadline and
// retries, so a run interrupted half way finishes on retry (each deletion
// is idempotent).
func Retention(ctx workflow.Context) (RetentionReport, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var rep RetentionReport
	err := workflow.ExecuteActivity(actx, ActivityRetention).Get(ctx, &rep)
	return rep, err
}
