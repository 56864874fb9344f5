// Package starter starts person workflows: from a referral (API, web form,
// a JSON file) or an imported register, and for the reconciler.
package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/bsw-dsr/dsr/register"
	"github.com/bsw-dsr/dsr/workflows"
)

// TaskQueue is the one task queue the DSR uses.
const TaskQueue = "dsr"

// StartPerson starts the person's workflow, or does nothing when it is
// already running: a second start is a no-op, never a second workflow.
func StartPerson(ctx context.Context, c client.Client, personID string) error {
	return startPerson(ctx, c, workflows.Input{PersonID: personID, Generation: workflows.CurrentGeneration})
}

// StartPersonWithState starts the person's workflow from a state and clock
// facts read from the record (store.LoadState, store.ClockFacts), or does
// nothing when it runs already. Neither holds personal data: statuses,
// ratings, dates and ids (and the payload is encrypted).
func StartPersonWithState(ctx context.Context, c client.Client, st register.State, clocks register.ClockFacts) error {
	return startPerson(ctx, c, workflows.Input{PersonID: st.PersonID, State: &st, Clocks: &clocks, Generation: workflows.CurrentGeneration})
}

// stateReader reads what a workflow would load itself at its start.
type stateReader interface {
	LoadState(ctx context.Context, id string) (register.State, error)
	ClockFacts(ctx context.Context, id string) (register.ClockFacts, error)
}

// startFromRecord starts a person's workflow with its state and clock
// facts read from the record just written, which saves the workflow's
// first task its activities: at ten thousand people, most of the work
// Temporal and the worker do for an import.
func startFromRecord(ctx context.Context, c client.Client, r stateReader, personID string) error {
	st, err := r.LoadState(ctx, personID)
	if err != nil {
		return err
	}
	f, err := r.ClockFacts(ctx, personID)
	if err != nil {
		return err
	}
	return StartPersonWithState(ctx, c, st, f)
}

func startPerson(ctx context.Context, c client.Client, in workflows.Input) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.WorkflowID(in.PersonID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Where this client also runs the worker (dsr dev), the first
		// workflow task comes back with the start and runs here at once,
		// skipping a trip through matching; elsewhere it is ignored.
		EnableEagerStart: true,
	}, workflows.PersonWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start person workflow: %w", err)
	}
	return nil
}

// StartDuplicateNotice starts the workflow that sends one duplicate
// referral attempt's referral-duplicate notice; a second start of the same
// attempt, running or finished, is a no-op.
func StartDuplicateNotice(ctx context.Context, c client.Client, attemptID string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.DuplicateWorkflowID(attemptID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.ReferralDuplicateWorkflowName, attemptID)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start referral-duplicate workflow: %w", err)
	}
	return nil
}

// StartSeries starts a meeting series' workflow; one running already is
// left alone.
func StartSeries(ctx context.Context, c client.Client, seriesID string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.SeriesWorkflowID(seriesID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.SeriesWorkflowName, workflows.SeriesInput{SeriesID: seriesID})
	if err != nil {
		return fmt.Errorf("start meeting series workflow: %w", err)
	}
	return nil
}

// SeriesChanged tells a series' workflow that one of its meetings (or the
// series) changed, starting it when it is not running.
func SeriesChanged(ctx context.Context, c client.Client, seriesID string) error {
	_, err := c.SignalWithStartWorkflow(ctx, workflows.SeriesWorkflowID(seriesID), workflows.SignalSeriesChanged, nil,
		client.StartWorkflowOptions{ID: workflows.SeriesWorkflowID(seriesID), TaskQueue: TaskQueue},
		workflows.SeriesWorkflowName, workflows.SeriesInput{SeriesID: seriesID})
	if err != nil {
		return fmt.Errorf("signal meeting series workflow: %w", err)
	}
	return nil
}

// MeetingClosed starts the closing mails of a meeting; a second start
// for the same meeting is a no-op.
func MeetingClosed(ctx context.Context, c client.Client, meetingID string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.MeetingClosedWorkflowID(meetingID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.MeetingClosedWorkflowName, meetingID)
	if err != nil {
		return fmt.Errorf("start meeting closed workflow: %w", err)
	}
	return nil
}
