package workflows

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/register"
)

func TestReturnMonth(t *testing.T) {
	for _, c := range []struct {
		at    time.Time
		month string
		ok    bool
	}{
		{time.Date(2026, 6, 1, 8, 0, 0, 0, register.London), "2026-05", true},
		{time.Date(2026, 6, 2, 8, 0, 0, 0, register.London), "", false},
		{time.Date(2027, 1, 1, 8, 0, 0, 0, register.London), "", false}, // New Year's Day
		{time.Date(2027, 1, 4, 8, 0, 0, 0, register.London), "2026-12", true},
		{time.Date(2026, 8, 3, 8, 0, 0, 0, register.London), "2026-07", true}, // a bank holiday in Scotland only
		{time.Date(2026, 11, 2, 8, 0, 0, 0, register.London), "2026-10", true},
		{time.Date(2026, 11, 1, 8, 0, 0, 0, register.London), "", false}, // a Sunday
	} {
		m, ok := ReturnMonth(c.at)
		if m != c.month || ok != c.ok {
			t.Errorf("ReturnMonth(%s) = %q %v, want %q %v", c.at, m, ok, c.month, c.ok)
		}
	}
}

func TestMonthlyReturnWorkflow(t *testing.T) {
	for _, c := range []struct {
		start time.Time
		want  string
	}{
		{time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), "2026-05"},
		{time.Date(2026, 6, 3, 7, 0, 0, 0, time.UTC), ""},
	} {
		env := newEnv()
		env.SetStartTime(c.start)
		got := ""
		env.RegisterWorkflowWithOptions(MonthlyReturn, workflow.RegisterOptions{Name: MonthlyReturnWorkflowName})
		env.RegisterActivityWithOptions(func(_ context.Context, m string) error { got = m; return nil }, activity.RegisterOptions{Name: ActivityMonthlyReturn})
		env.ExecuteWorkflow(MonthlyReturnWorkflowName)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("started %s: sent %q, want %q", c.start, got, c.want)
		}
	}
}
