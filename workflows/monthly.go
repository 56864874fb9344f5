package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

// The monthly return: a Schedule wakes MonthlyReturn on each of the first
// days of a month; on the month's first working day in England it mails
// the commissioners a link to the return of the month just ended.
const (
	MonthlyReturnWorkflowName = "MonthlyReturnWorkflow"
	MonthlyReturnScheduleID   = "dsr-monthly-return"
	// MonthlyReturnCron runs at 08:00 London time on days 1 to 7: the first
	// working day is always among them.
	MonthlyReturnCron     = "0 8 1-7 * *"
	ActivityMonthlyReturn = "SendMonthlyReturn"
)

// ReturnMonth is the month whose return is sent on the day at falls on
// ("2006-01", the month before), and whether that day is the month's first
// working day.
func ReturnMonth(at time.Time) (string, bool) {
	d := at.In(register.London)
	first := register.FirstWorkday(d.Year(), d.Month())
	if d.Day() != first.Day() {
		return "", false
	}
	return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, register.London).AddDate(0, -1, 0).Format("2006-01"), true
}

// MonthlyReturn sends the month's return mail once, on the first working
// day; on the other days it does nothing. The scheduled start time decides
// the day, so a retried run decides the same.
func MonthlyReturn(ctx workflow.Context) error {
	at := workflow.Now(ctx)
	if t := workflow.GetInfo(ctx).WorkflowStartTime; !t.IsZero() {
		at = t
	}
	month, ok := ReturnMonth(at)
	if !ok {
		return nil
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	return workflow.ExecuteActivity(actx, ActivityMonthlyReturn, month).Get(ctx, nil)
}
