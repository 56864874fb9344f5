package worker

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bsw-dsr/dsr/activities"
	"github.com/bsw-dsr/dsr/config"
	"github.com/bsw-dsr/dsr/starter"
	"github.com/bsw-dsr/dsr/store"
	"github.com/bsw-dsr/dsr/workflows"
)

func registerMeetings(r sdkworker.Registry, d Deps, a *activities.Activities) {
	s := &workflows.Series{Lead: d.Config.AgendaLead}
	r.RegisterWorkflowWithOptions(s.Run, workflow.RegisterOptions{Name: workflows.SeriesWorkflowName})
	m := &activities.Meetings{Activities: a, Temporal: d.Client, TriageWithin: d.Config.Timing.TriageWithin, From: d.Config.MailFrom}
	r.RegisterActivityWithOptions(m.NextMeeting, activity.RegisterOptions{Name: workflows.ActivityNextMeeting})
	r.RegisterActivityWithOptions(m.PlanMeetingAgenda, activity.RegisterOptions{Name: workflows.ActivityPlanAgenda})
	r.RegisterActivityWithOptions(m.CarryOver, activity.RegisterOptions{Name: workflows.ActivityCarryOver})
	r.RegisterActivityWithOptions(m.SendMeetingInvitations, activity.RegisterOptions{Name: workflows.ActivitySendInvitations})
	r.RegisterActivityWithOptions(m.MeetingsChanged, activity.RegisterOptions{Name: workflows.ActivityMeetingsChanged})
	r.RegisterWorkflowWithOptions(workflows.MeetingClosed, workflow.RegisterOptions{Name: workflows.MeetingClosedWorkflowName})
	r.RegisterActivityWithOptions(m.SendMeetingActionMails, activity.RegisterOptions{Name: workflows.ActivitySendActionMails})
}

// EnsureSeries creates the default meeting series from DSR_PANEL_SCHEDULE
// and DSR_PANEL_CAPACITY (when set and not yet there) and starts every
// series' workflow.
func EnsureSeries(ctx context.Context, c client.Client, st *store.Store, cfg config.Config) error {
	if err := st.EnsureDefaultSeries(ctx, cfg.Timing.PanelSchedule, cfg.PanelCapacity); err != nil {
		return err
	}
	return startSeries(ctx, c, st)
}

func startSeries(ctx context.Context, c client.Client, st *store.Store) error {
	series, err := st.ListSeries(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range series {
		if err := starter.StartSeries(ctx, c, s.ID); err != nil {
			errs = append(errs, fmt.Errorf("series %s: %w", s.ID, err))
		}
	}
	return errors.Join(errs...)
}
