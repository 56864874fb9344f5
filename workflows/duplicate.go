package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The referral-duplicate notice: a referral refused because the person is
// already referred or on the register, made by someone who may not see
// that record, tells the coordinators once. It has its own short workflow
// (one per attempt, id DuplicateWorkflowID) and its own outbox row
// (duplicate_referrals), apart from the person's workflow and the notices
// table: the attempt is not a change to the person, and must not wait on
// or disturb their schedule.
const (
	ReferralDuplicateWorkflowName = "ReferralDuplicateWorkflow"
	ActivityNotifyDuplicate       = "NotifyDuplicate"
)

// DuplicateWorkflowID is the workflow id of one attempt's notice.
func DuplicateWorkflowID(attemptID string) string { return "referral-duplicate-" + attemptID }

// ReferralDuplicate sends one attempt's referral-duplicate notice, retrying
// while the mail server is down.
func ReferralDuplicate(ctx workflow.Context, attemptID string) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Minute},
	})
	return workflow.ExecuteActivity(actx, ActivityNotifyDuplicate, attemptID).Get(ctx, nil)
}
